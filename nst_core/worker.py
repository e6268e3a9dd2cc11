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
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .fingerprints import PACKAGE, code_fingerprint

START_TIMEOUT = 120  # seconds for a new worker to import torch and listen
# Per-process settings fixed when a worker starts; the rest of the client's environment
# (credentials, endpoints ...) is applied to each request.
FIXED_ENV = ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS")


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


def acquire_slot(directory: Path, count: int) -> tuple[int, int]:
    """Lease a free slot: (index, file descriptor holding the lock). Waits if all are busy."""
    directory.mkdir(parents=True, exist_ok=True)

    def lock(index: int, blocking: bool):
        fd = os.open(directory / f"slot-{index}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            return fd
        except BlockingIOError:
            os.close(fd)
            return None

    for index in range(count):
        fd = lock(index, blocking=False)
        if fd is not None:
            return index, fd
    index = os.getpid() % count  # all busy: queue on one, spreading the waiters
    return index, lock(index, blocking=True)


def state_dir(threads: int) -> Path:
    root = os.environ.get("NST_WORKER_DIR") or os.path.join(tempfile.gettempdir(), f"nst-workers-{os.getuid()}")
    return Path(root) / code_fingerprint(sys.executable, PACKAGE, threads)


def _send(sock: socket.socket, message: dict) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def _receive(sock: socket.socket) -> dict:
    with sock.makefile("rb") as stream:
        line = stream.readline()
    if not line:
        raise ConnectionError("the worker closed the connection")
    return json.loads(line)


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
        return sock
    except OSError:
        sock.close()
        return None


def _start_worker(path: Path, environ: dict) -> socket.socket:
    log = path.with_suffix(".log")
    with open(log, "ab") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "nst_core.worker", "--serve", str(path)],
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this job, not killed with its process group
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        sock = _connect(path)
        if sock is not None:
            return sock
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ConnectionError(f"the worker exited at start ({tail[0]}; log: {log})")
        time.sleep(0.05)
    process.kill()
    raise ConnectionError(f"the worker did not start within {START_TIMEOUT} s (log: {log})")


def run(argv: list[str]) -> int:
    """Run `nst ARGV` in this slot's warm worker; returns the command's exit status."""
    if os.environ.get("NST_WORKER") == "off":
        from .cli import main

        return main(argv)
    threads = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    gpus = gpu_ids()
    directory = state_dir(threads)
    slot, lease = acquire_slot(directory, slot_count(gpus, threads))
    try:
        path = directory / f"slot-{slot}.sock"
        environ = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        if gpus:
            environ["CUDA_VISIBLE_DEVICES"] = gpus[slot]
        request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}
        for attempt in (1, 2):
            try:
                # A worker that died (killed, out of memory) may still accept a connection
                # before it goes: the second attempt starts a fresh one. Retrying is safe,
                # every nst command writes its outputs atomically.
                sock = (_connect(path) if attempt == 1 else None) or _start_worker(path, environ)
                with sock:
                    _send(sock, request)
                    reply = _receive(sock)
                break
            except (ConnectionError, OSError, ValueError) as error:
                if attempt == 2:
                    print(f"nst: worker for slot {slot} failed: {error}", file=sys.stderr)
                    return 1
        sys.stdout.write(reply["stdout"])
        sys.stderr.write(reply["stderr"])
        return reply["code"]
    finally:
        os.close(lease)


def _handle(request: dict) -> dict:
    """Run one `nst` command in this process, as the client would have."""
    import contextlib
    import io

    from .cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    saved_env = dict(os.environ)
    try:
        os.environ.update({k: v for k, v in request["env"].items() if k not in FIXED_ENV})
        os.chdir(request["cwd"])
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(request["argv"])
            except SystemExit as exit_:  # argparse
                code = exit_.code if isinstance(exit_.code, int) else 2
            except Exception as error:  # a bug must not take the worker down with it
                print(f"nst: internal error: {type(error).__name__}: {error}", file=sys.stderr)
                code = 1
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir("/")
    return {"code": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


def serve(path: str) -> None:
    """Accept one request at a time (the slot lease guarantees one client) until idle."""
    from . import cli, optimize, scoring, sheet  # noqa: F401  all of nst_core, imported now
    from .network import load_weights

    load_weights()  # the point of a warm worker: pay torch and the weights once
    idle = float(os.environ.get("NST_WORKER_IDLE", "120"))
    if os.path.exists(path):
        os.unlink(path)  # a dead worker's socket; only the slot's lease holder gets here
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    server.settimeout(idle)
    os.chdir("/")
    try:
        while True:
            try:
                connection, _ = server.accept()
            except TimeoutError:
                return
            with connection:
                connection.settimeout(None)
                _send(connection, _handle(_receive(connection)))
    finally:
        server.close()
        if os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2])
    else:
        sys.exit(run(sys.argv[1:]))
