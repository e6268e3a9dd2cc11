"""Warm workers and slot leases: device assignment without GPUs, concurrency, crashes."""

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from conftest import FAST, PHOTO, STYLE, end_workers, worker_pids
from nst_core.worker import acquire_slot, gpu_ids, slot_count


def test_gpu_ids_respect_the_scheduler(tmp_path):
    assert gpu_ids({"CUDA_VISIBLE_DEVICES": "2,3"}) == ["2", "3"]  # as Slurm sets it
    assert gpu_ids({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert gpu_ids({"CUDA_VISIBLE_DEVICES": "-1"}) == []
    for name in ("nvidia0", "nvidia1", "nvidia10", "nvidiactl", "nvidia-uvm"):
        (tmp_path / name).touch()
    assert gpu_ids({}, dev=str(tmp_path)) == ["0", "1", "10"]  # simulated 3-GPU machine
    assert gpu_ids({}, dev=str(tmp_path / "none")) == []


def test_slot_count():
    assert slot_count(["0", "1", "2", "3"], threads=8) == 4  # one slot per GPU
    assert slot_count([], threads=2, cpus=8) == 4  # CPU: cores / threads per job
    assert slot_count([], threads=16, cpus=8) == 1


def _hold_slot(directory, count, seconds, queue):
    index, fd = acquire_slot(Path(directory), count)
    start = time.monotonic()
    time.sleep(seconds)
    queue.put((index, start, time.monotonic()))
    os.close(fd)


def _hold_slots(directory, slots, jobs, seconds):
    """Run `jobs` processes that each lease one of `slots` slots for `seconds`; their holds."""
    queue = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=_hold_slot, args=(directory, slots, seconds, queue)) for _ in range(jobs)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    return [queue.get() for _ in processes]


def test_concurrent_jobs_get_distinct_slots(tmp_path):
    assert sorted(index for index, _, _ in _hold_slots(tmp_path, 4, 4, 1.0)) == [0, 1, 2, 3]


def test_more_jobs_than_slots_wait_and_never_share(tmp_path):
    holds = _hold_slots(tmp_path, 2, 5, 0.4)
    for slot in (0, 1):
        intervals = sorted((start, end) for index, start, end in holds if index == slot)
        assert all(a_end <= b_start + 0.01 for (_, a_end), (b_start, _) in zip(intervals, intervals[1:]))
    assert {index for index, _, _ in holds} <= {0, 1}


def _client(tmp_path, *argv, env_extra=None):
    env = {**os.environ, "NST_WORKER_DIR": str(tmp_path / "workers"), "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "nst_core.worker", *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )


@pytest.fixture
def stop_workers(tmp_path):
    yield
    end_workers(tmp_path / "workers")


def test_worker_runs_nst_commands_and_survives_bad_input(tmp_path, stop_workers):
    result = _client(tmp_path, "stylize", PHOTO, "--style", STYLE, "-o", "out.png", *FAST, "-q")
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "out.png").size == (32, 24)  # relative to the client's folder
    assert len(worker_pids(tmp_path / "workers")) == 1
    bad = _client(tmp_path, "stylize", "missing.jpg", "--style", STYLE, "-o", "x.png", *FAST, "-q")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == ["nst stylize: error: missing.jpg: no such file"]
    usage = _client(tmp_path, "stylize", PHOTO, "--pooling", "median", "-o", "x.png")
    assert usage.returncode == 2 and "invalid choice: 'median'" in usage.stderr
    again = _client(tmp_path, "stylize", PHOTO, "--style", STYLE, "-o", "out2.png", *FAST, "-q")
    assert again.returncode == 0, again.stderr
    assert len(worker_pids(tmp_path / "workers")) == 1, "the same warm worker serves every job"


def test_a_killed_worker_is_replaced(tmp_path, stop_workers):
    assert _client(tmp_path, "stylize", PHOTO, "--style", STYLE, "-o", "a.png", *FAST, "-q").returncode == 0
    for pid in worker_pids(tmp_path / "workers"):
        os.kill(pid, signal.SIGKILL)
    result = _client(tmp_path, "stylize", PHOTO, "--style", STYLE, "-o", "b.png", *FAST, "-q")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "b.png").is_file()


