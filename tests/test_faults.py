"""Runs killed with SIGKILL at different moments: no output is ever half-written, and after
`snakemake --unlock` a rerun completes every result."""

import os
import signal
import subprocess
import time

from PIL import Image

from conftest import SNAKEMAKE, end_workers, make_project, snakemake


def complete_images(folder):
    """Every visible image under folder decodes whole; returns how many there are."""
    images = [p for p in folder.rglob("*") if p.suffix in (".png", ".jpg") and not p.name.startswith(".")]
    for path in images:
        with Image.open(path) as image:
            image.load()  # raises on a truncated file
    return len(images)


def test_sigkill_at_several_moments_then_rerun_completes(tmp_path):
    workdir = make_project(tmp_path)
    env = {**os.environ, "NST_WORKER_DIR": str(tmp_path / "workers")}
    expected = {f"results/stylized/{s}/{p}.png" for s in ("starry", "scream") for p in ("tubingen", "chelsea")}
    expected |= {"results/sheets/starry/first.jpg", "results/sheets/scream/first.jpg", "results/sheets/overview.jpg"}
    expected |= {
        f"results/gallery/thumbs/{p}/{s}.jpg" for s in ("starry", "scream", "_photo") for p in ("tubingen", "chelsea")
    }
    expected |= {"results/gallery/paintings/starry.jpg", "results/gallery/paintings/scream.jpg"}
    results = workdir / "results"
    moments = [  # kill as soon as the run gets this far
        lambda: True,  # at once: Snakemake is still starting
        lambda: any(results.glob("targets/*.pt")),  # the first targets file is written
        lambda: any(results.glob("stylized/*/*.png")),  # the first stylized image is written
    ]
    interrupted = []
    for reached in moments:
        run = subprocess.Popen(
            [str(SNAKEMAKE), "--cores", "2"],
            cwd=workdir,
            env=env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while not reached() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert run.poll() is None, run.communicate()[0].decode()[-3000:]
        os.killpg(run.pid, signal.SIGKILL)  # snakemake and its jobs' shells, as a cluster kill would
        interrupted.append(run.wait() == -signal.SIGKILL)
        time.sleep(0.5)  # a worker may still finish the job it was given: it writes atomically
        if results.exists():
            assert complete_images(results) < len(expected)
        assert snakemake(workdir, "--unlock", env=env).returncode == 0
    assert all(interrupted), interrupted
    final = snakemake(workdir, env=env)
    assert final.returncode == 0, final.stdout + final.stderr
    assert complete_images(workdir / "results") == len(expected)
    for path in expected:
        assert (workdir / path).is_file(), path
    end_workers(tmp_path)
