"""An artwork's style_target: each of its images whose style ratio on the yardstick (the photo's
own style score over the image's) is short of it is pushed on from where it is, its own style
weight raised in rounds, until it reaches the target, its layout would go, a round no longer
raises its ratio or the rounds run out; it keeps the last round that gained. Images of one batch
are pushed together, each with its own weight."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.objective import ImageWeights
from ..errors import NSTError
from ..outputs.quality import short_of_target, style_ratio

PUSH_FACTOR = 2.0  # a pushed image's style weight is raised this many times each round
PUSH_ROUNDS = 4  # at most; each takes a quarter of the final scale's steps, so a push at most doubles them
# A round that takes the content distance beyond this many times the image's unpushed one is not
# kept: its layout is going (well inside lost_layout's 3x the batch's median).
CONTENT_BOUND = 2.0


@dataclass
class Pushed:
    """One image of a batch as the push leaves it: its result (or the NSTError that lost it),
    measures, the style weight it ended with and its steps at the final scale, every round's
    counted (kept or not)."""

    settings: object  # the artwork's Settings
    targets: object  # its GramTargets
    result: torch.Tensor | NSTError
    measured: dict | None
    style_weight: float
    steps: int | None

    def short(self) -> bool:
        return self.measured is not None and short_of_target(self.measured, self.settings.style_target)


def push(transfer, photo, images: list[Pushed], plans, reporter, measure) -> None:
    """Push the images short of their style_target (in place). measure(result, targets): an
    image's measures on the yardstick."""
    unpushed = {n: image.measured["content"] for n, image in enumerate(images) if image.short()}
    held = set()  # images at a bound: they keep their last kept round
    steps = max(1, transfer.settings.iterations // PUSH_ROUNDS)
    for _ in range(PUSH_ROUNDS):
        short = [n for n in unpushed if n not in held and images[n].short()]
        if not short:
            return
        weights = [images[n].style_weight * PUSH_FACTOR for n in short]
        image_settings = [images[n].settings.replace(style_weight=w) for n, w in zip(short, weights)]
        taken = {}
        made = transfer.go_on(
            photo,
            torch.cat([images[n].result for n in short]),
            [images[n].targets for n in short],
            ImageWeights.of(image_settings),
            steps,
            plans,
            reporter,
            taken,
        )
        for number, (n, weight, result) in enumerate(zip(short, weights, made)):
            image = images[n]
            image.steps = (image.steps or 0) + taken.get(number, steps)
            if isinstance(result, NSTError):  # it diverged: the last round's image stays
                held.add(n)
                continue
            measured = measure(result, image.targets)
            layout_goes = measured["content"] > CONTENT_BOUND * unpushed[n]
            if layout_goes or style_ratio(measured) <= style_ratio(image.measured):  # or it gains no more
                held.add(n)
                continue
            image.result, image.measured, image.style_weight = result, measured, weight
