"""Image files <-> RGB tensors in [0, 1], shaped [1, 3, H, W]; photos and paintings as decoded
source images with the hash of their file."""

from __future__ import annotations

import ctypes
import io
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import NSTError
from .fingerprints import sha256
from .image_files import decode_source, fit_long_side, load_pil, save_picture
from .storage import read_bytes


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
    interleaved = pixels.permute(1, 2, 0).contiguous()
    # The bytes copied straight from memory (no numpy needed): bytes(storage) goes element by
    # element in Python, 13 s for a 1024 px image.
    data = ctypes.string_at(interleaved.data_ptr(), interleaved.numel())
    return Image.frombytes("RGB", (width, height), data)


def load_image(path: str, long_side: int | None = None) -> torch.Tensor:
    """Read an image as a [1, 3, H, W] tensor, resized so its long side is long_side."""
    image = load_pil(path)
    return pil_to_tensor(image) if long_side is None else to_tensor(image, fit_long_side(image.size, long_side))


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
    return SourceImage(str(path), decode_source(data, str(path)), sha256(data), weight)


def load_styles(paths, blend=None) -> list[SourceImage]:
    """Read an artwork's images with their blend weights (default: equal), normalised to sum to 1."""
    paths = list(paths)
    if not paths:
        raise NSTError("at least one style image is needed")
    weights = [1.0] * len(paths) if not blend else [float(w) for w in blend]
    if len(weights) != len(paths):
        raise NSTError(f"{len(weights)} blend weights given for {len(paths)} style images")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise NSTError("blend weights must be non-negative and not all zero")
    return [load_source(path, weight / sum(weights)) for path, weight in zip(paths, weights)]


def resize(tensor: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a [B, 3, H, W] tensor to (height, width), antialiased when shrinking."""
    if tuple(tensor.shape[-2:]) == tuple(size):
        return tensor
    return F.interpolate(tensor, size=size, mode="bicubic", align_corners=False, antialias=True)


def save_image(image: Image.Image | torch.Tensor, path: str, text: dict[str, str] | None = None) -> None:
    """Encode by the path's extension and write atomically; `text` goes into PNG text chunks."""
    save_picture(tensor_to_pil(image) if isinstance(image, torch.Tensor) else image, path, text)


def png_text(path: str, key: str) -> str | None:
    """A text chunk of an existing, whole PNG (path or URL), or None if it is missing, not a PNG
    or does not decode."""
    try:
        with Image.open(io.BytesIO(read_bytes(path))) as image:
            return image.text.get(key) if image.format == "PNG" else None
    except (NSTError, OSError, SyntaxError, ValueError, EOFError):
        return None
