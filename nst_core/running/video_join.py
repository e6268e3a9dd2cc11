"""A video's jobs that need no network: its plan (scan it once, cut it into segments) and the
join (a finished video per artwork: its segments' frames as they are, the source's audio, and
its measures over every frame). No torch here: the pipeline runs them in its own process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import NSTError
from ..files.storage import read_bytes
from ..outputs import quality
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
    audio of the source video (where this job reads it), as its plan says; record: where its
    row of the quality table goes (quality.py's record), if anywhere."""

    video: str
    plan: str
    segments: tuple[str, ...]
    output: str
    record: str | None = None


def run_join(job: JoinJob) -> dict:
    """Join the segments and return the video's measures over its frames, as a quality record
    holds them (quality.RECORD): style, content and photo_style the frames' means, layout and
    spread the least, clipped the most, warping_error the mean over frame pairs; seconds (all frames),
    seconds_per_frame."""
    video, parts = load_plan(job.plan, job.video)
    if len(job.segments) != len(parts):
        raise NSTError(f"{len(job.segments)} segments given for the plan's {len(parts)}", path=job.plan)
    join([(path, part.first) for path, part in zip(job.segments, parts)], video, job.output)
    records = [json.loads(read_bytes(scores_record(path))) for path in job.segments]
    measures = video_measures(records)
    if job.record:
        quality.write_record(job.record, [measures])
    return measures


def video_measures(records: list[dict]) -> dict:
    """An artwork's video's measures from its segments' records (video_jobs.run_segment's)."""
    frames = [entry for record in records for entry in record["frames"]]
    warps = [entry["warp"] for entry in frames if entry["warp"] is not None]
    seconds = sum(record["seconds"] for record in records)  # a segment's, for this artwork's frames
    first = records[0]
    measures = {key: first.get(key) for key in ("artwork", "width", "height", "style_weight", "device", "precision")}
    measures.update(
        {key: sum(entry[key] for entry in frames) / len(frames) for key in ("style", "content", "photo_style")},
        layout=min(entry.get("layout", 1.0) for entry in frames),
        spread=min(entry.get("spread", 1.0) for entry in frames),
        clipped=max(entry.get("clipped", 0.0) for entry in frames),
        finite=all(entry.get("finite", True) for entry in frames),
        warping_error=sum(warps) / len(warps) if warps else 0.0,
        frames=len(frames),
        seconds=round(seconds, 2),
        seconds_per_frame=round(seconds / len(frames), 3),
    )
    return measures
