import json

import pytest
from PIL import Image

from conftest import FAST, PHOTO, PHOTO2, STYLE, STYLE2, TARGETS_FAST, run_cli


def test_stylize_end_to_end_with_the_console_script(tmp_path):
    out = tmp_path / "out.jpg"
    result = run_cli("stylize", PHOTO, "--style", STYLE, "--output", out, *FAST)
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        assert image.format == "JPEG" and image.size == (32, 24)
    assert "wrote" in result.stderr and "Traceback" not in result.stderr


def test_targets_then_stylize_with_targets(tmp_path, cli):
    targets = tmp_path / "starry.pt"
    code, _, err = cli("targets", STYLE, STYLE2, "--blend", "0.7,0.3", "-o", targets, *TARGETS_FAST)
    assert code == 0 and err.startswith(f"nst: wrote {targets} (")  # says what it wrote
    out = tmp_path / "out.png"
    code, _, err = cli("stylize", PHOTO, "--targets", targets, "-o", out, "-q", *FAST)
    assert code == 0 and err == "" and out.exists()
    # the same targets with a run they were not made for
    code, _, err = cli("stylize", PHOTO, "--targets", targets, "-o", tmp_path / "x.png", *FAST, "--pooling", "avg")
    assert code == 2 and "targets were made for pooling max, this run uses avg" in err
    assert not (tmp_path / "x.png").exists()


def test_blend_of_two_styles_and_overrides(tmp_path, cli):
    out = tmp_path / "blend.webp"
    artwork = ["--style", STYLE, "--style", STYLE2, "--blend", "0.7,0.3", "--style-weight", "2"]
    overrides = ["--preset", "paper", "--style-layers", "conv1_1,conv2_1", "--tv-weight", "1"]
    overrides += ["--preserve-color", "luminance", "--precision", "bf16", "--seed", "7"]
    code, _, err = cli("stylize", PHOTO, *artwork, "-o", out, "-q", *FAST, *overrides)
    assert code == 0, err
    assert Image.open(out).format == "WEBP"


def test_sheet_and_score(tmp_path, cli):
    sheet = tmp_path / "sheet.png"
    assert cli("sheet", PHOTO, PHOTO2, STYLE, "-o", sheet, "--columns", "2", "--cell", "64")[0] == 0
    with Image.open(sheet) as image:
        width, height = image.size
    # each row as tall as its tallest thumbnail (tubingen 64x48, chelsea 64x43; starry night 64x40),
    # plus its label (16 px) and padding (8): no blank band under landscape images
    assert width == 2 * (64 + 8) and height == (48 + 16 + 8) + (40 + 16 + 8)
    code, out, _ = cli("score", PHOTO, "--photo", PHOTO, "--style", STYLE)
    values = json.loads(out)
    assert code == 0 and set(values) == {"style", "content"} and len(out.strip().splitlines()) == 1


def test_help_shows_examples():
    result = run_cli("stylize", "--help")
    assert result.returncode == 0 and "examples:" in result.stdout and "nst stylize photo.jpg" in result.stdout
    help_text = " ".join(result.stdout.split())
    assert "learning rate (default: 1 for lbfgs, 0.02 for adam) " in help_text  # its default once
    assert "scale does not fit in memory) (default" not in help_text and "(default: 100)" in help_text