def test_each_gpu_slot_gets_its_own_worker(tmp_path, stop_workers):
    # Simulated: the scheduler gave this job GPUs 5 and 7; on this CPU-only machine the
    # workers still start (device cpu), each pinned to one of them.
    env = {"CUDA_VISIBLE_DEVICES": "5,7"}
    assert (
        _client(tmp_path, "stylize", PHOTO, "--style", STYLE, "-o", "a.png", *FAST, "-q", env_extra=env).returncode == 0
    )
    (pid,) = worker_pids(tmp_path / "workers")
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"CUDA_VISIBLE_DEVICES=5" in environ


def test_worker_off_runs_in_process(tmp_path):
    result = _client(
        tmp_path, "stylize", PHOTO, "--style", STYLE, "-o", "c.png", *FAST, env_extra={"NST_WORKER": "off"}
    )
    assert result.returncode == 0 and (tmp_path / "c.png").is_file()
    assert worker_pids(tmp_path / "workers") == []


def test_each_jobs_line_gives_its_own_peak_memory(tmp_path, stop_workers):
    # A warm worker reports each job's peak, not its life's: a small job after a large one
    # reports less (the benchmark files measure only the client).
    peaks = {}
    for size in (256, 32):
        args = [
            "stylize",
            PHOTO,
            "--style",
            STYLE,
            "-o",
            f"{size}.png",
            "--size",
            size,
            "--iterations",
            1,
            "--coarse-iterations",
            1,
        ]
        # fp32 everywhere: where the CPU has bf16, a 256 px job's peak is within 0.1 GiB of a 32 px one's
        result = _client(tmp_path, *args, "--min-size", "none", "--device", "cpu", "--precision", "fp32")
        assert result.returncode == 0, result.stderr
        match = re.search(r"^nst: wrote \S+ \(\S+ in \S+, \d+x\d+, [\d.]+ s, peak ([\d.]+) GiB\)$", result.stderr, re.M)
        assert match, result.stderr
        peaks[size] = float(match[1])
    assert len(worker_pids(tmp_path / "workers")) == 1
    assert peaks[32] < peaks[256] - 0.1, peaks


def test_a_warm_workers_lines_reach_the_console_as_each_image_is_written(tmp_path, stop_workers):
    """A job's line per image comes as the image is written, not with the job's end; --log keeps
    a copy. Two artworks one at a time: the first one's line arrives while the second is made."""
    env = {**os.environ, "NST_WORKER_DIR": str(tmp_path / "workers"), "OMP_NUM_THREADS": "1"}
    assert _client(tmp_path, "stylize", PHOTO, "--style", STYLE, "-o", "warm.png", *FAST, "-q").returncode == 0
    shared = {"size": 64, "iterations": 60, "min_size": None, "device": "cpu", "precision": "fp32"}
    artworks = [
        {"name": name, "styles": [str(STYLE)], "output": out} for name, out in (("first", "a.png"), ("second", "b.png"))
    ]
    spec = {"photo": str(PHOTO), "settings": shared, "artworks": artworks, "batch": 1}
    (tmp_path / "photo.job").write_text(json.dumps(spec))
    job = subprocess.Popen(
        [sys.executable, "-m", "nst_core.worker", "stylize", "--job", "photo.job", "--log", "job.log"],
        stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    arrivals = [(line, time.monotonic()) for line in job.stderr]
    ended = time.monotonic()
    assert job.wait() == 0, arrivals
    (first,) = [at for line, at in arrivals if line.startswith("nst: wrote a.png (tubingen in first, ")]
    (second,) = [at for line, at in arrivals if line.startswith("nst: wrote b.png (tubingen in second, ")]
    assert ended - first > 0.5 * (ended - second) + 0.3, arrivals  # the first line came well before the end
    assert (tmp_path / "job.log").read_text() == "".join(line for line, _ in arrivals)
