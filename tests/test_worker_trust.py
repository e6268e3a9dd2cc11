"""Warm workers on a shared machine: what another local user can do to them (nothing), and
what a warm worker must not carry from one request to the next.

The attacks run as a second uid (65534, "nobody") through setpriv, so they need root; elsewhere
they are skipped saying why. .ci/run runs as root."""

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from multiprocessing.connection import Client
from pathlib import Path

import pytest
import torch
from PIL import Image

from conftest import FAST, PHOTO, STYLE, end_workers, worker_pids
from nst_core import load_weights, to_torchvision_layout
from nst_core.files.fingerprints import PACKAGE, code_fingerprint
from nst_core.worker import SlotFiles, peer_uid

OTHER = 65534
SECRET = "s3cr3t-for-the-squatter-9Z"
SETPRIV = shutil.which("setpriv")
needs_second_user = pytest.mark.skipif(
    os.getuid() != 0 or SETPRIV is None, reason="needs root and setpriv to act as a second local user"
)


def as_other_user(code: str, *args, background=False):
    """Run Python code as uid 65534 (the attacker)."""
    command = [SETPRIV, f"--reuid={OTHER}", f"--regid={OTHER}", "--clear-groups", sys.executable, "-c", code]
    command += [str(a) for a in args]
    if background:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def shared_tmp():
    """A temp folder every user may write to, like /tmp (pytest's own tmp_path is private)."""
    folder = Path(tempfile.mkdtemp(prefix="nst-shared-", dir="/tmp"))
    folder.chmod(0o1777)
    yield folder
    end_workers(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def worker_env(tmp_path):
    """The environment of a test's own warm workers (under tmp_path), stopped after the test."""
    yield {"NST_WORKER_DIR": str(tmp_path / "workers")}
    end_workers(tmp_path)


def client(cwd, *argv, env_extra=None, umask=None, background=False):
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "NST_WORKER_DIR")}
    env.update({"OMP_NUM_THREADS": "1", **(env_extra or {})})
    command = [sys.executable, "-m", "nst_core.worker", *map(str, argv)]
    kwargs = dict(env=env, cwd=cwd, preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    if background:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    return subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)


def stylize(cwd, output, env_extra=None, **kwargs):
    return client(cwd, "stylize", PHOTO, "--style", STYLE, "-o", output, *FAST, "-q", env_extra=env_extra, **kwargs)


# The squatter: binds the socket a worker would use and records what arrives, answering "success".
SQUATTER = textwrap.dedent(
    """
    import socket, sys
    server = socket.socket(socket.AF_UNIX)
    server.bind(sys.argv[1])
    server.listen(8)
    print("listening", flush=True)
    while True:
        connection, _ = server.accept()
        data = connection.recv(1 << 20)
        with open(sys.argv[2], "ab") as record:
            record.write(data)
        connection.sendall(b'{"code": 0, "stdout": "", "stderr": ""}\\n')
        connection.close()
    """
)


@needs_second_user
@pytest.mark.parametrize("how", ["folder", "symlink"])
def test_a_squatted_workers_folder_is_refused_and_gets_nothing(tmp_path, shared_tmp, how):
    root = shared_tmp / "nst-workers-0"  # the path a root client would use: computable by anyone
    victim = tmp_path / "root-only"  # where the squatter's symbolic links point
    victim.mkdir(mode=0o700)
    if how == "symlink":
        as_other_user(f"import os; os.mkdir({str(shared_tmp / 'mine')!r}, 0o777)")
        as_other_user(f"import os; os.symlink({str(shared_tmp / 'mine')!r}, {str(root)!r})")
        folder = shared_tmp / "mine" / code_fingerprint(sys.executable, PACKAGE, 1)
    else:
        folder = root / code_fingerprint(sys.executable, PACKAGE, 1)
    as_other_user(
        "import os, sys\n"
        "os.makedirs(sys.argv[1], 0o777, exist_ok=True); os.chmod(os.path.dirname(sys.argv[1]), 0o777)\n"
        "os.chmod(sys.argv[1], 0o777)\n"
        "for name in ('slot-0.lock', 'slot-0.log', 'slot-0.key'):\n"
        "    os.symlink(os.path.join(sys.argv[2], name), os.path.join(sys.argv[1], name))\n",
        folder,
        victim,
    )
    record = shared_tmp / "received"
    squatter = as_other_user(SQUATTER, folder / "slot-0.sock", record, background=True)
    try:
        assert squatter.stdout.readline().strip() == "listening"
        result = stylize(tmp_path, "out.png", env_extra={"TMPDIR": str(shared_tmp), "AWS_SECRET_ACCESS_KEY": SECRET})
    finally:
        squatter.kill()
    assert result.returncode == 0, result.stderr
    problem = "is a symbolic link" if how == "symlink" else f"belongs to uid {OTHER}"
    assert result.stderr.splitlines() == [
        f"nst: warning: no warm worker ({root} {problem}): running in this process"
    ], result.stderr
    assert Image.open(tmp_path / "out.png").size == (32, 24)  # really made, not a forged success
    assert not record.exists() or SECRET.encode() not in record.read_bytes()
    assert not record.exists(), "the squatter received a request"
    assert list(victim.iterdir()) == [], "a file was created through the squatter's symbolic link"


