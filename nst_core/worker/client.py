"""The light client a job runs (standard library only): lease a slot, reach or start its worker,
send the `nst` command and relay its output."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from multiprocessing.connection import AuthenticationError, Client

from .channel import MAX_MESSAGE, in_folder, peer_uid, same_user, travels
from .slots import O_PRIVATE, NotPrivate, SlotFiles, acquire_slot, gpu_ids, remove_stale, slot_count, state_dir

START_TIMEOUT = 120  # seconds for a new worker to import torch and listen


def _connect(files: SlotFiles):
    """A connection to the slot's live worker, or None if there is none to talk to."""
    try:
        fd = os.open(files.key, os.O_RDONLY | O_PRIVATE)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        key = handle.read()
    try:
        with in_folder(files.folder):
            connection = Client(files.socket, "AF_UNIX", authkey=key)
    except (OSError, EOFError, AuthenticationError):
        return None  # no worker, a dead one's socket, or one started with another key
    if not same_user(connection):
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
    from ..cli import main

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
