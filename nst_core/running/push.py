"""An artwork's style_target: each of its images whose style ratio on the yardstick (the photo's
own style score over the image's) is short of it is made again, in rounds, with a larger style
weight tilted towards the style layers where the yardstick finds it furthest from the painting,
until it reaches the target, its layout would go, a round no longer raises its ratio or the
rounds run out; it keeps the last round that gained. Images of one batch are pushed together,
each with its own weights."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..core.objective import ImageWeights
from ..errors import NSTError
from ..outputs.quality import short_of_target, style_ratio

PUSH_FACTOR = 2.0  # a pushed image's style weight is raised this many times each round
# At most; each makes the image again through the whole schedule. Going on from where the image
# was (a quarter of the final scale's steps a round) stalled below the target: the deepest
# layer's statistics, where smooth photos fall short, are the layout's, set early (docs/presets.md).
PUSH_ROUNDS = 3
# How far a round tilts the style weight towards the layers where the image falls short: 1 (all
# the way by the layers' shares) overshot at 128 px, raising the deepest layer's weight 400 times
# in two rounds, where the shallow layers' statistics went (docs/presets.md).
TILT = 0.6
# A round that takes the content distance beyond this many times the image's unpushed one is not
# kept: its layout is going.
CONTENT_BOUND = 2.0


@dataclass
class Pushed:
    """One image of a batch as the push leaves it: its result (or the NSTError that lost it),
    measures, the style weight and tilt it ended with and its steps at the final scale, every
    round's counted (kept or not)."""

    settings: object  # the artwork's Settings
    targets: object  # its GramTargets
    result: torch.Tensor | NSTError
    measured: dict | None
    style_weight: float
    steps: int | None
    tilt: dict = field(default_factory=dict)  # {style layer: factor on its weight}

    def short(self) -> bool:
        return self.measured is not None and short_of_target(self.measured, self.settings.style_target)

    def raised(self) -> tuple[float, dict]:
        """The next round's style weight and tilt: the weight times PUSH_FACTOR, and each style
        layer's weight times PUSH_FACTOR ** (TILT * (layers * its share of the image's style
        distance - 1)), the tilt's product 1: the layers where the image falls short raised most."""
        distances = self.measured["style_layers"]
        total = sum(distances.values()) or 1.0
        tilt = {
            layer: self.tilt.get(layer, 1.0) * PUSH_FACTOR ** (TILT * (len(distances) * distance / total - 1))
            for layer, distance in distances.items()
        }
        return self.style_weight * PUSH_FACTOR, tilt


def push(transfer, photo, images: list[Pushed], plans, reporter, measure) -> None:
    """Push the images short of their style_target (in place). measure(result, targets): an
    image's measures on the yardstick."""
    unpushed = {n: image.measured["content"] for n, image in enumerate(images) if image.short()}
    held = set()  # images at a bound: they keep their last kept round
    for _ in range(PUSH_ROUNDS):
        short = [n for n in unpushed if n not in held and images[n].short()]
        if not short:
            return
        raised = [images[n].raised() for n in short]
        image_settings = [images[n].settings.replace(style_weight=w) for n, (w, _) in zip(short, raised)]
        taken = {}
        made = transfer.stylize_batch(
            photo,
            [images[n].targets for n in short],
            ImageWeights.of(image_settings, [tilt for _, tilt in raised]),
            plans,
            reporter,
            taken,
        )
        for number, (n, (weight, tilt), result) in enumerate(zip(short, raised, made)):
            image = images[n]
            image.steps = (image.steps or 0) + taken.get(number, transfer.settings.iterations)
            if isinstance(result, NSTError):  # it diverged: the last round's image stays
                held.add(n)
                continue
            measured = measure(result, image.targets)
            layout_goes = measured["content"] > CONTENT_BOUND * unpushed[n]
            if layout_goes or style_ratio(measured) <= style_ratio(image.measured):  # or it gains no more
                held.add(n)
                continue
            image.result, image.measured, image.style_weight, image.tilt = result, measured, weight, tilt
