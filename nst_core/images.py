"""Image files <-> RGB tensors in [0, 1], shaped [1, 3, H, W]; photos and paintings as decoded
source images with the hash of their file."""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from .errors import NSTError
from .fingerprints import sha256
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
        raise NSTError(f"{path}: unsupported output extension {extension!r} (use {known})")
    return OUTPUT_FORMATS[extension]


def check_output(path: str) -> None:
    """An unknown extension or an unwritable bucket fails before any work is done."""
    output_format(path)
    check_location(path)


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


def decode_image(data: bytes, name: str) -> Image.Image:
    """Decode bytes into an upright RGB image, or raise an NSTError naming the file."""
    if not data:
        raise NSTError(f"{name}: empty file")
    try:
        with warnings.catch_warnings():
            # Pillow's other warnings (corrupt EXIF, say) are noise to a user: the image decodes.
            warnings.simplefilter("ignore")
            # A huge declared size is an error here, not a warning: it would exhaust memory.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
            image = ImageOps.exif_transpose(image)
            image = _to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise NSTError(f"{name}: image too large to decode safely ({error})") from None
    except UnidentifiedImageError:
        raise NSTError(f"{name}: not an image (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise NSTError(f"{name}: corrupt or truncated image ({error})") from None
    if min(image.size) < 1:
        raise NSTError(f"{name}: image has no pixels")
    return image


def load_pil(path: str) -> Image.Image:
    return decode_image(read_bytes(path), str(path))


def fit_long_side(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is long_side, aspect kept, each side >= 1."""
    width, height = size
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    width, height = image.size
    data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    return data.view(height, width, 3).permute(2, 0, 1).unsqueeze(0).float().contiguous() / 255


def to_tensor(image: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """The image resized (Lanczos) to size = (width, height), as a tensor: the one way a photo or
    painting becomes the network's input."""
    return pil_to_tensor(image.resize(size, Image.LANCZOS))


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    pixels = (tensor.detach().float().cpu().clamp(0, 1)[0] * 255).round().to(torch.uint8)
    height, width = pixels.shape[1:]
    # clone() gives a storage holding exactly these pixels (no numpy needed).
    data = bytes(pixels.permute(1, 2, 0).clone(memory_format=torch.contiguous_format).untyped_storage())
    return Image.frombytes("RGB", (width, height), data)


def load_image(path: str, long_side: int | None = None) -> torch.Tensor:
    """Read an image as a [1, 3, H, W] tensor, resized so its long side is long_side."""
    image = load_pil(path)
    return pil_to_tensor(image) if long_side is None else to_tensor(image, fit_long_side(image.size, long_side))


# Smaller photos or paintings are almost surely mistakes (tracking pixels, icons, thumbnails).
MIN_SOURCE_SIDE = 16


@dataclass
class SourceImage:
    """A decoded photo or painting with the hash of its file, which targets files record."""

    path: str
    image: Image.Image
    sha256: str
    weight: float = 1.0  # its share of an artwork's blend

    def tensor(self, long_side: int) -> torch.Tensor:
        """The image at this long side, aspect kept."""
        return to_tensor(self.image, fit_long_side(self.image.size, long_side))


def load_source(path: str, weight: float = 1.0) -> SourceImage:
    data = read_bytes(path)
    image = decode_image(data, str(path))
    if min(image.size) < MIN_SOURCE_SIDE:
        raise NSTError(
            f"{path}: image is {image.width}x{image.height} px; photos and style images need at least "
            f"{MIN_SOURCE_SIDE} px on each side"
        )
    return SourceImage(str(path), image, sha256(data), weight)


def resize(tensor: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a [B, 3, H, W] tensor to (height, width), antialiased when shrinking."""
    if tuple(tensor.shape[-2:]) == tuple(size):
        return tensor
    return F.interpolate(tensor, size=size, mode="bicubic", align_corners=False, antialias=True)


def save_image(image: Image.Image | torch.Tensor, path: str, text: dict[str, str] | None = None) -> None:
    """Encode by the path's extension and write atomically; `text` goes into PNG text chunks."""
    if isinstance(image, torch.Tensor):
        image = tensor_to_pil(image)
    fmt, options = output_format(path)
    if text and fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
        options = {**options, "pnginfo": info}
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    write_atomic(path, buffer.getvalue())


def png_text(path: str, key: str) -> str | None:
    """A text chunk of an existing, whole PNG (path or URL), or None if it is missing, not a PNG
    or does not decode."""
    try:
        with Image.open(io.BytesIO(read_bytes(path))) as image:
            return image.text.get(key) if image.format == "PNG" else None
    except (NSTError, OSError, SyntaxError, ValueError, EOFError):
        return None