@needs_second_user
def test_another_user_cannot_reach_a_worker_whatever_the_umask(tmp_path, shared_tmp):
    env = {"NST_WORKER_DIR": str(shared_tmp / "workers")}
    assert stylize(tmp_path, "out.png", env_extra=env, umask=0).returncode == 0
    (folder,) = (shared_tmp / "workers").iterdir()
    files = SlotFiles(folder, 0)
    assert stat.S_IMODE((folder / files.socket).stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    attempt = as_other_user(
        "import socket, sys\n"
        "try:\n"
        "    socket.socket(socket.AF_UNIX).connect(sys.argv[1]); print('connected')\n"
        "except OSError as error:\n"
        "    print(type(error).__name__)\n",
        folder / files.socket,
    )
    assert attempt.strip() == "PermissionError"


@needs_second_user
def test_the_worker_hangs_up_on_another_user_even_with_the_key(tmp_path, shared_tmp):
    # As if the owner had opened the folder to everyone and the key had leaked: the handshake
    # succeeds, and SO_PEERCRED still tells the worker who is calling.
    env = {"NST_WORKER_DIR": str(shared_tmp / "workers")}
    assert stylize(tmp_path, "out.png", env_extra=env).returncode == 0
    (folder,) = (shared_tmp / "workers").iterdir()
    files = SlotFiles(folder, 0)
    for path in (folder.parent, folder, folder / files.socket, files.key):
        path.chmod(0o777)
    request = {"argv": ["stylize", str(PHOTO), "--style", str(STYLE), "-o", str(shared_tmp / "x.png"), *FAST]}
    request.update(cwd=str(shared_tmp), env={})
    answer = as_other_user(
        "import json, sys\n"
        "from multiprocessing.connection import Client\n"
        "connection = Client(sys.argv[1], 'AF_UNIX', authkey=open(sys.argv[2], 'rb').read())\n"
        "try:\n"
        "    connection.send_bytes(sys.argv[3].encode())\n"
        "    print(connection.recv_bytes())\n"
        "except (EOFError, BrokenPipeError, ConnectionResetError):\n"
        "    print('hung up')\n",
        folder / files.socket,
        files.key,
        json.dumps(request),
    )
    assert answer.strip() == "hung up"
    assert not (shared_tmp / "x.png").exists()


@needs_second_user
def test_peer_uid_names_the_other_user(shared_tmp):
    path = shared_tmp / "probe.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    path.chmod(0o777)
    server.listen(1)
    caller = as_other_user(
        "import socket, sys, time\ns = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(2)",
        path,
        background=True,
    )
    connection, _ = server.accept()
    assert peer_uid(connection) == OTHER
    connection.close()
    server.close()
    caller.kill()


def test_no_secret_in_the_workers_environment_or_log(tmp_path, worker_env):
    env = {**worker_env, "AWS_SECRET_ACCESS_KEY": SECRET, "NOT_FOR_JOBS": "x"}
    assert stylize(tmp_path, "out.png", env_extra=env).returncode == 0
    (pid,) = worker_pids(tmp_path / "workers")
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert SECRET.encode() not in environ and b"NOT_FOR_JOBS=x" in environ
    for path in (tmp_path / "workers").rglob("*"):
        assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path


def test_a_bad_request_is_refused_and_the_worker_lives_on(tmp_path, worker_env):
    assert stylize(tmp_path, "a.png", env_extra=worker_env).returncode == 0
    (folder,) = (tmp_path / "workers").iterdir()
    files = SlotFiles(folder, 0)
    replies = []
    for message in (b"{}", b"\xff not json", json.dumps({"argv": "x", "cwd": "/", "env": {}}).encode()):
        with Client(str(folder / files.socket), "AF_UNIX", authkey=files.key.read_bytes()) as connection:
            connection.send_bytes(message)
            replies.append(json.loads(connection.recv_bytes()))
    assert [r["code"] for r in replies] == [2, 2, 2]
    assert all(r["stderr"].startswith("nst worker: bad request") for r in replies), replies
    (pid,) = worker_pids(tmp_path / "workers")
    assert stylize(tmp_path, "b.png", env_extra=worker_env).returncode == 0
    assert worker_pids(tmp_path / "workers") == [pid], "the same worker serves on"


def test_a_killed_client_cancels_its_job(tmp_path, worker_env):
    long_job = ["stylize", PHOTO, "--style", STYLE, "--size", "96", "--iterations", "40", "--min-size", "none"]
    assert stylize(tmp_path, "warm.png", env_extra=worker_env).returncode == 0  # the worker is up
    started = time.monotonic()
    assert client(tmp_path, *long_job, "-o", "timed.png", env_extra=worker_env).returncode == 0
    duration = time.monotonic() - started
    job = client(tmp_path, *long_job, "-o", "cancelled.png", env_extra=worker_env, background=True)
    time.sleep(min(1.0, duration / 4))
    job.send_signal(signal.SIGKILL)
    job.wait()
    time.sleep(duration + 2)  # long enough for the job to have finished, had it gone on
    assert not (tmp_path / "cancelled.png").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".nst-")] == []
    (pid,) = worker_pids(tmp_path / "workers")
    assert stylize(tmp_path, "after.png", env_extra=worker_env).returncode == 0
    assert worker_pids(tmp_path / "workers") == [pid], "the worker stopped the job and serves on"


