"""Broken and unusual inputs through `nst stylize`: each either works correctly or fails with one
line that names the file, writing no output. Then the pipeline with hostile file names."""

import io
import os
import pickle
import shutil
import struct
import zlib

import pytest
from PIL import Image

from conftest import FAST, PHOTO, STYLE, TARGETS_FAST, make_project, snakemake


def png_with_declared_size(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header claims width x height (a decompression bomb's header)."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    ihdr = 8 + 8  # signature, then length and type of the IHDR chunk
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])))
    return bytes(data)


class Payload:
    """Unpickling this would create a file: a hostile 'targets' file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def make_failing(tmp_path, case):
    """(arguments, expected message fragment, file the message must name)."""
    photo = Image.open(PHOTO)
    path = tmp_path / "input"
    path.mkdir(exist_ok=True)
    if case == "missing file":
        target = path / "nowhere.jpg"
        return [target, "--style", STYLE], "no such file", target
    if case == "empty file":
        (target := path / "empty.jpg").write_bytes(b"")
        return [target, "--style", STYLE], "empty file", target
    if case == "text named .jpg":
        (target := path / "notes.jpg").write_text("dear diary")
        return [target, "--style", STYLE], "not an image", target
    if case == "truncated JPEG":
        (target := path / "cut.jpg").write_bytes(PHOTO.read_bytes()[:700])
        return [target, "--style", STYLE], "corrupt or truncated", target
    if case == "truncated PNG":
        photo.save(buffer := io.BytesIO(), "PNG")
        (target := path / "cut.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        return [target, "--style", STYLE], "corrupt or truncated", target
    if case == "decompression bomb":
        (target := path / "bomb.png").write_bytes(png_with_declared_size(100_000, 100_000))
        return [target, "--style", STYLE], "too large to decode safely", target
    if case == "1x1 image":
        Image.new("RGB", (1, 1), "red").save(target := path / "pixel.png")
        return [target, "--style", STYLE], "image is 1x1 px", target
    if case == "extremely wide panorama":
        photo.resize((3000, 20)).save(target := path / "panorama.jpg")
        return [target, "--style", STYLE], "too small for layer", target
    if case == "truncated style image":
        (target := path / "style.jpg").write_bytes(STYLE.read_bytes()[:500])
        return [PHOTO, "--style", target], "corrupt or truncated", target
    if case == "directory as photo":
        return [path, "--style", STYLE], "is a directory", path
    if case == "corrupt targets file":
        (target := path / "random.pt").write_bytes(os.urandom(4096))
        return [PHOTO, "--targets", target], "not a valid Gram targets file", target
    if case == "targets for other layers":
        from nst_core.cli import main

        target = path / "shallow.pt"
        assert (
            main(
                [
                    "targets",
                    str(STYLE),
                    "--quiet",
                    "--style-layers",
                    "relu1_1,relu2_1",
                    "--output",
                    str(target),
                    *TARGETS_FAST,
                ]
            )
            == 0
        )
        return [PHOTO, "--targets", target], "relu1_1", target
    if case in ("targets missing a Gram matrix", "targets with a wrong-shaped Gram matrix"):
        import torch

        from nst_core.cli import main

        target = path / "edited.pt"
        assert main(["targets", str(STYLE), "--quiet", "--output", str(target), *TARGETS_FAST]) == 0
        raw = torch.load(target, weights_only=True)  # valid metadata, then one matrix edited
        key = next(iter(raw["grams"]))
        if case == "targets missing a Gram matrix":
            del raw["grams"][key]
        else:
            raw["grams"][key] = raw["grams"][key][:-1]
        torch.save(raw, target)
        return [PHOTO, "--targets", target], "not a valid Gram targets file (no ", target
    if case == "pickle payload as targets":
        marker = tmp_path / "payload-ran"
        (target := path / "evil.pt").write_bytes(pickle.dumps(Payload(str(marker))))
        return [PHOTO, "--targets", target], "not a valid Gram targets file", target
    if case == "learning rate 1e30 (Adam: noise)":
        # 64 px: at 32 relu5_1 holds 2 positions, and the noise's loss stays under ten times the photo's
        return (
            [PHOTO, "--style", STYLE, "--optimizer", "adam", "--lr", "1e30", "--size", "64"],
            "optimisation diverged",
            PHOTO,
        )
    raise AssertionError(case)


FAILING = [
    "missing file",
    "empty file",
    "text named .jpg",
    "truncated JPEG",
    "truncated PNG",
    "decompression bomb",
    "1x1 image",
    "extremely wide panorama",
    "truncated style image",
    "directory as photo",
    "corrupt targets file",
    "targets for other layers",
    "targets missing a Gram matrix",
    "targets with a wrong-shaped Gram matrix",
    "pickle payload as targets",
    "learning rate 1e30 (Adam: noise)",
]


@pytest.mark.parametrize("case", FAILING)
def test_bad_input_is_one_line_naming_the_file_and_writes_nothing(tmp_path, cli, case):
    args, message, named = make_failing(tmp_path, case)
    output = tmp_path / "out.png"
    code, _, err = cli("stylize", args[0], *FAST, *args[1:], "--output", output, "--quiet")  # a case's own options win
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert message in lines[0] and str(named) in lines[0], lines[0]
    assert not output.exists()
    assert not (tmp_path / "payload-ran").exists()  # nothing was unpickled


def make_working(tmp_path, case):
    """(photo path, expected output size (w, h) at --size 32)."""
    photo = Image.open(PHOTO)  # 64x48 landscape
    if case == "16-bit PNG":
        grey = photo.convert("L").point(lambda v: v)  # 8-bit, then widened to 16 bits per sample
        Image.frombytes("I;16", grey.size, bytes(b for v in grey.tobytes() for b in (0, v))).save(
            target := tmp_path / "deep.png"
        )
        return target, (32, 24)
    if case == "CMYK JPEG":
        photo.convert("CMYK").save(target := tmp_path / "print.jpg")
        return target, (32, 24)
    if case == "palette GIF":
        photo.convert("P", palette=Image.ADAPTIVE).save(target := tmp_path / "anim.gif")
        return target, (32, 24)
    if case == "RGBA PNG":
        photo.convert("RGBA").save(target := tmp_path / "alpha.png")
        return target, (32, 24)
    if case == "grayscale JPEG":
        photo.convert("L").save(target := tmp_path / "grey.jpg")
        return target, (32, 24)
    if case == "EXIF-rotated JPEG":
        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: the camera was turned; viewers rotate 90 degrees
        photo.save(target := tmp_path / "rotated.jpg", exif=exif)
        return target, (24, 32)  # upright: portrait
    if case == "hostile file name":
        target = tmp_path / 'it\'s a "photo" $(touch pwned); ü ñ `id` & more.jpg'
        shutil.copy(PHOTO, target)
        return target, (32, 24)
    raise AssertionError(case)


WORKING = [
    "16-bit PNG",
    "CMYK JPEG",
    "palette GIF",
    "RGBA PNG",
    "grayscale JPEG",
    "EXIF-rotated JPEG",
    "hostile file name",
]


@pytest.mark.parametrize("case", WORKING)
def test_unusual_but_valid_input_is_stylized(tmp_path, cli, case):
    photo, size = make_working(tmp_path, case)
    output = tmp_path / f"{photo.stem} out.png"
    code, _, err = cli("stylize", photo, "--style", STYLE, "--output", output, *FAST, "--quiet")
    assert code == 0, err
    with Image.open(output) as result:
        assert result.size == size and result.mode == "RGB"
        low, high = zip(*result.getextrema())
        assert max(high) - min(low) > 50  # a picture, not a flat or black image
    assert not (tmp_path / "pwned").exists()


def test_pipeline_keeps_going_past_bad_photos_and_quotes_hostile_names(tmp_path):
    workdir = make_project(tmp_path)
    hostile = 'it\'s a "photo" $(touch PWNED); ü `touch PWNED2` & x'
    shutil.copy(PHOTO, workdir / "photos" / f"{hostile}.jpg")
    (workdir / "photos" / "cut.png").write_bytes((workdir / "photos" / "chelsea.png").read_bytes()[:300])
    Image.new("RGB", (1, 1)).save(workdir / "photos" / "pixel.png")
    result = snakemake(workdir, "--keep-going")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "cut.png: corrupt or truncated" in output and "pixel.png: image is 1x1 px" in output
    for style in ("starry", "scream"):
        for name in ("tubingen", "chelsea", hostile):
            assert (workdir / "results" / "stylized" / style / f"{name}.png").is_file(), (style, name)
        assert not (workdir / "results" / "stylized" / style / "cut.png").exists()
    assert not list(workdir.rglob("PWNED*")) and not list(tmp_path.rglob("PWNED*"))


def test_config_yaml_cannot_run_code(tmp_path):
    workdir = make_project(tmp_path)
    config = (workdir / "config.yaml").read_text()
    (workdir / "config.yaml").write_text(config + '\nhook: !!python/object/apply:os.system ["touch PWNED"]\n')
    result = snakemake(workdir, "--dry-run")
    assert result.returncode != 0
    assert "not valid JSON or YAML" in result.stdout + result.stderr
    assert not (workdir / "PWNED").exists()
