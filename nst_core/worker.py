"""Warm workers: torch and VGG-19 are loaded once per slot, not once per job.

    python -m nst_core.worker stylize PHOTO --targets T --output OUT ...   (the `nst` arguments)

Each call is a light client (standard library only): it leases a *slot*, a lock file held for
the job's duration, so concurrent jobs never share one and a killed job's lease ends with it.
The slot's worker process (started on first use, gone after `NST_WORKER_IDLE` seconds idle)
runs the command in-process and sends back its exit status and output.

Slots are devices: on a machine with GPUs there is one slot per GPU and its worker sees only
that GPU (a CUDA_VISIBLE_DEVICES already set, as Slurm sets it, is respected); without GPUs
there are cores / OMP_NUM_THREADS slots. Workers are keyed by the Python executable, the
nst_core sources and location and the thread count, so changed code never runs in an old worker.
NST_WORKER=off runs the command in this process instead.

A worker runs commands as its owner, so only its owner may reach it:
- Its files live in a private folder ($XDG_RUNTIME_DIR/nst-workers, else nst-workers-UID in the
  temp folder, or NST_WORKER_DIR), checked with lstat before each use: a real folder, owned by
  this user, closed to group and others. Anything else runs the job in this process, with a
  one-line warning. Files are opened without following symbolic links; the socket is 0600.
- The channel is multiprocessing.connection: framed messages and a mutual HMAC handshake with a
  key that the starting client writes (0600) beside the socket. Messages are JSON, never pickles.
  On Linux each end also checks that the other runs as the same user (SO_PEERCRED).
- A request carries its arguments, folder and only the environment variables a job reads
  (REQUEST_ENV_*); the worker's own environment holds none of them, so no credential outlives
  the request that brought it, and caches are cleared or keyed by what they depend on.
- A client that dies cancels its job: the worker stops it, and atomic writes leave nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import io
import json
import os
import secrets
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import AuthenticationError, Client, Listener
from pathlib import Path

from .fingerprints import PACKAGE, code_fingerprint

START_TIMEOUT = 120  # seconds for a new worker to import torch and listen
IDLE_SECONDS = 60  # default NST_WORKER_IDLE: then the worker exits and removes its files
# Per-process settings fixed when a worker starts.
FIXED_ENV = ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS")
# What travels with a request: what jobs read from the environment (storage endpoints and
# credentials, fsspec settings, proxies and CA files, nst's own variables). Nothing else does.
REQUEST_ENV_PREFIXES = ("AWS_", "FSSPEC_", "NST_")
REQUEST_ENV_NAMES = frozenset(
    ["SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]
    + [name for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY") for name in (proxy, proxy.lower())]
)
MAX_MESSAGE = 1 << 20  # bytes; a request is a command line and a few variables
O_PRIVATE = os.O_NOFOLLOW | os.O_CLOEXEC


class NotPrivate(Exception):
    """The workers' folder could be reached by someone else."""


class Cancelled(BaseException):
    """The client went away: stop its job (BaseException, so nothing on the way catches it)."""


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


def travels(name: str) -> bool:
    """Whether an environment variable goes with each request (and so not into a worker's own).
    NST_WORKER* configure the worker itself, when it starts."""
    return (name.startswith(REQUEST_ENV_PREFIXES) and not name.startswith("NST_WORKER")) or name in REQUEST_ENV_NAMES


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
    fits the 108-byte socket limit), handshake key (locked by its live worker) and log."""

    def __init__(self, folder: Path, index: int):
        self.folder, self.index = folder, index
        self.lock, self.key, self.log = (folder / f"slot-{index}.{kind}" for kind in ("lock", "key", "log"))
        self.socket = f"slot-{index}.sock"

    def remove(self) -> None:
        """Called by the holder of the slot's lease; the folder goes with its last slot."""
        for path in (self.folder / self.socket, self.key, self.log, self.lock):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        with contextlib.suppress(OSError):
            self.folder.rmdir()


def _lock(path: Path, blocking: bool) -> int | None:
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
        fd = _lock(directory / f"slot-{index}.lock", blocking=False)
        if fd is not None:
            return index, fd
    index = os.getpid() % count  # all busy: queue on one, spreading the waiters
    return index, _lock(directory / f"slot-{index}.lock", blocking=True)


def _worker_alive(files: SlotFiles) -> bool:
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
        fd = _lock(lock, blocking=False)
        if fd is None:
            continue  # leased: in use
        try:
            files = SlotFiles(lock.parent, int(lock.stem.split("-")[1]))
            if not _worker_alive(files):
                files.remove()
        finally:
            os.close(fd)


