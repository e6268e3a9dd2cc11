"""An artwork's Gram targets: computed once, saved to a file that records what they were made for.

The file is a torch.save'd dict of plain tensors and a JSON string, loaded with
weights_only=True: nothing is unpickled beyond tensors and builtin containers. What it records
and is checked against is `made_for()`: the settings the table marks as affecting targets, plus
the network's content hash, the style images' hashes and blend, and the colour reference photo.
"""

from __future__ import annotations

import io
import json

import torch

from ..errors import NSTError
from ..files.storage import read_bytes, write_atomic
from ..files.tensor_files import load_tensors
from ..files.tensors import SourceImage
from ..layers import layer_channels
from ..settings import SETTINGS, TARGETS, Settings
from . import color, memory
from .network import VGG19Features
from .objective import tiled_grams
from .scoring import SCORE_STYLE_LAYERS, painting_grams

FORMAT_VERSION = 3  # 2: the settings record comes from the settings table; 3: the yardstick's Grams


def style_size(scale: int, style_scale: float) -> int:
    return max(1, round(scale * style_scale))


def made_for(settings: Settings, network_fingerprint: str) -> dict:
    """The settings Gram targets depend on, as a targets file records them (JSON values). The
    network is recorded by its content hash, so the same weights under another path match."""
    record = {name: SETTINGS[name].format(value) for name, value in settings.affecting(TARGETS).items()}
    record["weights"] = network_fingerprint
    return record


class GramTargets:
    """Blended, H*W-normalised Gram matrices: grams[output long side][layer] -> [C, C]; and the
    paintings' Grams on the `nst score` yardstick at the output's long side (score_grams[layer]),
    against which a stylize job scores its images."""

    def __init__(self, grams: dict, meta: dict, score_grams: dict):
        self.grams, self.meta, self.score_grams = grams, meta, score_grams

    @classmethod
    @torch.no_grad()
    def compute(
        cls, extractor: VGG19Features, styles: list[SourceImage], settings: Settings, photo: SourceImage | None = None
    ) -> GramTargets:
        """Targets for every scale of the settings' schedule; histogram colour mode needs the photo."""
        device = extractor.preprocess.scale.device
        reference = None
        if settings.preserve_color == "histogram":
            if photo is None:
                raise NSTError("histogram colour preservation needs the photo to match the style's colours to")
            reference = photo.tensor(settings.size).to(device)
        grams = {}
        for size in settings.scales():
            blended = dict.fromkeys(settings.style_layers, 0)
            for style in styles:
                image = style.tensor(style_size(size, settings.style_scale))
                extractor.check_input_size(image.shape[-1], image.shape[-2], style.path)
                image = image.to(device)
                if settings.preserve_color == "luminance":
                    image = color.luminance_rgb(image)
                elif reference is not None:
                    image = color.match_color(image, reference)
                tile_size = memory.features_tile_size(extractor, settings, image.shape[-1], image.shape[-2], device)
                own = tiled_grams(extractor, image, settings.style_layers, tile_size, settings.precision)
                for layer in settings.style_layers:
                    blended[layer] = blended[layer] + style.weight * own[layer][0]
            grams[size] = {layer: g.cpu() for layer, g in blended.items()}
        meta = {
            "format_version": FORMAT_VERSION,
            "made_for": made_for(settings, extractor.weights_fingerprint),
            "color_reference": photo.sha256 if reference is not None else None,
            "styles": [{"path": s.path, "sha256": s.sha256, "weight": s.weight} for s in styles],
        }
        return cls(grams, meta, painting_grams(styles, settings.size, device, settings.max_memory))

    def to_bytes(self) -> bytes:
        tensors = {
            f"{size}/{layer}": g.contiguous() for size, layers in self.grams.items() for layer, g in layers.items()
        }
        buffer = io.BytesIO()
        score = {layer: g.contiguous() for layer, g in self.score_grams.items()}
        torch.save({"meta": json.dumps(self.meta, sort_keys=True), "grams": tensors, "score": score}, buffer)
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
            score_grams = {layer: tensor.float() for layer, tensor in raw.get("score", {}).items()}
        except Exception as error:  # any structural problem means a corrupt or foreign file
            raise NSTError(f"not a valid Gram targets file ({type(error).__name__}: {error})", path=path) from None
        if version != FORMAT_VERSION:
            raise NSTError(
                f"targets format version {version}, this nst reads {FORMAT_VERSION}; recompute it", path=path
            )
        return cls(grams, meta, score_grams)

    def check(
        self, path: str, wanted: dict, settings: Settings, photo: SourceImage | None = None, style_hashes=None
    ) -> None:
        """An NSTError naming the first thing this file was not made for: a setting of `wanted`
        (from made_for()), the colour reference photo, the style images; or a Gram matrix the
        run needs that the file lacks or holds in the wrong shape."""
        recorded = self.meta.get("made_for", {})
        for name, value in wanted.items():
            if recorded.get(name) != value:
                raise NSTError(f"targets were made for {name} {recorded.get(name)}, this run uses {value}", path=path)
        if settings.preserve_color == "histogram" and self.meta["color_reference"] != (photo and photo.sha256):
            raise NSTError(
                f"targets were made for another colour reference photo than {photo and photo.path}", path=path
            )
        if style_hashes is not None and [s["sha256"] for s in self.meta["styles"]] != list(style_hashes):
            raise NSTError("targets were made for other style images than the ones given", path=path)
        needed = [
            (self.grams.get(size, {}).get(layer), layer, f"at {size} px")
            for size in settings.scales()
            for layer in settings.style_layers
        ]
        needed += [(self.score_grams.get(layer), layer, "to score by") for layer in SCORE_STYLE_LAYERS]
        for matrix, layer, where in needed:
            channels = layer_channels(layer)
            if matrix is None or tuple(matrix.shape) != (channels, channels):
                raise NSTError(f"not a valid Gram targets file (no {channels}x{channels} {layer} {where})", path=path)
