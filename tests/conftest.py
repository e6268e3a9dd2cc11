import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CHROMIUM = shutil.which("chromium")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # said in the test report: see `pytest -rs`
    sync_playwright = None
needs_a_browser = pytest.mark.skipif(
    CHROMIUM is None or sync_playwright is None,
    reason="needs chromium on PATH (Debian: apt-get install chromium) and playwright (pip install playwright)",
)

# Workers started by the tests leave soon after them (each holds ~0.4 GB while idle).
os.environ.setdefault("NST_WORKER_IDLE", "20")

DATA = Path(__file__).parent / "data"
PHOTO = DATA / "tubingen.jpg"
PHOTO2 = DATA / "chelsea.png"
STYLE = DATA / "starry_night.jpg"
STYLE2 = DATA / "the_scream.jpg"

# The modules that run the real Snakemake, S3, Slurm or a browser, or long optimisations (tiles
# against whole images): `pytest -m "not slow"` leaves them out, the inner loop's tier.
SLOW_MODULES = {
    "test_faults",
    "test_first_batch",
    "test_gallery",
    "test_s3",
    "test_sheets",
    "test_slurm",
    "test_tiles",
    "test_tradeoff",
    "test_video_pipeline",
    "test_worker_trust",
    "test_workflow",
}


# The modules whose tests run the optimisation core on a device (no Snakemake, S3, Slurm or
# browser): `pytest --device cuda -m device` runs them on a GPU (benchmarks/gpu_check.sh).
DEVICE_MODULES = {
    "test_batch",
    "test_gpu_path",
    "test_jobs",
    "test_optimize",
    "test_quality",
    "test_targets",
    "test_tiles",
    "test_video",
}
DEVICE = "cpu"  # the --device option's


def pytest_addoption(parser):
    parser.addoption("--device", default="cpu", help="device of the tests that touch one (-m device): cpu, cuda, ...")


def pytest_configure(config):
    global DEVICE
    DEVICE = config.getoption("--device")
    for options in (TARGETS_FAST, FAST):
        options[options.index("--device") + 1] = DEVICE


def pytest_collection_modifyitems(items):
    for item in items:
        if item.module.__name__ in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        if item.module.__name__ in DEVICE_MODULES:
            item.add_marker(pytest.mark.device)


@pytest.fixture
def images_alone():
    """For tests of what holds where each image of a batch goes through the network alone (a CPU,
    unless NST_BATCHED_NETWORK=1): there a batch's images are their own runs' to the bit, and
    its memory counts the network once. Skipped on the GPU's path."""
    import torch

    from nst_core.core.device import images_alone

    if not images_alone(torch.device(DEVICE)):
        pytest.skip("the batch goes through the network at once here (GPU, or NST_BATCHED_NETWORK=1)")


# Tiny and fast, one scale unless a test asks for coarse-to-fine.
TINY = dict(size=48, iterations=8, coarse_iterations=4, min_size=None)


def tiny(**overrides):
    from nst_core import preset

    return preset("default", **{**TINY, "device": DEVICE, **overrides})


# The same, as `nst` options (one scale), for tests of the command line, the worker and S3; the
# settings `nst targets` takes of them first.
TARGETS_FAST = ["--size", "32", "--min-size", "none", "--device", "cpu"]
FAST = [*TARGETS_FAST, "--iterations", "3"]


def worker_pids(folder) -> list[int]:
    """The pids of the live warm workers serving from under this folder (a test's own), from
    the pid files they write beside their slots."""
    pids = []
    for path in Path(folder).glob("**/slot-*.pid"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(path.read_text())
            if Path(f"/proc/{pid}").exists():
                pids.append(pid)
    return sorted(pids)


def end_workers(folder, timeout: float = 10) -> None:
    """Stop the test's own warm workers by their pids, and wait until they are gone."""
    import signal
    import time

    pids = worker_pids(folder)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def run_cli(*args, check=False, env=None):
    """The real `nst` console script in a fresh process."""
    nst = Path(sys.executable).parent / "nst"
    result = subprocess.run([str(nst), *map(str, args)], capture_output=True, text=True, env=env or {**os.environ})
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def cli(capsys):
    """Run `nst` in-process (same code path as the console script, without torch start-up)."""
    from nst_core.cli import main

    def run(*args):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse errors
            code = exit_.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


# The pipeline: a tiny project in a temporary folder, run by the real `snakemake` command.
REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
CONFIG = {
    "photos": ["photos/*"],
    "artworks": {"starry": "art/starry_night.jpg", "scream": {"image": "art/the_scream.jpg", "style_weight": 2.0}},
    "nst": {"size": 32, "iterations": 2, "coarse_iterations": 1, "min_size": None, "device": "cpu"},
    "sheets": {"cell": 32, "columns": 4},
}


def snakemake(workdir: Path, *args, env=None):
    """The real `snakemake` command on a project made by make_project."""
    return subprocess.run(
        [str(SNAKEMAKE), "-s", str(workdir / "Snakefile"), "--cores", "2", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
    )


def planned_outputs(workdir: Path, *args, env=None) -> set:
    """Outputs a run would make: Snakemake's summary, whose plan column says "update pending".
    (The console's job lines are each rule's one-line message, without outputs.)"""
    result = snakemake(workdir, "--summary", *args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()[1:] if "\t" in line]
    return {row[0] for row in rows if row[-1] == "update pending"}


def write_config(workdir: Path, config: dict):
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def make_project(workdir: Path, config=CONFIG) -> Path:
    """A copy of the workflow and nst_core (so tests may change the code) with tiny images."""
    for name in ("Snakefile", "workflow", "profiles", "nst_core", "envs"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, workdir / name)
    (workdir / "photos").mkdir()
    (workdir / "art").mkdir()
    shutil.copy2(PHOTO, workdir / "photos")
    shutil.copy2(PHOTO2, workdir / "photos")
    shutil.copy2(STYLE, workdir / "art")
    shutil.copy2(STYLE2, workdir / "art")
    write_config(workdir, config)
    return workdir
