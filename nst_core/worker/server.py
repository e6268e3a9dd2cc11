"""The warm worker: loads torch and VGG-19 once, then runs one request at a time in-process
until it has been idle NST_WORKER_IDLE seconds; a client that goes away cancels its job."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import io
import json
import os
import select
import signal
import sys
import threading
import time
from multiprocessing.connection import AuthenticationError, Listener
from pathlib import Path

from .channel import MAX_MESSAGE, parse_request, reply_of, same_user
from .slots import O_PRIVATE, SlotFiles, lock_file, private_directory

IDLE_SECONDS = 60  # default NST_WORKER_IDLE: then the worker exits and removes its files


class Cancelled(BaseException):
    """The client went away: stop its job (BaseException, so nothing on the way catches it)."""


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
    from ..cli import main
    from ..files import storage

    stdout, stderr = io.StringIO(), stderr or io.StringIO()
    saved_env = dict(os.environ)
    try:
        os.environ.update(request["env"])
        try:
            os.chdir(request["cwd"])
        except OSError as error:
            return reply_of(2, stderr=f"nst: cannot work in {request['cwd']}: {error.strerror}\n")
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
    return reply_of(code, stdout.getvalue(), stderr.getvalue() if isinstance(stderr, io.StringIO) else "")


def _serve_one(connection, home: Path) -> None:
    try:
        message = connection.recv_bytes(MAX_MESSAGE)
    except (OSError, EOFError):
        return  # the client went away, or sent more than a request
    try:
        request = parse_request(message)
    except ValueError as error:
        connection.send_bytes(json.dumps(reply_of(2, stderr=f"nst worker: bad request ({error})\n")).encode())
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
    from .. import cli  # noqa: F401  all of nst_core, imported now
    from ..core.network import load_weights

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
    files.write_pid()
    signal.signal(signal.SIGUSR1, _cancel)
    last_active = [time.monotonic()]

    def exit_when_idle():
        while True:
            time.sleep(min(idle, 1.0))
            if time.monotonic() - last_active[0] < idle:
                continue
            lease = lock_file(files.lock, blocking=False)  # no client is using or about to use us
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
            if same_user(connection):
                _serve_one(connection, home)
            last_active[0] = time.monotonic()