def test_a_replaced_weights_file_is_loaded_again(tmp_path, worker_env):
    state = to_torchvision_layout(load_weights())
    weights = tmp_path / "vgg.pt"
    fingerprints = []
    for change in (0.0, 0.5):
        state["features.0.bias"] = state["features.0.bias"] + change
        torch.save(state, tmp_path / "new.pt")
        os.replace(tmp_path / "new.pt", weights)  # replaced, as a user updating it would
        out = tmp_path / f"t{change}.pt"
        targets = ["targets", STYLE, "--weights", weights, "--size", "32", "-o", out]
        result = client(tmp_path, *targets, env_extra=worker_env)
        assert result.returncode == 0, result.stderr
        meta = json.loads(torch.load(out, weights_only=True)["meta"])
        fingerprints.append(meta["made_for"]["weights"])
    assert len(worker_pids(tmp_path / "workers")) == 1, "both jobs ran in one warm worker"
    assert fingerprints[0] != fingerprints[1]
    assert fingerprints[1] == load_weights(str(weights)).fingerprint


def test_a_long_folder_path_still_gets_a_warm_worker(tmp_path, worker_env):
    root = tmp_path / ("x" * 150) / "workers"  # beyond the 108-byte limit of a socket's path
    env = {"NST_WORKER_DIR": str(root)}
    for output in ("a.png", "b.png"):
        result = stylize(tmp_path, output, env_extra=env)
        assert result.returncode == 0 and result.stderr == "", result.stderr
    assert len(worker_pids(root)) == 1


def test_idle_workers_leave_and_take_their_files(tmp_path):
    root = tmp_path / "workers"
    stale = root / "0123456789abcdef"  # a folder of a killed worker of older code
    root.mkdir(mode=0o700)
    stale.mkdir(mode=0o700)
    for name in ("slot-0.lock", "slot-0.key", "slot-0.log", "slot-0.sock"):
        (stale / name).touch()
    env = {"NST_WORKER_DIR": str(root), "NST_WORKER_IDLE": "1"}
    result = stylize(tmp_path, "a.png", env_extra=env)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert not stale.exists(), "a new worker removes what dead ones left"
    deadline = time.monotonic() + 20
    while worker_pids(root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert worker_pids(root) == []
    assert list(root.iterdir()) == [], "an idle worker removes its slot's files and its folder"