def peer_uid(connection) -> int | None:
    """The uid of the process at the other end of a Unix socket (None where the OS cannot say)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=os.dup(connection.fileno())) as sock:
        _, uid, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid


def _same_user(connection) -> bool:
    return peer_uid(connection) in (None, os.getuid())


@contextlib.contextmanager
def _in_folder(folder: Path):
    back = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.chdir(folder)
        yield
    finally:
        os.fchdir(back)
        os.close(back)


def _connect(files: SlotFiles):
    """A connection to the slot's live worker, or None if there is none to talk to."""
    try:
        fd = os.open(files.key, os.O_RDONLY | O_PRIVATE)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        key = handle.read()
    try:
        with _in_folder(files.folder):
            connection = Client(files.socket, "AF_UNIX", authkey=key)
    except (OSError, EOFError, AuthenticationError):
        return None  # no worker, a dead one's socket, or one started with another key
    if not _same_user(connection):
        connection.close()
        raise ConnectionError(f"{files.folder / files.socket} is served by uid {peer_uid(connection)}")
    return connection


def _start_worker(files: SlotFiles, environ: dict):
    remove_stale(files.folder.parent)
    tmp = files.folder / f".slot-{files.index}.key.{secrets.token_hex(8)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_PRIVATE, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(32))
    os.replace(tmp, files.key)
    log = os.open(files.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | O_PRIVATE, 0o600)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "nst_core.worker", "--serve", str(files.folder), str(files.index)],
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this job, not killed with its process group
        )
    finally:
        os.close(log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        connection = _connect(files)
        if connection is not None:
            return connection
        if process.poll() is not None:
            tail = files.log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ConnectionError(f"the worker exited at start ({tail[0]}; log: {files.log})")
        time.sleep(0.05)
    process.kill()
    raise ConnectionError(f"the worker did not start within {START_TIMEOUT} s (log: {files.log})")


def _in_process(argv: list[str]) -> int:
    from .cli import main

    return main(argv)


def run(argv: list[str]) -> int:
    """Run `nst ARGV` in this slot's warm worker; returns the command's exit status."""
    if os.environ.get("NST_WORKER") == "off":
        return _in_process(argv)
    threads = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    gpus = gpu_ids()
    try:
        directory = state_dir(threads)
    except (NotPrivate, OSError) as problem:
        print(f"nst: warning: no warm worker ({problem}): running in this process", file=sys.stderr)
        return _in_process(argv)
    slot, lease = acquire_slot(directory, slot_count(gpus, threads))
    try:
        files = SlotFiles(directory, slot)
        # The worker's own environment holds nothing that travels with requests (credentials).
        environ = {k: v for k, v in os.environ.items() if not travels(k)}
        environ["OMP_NUM_THREADS"] = str(threads)
        if gpus:
            environ["CUDA_VISIBLE_DEVICES"] = gpus[slot]
        request = {"argv": argv, "cwd": os.getcwd(), "env": {k: v for k, v in os.environ.items() if travels(k)}}
        for attempt in (1, 2):
            try:
                # A worker that died (killed, out of memory) may still accept a connection
                # before it goes: the second attempt starts a fresh one. Retrying is safe,
                # every nst command writes its outputs atomically.
                connection = (_connect(files) if attempt == 1 else None) or _start_worker(files, environ)
                with connection:
                    connection.send_bytes(json.dumps(request).encode())
                    reply = json.loads(connection.recv_bytes(MAX_MESSAGE))
                    while "code" not in reply:  # the job's stderr, line by line as it comes
                        sys.stderr.write(reply["stderr"])
                        sys.stderr.flush()
                        reply = json.loads(connection.recv_bytes(MAX_MESSAGE))
                break
            except (OSError, EOFError, ValueError, AuthenticationError) as error:
                if attempt == 2:
                    print(f"nst: worker for slot {slot} failed: {error or type(error).__name__}", file=sys.stderr)
                    return 1
        sys.stdout.write(reply["stdout"])
        sys.stderr.write(reply["stderr"])
        return reply["code"]
    finally:
        os.close(lease)


def _parse(message: bytes) -> dict:
    """The request, or ValueError saying what is wrong with it."""
    request = json.loads(message)
    if not isinstance(request, dict) or set(request) != {"argv", "cwd", "env"}:
        raise ValueError("expected argv, cwd and env")
    argv, cwd, env = request["argv"], request["cwd"], request["env"]
    if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
        raise ValueError("argv must be a list of strings")
    if not (isinstance(cwd, str) and os.path.isabs(cwd)):
        raise ValueError("cwd must be an absolute path")
    if not (isinstance(env, dict) and all(isinstance(v, str) and travels(k) for k, v in env.items())):
        raise ValueError("env may hold only the variables that travel with requests")
    return request


def _reply(code: int, stdout: str = "", stderr: str = "") -> dict:
    return {"code": code, "stdout": stdout, "stderr": stderr}


_running = threading.Event()  # a job is running: a cancellation may interrupt it


def _cancel(signum, frame):
    if _running.is_set():
        raise Cancelled


class _Lines(io.TextIOBase):
    """A request's stderr: each whole line sent to its client as it is written."""

    def __init__(self, connection):
        self.connection, self.pending = connection, ""

    def write(self, text: str) -> int:
        lines, newline, self.pending = (self.pending + text).rpartition("\n")
        if newline:
            self._send(lines + newline)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self._send(self.pending)
            self.pending = ""

    def _send(self, text: str) -> None:
        with contextlib.suppress(OSError):  # a client gone is noticed by the watcher
            self.connection.send_bytes(json.dumps({"stderr": text}).encode())


def _handle(request: dict, home: Path, stderr=None) -> dict:
    """Run one `nst` command in this process, as the client would have; its stderr goes to
    `stderr` as it is written (else with the reply)."""
    from . import storage
    from .cli import main

    stdout, stderr = io.StringIO(), stderr or io.StringIO()
    saved_env = dict(os.environ)
    try:
        os.environ.update(request["env"])
        try:
            os.chdir(request["cwd"])
        except OSError as error:
            return _reply(2, stderr=f"nst: cannot work in {request['cwd']}: {error.strerror}\n")
        storage.forget()  # filesystems and checks belong to one request's endpoint and credentials
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            _running.set()
            try:
                code = main(request["argv"])
            except SystemExit as exit_:  # argparse
                code = exit_.code if isinstance(exit_.code, int) else 2
            except Exception as error:  # a bug must not take the worker down with it
                print(f"nst: internal error: {type(error).__name__}: {error}", file=sys.stderr)
                code = 1
            finally:
                _running.clear()
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(home)
    stderr.flush()
    return _reply(code, stdout.getvalue(), stderr.getvalue() if isinstance(stderr, io.StringIO) else "")


def _serve_one(connection, home: Path) -> None:
    try:
        message = connection.recv_bytes(MAX_MESSAGE)
    except (OSError, EOFError):
        return  # the client went away, or sent more than a request
    try:
        request = _parse(message)
    except ValueError as error:
        connection.send_bytes(json.dumps(_reply(2, stderr=f"nst worker: bad request ({error})\n")).encode())
        return
    # The client sends nothing after its request: the socket turning readable means it is gone.
    stop_reading, stop_writing = os.pipe()
    gone = threading.Event()

    def watch():
        ready, _, _ = select.select([connection.fileno(), stop_reading], [], [])
        if connection.fileno() in ready:
            gone.set()
            signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        reply = _handle(request, home, _Lines(connection))
    except Cancelled:
        reply = None
    finally:
        os.write(stop_writing, b"x")
        watcher.join()
        os.close(stop_reading)
        os.close(stop_writing)
    if reply is not None and not gone.is_set():
        with contextlib.suppress(OSError):
            connection.send_bytes(json.dumps(reply).encode())
    _give_back_memory()


def _give_back_memory() -> None:
    """Return the job's freed memory to the system: an idle worker holds the model (~0.4 GB),
    not the peak of its largest job (glibc keeps freed heap pages otherwise). Tensors are freed
    by reference counting already; gc.collect() would add 0.15 s per job."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def serve(directory: str, index: int) -> None:
    """Accept one request at a time (the slot lease guarantees one client) until idle."""
    from . import cli, scoring, sheet, transfer  # noqa: F401  all of nst_core, imported now
    from .network import load_weights

    load_weights()  # the point of a warm worker: pay torch and the weights once
    idle = float(os.environ.get("NST_WORKER_IDLE", IDLE_SECONDS))
    home = private_directory(Path(directory))
    files = SlotFiles(home, index)
    key_fd = os.open(files.key, os.O_RDONLY | O_PRIVATE)
    fcntl.flock(key_fd, fcntl.LOCK_EX)  # held while this worker lives (see remove_stale)
    key = os.read(key_fd, 1024)
    os.chdir(home)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(files.socket)  # a dead worker's; only the slot's lease holder starts a worker
    umask = os.umask(0o177)  # the socket is 0600 whatever the user's umask
    try:
        listener = Listener(files.socket, "AF_UNIX", authkey=key)
    finally:
        os.umask(umask)
    signal.signal(signal.SIGUSR1, _cancel)
    last_active = [time.monotonic()]

    def exit_when_idle():
        while True:
            time.sleep(min(idle, 1.0))
            if time.monotonic() - last_active[0] < idle:
                continue
            lease = _lock(files.lock, blocking=False)  # no client is using or about to use us
            if lease is not None:
                with contextlib.suppress(FileNotFoundError):
                    if os.path.samestat(os.fstat(key_fd), os.stat(files.key, follow_symlinks=False)):
                        files.remove()  # still this worker's slot (not replaced by a fresh worker)
                os._exit(0)

    threading.Thread(target=exit_when_idle, daemon=True).start()
    while True:
        try:
            connection = listener.accept()
        except (OSError, EOFError, AuthenticationError):
            continue  # a client that died during the handshake, or without the key
        with connection:
            last_active[0] = time.monotonic()
            if _same_user(connection):
                _serve_one(connection, home)
            last_active[0] = time.monotonic()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(run(sys.argv[1:]))
