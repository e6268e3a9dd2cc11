"""A worker's slot: its private folder and files, and the lease (a lock file held for a job's
duration) that gives each concurrent job a slot of its own. Standard library only."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import sys
import tempfile
from pathlib import Path

from ..files.fingerprints import PACKAGE, code_fingerprint

O_PRIVATE = os.O_NOFOLLOW | os.O_CLOEXEC


class NotPrivate(Exception):
    """The workers' folder could be reached by someone else."""


def gpu_ids(environ=os.environ, dev: str = "/dev") -> list[str]:
    """The GPUs this job may use: CUDA_VISIBLE_DEVICES if set (by a scheduler or the user),
    else every NVIDIA device node."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [v.strip() for v in visible.split(",") if v.strip() and v.strip() != "-1"]
    names = [p.name[len("nvidia") :] for p in Path(dev).glob("nvidia[0-9]*")]
    return sorted((n for n in names if n.isdigit()), key=int)


def slot_count(gpus: list[str], threads: int, cpus: int | None = None) -> int:
    return len(gpus) if gpus else max(1, (cpus or os.cpu_count() or 1) // max(1, threads))


def private_directory(path: Path) -> Path:
    """path, made if missing (0700), once lstat shows that only this user can use it."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    status = os.lstat(path)
    if stat.S_ISLNK(status.st_mode):
        problem = "is a symbolic link"
    elif not stat.S_ISDIR(status.st_mode):
        problem = "is not a folder"
    elif status.st_uid != os.getuid():
        problem = f"belongs to uid {status.st_uid}"
    elif status.st_mode & 0o077:
        problem = f"is open to other users (mode {stat.S_IMODE(status.st_mode):o})"
    else:
        return path
    raise NotPrivate(f"{path} {problem}")


def workers_root() -> Path:
    if os.environ.get("NST_WORKER_DIR"):
        root = Path(os.environ["NST_WORKER_DIR"])
        root.parent.mkdir(parents=True, exist_ok=True)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        root = Path(os.environ["XDG_RUNTIME_DIR"]) / "nst-workers"
    else:
        root = Path(tempfile.gettempdir()) / f"nst-workers-{os.getuid()}"
    return private_directory(root)


def state_dir(threads: int) -> Path:
    return private_directory(workers_root() / code_fingerprint(sys.executable, PACKAGE, threads))


class SlotFiles:
    """A slot's files: lease lock, socket (by a name relative to the folder: any folder path
    fits the 108-byte socket limit), handshake key (locked by its live worker), log and the
    worker's pid (written once it listens)."""

    def __init__(self, folder: Path, index: int):
        self.folder, self.index = folder, index
        self.lock, self.key, self.log, self.pid = (
            folder / f"slot-{index}.{kind}" for kind in ("lock", "key", "log", "pid")
        )
        self.socket = f"slot-{index}.sock"

    def write_pid(self) -> None:
        """This process's pid, for whoever must find or stop the slot's worker."""
        temporary = self.folder / f".slot-{self.index}.pid.{os.getpid()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | O_PRIVATE, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()}\n")
        os.replace(temporary, self.pid)

    def remove(self) -> None:
        """Called by the holder of the slot's lease; the folder goes with its last slot."""
        for path in (self.folder / self.socket, self.key, self.log, self.pid, self.lock):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        with contextlib.suppress(OSError):
            self.folder.rmdir()


def lock_file(path: Path, blocking: bool) -> int | None:
    """A descriptor holding an exclusive lock on path (made if missing), or None if busy."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | O_PRIVATE, 0o600)
        except FileNotFoundError:  # the folder went with its last idle worker
            private_directory(path.parent)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        # An idle worker removes its slot's files while holding this lock: if that happened
        # while we waited, the lock is on a removed file; lock the new one instead.
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False)):
                return fd
        os.close(fd)


def acquire_slot(directory: Path, count: int) -> tuple[int, int]:
    """Lease a free slot: (index, file descriptor holding the lock). Waits if all are busy."""
    private_directory(directory)
    for index in range(count):
        fd = lock_file(directory / f"slot-{index}.lock", blocking=False)
        if fd is not None:
            return index, fd
    index = os.getpid() % count  # all busy: queue on one, spreading the waiters
    return index, lock_file(directory / f"slot-{index}.lock", blocking=True)


def worker_alive(files: SlotFiles) -> bool:
    try:
        fd = os.open(files.key, os.O_RDONLY | O_PRIVATE)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def remove_stale(root: Path) -> None:
    """Remove the files of slots whose worker is gone without cleaning up (killed, out of
    memory), in every folder (old code, other thread counts), and folders left empty."""
    for lock in root.glob("*/slot-*.lock"):
        fd = lock_file(lock, blocking=False)
        if fd is None:
            continue  # leased: in use
        try:
            files = SlotFiles(lock.parent, int(lock.stem.split("-")[1]))
            if not worker_alive(files):
                files.remove()
        finally:
            os.close(fd)
