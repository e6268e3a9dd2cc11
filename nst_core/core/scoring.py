"""`nst score`: a fixed yardstick for comparing outputs, whatever settings made them.

Always the bundled Oxford weights, max pooling, zero padding, relu layers, at the scored
image's own resolution: style = mean relative Gram distance to the style image (resized to the
same long side), content = relative feature distance to the photo (resized to the same size),
layout = the correlation of those feature maps with the photo's.
A stylize job scores its images on it as they are made (Yardstick), from tensors at hand, by
tiles where a whole pass would not fit in the run's memory (the same scores, to rounding).
"""

from __future__ import annotations

import functools

import torch

from ..files.image_files import load_pil
from ..files.storage import identity
from ..files.tensors import load_source, load_styles, pil_to_tensor, to_tensor
from ..settings import Settings
from . import memory
from .network import VGG19Features, load_weights
from .objective import features_and_grams

# The fixed yardstick of `nst score`: independent of any run's settings, so outputs made with
# different presets, sizes or weights can be compared.
SCORE_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
SCORE_CONTENT_LAYER = "relu4_2"


def style_distances(grams: dict, target_grams: dict) -> dict:
    """Each layer's ||G - A||^2 / ||A||^2 (0 = identical style statistics)."""
    return {
        layer: float((grams[layer][0] - target_grams[layer]).pow(2).sum() / target_grams[layer].pow(2).sum())
        for layer in SCORE_STYLE_LAYERS
    }


def relative_style_distance(grams: dict, target_grams: dict) -> float:
    """The mean over layers of style_distances."""
    return sum(style_distances(grams, target_grams).values()) / len(SCORE_STYLE_LAYERS)


def relative_content_distance(features: dict, target: dict) -> float:
    """||F - P||^2 / ||P||^2 at relu4_2 (0 = identical content features)."""
    f, p = features[SCORE_CONTENT_LAYER].float(), target[SCORE_CONTENT_LAYER].float()
    return float((f - p).pow(2).sum() / p.pow(2).sum())


def layout_correlation(features: dict, target: dict) -> float:
    """The correlation of the relu4_2 maps with the photo's: each channel's mean over the image
    taken out, the cosine of the rest as one vector (1 = the photo's layout, 0 = none of it).
    Unlike the content distance it does not grow with the texture a style adds (docs/benchmarks.md,
    "The layout flag")."""
    f, p = (maps[SCORE_CONTENT_LAYER].float().flatten(2) for maps in (features, target))
    f, p = f - f.mean(2, keepdim=True), p - p.mean(2, keepdim=True)
    return float(torch.nn.functional.cosine_similarity(f.flatten(), p.flatten(), dim=0))


@functools.lru_cache(maxsize=2)
def _scoring_network(device: str = "cpu") -> VGG19Features:
    layers = SCORE_STYLE_LAYERS + (SCORE_CONTENT_LAYER,)
    return VGG19Features(load_weights("bundled"), layers, pooling="max", padding="zeros").to(device)


def _pass(image: torch.Tensor, device: str, max_memory: float | None, content: bool = True) -> tuple[dict, dict]:
    """The yardstick's content features (if asked) and Grams of an image ([1, 3, H, W]) on the
    device, by tiles where a whole pass does not fit in memory (max_memory: the run's cap, GiB)."""
    net, (height, width) = _scoring_network(device), image.shape[-2:]
    budget = Settings(precision="fp32", max_memory=max_memory)  # the yardstick runs in fp32
    tile_size = memory.features_tile_size(net, budget, width, height, torch.device(device))
    maps = (SCORE_CONTENT_LAYER,) if content else ()
    return features_and_grams(net, image.to(device), maps, SCORE_STYLE_LAYERS, tile_size, "fp32")


def painting_grams(paintings, long_side: int, device="cpu", max_memory: float | None = None) -> dict:
    """The yardstick's Grams of an artwork's paintings (SourceImages, blended by their weights),
    each resized to this long side: what an image of that long side is scored against."""
    blended = {}
    for painting in paintings:
        _, grams = _pass(painting.tensor(long_side), str(device), max_memory, content=False)
        for layer, matrix in grams.items():
            blended[layer] = blended.get(layer, 0) + painting.weight * matrix[0].cpu()
    return blended


class Yardstick:
    """The yardstick's references for one photo's images, made once: the photo's features at the
    images' size, and each artwork's Grams (painting_grams) given to measure(). max_memory: the
    run's cap in GiB, which the passes keep to (default: the device's free memory)."""

    def __init__(self, photo: torch.Tensor, device="cpu", max_memory: float | None = None):
        self.device, self.max_memory = str(device), max_memory
        self.photo, self.photo_grams = _pass(photo, self.device, max_memory)

    def measure(self, image: torch.Tensor, grams: dict) -> dict:
        """Scores of one image ([1, 3, H, W], as it will be saved) against its artwork's Grams,
        with what quality flags are judged by (quality.py): the photo's own style score against
        the same painting, each style layer's distance (where the style falls short), the
        pixels' spread, the share of black or white pixels, finiteness."""
        finite = bool(torch.isfinite(image).all())
        pixels = (torch.nan_to_num(image.float()).clamp(0, 1) * 255).round() / 255  # as the file holds it
        features, own_grams = _pass(pixels, self.device, self.max_memory)
        grams = {layer: g.to(self.device) for layer, g in grams.items()}
        extreme = ((pixels <= 8 / 255) | (pixels >= 247 / 255)).all(1)
        layers = style_distances(own_grams, grams)
        return {
            "style": sum(layers.values()) / len(layers),
            "style_layers": layers,
            "content": relative_content_distance(features, self.photo),
            "layout": layout_correlation(features, self.photo),
            "photo_style": relative_style_distance(self.photo_grams, grams),
            "spread": float(pixels.std()),
            "clipped": float(extreme.float().mean()),
            "finite": finite,
        }


def _references(photo_path: str, style_paths: tuple, blend, size: tuple) -> tuple:
    """The Yardstick of a photo at one image size and an artwork's Grams (kept: scoring many
    snapshots of one run compares them with the same references; by the files' identities,
    so a photo replaced between two scores is read again)."""
    versions = identity(photo_path), *map(identity, style_paths)
    compute = _references_of.__wrapped__ if None in versions else _references_of  # URLs: not cached
    return compute(photo_path, style_paths, blend, size, versions)


@functools.lru_cache(maxsize=8)
def _references_of(photo_path: str, style_paths: tuple, blend, size: tuple, versions: tuple) -> tuple:
    yardstick = Yardstick(to_tensor(load_source(photo_path).image, size))
    return yardstick, painting_grams(load_styles(style_paths, blend), max(size))


def measure(image_path: str, photo_path: str, style_paths, blend=None) -> dict:
    """Yardstick.measure of an image file, against the artwork of these style images."""
    image = load_pil(image_path)
    yardstick, grams = _references(photo_path, tuple(style_paths), tuple(blend or ()) or None, image.size)
    return yardstick.measure(pil_to_tensor(image), grams)


def score(image_path: str, photo_path: str, style_path: str) -> dict:
    """{"style": ..., "content": ...}; lower is closer for both."""
    measured = measure(image_path, photo_path, [style_path])
    return {"style": measured["style"], "content": measured["content"]}
