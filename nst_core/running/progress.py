"""A run's progress across its jobs, for the console. The workflow names a ledger file
(NST_PROGRESS) and starts it with the number of images it plans and how many jobs run at once;
each job adds one byte per image it finishes, so a job's line can say how many of the run's
images are done and about how long the rest will take (at its own pace per image, that many at
once), at the cost of one append and one stat, however large the run.

Videos' frames are counted the same way, in a second file beside it (FRAMES): a byte per frame
made (in all its job's artworks). Their number is known at the start only for the videos already
planned; each video planned during the run adds its frames (PLANNED: a line per video)."""

from __future__ import annotations

import contextlib
import os
import socket

from ..core.reporter import duration

ENV = "NST_PROGRESS"
HEADER = 64  # bytes: "nst-progress images=N at_once=K", padded; each byte after it is an image done
FRAMES = ".frames"  # beside the ledger, a header as long: "nst-progress frames=F at_once=C", a byte per frame
PLANNED = ".planned"  # beside the ledger: the frames of each video planned during the run, a line each


def start(path: str, images: int, at_once: int = 1, frames: int = 0, frames_at_once: int = 1) -> None:
    """A new ledger for a run that plans this many images, with this many jobs at once, and
    this many frames of videos already planned, this many at once (a video's segments, or a
    video's in one artwork's style, are made one after another: at most a frame per chain)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    for name, fields in (
        (path, f"images={images} at_once={max(1, at_once)}"),
        (path + FRAMES, f"frames={frames} at_once={max(1, frames_at_once)}"),
    ):
        with open(name, "w") as ledger:
            ledger.write(f"nst-progress {fields}".ljust(HEADER - 1) + "\n")


def _ledger() -> str | None:
    path = os.environ.get(ENV)
    return path if path and os.path.isfile(path) else None


def counted() -> bool:
    """Whether this command is a job of a run that the workflow counts."""
    return _ledger() is not None


def first_here() -> bool:
    """Whether this is the run's first job on this machine to ask (the one that says what device
    and precision the machine's jobs use): a marker file beside the ledger, made exclusively."""
    path = _ledger()
    if path is None:
        return True
    try:
        os.close(os.open(f"{path}.{socket.gethostname()}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    except OSError:
        return True
    return True


def _count(path: str, start: int) -> int:
    """Count one more in a file of a byte each; how many it holds then."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b".")  # one byte: appends of concurrent jobs never mix
        return os.fstat(fd).st_size - start
    finally:
        os.close(fd)


def _header(path: str) -> dict:
    with open(path) as ledger:
        return {name: int(value) for name, value in (field.split("=") for field in ledger.readline().split()[1:])}


def _said(done: int, total: int, what: str, seconds: float | None, at_once: int) -> str:
    done = min(done, total)  # one made again within the run counts once more
    if done == total or not seconds:
        return f"{done} of {total} {what}"
    return f"{done} of {total} {what}, about {duration((total - done) * seconds / at_once)} left"


def image_done(seconds: float | None = None) -> str:
    """Count one more of the run's images done; returns "3 of 16 images, about 5 min left" (the
    rest at this image's pace, `seconds`, as many at once as the run runs jobs), or "" outside a
    counted run."""
    path = _ledger()
    if path is None:
        return ""
    try:
        done = _count(path, HEADER)
        fields = _header(path)
        return _said(done, fields["images"], "images", seconds, fields["at_once"])
    except (OSError, ValueError, KeyError):
        return ""


def frames_planned(frames: int) -> None:
    """A video planned during the run: its frames are to be made (a video job's plan)."""
    path = _ledger()
    if path is not None:
        with contextlib.suppress(OSError), open(path + PLANNED, "a") as planned:
            planned.write(f"{frames}\n")  # one short append: concurrent plans' lines never mix


def frame_done(seconds: float | None = None) -> str:
    """Count one more of the run's video frames done (in all its artworks); returns "40 of 264
    frames, about 3 min left" (the rest at this frame's pace, `seconds`, as many at once as
    the run makes chains of segments side by side), or "" outside a counted run."""
    path = _ledger()
    if path is None:
        return ""
    try:
        done = _count(path + FRAMES, HEADER)
        fields = _header(path + FRAMES)
        with contextlib.suppress(FileNotFoundError), open(path + PLANNED) as planned:
            fields["frames"] += sum(int(line) for line in planned if line.strip())
        return _said(done, fields["frames"], "frames", seconds, fields["at_once"])
    except (OSError, ValueError, KeyError):
        return ""
