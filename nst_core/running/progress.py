"""A run's progress across its jobs, for the console. The workflow names a ledger file
(NST_PROGRESS) and starts it with the number of images it plans and how many jobs run at once;
each job adds one byte per image it finishes, so a job's line can say how many of the run's
images are done and about how long the rest will take (at its own pace per image, that many at
once), at the cost of one append and one stat, however large the run."""

from __future__ import annotations

import os
import socket

from ..core.reporter import duration

ENV = "NST_PROGRESS"
HEADER = 64  # bytes: "nst-progress images=N at_once=K", padded; each byte after it is an image done


def start(path: str, images: int, at_once: int = 1) -> None:
    """A new ledger for a run that plans this many images, with this many jobs at once."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    header = f"nst-progress images={images} at_once={max(1, at_once)}".ljust(HEADER - 1) + "\n"
    with open(path, "w") as ledger:
        ledger.write(header)


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


def image_done(seconds: float | None = None) -> str:
    """Count one more of the run's images done; returns "3 of 16 images, about 5 min left" (the
    rest at this image's pace, `seconds`, as many at once as the run runs jobs), or "" outside a
    counted run."""
    path = _ledger()
    if path is None:
        return ""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, b".")  # one byte: appends of concurrent jobs never mix
            done = os.fstat(fd).st_size - HEADER
        finally:
            os.close(fd)
        with open(path) as ledger:
            fields = dict(field.split("=") for field in ledger.readline().split()[1:])
        total, at_once = int(fields["images"]), int(fields["at_once"])
    except (OSError, ValueError, KeyError):
        return ""
    done = min(done, total)  # an image made again within the run counts once more
    if done == total or not seconds:
        return f"{done} of {total} images"
    return f"{done} of {total} images, about {duration((total - done) * seconds / at_once)} left"
