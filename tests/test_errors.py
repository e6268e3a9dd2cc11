"""Errors carry their facts and are worded in one place (nst_core/errors.py)."""

import copy

from nst_core.errors import Diverged, NSTError, OutOfMemory


def test_an_error_is_worded_from_its_facts_each_named_once():
    error = NSTError("not a valid Gram targets file", path="t.pt")
    assert str(error) == "t.pt: not a valid Gram targets file" and error.kind == "input"
    inside = error.at("job.json", "artwork 2")
    assert str(inside) == "job.json: artwork 2: t.pt: not a valid Gram targets file"
    assert str(error) == "t.pt: not a valid Gram targets file", "at() leaves the original as it was"
    about = NSTError("image too small", path="p.jpg").at(photo="p.jpg", artwork="scream")
    assert str(about) == "p.jpg: scream: image too small", "the photo that is the file is named once"
    assert (about.photo, about.artwork, about.path, about.problem) == ("p.jpg", "scream", "p.jpg", "image too small")


def test_kinds_and_copies_keep_their_facts():
    lost = Diverged("optimisation diverged").at(photo="p.jpg", artwork="a")
    assert lost.kind == "diverged" and OutOfMemory("out of memory").kind == "out-of-memory"
    copied = copy.copy(lost)
    assert type(copied) is Diverged and str(copied) == "p.jpg: a: optimisation diverged"
    assert NSTError("two\nlines  here").problem == "two lines here"
