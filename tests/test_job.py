"""A photo's job as data (nst_core/running/job.py): what the pipeline hands the library."""

import json

import pytest

from conftest import PHOTO, STYLE, STYLE2
from nst_core import NSTError, preset
from nst_core.running.job import job_from_mapping

# Two artworks on the default coarse-to-fine schedule (32 and 48 px), with settings of their own.
SHARED = {"size": 48, "min_size": 32, "iterations": 3, "coarse_iterations": 2, "device": "cpu", "seed": 3}


def job_mapping(tmp_path, **changes):
    mapping = {
        "photo": str(PHOTO),
        "settings": SHARED,
        "artworks": [
            {"name": "starry", "styles": [str(STYLE)], "output": str(tmp_path / "starry.png")},
            {
                "name": "blend",
                "styles": [str(STYLE), str(STYLE2)],
                "blend": [0.7, 0.3],
                "settings": {"style_weight": 2.0, "preserve_color": "luminance"},
                "output": str(tmp_path / "blend.png"),
                "thumbnail": str(tmp_path / "blend.jpg"),
            },
        ],
        "record": str(tmp_path / "record.tsv"),
        "thumbnail_side": 32,
    }
    return {**mapping, **changes}


def test_a_jobs_artworks_take_the_shared_settings_and_their_own(tmp_path):
    job = job_from_mapping(job_mapping(tmp_path))
    starry, blend = job.artworks
    assert starry.settings == preset("default", **SHARED)
    assert blend.settings == preset("default", **SHARED, style_weight=2.0, preserve_color="luminance")
    assert blend.blend == (0.7, 0.3) and blend.thumbnail.endswith("blend.jpg") and starry.thumbnail is None
    assert (job.batch, job.skip_unchanged, job.thumbnail_side) == ("auto", False, 32)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"artworks": [{"name": "a", "styles": [str(STYLE)]}]}, "job: artwork a: 'output' is missing"),
        ({"artworks": [{"name": "a", "output": "a.png"}]}, "job: artwork a: give styles"),
        ({"artworks": [{"name": "a", "styles": ["s.jpg"], "output": "a.png", "colour": 1}]}, "unknown key 'colour'"),
        (
            {"artworks": [{"name": "a", "styles": ["s.jpg"], "output": "a.png", "settings": {"size": -3}}]},
            "artwork a: ",
        ),
        ({"artworks": []}, "job: no artworks"),
        ({"batch": 0}, "batch must be auto"),
        ({"photos": []}, "unknown key 'photos'"),
        ({"settings": ["size", 32]}, "job: settings: expected a mapping, not list"),
        ({"artworks": {"a": {}}}, "job: artworks: expected a list, not dict"),
        ({"artworks": [{"name": "a", "styles": "s.jpg", "output": "a.png"}]}, "artwork a: styles: expected a list"),
        ({"thumbnail_side": "big"}, "job: thumbnail_side big: give 16 to 1024 px"),
    ],
)
def test_a_bad_job_is_one_line_naming_what_is_wrong(tmp_path, change, message):
    with pytest.raises(NSTError, match=message.replace("(", r"\(")):
        job_from_mapping(job_mapping(tmp_path, **change))


def test_a_job_file_makes_what_the_same_options_make(tmp_path, cli):
    # The pipeline's way (a job file, its two artworks optimised together) and a person's (an
    # `nst stylize` with options per artwork): the same images, to the byte (their fingerprints
    # hold the settings each was made with; on a CPU a batch's images are their own runs').
    job = tmp_path / "job.json"
    job.write_text(json.dumps(job_mapping(tmp_path)))
    code, _, err = cli("stylize", "--job", job, "-q")
    assert code == 0, err
    options = ["--size", "48", "--min-size", "32", "--iterations", "3", "--coarse-iterations", "2"]
    options += ["--device", "cpu", "--seed", "3", "-q"]
    by_options = tmp_path / "options"
    by_options.mkdir()
    code, _, err = cli("stylize", PHOTO, "--style", STYLE, *options, "--output", by_options / "starry.png")
    assert code == 0, err
    blend = ["--style", STYLE, "--style", STYLE2, "--blend", "0.7,0.3", "--style-weight", "2"]
    blend += ["--preserve-color", "luminance", "--output", by_options / "blend.png"]
    code, _, err = cli("stylize", PHOTO, *blend, *options)
    assert code == 0, err
    for name in ("starry.png", "blend.png"):
        assert (tmp_path / name).read_bytes() == (by_options / name).read_bytes(), name
    assert (tmp_path / "blend.jpg").exists() and (tmp_path / "record.tsv").exists()


def test_a_job_file_with_options_that_it_gives_is_refused(tmp_path, cli):
    job = tmp_path / "job.json"
    job.write_text(json.dumps(job_mapping(tmp_path)))
    code, _, err = cli("stylize", "--job", job, "--size", "64")
    assert code == 2 and "with --job, the job file gives" in err
    job.write_text("{not json")
    code, _, err = cli("stylize", "--job", job)
    assert code == 2 and f"{job}: not a job file" in err and "Traceback" not in err


def test_a_targets_job_file_makes_what_the_same_options_make(tmp_path, cli):
    # The pipeline's artwork_targets jobs are targets job files: a blend of two paintings at the
    # default coarse-to-fine scales, to the byte what `nst targets` with options makes.
    settings = {"size": 48, "min_size": 32, "device": "cpu", "style_scale": 1.5}
    job = tmp_path / "targets.job"
    by_job, by_options = tmp_path / "job.pt", tmp_path / "options.pt"
    mapping = {"styles": [str(STYLE), str(STYLE2)], "blend": [0.7, 0.3], "settings": settings, "output": str(by_job)}
    job.write_text(json.dumps(mapping))
    code, _, err = cli("targets", "--job", job, "-q")
    assert code == 0, err
    options = ["--size", "48", "--min-size", "32", "--device", "cpu", "--style-scale", "1.5", "--blend", "0.7,0.3"]
    code, _, err = cli("targets", STYLE, STYLE2, *options, "--output", by_options, "-q")
    assert code == 0, err
    from nst_core import GramTargets

    made, expected = GramTargets.load(str(by_job)), GramTargets.load(str(by_options))
    assert made.meta == expected.meta and sorted(made.grams) == [32, 48]
    assert all(made.grams[s][layer].equal(expected.grams[s][layer]) for s in made.grams for layer in made.grams[s])
    job.write_text(json.dumps({**mapping, "settings": {"size": "big"}}))
    code, _, err = cli("targets", "--job", job)
    assert code == 2 and f"{job}: size must be an integer, not 'big'" in err and "Traceback" not in err, err
