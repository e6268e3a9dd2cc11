"""A video's jobs that need no network: its plan (scan it once, cut it into segments) and the
join (a finished video per artwork: its segments' frames as they are, the source's audio, and
its measures over every frame). No torch here: the pipeline runs them in its own process.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from ..errors import NSTError
from ..files.storage import read_bytes
from ..video.plan import Segment, load_plan, save_plan, scores_record, segments
from ..video.video_files import Video, join, scan


def make_plan(video: str, output: str, segment_frames: int) -> tuple[Video, list[Segment]]:
    """Scan the video (an NSTError names it where it cannot be stylized) and save its plan."""
    facts = scan(video)
    parts = segments(facts, segment_frames)
    save_plan(facts, parts, output)
    return facts, parts


@dataclass(frozen=True)
class JoinJob:
    """One artwork's video (run_join runs it): its segments' outputs in order, joined, with the
    audio of the source video (where this job reads it), as its plan says."""

    video: str
    plan: str
    segments: tuple[str, ...]
    output: str


def run_join(job: JoinJob) -> dict:
    """Join the segments and return the video's measures (means over its frames): style,
    content, photo_style, warp (the warping error), seconds per frame."""
    video, parts = load_plan(job.plan)
    video = dataclasses.replace(video, path=job.video)
    if len(job.segments) != len(parts):
        raise NSTError(f"{len(job.segments)} segments given for the plan's {len(parts)}", path=job.plan)
    join([(path, part.first) for path, part in zip(job.segments, parts)], video, job.output)
    frames_scores, seconds = [], 0.0
    for path in job.segments:
        record = json.loads(read_bytes(scores_record(path)))
        frames_scores += record["frames"]
        seconds += record["seconds"]
    warps = [entry["warp"] for entry in frames_scores if entry["warp"] is not None]
    measures = {
        key: sum(entry[key] for entry in frames_scores) / len(frames_scores)
        for key in ("style", "content", "photo_style")
    }
    measures.update(
        warp=sum(warps) / len(warps) if warps else 0.0,
        frames=len(frames_scores),
        seconds_per_frame=round(seconds / len(frames_scores), 3),
    )
    return measures
