"""Run settings and the two presets. Every field can be overridden after choosing a preset."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .errors import NSTError
from .losses import NORMALISATIONS
from .network import check_layers, layer_channels

CHOICES = {
    "normalisation": NORMALISATIONS,
    "pooling": ("max", "avg"),
    "padding": ("zeros", "replicate"),
    "optimizer": ("lbfgs", "adam"),
    "layer_weighting": ("channels", "equal"),
    "precision": ("auto", "fp32", "bf16"),
    "preserve_color": ("none", "luminance", "histogram"),
}


@dataclass
class Settings:
    size: int = 512  # output long side, px; the photo's aspect ratio is kept
    iterations: int = 200  # optimiser steps at the final scale
    coarse_iterations: int = 20  # optimiser steps at each coarser scale (they set the layout)
    min_size: int | None = 128  # smallest scale of the coarse-to-fine schedule; None = one scale
    content_layers: tuple = ("relu4_2",)
    content_weight: float = 1.5
    style_layers: tuple = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    # "channels": w_l = 1e3 / N_l^2 (authors' code); "equal": w_l = 1 / number of layers (paper).
    layer_weighting: str = "channels"
    style_layer_weights: tuple | None = None  # explicit per-layer weights override the rule
    style_weight: float = 1.0
    tv_weight: float = 0.0
    normalisation: str = "scaled"
    pooling: str = "max"
    padding: str = "replicate"  # of conv1_1; the other layers always pad with zeros
    optimizer: str = "lbfgs"
    learning_rate: float | None = None  # None: 1 for L-BFGS, 0.02 for Adam
    lbfgs_history: int = 100
    init: str = "content"  # "content", "noise", or an image path
    style_scale: float = 1.0  # style image size = scale size x style_scale
    precision: str = "auto"  # bf16 where the hardware has it natively (1.7x faster here), else fp32
    seed: int = 0
    device: str = "auto"
    weights: str = "bundled"
    preserve_color: str = "none"

    def validate(self) -> Settings:
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise NSTError(f"{name} {getattr(self, name)!r} is not one of {', '.join(choices)}")
        check_layers(self.content_layers)
        check_layers(self.style_layers)
        if not self.style_layers:
            raise NSTError("at least one style layer is needed")
        positive = {"size": self.size, "style_scale": self.style_scale, "lbfgs_history": self.lbfgs_history}
        # Optional ones only when set; a min_size of 0 would make an endless schedule.
        positive.update({n: getattr(self, n) for n in ("min_size", "learning_rate") if getattr(self, n) is not None})
        for name, value in positive.items():
            if not value > 0:
                raise NSTError(f"{name} must be positive, not {value}")
        if self.iterations < 0 or self.coarse_iterations < 0:
            raise NSTError("iterations must not be negative")
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(self.style_layers):
            raise NSTError(
                f"{len(self.style_layer_weights)} style layer weights for {len(self.style_layers)} style layers"
            )
        return self

    def layer_weights(self) -> dict:
        if self.style_layer_weights is not None:
            return dict(zip(self.style_layers, map(float, self.style_layer_weights)))
        if self.layer_weighting == "equal":
            return {layer: 1 / len(self.style_layers) for layer in self.style_layers}
        return {layer: 1e3 / layer_channels(layer) ** 2 for layer in self.style_layers}

    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 1.0 if self.optimizer == "lbfgs" else 0.02

    def scales(self) -> list[int]:
        """Long sides of the coarse-to-fine schedule, ending at size (x sqrt 2 per step)."""
        if self.min_size is None or self.min_size >= self.size:
            return [self.size]
        coarse, step = [], 0
        while (s := round(self.min_size * math.sqrt(2) ** step)) <= self.size / math.sqrt(2) + 1:
            coarse.append(s)
            step += 1
        return coarse + [self.size]

    def replace(self, **changes) -> Settings:
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise NSTError(f"unknown setting {sorted(unknown)[0]!r}")
        return dataclasses.replace(self, **changes)


PRESETS = {
    # The authors' own PyTorch code (leongatys/PytorchNeuralStyleTransfer: relu layers, Gram / M,
    # w_l = 1e3/N^2, content init, max pooling, L-BFGS) plus what makes results look best with the
    # raw Oxford weights: crowsonkb's scaled MSE (the authors' weights assume their normalised VGG,
    # without which relu1_1 drowns everything), content weight 1.5 (chosen by eye and `nst score`
    # on Tubingen x Starry Night, see README), coarse-to-fine from 128 px, replicate padding.
    "default": Settings(),
    # The paper's text (Gatys, Ecker & Bethge, CVPR 2016): conv layers, average pooling, white-noise
    # init, w_l = 1/5, Gram loss 1/(4 N^2 M^2), L_content = 1/2 sum, alpha/beta = 1e-3, L-BFGS,
    # one scale. 500 steps as in the authors' code (the paper gives no count).
    "paper": Settings(
        iterations=500,
        min_size=None,
        content_layers=("conv4_2",),
        content_weight=1e-3,
        style_layers=("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"),
        layer_weighting="equal",
        style_weight=1.0,
        normalisation="paper",
        pooling="avg",
        padding="zeros",
        init="noise",
    ),
}


def preset(name: str, **overrides) -> Settings:
    if name not in PRESETS:
        raise NSTError(f"unknown preset {name!r}: use {', '.join(PRESETS)}")
    return PRESETS[name].replace(**overrides).validate()
