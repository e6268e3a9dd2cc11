"""`nst score`: a fixed yardstick for comparing outputs, whatever settings made them.

Always the bundled Oxford weights, max pooling, zero padding, relu layers, at the scored
image's own resolution: style = mean relative Gram distance to the style image (resized to the
same long side), content = relative feature distance to the photo (resized to the same size).
"""

from __future__ import annotations

import functools

import torch

from .images import pil_to_tensor, to_tensor
from .losses import (
    SCORE_CONTENT_LAYER,
    SCORE_STYLE_LAYERS,
    gram,
    relative_content_distance,
    relative_style_distance,
)
from .network import VGG19Features, load_weights
from .pictures import fit_long_side, load_pil
from .storage import identity


@functools.lru_cache(maxsize=1)
def _scoring_network() -> VGG19Features:
    layers = SCORE_STYLE_LAYERS + (SCORE_CONTENT_LAYER,)
    return VGG19Features(load_weights("bundled"), layers, pooling="max", padding="zeros")


def _references(photo_path: str, style_path: str, size: tuple) -> tuple:
    """The photo's features and the style's Grams at one image size (kept: scoring many
    snapshots of one run compares them with the same references; by the files' identities,
    so a photo replaced between two scores is read again)."""
    versions = identity(photo_path), identity(style_path)
    compute = _references_of.__wrapped__ if None in versions else _references_of  # URLs: not cached
    return compute(photo_path, style_path, size, versions)


@functools.lru_cache(maxsize=8)
@torch.no_grad()
def _references_of(photo_path: str, style_path: str, size: tuple, versions: tuple) -> tuple:
    net = _scoring_network()
    content = to_tensor(load_pil(photo_path), size)
    style = load_pil(style_path)
    style_grams = {
        layer: gram(f)[0] for layer, f in net(to_tensor(style, fit_long_side(style.size, max(size)))).items()
    }
    return net(content), style_grams


@torch.no_grad()
def score(image_path: str, photo_path: str, style_path: str) -> dict:
    """{"style": ..., "content": ...}; lower is closer for both."""
    image = load_pil(image_path)
    content_features, style_grams = _references(photo_path, style_path, image.size)
    features = _scoring_network()(pil_to_tensor(image))
    return {
        "style": relative_style_distance(features, style_grams),
        "content": relative_content_distance(features, content_features),
    }
