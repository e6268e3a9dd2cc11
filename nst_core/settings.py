"""Every setting of a run, declared once, and the two presets.

Each field of `Settings` carries its default, help text, allowed values and what it affects.
Everything else derives from this table: the `nst` command's options (`--field-name`), the
pipeline's config checks, which settings an artwork may override, and
which settings a Gram targets file records and is checked against. No torch import: the
pipeline reads this module while planning.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from dataclasses import dataclass, field

from .errors import NSTError
from .layers import LAYER_NAMES, check_layers, layer_block, layer_channels
from .tiles import GRID as TILE_GRID
from .tiles import MARGIN as TILE_MARGIN

# The default layer weighting's factor on block 5's style layers over the authors' 1e3 / N^2: the
# yardstick finds relu5_1 furthest from the painting by far (Tubingen x The Starry Night, 384 px,
# 20 final steps: 0.44 against 0.016 at most elsewhere), and on the demo's 16 images it brings every image
# 10-39% closer to its painting's style for 2-7% of content (docs/presets.md).
DEEP_FACTOR = 4.0

# Videos: tuned by benchmarks/video_consistency.py (docs/video.md).
TEMPORAL_WEIGHT = 1e4
FRAME_ITERATIONS = 50

# What a setting affects.
TARGETS = "targets"  # an artwork's Gram targets, so every image made with them
IMAGE = "image"  # only the stylized image
RUN = "run"  # where a command runs, not what it makes: every command takes it, no file records it


def setting(
    default,
    help: str,
    *,
    affects: str = IMAGE,
    choices: tuple | None = None,
    minimum: float | None = None,
    above: float | None = None,
    pattern: str | None = None,
    option: str | None = None,
    per_artwork: bool = False,
    per_image: bool = False,
):
    """A Settings field with its row of the table. minimum: the least allowed value; above: values
    must be greater; per_artwork: an artwork in the pipeline's config may override it; per_image:
    the images of one batch may differ in it (a loss weight, which core/objective.py's
    ImageWeights carries, what only the targets depend on, or what the job does after the
    schedule: style_target)."""
    row = dict(
        help=help,
        affects=affects,
        choices=choices,
        minimum=minimum,
        above=above,
        pattern=pattern,
        option=option,
        per_artwork=per_artwork,
        per_image=per_image,
    )
    return field(default=default, metadata=row)


@dataclass(frozen=True)
class Settings:
    """A run's settings; every instance has been checked against the table (see Setting.check)."""

    size: int = setting(512, "output long side in px; the photo's aspect ratio is kept", affects=TARGETS, minimum=16)
    iterations: int = setting(200, "optimiser steps at the final scale", minimum=0)
    coarse_iterations: int = setting(
        20,
        "optimiser steps at the smallest scale; at a larger coarse one, that x the smallest side / its own",
        minimum=0,
    )
    min_size: int | None = setting(
        128,
        "smallest scale of the coarse-to-fine schedule (x sqrt 2 per step); none for one scale",
        affects=TARGETS,
        minimum=16,
    )
    content_layers: tuple[str, ...] = setting(("relu4_2",), "VGG-19 layers of the content loss", choices=LAYER_NAMES)
    content_weight: float = setting(2.0, "content loss weight (alpha)", minimum=0, per_artwork=True, per_image=True)
    style_layers: tuple[str, ...] = setting(
        ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        "VGG-19 layers whose Gram matrices make the style",
        affects=TARGETS,
        choices=LAYER_NAMES,
    )
    layer_weighting: str = setting(
        "deep",
        f"style layer weights: deep (1e3 / N^2, block 5's x {DEEP_FACTOR:g}), channels (1e3 / N^2, the "
        "authors' code) or equal (1 / layers, the paper)",
        choices=("deep", "channels", "equal"),
    )
    style_layer_weights: tuple[float, ...] | None = setting(
        None, "explicit weights, one per style layer (instead of --layer-weighting)"
    )
    style_weight: float = setting(
        1.0,
        "style loss weight (beta): how strongly the style is imposed",
        above=0,
        per_artwork=True,
        per_image=True,
    )
    tv_weight: float = setting(
        0.0, "total-variation (smoothness) loss weight", minimum=0, per_artwork=True, per_image=True
    )
    temporal_weight: float = setting(
        TEMPORAL_WEIGHT,
        "videos: weight of the temporal loss, which keeps each frame where its predecessor's result, "
        "moved by the optical flow, was (Ruder et al. 2016); 0: frames independent (they flicker)",
        minimum=0,
        per_artwork=True,
        per_image=True,
    )
    style_target: float | None = setting(
        None,
        "push each image until its style ratio on the yardstick (the photo's own style score over "
        "the image's) reaches this: made again with its own style weight raised, most on the layers "
        "where it falls short; none: no push",
        above=1,
        per_artwork=True,
        per_image=True,
    )
    normalisation: str = setting(
        "scaled",
        "loss normalisation: paper (1/2 sum; 1/(4N^2M^2)), mean (MSE) or scaled (sum d^2 / sum |d|)",
        choices=("paper", "mean", "scaled"),
    )
    pooling: str = setting("max", "VGG-19 pooling", affects=TARGETS, choices=("max", "avg"))
    padding: str = setting(
        "replicate",
        "padding of the first conv layer (the others pad with zeros)",
        affects=TARGETS,
        choices=("zeros", "replicate"),
    )
    margin: float = setting(
        1 / 32,
        "a border of the photo reflected around the image while it is optimised, as a share of its long "
        "side, then cropped: edges without the network's padding artefacts (a light first column); 0: none",
        minimum=0,
    )
    optimizer: str = setting("lbfgs", "optimiser", choices=("lbfgs", "adam"))
    learning_rate: float | None = setting(
        None, "learning rate (default: 1 for lbfgs, 0.02 for adam)", above=0, option="--lr"
    )
    lbfgs_history: int = setting(100, "L-BFGS history size", minimum=1)
    stop_tolerance: float | None = setting(
        None,
        "stop an image at the final scale once its loss fell by less than this share over its last 20 steps "
        "(0.01: 1%); none: every image takes every step",
        minimum=0,
    )
    frame_iterations: int = setting(
        FRAME_ITERATIONS,
        "videos: optimiser steps of a frame that starts from its predecessor's result (at the final scale "
        "only); a video's first frame, and the first after a cut, take the whole schedule",
        minimum=1,
    )
    segment_frames: int = setting(
        50,
        "videos: frames per segment, the unit of work (a job, in the pipeline); a killed run loses at most "
        "the segments in flight. Frames are the same whatever the segments: each goes on from its "
        "predecessor's 8-bit result",
        affects=RUN,
        minimum=1,
    )
    tile_size: int | None = setting(
        None,
        "tiles of at most this many px a side (default: tiles only where a scale does not fit in memory)",
        affects=RUN,
        minimum=2 * TILE_MARGIN + TILE_GRID,
    )
    max_memory: float | None = setting(
        None,
        "GiB of memory to plan for (default: what the device has free); scales beyond it go by tiles",
        affects=RUN,
        above=0,
    )
    init: str = setting("content", "initial image: content (the photo), noise, or an image file")
    style_scale: float = setting(
        1.0,
        "style image size relative to the output size (the brush strokes' size)",
        affects=TARGETS,
        above=0,
        per_artwork=True,
        per_image=True,
    )
    precision: str = setting(
        "auto",
        "auto (bf16 where the hardware has it natively, else fp32), fp32, or bf16 autocast (losses in fp32)",
        affects=TARGETS,
        choices=("auto", "fp32", "bf16"),
    )
    seed: int = setting(0, "random seed; on CPU the same seed and inputs give the same bytes")
    device: str = setting(
        "auto", "auto (cuda, mps, cpu), cpu, cuda, cuda:N or mps", affects=RUN, pattern=r"auto|cpu|mps|cuda(:[0-9]+)?"
    )
    weights: str = setting(
        "bundled", "VGG-19 weights: bundled (Oxford), torchvision, or a state dict file", affects=TARGETS
    )
    preserve_color: str = setting(
        "none",
        "keep the photo's colours: luminance (style on luminance only) or histogram (style recoloured)",
        affects=TARGETS,
        choices=("none", "luminance", "histogram"),
        per_artwork=True,
    )

    def __post_init__(self):
        for row in SETTINGS.values():  # values as the table allows, lists as tuples, ints as floats
            object.__setattr__(self, row.name, row.check(getattr(self, row.name)))
        if not self.style_layers:
            raise NSTError("style_layers: at least one style layer is needed")
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(self.style_layers):
            raise NSTError(
                f"{len(self.style_layer_weights)} style layer weights for {len(self.style_layers)} style layers"
            )

    def replace(self, **changes) -> Settings:
        unknown = set(changes) - set(SETTINGS)
        if unknown:
            raise unknown_setting(sorted(unknown)[0])
        return dataclasses.replace(self, **changes)

    def layer_weights(self) -> dict:
        if self.style_layer_weights is not None:
            return dict(zip(self.style_layers, self.style_layer_weights))
        if self.layer_weighting == "equal":
            return {layer: 1 / len(self.style_layers) for layer in self.style_layers}
        deep = DEEP_FACTOR if self.layer_weighting == "deep" else 1.0
        return {
            layer: 1e3 / layer_channels(layer) ** 2 * (deep if layer_block(layer) == 5 else 1.0)
            for layer in self.style_layers
        }

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

    def margin_px(self, scale: int) -> int:
        """The reflected border, in px on each side, at a scale of this long side: none where it
        would be under 4 px, too thin to hold the artefact (measured at 64 px: no better)."""
        margin = round(self.margin * scale)
        return margin if margin >= 4 else 0

    def schedule(self) -> list[tuple[int, int]]:
        """(long side, optimiser steps) of each scale: iterations at the final one; at a coarse one,
        coarse_iterations times the smallest scale's side over its own (at least one step). The
        smallest scales set the layout (block 5's statistics); a larger coarse scale is redone by the
        final one, and its steps cost the most (docs/benchmarks.md, "The coarse scales' steps")."""
        scales = self.scales()
        at_least = min(self.coarse_iterations, 1)
        coarse = [max(round(self.coarse_iterations * scales[0] / scale), at_least) for scale in scales[:-1]]
        return [*zip(scales[:-1], coarse), (scales[-1], self.iterations)]

    def affecting(self, *effects: str) -> dict:
        """{name: value} of the settings that affect any of these (TARGETS, IMAGE, RUN)."""
        return {name: getattr(self, name) for name, row in SETTINGS.items() if row.affects in effects}


