"""Image files as upright RGB Pillow images, and output formats: what the pipeline checks at
planning needs this without torch."""

from __future__ import annotations

import io
import os
import warnings

from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from ..errors import NSTError
from .storage import check_location, read_bytes, write_atomic

# Extension -> (Pillow format, save options).
OUTPUT_FORMATS = {
    ".png": ("PNG", {}),
    ".jpg": ("JPEG", {"quality": 95}),
    ".jpeg": ("JPEG", {"quality": 95}),
    ".webp": ("WEBP", {"quality": 95}),
    ".tif": ("TIFF", {"compression": "tiff_deflate"}),
    ".tiff": ("TIFF", {"compression": "tiff_deflate"}),
}


def output_format(path: str) -> tuple[str, dict]:
    """Pillow format for an output path, or an NSTError before any work is done."""
    extension = os.path.splitext(str(path))[1].lower()
    if extension not in OUTPUT_FORMATS:
        known = ", ".join(sorted(OUTPUT_FORMATS))
        raise NSTError(f"unsupported output extension {extension!r} (use {known})", path=path)
    return OUTPUT_FORMATS[extension]


def check_output(path: str) -> None:
    """An unknown extension or an unwritable bucket fails before any work is done."""
    output_format(path)
    check_location(path)


def save_picture(image: Image.Image, path: str, text: dict[str, str] | None = None) -> None:
    """Encode by the path's extension and write atomically; `text` goes into PNG text chunks."""
    fmt, options = output_format(path)
    if text and fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
        options = {**options, "pnginfo": info}
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    write_atomic(path, buffer.getvalue())


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; transparency is composited onto white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grayscale: Pillow's convert("L") clips instead of scaling.
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    elif image.mode == "F":
        image = image.point(lambda v: v * 255).convert("L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def decode_image(data: bytes, name: str, draft: tuple[int, int] | None = None) -> Image.Image:
    """Decode bytes into an upright RGB image, or raise an NSTError naming the file. draft: a
    JPEG may decode at a reduced scale no smaller than this (several times faster)."""
    if not data:
        raise NSTError("empty file", path=name)
    try:
        with warnings.catch_warnings():
            # Pillow's other warnings (corrupt EXIF, say) are noise to a user: the image decodes.
            warnings.simplefilter("ignore")
            # A huge declared size is an error here, not a warning: it would exhaust memory.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if draft:
                image.draft("RGB", draft)
            image.load()
            image = ImageOps.exif_transpose(image)
            image = _to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise NSTError(f"image too large to decode safely ({error})", path=name) from None
    except UnidentifiedImageError:
        raise NSTError("not an image (unrecognised format)", path=name) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise NSTError(f"corrupt or truncated image ({error})", path=name) from None
    if min(image.size) < 1:
        raise NSTError("image has no pixels", path=name)
    return image


def load_pil(path: str) -> Image.Image:
    return decode_image(read_bytes(path), str(path))


def fit_long_side(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is long_side, aspect kept, each side >= 1."""
    width, height = size
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


# Smaller photos or paintings are almost surely mistakes (tracking pixels, icons, thumbnails).
MIN_SOURCE_SIDE = 16


def decode_source(data: bytes, name: str) -> Image.Image:
    """A photo or painting: decoded, and large enough to be one."""
    image = decode_image(data, name)
    if min(image.size) < MIN_SOURCE_SIDE:
        raise NSTError(
            f"image is {image.width}x{image.height} px; photos and style images need at least "
            f"{MIN_SOURCE_SIDE} px on each side",
            path=name,
        )
    return image


def check_source(path: str) -> None:
    """An NSTError naming the file unless it is a photo or painting nst can use."""
    decode_source(read_bytes(path), str(path))


THUMBNAIL_SIDE = 192  # px, long side: a gallery page of a few hundred loads in a moment
THUMBNAIL_SIDES = range(16, 1025)  # px: a label still fits; a sheet of 100 stays a few MB


def check_thumbnail_side(side: int, where: str) -> int:
    if side not in THUMBNAIL_SIDES:
        raise NSTError(f"{where} {side}: give {THUMBNAIL_SIDES[0]} to {THUMBNAIL_SIDES[-1]} px")
    return side


def write_thumbnail(source: str, output: str, side: int = THUMBNAIL_SIDE) -> None:
    """A small JPEG of an image (long side `side` px, never enlarged), for the gallery."""
    image = decode_image(read_bytes(source), str(source), draft=(side, side))
    image.thumbnail((side, side), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    write_atomic(output, buffer.getvalue())