def _bad_inputs(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("I am not a picture")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(PHOTO.read_bytes()[:600])
    return {
        "missing photo": ([tmp_path / "nope.jpg", "--style", STYLE], "nope.jpg: no such file"),
        "missing style": ([PHOTO, "--style", tmp_path / "nope.jpg"], "nope.jpg: no such file"),
        "text as jpg": ([text, "--style", STYLE], "notes.jpg: not an image"),
        "empty file": ([PHOTO, "--style", empty], "empty.png: empty file"),
        "truncated": ([truncated, "--style", STYLE], "cut.jpg: corrupt or truncated"),
        "directory": ([tmp_path, "--style", STYLE], "is a directory"),
        "bad preset": ([PHOTO, "--style", STYLE, "--preset", "fancy"], "invalid choice: 'fancy'"),
        "bad pooling": ([PHOTO, "--style", STYLE, "--pooling", "median"], "invalid choice: 'median'"),
        "bad number": ([PHOTO, "--style", STYLE, "--iterations", "many"], "iterations must be an integer, not 'many'"),
        "bad layer": ([PHOTO, "--style", STYLE, "--style-layers", "relu9_9"], "unknown VGG-19 layer 'relu9_9'"),
        "no style": ([PHOTO], "give --style STYLE"),
        "bad weights": ([PHOTO, "--style", STYLE, "--weights", text], "notes.jpg: not a PyTorch weights file"),
        "bad targets": ([PHOTO, "--targets", text], "notes.jpg: not a valid Gram targets file"),
        "blend count": (
            [PHOTO, "--style", STYLE, "--blend", "1,2"],
            "2 blend weights given for 1 style images",
        ),
    }


BAD_CASES = [
    "missing photo",
    "missing style",
    "text as jpg",
    "empty file",
    "truncated",
    "directory",
    "bad preset",
    "bad pooling",
    "bad number",
    "bad layer",
    "no style",
    "bad weights",
    "bad targets",
    "blend count",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_exits_2_with_one_line(tmp_path, cli, case):
    args, message = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out.png"
    code, stdout, stderr = cli("stylize", *args, "-o", out, *FAST)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert message in stderr and "Traceback" not in stderr
    assert not out.exists()


def test_bad_output_extension_fails_before_work(tmp_path, cli):
    code, _, err = cli("stylize", PHOTO, "--style", STYLE, "-o", tmp_path / "out.bmpx", *FAST)
    assert code == 2 and "unsupported output extension '.bmpx'" in err


def test_bad_input_through_the_console_script(tmp_path):
    result = run_cli("stylize", tmp_path / "missing.jpg", "--style", STYLE, "-o", tmp_path / "o.png")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"nst stylize: error: {tmp_path / 'missing.jpg'}: no such file"]


def test_same_seed_same_bytes_through_the_command(tmp_path, cli):
    outputs = []
    for name in ("a.png", "b.png"):
        code, _, err = cli(
            "stylize", PHOTO, "--style", STYLE, "-o", tmp_path / name, "-q", *FAST, "--init", "noise", "--seed", "5"
        )
        assert code == 0, err
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]


def test_fsspec_urls_in_and_out(cli):
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/cli/photo.jpg", PHOTO.read_bytes())
    fs.pipe("/cli/art.jpg", STYLE.read_bytes())
    code, _, err = cli(
        "stylize",
        "memory://cli/photo.jpg",
        "--style",
        "memory://cli/art.jpg",
        "-o",
        "memory://cli/out/x.png",
        "-q",
        *FAST,
    )
    assert code == 0, err
    assert fs.cat("/cli/out/x.png").startswith(b"\x89PNG")


def test_skip_unchanged_keeps_an_image_made_from_the_same_inputs(tmp_path, cli):
    out = tmp_path / "out.png"
    args = ["stylize", PHOTO, "--style", STYLE, "-o", out, "-q", "--skip-unchanged", *FAST]
    assert cli(*args)[0] == 0
    with Image.open(out) as image:
        fingerprint = image.text["nst:fingerprint"]
    made = out.stat().st_mtime_ns
    code, _, err = cli(*args)
    assert code == 0 and err.strip() == f"nst: {out} is up to date (same photo, style, settings and code)"
    assert out.stat().st_mtime_ns == made
    # another setting, another style image, a damaged file, or a file without a fingerprint: made again
    for changed in (["--iterations", "4"], ["--style", STYLE2]):
        code, _, err = cli(*args, *changed)
        assert code == 0 and "up to date" not in err
        with Image.open(out) as image:
            assert image.text["nst:fingerprint"] != fingerprint
    out.write_bytes(out.read_bytes()[:-20])
    assert "up to date" not in cli(*args)[2]
    assert cli("stylize", PHOTO, "--style", STYLE, "-o", out, "-q", *FAST)[0] == 0  # no fingerprint
    assert "up to date" not in cli(*args)[2]
