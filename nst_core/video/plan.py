"""A video cut into segments, the pipeline's unit of work: each segment is one job, which makes
its frames in every artwork's style. A segment ends at a cut and after at most `most` frames; one
that no cut separates from the one before goes on from that one's last frame, so the two run one
after the other; segments that a cut separates start afresh and run side by side. The plan is a
JSON file (what the video holds, and its segments), made once per video by scanning it.
No torch here: the pipeline reads this module while planning.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from fractions import Fraction

from ..errors import NSTError
from ..files.storage import read_bytes, write_atomic
from .video_files import Video


@dataclass(frozen=True)
class Segment:
    """Frames first .. first + count - 1; continues: from the previous segment's last frame
    (no cut between them), else afresh."""

    number: int
    first: int
    count: int
    continues: bool


def segments(video: Video, most: int) -> list[Segment]:
    """The video's segments: cut at its cuts and after every `most` frames."""
    made, first, cuts = [], 0, set(video.cuts)
    while first < video.frames:
        count = 1
        while count < most and first + count < video.frames and first + count not in cuts:
            count += 1
        made.append(Segment(len(made), first, count, continues=first > 0 and first not in cuts))
        first += count
    return made


def last_frame(segment_output: str) -> str:
    """Where a segment's last frame of an artwork lies (PNG): beside its frames."""
    return segment_output.rsplit(".", 1)[0] + ".last.png"


def scores_record(segment_output: str) -> str:
    """Where the scores of a segment's frames of an artwork lie (JSON): beside its frames."""
    return segment_output.rsplit(".", 1)[0] + ".scores.json"


def save_plan(video: Video, parts: list[Segment], path: str) -> None:
    facts = {**asdict(video), "rate": str(video.rate)}
    write_atomic(path, json.dumps({"video": facts, "segments": [asdict(part) for part in parts]}, indent=1).encode())


def load_plan(path: str, source: str | None = None) -> tuple[Video, list[Segment]]:
    """A plan's video and segments; source: where this job reads the video (a local copy of a
    URL, say), if not where the plan was made."""
    try:
        data = json.loads(read_bytes(path))
        facts = data["video"]
        facts.update(times=tuple(facts["times"]), cuts=tuple(facts["cuts"]), rate=Fraction(facts["rate"]))
        if source is not None:
            facts["path"] = source
        return Video(**facts), [Segment(**part) for part in data["segments"]]
    except (ValueError, KeyError, TypeError) as error:
        raise NSTError(f"not a video plan nst wrote ({type(error).__name__}: {error})", path=path) from None
