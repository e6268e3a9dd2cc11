"""Style Gram targets: computed once per artwork, saved to a file that records what they depend on.

The file is a torch.save'd dict of plain tensors and a JSON string, loaded with
weights_only=True: nothing is unpickled beyond tensors and builtin containers.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass

import torch
from PIL import Image

from . import color
from .errors import NSTError
from .images import decode_image, fit_long_side, pil_to_tensor
from .losses import gram
from .network import VGG19Features, autocast, load_tensors
from .storage import read_bytes, write_atomic

FORMAT_VERSION = 1


@dataclass
class SourceImage:
    """A decoded input image with the hash of its file, which targets files record."""

    path: str
    image: Image.Image
    sha256: str
    weight: float = 1.0


# Smaller photos or paintings are almost surely mistakes (tracking pixels, icons, thumbnails).
MIN_SOURCE_SIDE = 16


def load_source(path: str, weight: float = 1.0) -> SourceImage:
    data = read_bytes(path)
    image = decode_image(data, str(path))
    if min(image.size) < MIN_SOURCE_SIDE:
        raise NSTError(
            f"{path}: image is {image.width}x{image.height} px; photos and style images need at least "
            f"{MIN_SOURCE_SIDE} px on each side"
        )
    return SourceImage(str(path), image, hashlib.sha256(data).hexdigest(), weight)


def load_styles(paths, weights=None) -> list[SourceImage]:
    """Read style images with their blend weights (default: equal), normalised to sum to 1."""
    paths = list(paths)
    if not paths:
        raise NSTError("at least one style image is needed")
    weights = [1.0] * len(paths) if not weights else [float(w) for w in weights]
    if len(weights) != len(paths):
        raise NSTError(f"{len(weights)} style weights given for {len(paths)} style images")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise NSTError("style weights must be non-negative and not all zero")
    return [load_source(path, weight / sum(weights)) for path, weight in zip(paths, weights)]


def style_size(scale: int, style_scale: float) -> int:
    return max(1, round(scale * style_scale))


class GramTargets:
    """Blended, H*W-normalised Gram matrices: grams[output long side][layer] -> [C, C]."""

    def __init__(self, grams: dict, meta: dict):
        self.grams = grams
        self.meta = meta

    @classmethod
    @torch.no_grad()
    def compute(
        cls,
        extractor: VGG19Features,
        styles: list[SourceImage],
        style_layers,
        sizes: list[int],
        style_scale: float = 1.0,
        preserve_color: str = "none",
        color_reference: torch.Tensor | None = None,
        color_reference_sha256: str | None = None,
        precision: str = "fp32",
    ) -> GramTargets:
        """Targets for every output scale in sizes; histogram colour mode needs the photo."""
        device = extractor.preprocess.scale.device
        style_layers = list(style_layers)
        grams = {}
        for size in sizes:
            blended = {layer: 0 for layer in style_layers}
            for style in styles:
                dims = fit_long_side(style.image.size, style_size(size, style_scale))
                extractor.check_input_size(*dims, style.path)
                image = pil_to_tensor(style.image.resize(dims, Image.LANCZOS)).to(device)
                if preserve_color == "luminance":
                    image = color.luminance_rgb(image)
                elif preserve_color == "histogram":
                    image = color.match_color(image, color_reference.to(device))
                with autocast(device, precision):
                    features = extractor(image)
                for layer in style_layers:
                    blended[layer] = blended[layer] + style.weight * gram(features[layer])[0]
            grams[size] = {layer: g.cpu() for layer, g in blended.items()}
        meta = {
            "format_version": FORMAT_VERSION,
            "weights": extractor.weights_fingerprint,
            "pooling": extractor.pooling,
            "padding": extractor.padding,
            "layers": style_layers,
            "sizes": list(sizes),
            "style_sizes": [style_size(s, style_scale) for s in sizes],
            "style_scale": style_scale,
            "preserve_color": preserve_color,
            "color_reference": color_reference_sha256 if preserve_color == "histogram" else None,
            "styles": [{"path": s.path, "sha256": s.sha256, "weight": s.weight} for s in styles],
        }
        return cls(grams, meta)

    def to_bytes(self) -> bytes:
        tensors = {
            f"{size}/{layer}": g.contiguous() for size, layers in self.grams.items() for layer, g in layers.items()
        }
        buffer = io.BytesIO()
        torch.save({"meta": json.dumps(self.meta, sort_keys=True), "grams": tensors}, buffer)
        return buffer.getvalue()

    def save(self, path: str) -> None:
        write_atomic(path, self.to_bytes())

    @classmethod
    def load(cls, path: str) -> GramTargets:
        raw = load_tensors(read_bytes(path), path, "a valid Gram targets file")
        try:
            meta = json.loads(raw["meta"])
            version = meta["format_version"]
            grams = {}
            for key, tensor in raw["grams"].items():
                size, layer = key.split("/")
                if not isinstance(tensor, torch.Tensor) or tensor.dim() != 2:
                    raise ValueError(f"{key} is not a matrix")
                grams.setdefault(int(size), {})[layer] = tensor.float()
        except Exception as error:  # any structural problem means a corrupt or foreign file
            raise NSTError(f"{path}: not a valid Gram targets file ({type(error).__name__}: {error})") from None
        if version != FORMAT_VERSION:
            raise NSTError(f"{path}: targets format version {version}, this nst reads {FORMAT_VERSION}; recompute it")
        return cls(grams, meta)

    def check_compatible(
        self,
        path: str,
        extractor: VGG19Features,
        style_layers,
        sizes,
        style_scale: float,
        preserve_color: str,
        color_reference_sha256: str | None = None,
        style_hashes=None,
    ) -> None:
        """Raise an NSTError naming the first setting this file was not made for."""
        meta = self.meta
        problems = [
            ("network weights", meta["weights"], extractor.weights_fingerprint),
            ("pooling", meta["pooling"], extractor.pooling),
            ("padding", meta["padding"], extractor.padding),
            ("style scale", meta["style_scale"], style_scale),
            ("colour preservation", meta["preserve_color"], preserve_color),
        ]
        if preserve_color == "histogram":
            problems.append(("colour reference photo", meta["color_reference"], color_reference_sha256))
        if style_hashes is not None:
            problems.append(("style images", [s["sha256"] for s in meta["styles"]], list(style_hashes)))
        for what, made_for, wanted in problems:
            if made_for != wanted:
                raise NSTError(f"{path}: targets were made for {what} {made_for}, this run uses {wanted}")
        missing_layers = [layer for layer in style_layers if layer not in meta["layers"]]
        if missing_layers:
            raise NSTError(
                f"{path}: targets were made for layers {','.join(meta['layers'])}, "
                f"this run needs {','.join(style_layers)}"
            )
        missing_sizes = [s for s in sizes if s not in self.grams]
        if missing_sizes:
            raise NSTError(
                f"{path}: targets were made for output sizes {meta['sizes']}, this run needs {list(sizes)} "
                "(same --size and coarse-to-fine schedule)"
            )