def unknown_setting(name: str) -> NSTError:
    close = difflib.get_close_matches(name, SETTINGS, n=1)
    return NSTError(f"unknown setting {name!r}" + (f"; did you mean {close[0]!r}?" if close else ""))


_KINDS = {int: "an integer", float: "a number", str: "text"}


@dataclass(frozen=True)
class Setting:
    """One row of the table, read off a Settings field: how its values are checked, parsed from
    and written to the command line."""

    name: str
    kind: type  # int, float or str; of each item for lists
    is_list: bool
    optional: bool  # None is allowed ("none" on the command line, null in config)
    default: object
    help: str
    affects: str
    choices: tuple | None
    minimum: float | None
    above: float | None
    pattern: str | None
    option: str
    per_artwork: bool
    per_image: bool

    @classmethod
    def of(cls, spec: dataclasses.Field, annotation) -> Setting:
        options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
        optional = type(None) in options
        (annotation,) = [a for a in options if a is not type(None)]
        is_list = typing.get_origin(annotation) is tuple
        kind = typing.get_args(annotation)[0] if is_list else annotation
        row = dict(spec.metadata)
        row["option"] = row["option"] or "--" + spec.name.replace("_", "-")
        return cls(spec.name, kind, is_list, optional, spec.default, **row)

    def check(self, value):
        """The value as the field holds it, or an NSTError naming the setting and the problem.
        Accepts what config files and the Python API give: lists, ints for numbers, a
        comma-separated string for a list, and numbers or 'none' as text."""
        if isinstance(value, str) and self.kind is not str:
            # As the command line gives it; also Snakemake's `--config nst='{size: 512}'`, whose
            # nested values are all strings.
            try:
                value = self.parse(value)
            except ValueError as error:
                raise NSTError(str(error)) from None
        if value is None:
            if self.optional:
                return None
            raise NSTError(f"{self.name} must be set (it has no 'none' value)")
        if not self.is_list:
            return self._check_item(value)
        items = [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise NSTError(f"{self.name} must be a list, not {value!r}")
        if self.choices is LAYER_NAMES:
            check_layers(items)
        return tuple(self._check_item(item) for item in items)

    def _check_item(self, value):
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.kind is float and is_number:
            value = float(value)
        elif not isinstance(value, self.kind) or isinstance(value, bool):
            raise NSTError(f"{self.name} must be {_KINDS[self.kind]}, not {value!r}")
        if self.choices is not None and value not in self.choices:
            raise NSTError(f"{self.name} {value!r} is not one of {', '.join(self.choices)}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise NSTError(f"{self.name} {value!r} is not valid: {self.help}")
        if self.minimum is not None and value < self.minimum:
            raise NSTError(f"{self.name} must be at least {self.minimum}, not {value}")
        if self.above is not None and not value > self.above:
            raise NSTError(f"{self.name} must be greater than {self.above}, not {value}")
        return value

    def parse(self, text: str):
        """A command-line value: numbers by kind, lists comma-separated, 'none' for None.
        Raises ValueError; the value is checked when Settings are made."""
        if self.optional and text.strip().lower() == "none":
            return None
        if self.is_list:
            return tuple(self._parse_item(part.strip()) for part in text.split(",") if part.strip())
        return self._parse_item(text)

    def _parse_item(self, text: str):
        try:
            return self.kind(text)
        except ValueError:
            raise ValueError(f"{self.name} must be {_KINDS[self.kind]}, not {text!r}") from None

    def format(self, value) -> str:
        """The command-line text that parse() reads back as this value."""
        if value is None:
            return "none"
        if isinstance(value, (list, tuple)):
            return ",".join(map(str, value))
        return str(value)


# The table: one row per Settings field, in declaration order.
_HINTS = typing.get_type_hints(Settings)
SETTINGS = {spec.name: Setting.of(spec, _HINTS[spec.name]) for spec in dataclasses.fields(Settings)}

PRESETS = {
    # The authors' own PyTorch code (leongatys/PytorchNeuralStyleTransfer: relu layers, Gram / M,
    # w_l = 1e3/N^2, content init, max pooling, L-BFGS) plus what makes results look best with the
    # raw Oxford weights: crowsonkb's scaled MSE (the authors' weights assume their normalised VGG,
    # without which relu1_1 drowns everything), content weight 2 (chosen by eye and `nst score`
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
        margin=0.0,
        init="noise",
    ),
}
PRESET_OPTION = "--preset"


# What may differ between the images of one batch (core/transfer.py): their loss terms' weights,
# and what only their targets depend on. Everything else sets the images' shape, schedule or network.
PER_IMAGE = tuple(name for name, row in SETTINGS.items() if row.per_image)


def batch_key(settings: Settings) -> Settings:
    """Equal for settings whose images can be optimised together in one batch."""
    same = {name: getattr(PRESETS["default"], name) for name in PER_IMAGE}
    # Histogram matching only recolours the targets; luminance changes the content and the result.
    color = "luminance" if settings.preserve_color == "luminance" else "none"
    return settings.replace(**same, preserve_color=color)


def check_batch(value) -> str | int:
    """How many of a photo's images a job optimises together: "auto" (as many as fit in memory)
    or a number (at most that many; 1: one at a time). NSTError otherwise."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise NSTError(f"batch must be auto or a whole number of at least 1, not {value!r}")


def preset(name: str, **overrides) -> Settings:
    if name not in PRESETS:
        raise NSTError(f"unknown preset {name!r}: use {', '.join(PRESETS)}")
    return PRESETS[name].replace(**overrides)


def from_mapping(values: dict) -> Settings:
    """Settings from a mapping of setting names (and "preset"), as a config file gives them."""
    values = dict(values)
    return preset(values.pop("preset", "default"), **values)


def mapping_affecting(values: dict, *effects: str) -> dict:
    """Of a mapping of setting names (and "preset"), the settings that affect one of these
    (TARGETS, IMAGE, RUN), and the preset."""
    for name in values:
        if name != "preset" and name not in SETTINGS:
            raise unknown_setting(name)
    return {name: value for name, value in values.items() if name == "preset" or SETTINGS[name].affects in effects}
