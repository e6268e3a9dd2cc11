"""A run of a video's frames, each in every artwork's style, as Ruder, Dosovitskiy & Brox
("Artistic style transfer for videos", GCPR 2016) make them: a frame starts from its
predecessor's result warped into it by the optical flow, and a temporal loss keeps it there
where the warp can be trusted; the first frame, and the first after a cut, start afresh with
the whole coarse-to-fine schedule. A frame's artworks are one batch, as a photo's are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image

from ..core.objective import ImageWeights, Predecessor
from ..core.reporter import Reporter
from ..errors import NSTError
from ..files.tensors import SourceImage
from .flow import flow, reliable, warp


@dataclass(frozen=True)
class Carried:
    """Where a run of frames goes on from: the last source frame and each artwork's result of
    it ([B, 3, H, W], in [0, 1])."""

    frame: Image.Image
    results: torch.Tensor


def predecessor(carried: Carried, frame: Image.Image) -> Predecessor:
    """The carried results warped into this frame, and where the warp can be trusted."""
    forward, backward = flow(carried.frame, frame), flow(frame, carried.frame)
    return Predecessor(warp(carried.results, backward).clamp(0, 1), reliable(forward, backward))


def stylize_frames(
    transfer,
    frames,
    targets: list,
    weights: ImageWeights,
    name: str,
    cuts=frozenset(),
    carried: Carried | None = None,
    reporter: Reporter | None = None,
):
    """Yield (frame index, [each artwork's result [1, 3, H, W] or the NSTError that lost it])
    for frames, (index, upright RGB image) of one size in order. cuts: indices of frames that
    begin a new shot (they start afresh); carried: the frame before the first and its results
    (None: the first starts afresh). An artwork whose frame fails (it diverged) is lost for
    the frames after it too: they would go on from nothing. Each result is as its 8-bit file
    holds it, and so is what the next frame goes on from: a run continued from files (a
    segment after another) is the uninterrupted run."""
    alive = list(range(len(targets)))
    lost: dict[int, NSTError] = {}
    plans = None
    for index, image in frames:
        frame = SourceImage(f"{name} frame {index}", image, "")
        plans = plans or transfer.plan(frame, len(alive))
        own_targets, own_weights = [targets[b] for b in alive], weights.images(alive)
        if carried is None or index in cuts:
            made = transfer.stylize_batch(frame, own_targets, own_weights, plans, reporter)
        else:
            made = transfer.next_frame(frame, predecessor(carried, image), own_targets, own_weights, plans, reporter)
        made = [result if isinstance(result, NSTError) else _as_saved(result) for result in made]
        for b, result in zip(alive, made):
            if isinstance(result, NSTError):
                lost[b] = result
        kept = [(b, result) for b, result in zip(alive, made) if b not in lost]
        if len(kept) < len(alive):
            plans = None  # a smaller batch from here
        alive = [b for b, _ in kept]
        carried = Carried(image, torch.cat([result for _, result in kept])) if kept else None
        results = dict(kept)
        yield index, [results.get(b, lost.get(b)) for b in range(len(targets))]
        if not alive:
            return


def _as_saved(image: torch.Tensor) -> torch.Tensor:
    return (image.clamp(0, 1) * 255).round() / 255
