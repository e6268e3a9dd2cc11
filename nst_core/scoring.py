"""`nst score`: a fixed yardstick for comparing outputs, whatever settings made them.

Always the bundled Oxford weights, max pooling, zero padding, relu layers, at the scored
image's own resolution: style = mean relative Gram distance to the style image (resized to the
same long side), content = relative feature distance to the photo (resized to the same size).
"""

from __future__ import annotations

import functools

import torch
from PIL import Image

from .images import fit_long_side, load_pil, pil_to_tensor
from .losses import (
    SCORE_CONTENT_LAYER,
    SCORE_STYLE_LAYERS,
    gram,
    relative_content_distance,
    relative_style_distance,
)
from .network import VGG19Features, load_weights


@functools.lru_cache(maxsize=1)
def _scoring_network() -> VGG19Features:
    layers = SCORE_STYLE_LAYERS + (SCORE_CONTENT_LAYER,)
    return VGG19Features(load_weights("bundled"), layers, pooling="max", padding="zeros")


@torch.no_grad()
def score(image_path: str, content_path: str, style_path: str) -> dict:
    """{"style": ..., "content": ...}; lower is closer for both."""
    net = _scoring_network()
    image = load_pil(image_path)
    content = load_pil(content_path).resize(image.size, Image.LANCZOS)
    style = load_pil(style_path)
    style = style.resize(fit_long_side(style.size, max(image.size)), Image.LANCZOS)
    features = net(pil_to_tensor(image))
    style_grams = {layer: gram(f)[0] for layer, f in net(pil_to_tensor(style)).items()}
    return {
        "style": relative_style_distance(features, style_grams),
        "content": relative_content_distance(features, net(pil_to_tensor(content))),
    }
