"""The file-to-file jobs, called from Python as the `nst` command calls them."""

import pytest
from PIL import Image

from conftest import PHOTO, STYLE, STYLE2, tiny
from nst_core import NSTError, stylize_file, targets_file


def test_stylize_file_writes_then_keeps_an_unchanged_image(tmp_path):
    out = tmp_path / "out.png"
    settings = tiny(size=32, iterations=2)
    done = stylize_file(str(PHOTO), str(out), settings, styles=[str(STYLE)], skip_unchanged=True)
    assert done.written and done.size == (32, 24) and done.seconds > 0
    made = out.stat().st_mtime_ns
    again = stylize_file(str(PHOTO), str(out), settings, styles=[str(STYLE)], skip_unchanged=True)
    assert not again.written and out.stat().st_mtime_ns == made
    changed = stylize_file(
        str(PHOTO), str(out), settings.replace(iterations=3), styles=[str(STYLE)], skip_unchanged=True
    )
    assert changed.written


def test_targets_file_then_stylize_file_with_it(tmp_path):
    settings = tiny(size=32)
    targets = tmp_path / "blend.pt"
    targets_file([str(STYLE), str(STYLE2)], str(targets), settings, blend=[0.7, 0.3])
    out = tmp_path / "out.jpg"
    assert stylize_file(str(PHOTO), str(out), settings, targets=str(targets)).written
    assert Image.open(out).size == (32, 24)
    # the targets checked against the style images given with them
    with pytest.raises(NSTError, match="made for other style images"):
        stylize_file(str(PHOTO), str(out), settings, styles=[str(STYLE)], targets=str(targets))


def test_an_impossible_output_fails_before_any_work(tmp_path):
    with pytest.raises(NSTError, match="unsupported output extension '.gif'"):
        stylize_file(str(tmp_path / "missing.jpg"), str(tmp_path / "out.gif"), tiny(), styles=[str(STYLE)])


def test_a_batch_that_runs_out_of_memory_after_all_goes_one_image_at_a_time(tmp_path, monkeypatch):
    # The plan's estimate can be short (a GPU's workspace was, on an H200): a batch that runs out
    # of memory is made again one image at a time, and each image is written.
    import torch

    from nst_core import Artwork, stylize_photo
    from nst_core.core.transfer import StyleTransfer

    own_run = StyleTransfer._stylize

    def short_of_memory(self, photo, targets, *args):
        if len(targets) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return own_run(self, photo, targets, *args)

    monkeypatch.setattr(StyleTransfer, "_stylize", short_of_memory)
    settings = tiny(size=48, min_size=32, iterations=3, coarse_iterations=2)
    artworks = [
        Artwork(str(tmp_path / f"{k}.png"), settings, styles=(str(style),)) for k, style in enumerate((STYLE, STYLE2))
    ]
    done = stylize_photo(str(PHOTO), artworks)
    assert [d.error for d in done] == [None, None] and [d.batch for d in done] == [1, 1]
    assert all((tmp_path / f"{k}.png").exists() for k in (0, 1))
