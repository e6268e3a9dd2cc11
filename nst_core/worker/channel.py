"""The channel between a job's client and its slot's worker: what a request carries and how it
is checked, and that the other end runs as the same user. Standard library only."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
from pathlib import Path

# What travels with a request: what jobs read from the environment (storage endpoints and
# credentials, fsspec settings, proxies and CA files, nst's own variables). Nothing else does.
REQUEST_ENV_PREFIXES = ("AWS_", "FSSPEC_", "NST_")
REQUEST_ENV_NAMES = frozenset(
    ["SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]
    + [name for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY") for name in (proxy, proxy.lower())]
)
MAX_MESSAGE = 1 << 20  # bytes; a request is a command line and a few variables


def travels(name: str) -> bool:
    """Whether an environment variable goes with each request (and so not into a worker's own).
    NST_WORKER* configure the worker itself, when it starts."""
    return (name.startswith(REQUEST_ENV_PREFIXES) and not name.startswith("NST_WORKER")) or name in REQUEST_ENV_NAMES


def peer_uid(connection) -> int | None:
    """The uid of the process at the other end of a Unix socket (None where the OS cannot say)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=os.dup(connection.fileno())) as sock:
        _, uid, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid


def same_user(connection) -> bool:
    return peer_uid(connection) in (None, os.getuid())


@contextlib.contextmanager
def in_folder(folder: Path):
    back = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.chdir(folder)
        yield
    finally:
        os.fchdir(back)
        os.close(back)


def parse_request(message: bytes) -> dict:
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


def reply_of(code: int, stdout: str = "", stderr: str = "") -> dict:
    return {"code": code, "stdout": stdout, "stderr": stderr}
