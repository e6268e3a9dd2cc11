"""A video's segment jobs, as the pipeline and `nst video` run them: a segment's frames in every
artwork's style, batched as a photo's images are, going on from the previous segment's last
frames; and a whole video in one process (plan, segments, join: video_join.py).

A segment writes, per artwork, its frames (H.264 in MP4, the final video's own encoding: about
1.1 MB a minute at 112 px, 9 MB at 256 px; docs/video.md) and its last frame beside them (PNG,
lossless: where the next segment goes on from), and a record of each frame's scores. Every
frame's result is carried on as its 8-bit file holds it, so a segment that goes on from the
files is the uninterrupted run's, and a killed run loses only the segments in flight.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from dataclasses import dataclass

import torch

from ..core.objective import ImageWeights
from ..core.reporter import Reporter
from ..core.scoring import Yardstick
from ..core.transfer import StyleTransfer
from ..errors import NSTError
from ..files.storage import write_atomic
from ..files.tensors import load_image, pil_to_tensor, save_image, tensor_to_pil
from ..settings import batch_key
from ..video import measure
from ..video.plan import Segment, last_frame, load_plan, scores_record
from ..video.sequence import Carried, stylize_frames
from ..video.video_files import Video, frames, write_video
from .job import SegmentJob
from .jobs import artwork_targets
from .video_join import JoinJob, make_plan, run_join


@dataclass
class SegmentMade:
    """What became of one artwork's frames of a segment: written, or the error that lost them."""

    output: str
    frames: int = 0
    seconds: float = 0.0
    error: NSTError | None = None


def run_segment(job: SegmentJob, reporter: Reporter | None = None) -> list[SegmentMade]:
    """Make the segment's frames in each artwork's style; the artworks of one batch key are one
    batch. An artwork that fails (its targets are bad, its optimisation diverged) loses its own
    frames alone."""
    reporter = reporter or Reporter()
    video, parts = load_plan(job.plan, job.video)
    if not 0 <= job.segment < len(parts):
        raise NSTError(f"the plan has no segment {job.segment} ({len(parts)} segments)", path=job.plan)
    part = parts[job.segment]
    if part.continues and len(job.previous) != len(job.artworks):
        raise NSTError(f"segment {part.number} goes on from the previous one: give its outputs", path=job.plan)
    groups: dict = {}
    for index, artwork in enumerate(job.artworks):
        groups.setdefault(batch_key(artwork.settings), []).append(index)
    made = [SegmentMade(artwork.output) for artwork in job.artworks]
    for shared, indices in groups.items():
        _run_group(job, video, part, shared, indices, made, reporter)
    return made


def _run_group(job, video: Video, part: Segment, shared, indices, made, reporter) -> None:
    """The segment's frames of the artworks of one batch key, their scores, and their files."""
    started = time.perf_counter()
    size = video.frame_size(shared.size)
    transfer = StyleTransfer(shared)
    ready, targets = [], []
    for index in indices:
        artwork = job.artworks[index]
        try:
            targets.append(artwork_targets(transfer, artwork))
        except NSTError as error:
            made[index].error = error.at(artwork=artwork.label)
            continue
        ready.append(index)
    if not ready:
        return
    # one decoding pass, from the frame before where the segment goes on from it
    back = 1 if part.continues else 0
    sources = list(frames(video, size, part.first - back, part.count + back))
    carried = before = None
    if part.continues:
        before = sources.pop(0)
        carried = Carried(before, torch.cat([load_image(last_frame(job.previous[index])) for index in ready]))
    weights = ImageWeights.of([job.artworks[index].settings for index in ready])
    images = {index: [] for index in ready}
    scores = {index: [] for index in ready}
    indexed = list(enumerate(sources, start=part.first))
    run = stylize_frames(transfer, indexed, targets, weights, video.path, set(video.cuts), carried, reporter)
    previous_at = time.perf_counter()
    for (number, results), source in zip(run, sources):
        yardstick = Yardstick(pil_to_tensor(source), transfer.device, shared.max_memory)
        previous = sources[number - part.first - 1] if number > part.first else before
        # the source frames' flow, once for every artwork (none across a cut, or with no frame before)
        visible = measure.visible(previous, source) if number not in video.cuts and previous is not None else None
        for slot, index in enumerate(ready):
            result = results[slot]
            if isinstance(result, NSTError):
                made[index].error = made[index].error or result.at(artwork=job.artworks[index].label)
                continue
            if made[index].error:
                continue
            measured = yardstick.measure(result, targets[slot].score_grams)
            last = images[index][-1] if images[index] else (carried.results[slot : slot + 1] if carried else None)
            warp = measure.error(visible, last, result) if visible and last is not None else None
            scores[index].append({"frame": number, **_scores(measured), "warp": warp})
            images[index].append(result)
        now = time.perf_counter()
        reporter.frame(video.path, number, video.frames, len(ready), now - previous_at)
        previous_at = now
    seconds = (time.perf_counter() - started) / len(ready)
    for index in ready:
        if made[index].error:
            continue
        artwork = job.artworks[index]
        write_video([tensor_to_pil(image) for image in images[index]], video, artwork.output, part.first, audio=False)
        save_image(images[index][-1], last_frame(artwork.output))
        record = {
            "artwork": artwork.called,
            "segment": part.number,
            "seconds": round(seconds, 2),
            "width": size[0],
            "height": size[1],
            "style_weight": artwork.settings.style_weight,
            "device": str(transfer.device),
            "precision": transfer.settings.precision,  # as resolved (auto: bf16 or fp32)
            "frames": scores[index],
        }
        write_atomic(scores_record(artwork.output), json.dumps(record).encode())
        made[index].frames, made[index].seconds = len(images[index]), seconds


def _scores(measured: dict) -> dict:
    return {key: measured[key] for key in ("style", "content", "layout", "photo_style", "spread", "clipped", "finite")}


def stylize_video(
    video: str, artworks: tuple, output_of, segment_frames: int, reporter: Reporter | None = None
) -> list[dict | NSTError]:
    """A whole video in one process (`nst video`), as the pipeline makes it: planned, each
    segment after the one before (their files in a scratch folder), joined with the audio.
    artworks: each one's style and settings (job.Artwork, its output ignored); output_of(index):
    where its video goes. Returns each artwork's measures (run_join), or the error that lost it."""
    reporter = reporter or Reporter()
    with tempfile.TemporaryDirectory(prefix="nst-video-") as scratch:
        plan = f"{scratch}/plan.json"
        _, parts = make_plan(video, plan, segment_frames)
        outputs = [[f"{scratch}/{index}-{part.number}.mp4" for part in parts] for index in range(len(artworks))]
        lost: dict[int, NSTError] = {}
        for part in parts:
            alive = [index for index in range(len(artworks)) if index not in lost]
            if not alive:
                break
            own = tuple(dataclasses.replace(artworks[index], output=outputs[index][part.number]) for index in alive)
            previous = tuple(outputs[index][part.number - 1] for index in alive) if part.continues else ()
            made = run_segment(SegmentJob(video, plan, part.number, own, previous), reporter)
            lost.update({index: image.error for index, image in zip(alive, made) if image.error})
        results = []
        for index in range(len(artworks)):
            if index in lost:
                results.append(lost[index])
                continue
            results.append(run_join(JoinJob(video, plan, tuple(outputs[index]), output_of(index))))
        return results
