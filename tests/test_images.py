import io
import os

import fsspec
import pytest
import torch
from PIL import Image

from conftest import PHOTO
from nst_core import NSTError, load_image, save_image
from nst_core.files.image_files import decode_image, fit_long_side


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _noise(size=(40, 30)):
    return Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))


def _truncated(fmt: str) -> bytes:
    data = _encode(_noise(), fmt)
    return data[: len(data) // 2]


def _gradient(mode="RGB", size=(40, 30)):
    image = Image.new("RGB", size)
    image.putdata([(x * 6, y * 8, 128) for y in range(size[1]) for x in range(size[0])])
    return image.convert(mode)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "BMP"])
def test_reads_common_formats(fmt):
    image = decode_image(_encode(_gradient(), fmt), f"x.{fmt.lower()}")
    assert image.mode == "RGB" and image.size == (40, 30)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "RGBA", "LA", "I;16", "1"])
def test_converts_modes_to_rgb(mode):
    source = _gradient(mode) if mode != "I;16" else Image.new("I;16", (40, 30), 40000)
    fmt = "JPEG" if mode == "CMYK" else "TIFF" if mode == "1" else "PNG"
    image = decode_image(_encode(source, fmt), f"x.{fmt.lower()}")
    assert image.mode == "RGB" and image.size == (40, 30)
    if mode == "I;16":  # 16-bit scaled to 8-bit, not clipped to white
        assert image.getpixel((0, 0)) == (156, 156, 156)


def test_transparency_is_composited_on_white():
    source = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    assert decode_image(_encode(source, "PNG"), "a.png").getpixel((3, 3)) == (255, 255, 255)


def test_exif_orientation_is_applied():
    source = _gradient(size=(40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    image = decode_image(_encode(source, "JPEG", exif=exif.tobytes()), "rotated.jpg")
    assert image.size == (20, 40)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty file"),
        (b"hello, I am text\n", "not an image"),
        (_truncated("JPEG"), "corrupt or truncated"),
        (_truncated("PNG"), "corrupt or truncated"),
    ],
    ids=["empty", "text", "truncated-jpeg", "truncated-png"],
)
def test_bad_image_bytes_are_clear_errors(data, message):
    with pytest.raises(NSTError, match=f"^photo.jpg: {message}"):
        decode_image(data, "photo.jpg")


def test_load_resizes_to_long_side_keeping_aspect():
    tensor = load_image(str(PHOTO), long_side=32)
    assert tensor.shape == (1, 3, 24, 32) and tensor.min() >= 0 and tensor.max() <= 1
    assert fit_long_side((300, 1000), 100) == (30, 100)
    assert fit_long_side((10000, 1), 100) == (100, 1)


@pytest.mark.parametrize("ext, fmt", [(".png", "PNG"), (".jpg", "JPEG"), (".webp", "WEBP"), (".tiff", "TIFF")])
def test_output_format_follows_extension(tmp_path, ext, fmt):
    path = tmp_path / f"out{ext}"
    save_image(torch.rand(1, 3, 12, 16), str(path))
    with Image.open(path) as image:
        assert image.format == fmt and image.size == (16, 12)
    assert os.listdir(tmp_path) == [path.name], "no temporary files are left behind"


def test_png_round_trip_is_exact(tmp_path):
    tensor = (torch.randint(0, 256, (1, 3, 9, 7)) / 255).float()
    save_image(tensor, str(tmp_path / "x.png"))
    assert torch.equal(load_image(str(tmp_path / "x.png")), tensor)


def test_unknown_output_extension_is_a_clear_error(tmp_path):
    with pytest.raises(NSTError, match=r"out.gif: unsupported output extension '.gif'"):
        save_image(torch.rand(1, 3, 4, 4), str(tmp_path / "out.gif"))
    assert not os.listdir(tmp_path)


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    save_image(torch.zeros(1, 3, 4, 4), str(path))
    before = path.read_bytes()

    def broken_replace(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(NSTError, match="out.png: cannot write"):
        save_image(torch.ones(1, 3, 4, 4), str(path))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.png"], "the temporary file is removed"


def test_fsspec_urls_read_and_write():
    with fsspec.open("memory://in/photo.jpg", "wb") as handle:
        handle.write(PHOTO.read_bytes())
    tensor = load_image("memory://in/photo.jpg", long_side=16)
    save_image(tensor, "memory://out/result.png")
    assert load_image("memory://out/result.png").shape == (1, 3, 12, 16)
    with pytest.raises(NSTError, match="memory://in/missing.jpg: no such file"):
        load_image("memory://in/missing.jpg")
