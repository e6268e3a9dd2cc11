"""Runs killed with SIGKILL at different moments: no output is ever half-written, and after
`snakemake --unlock` a rerun completes every result."""

import os
import signal
import subprocess
import time

from PIL import Image

from conftest import SNAKEMAKE, make_project, snakemake


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
    expected |= {"results/sheets/starry.jpg", "results/sheets/scream.jpg", "results/sheets/overview.jpg"}
    seen = []
    for delay in (1.5, 4.0, 7.0):
        run = subprocess.Popen([str(SNAKEMAKE), "--cores", "2"], cwd=workdir, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        os.killpg(run.pid, signal.SIGKILL)  # snakemake and its jobs' shells, as a cluster kill would
        run.wait()
        time.sleep(0.5)
        seen.append(complete_images(workdir / "results") if (workdir / "results").exists() else 0)
        assert snakemake(workdir, "--unlock", env=env).returncode == 0
    final = snakemake(workdir, env=env)
    assert final.returncode == 0, final.stdout + final.stderr
    assert complete_images(workdir / "results") == len(expected)
    for path in expected:
        assert (workdir / path).is_file(), path
    assert seen[-1] < len(expected), f"the kills came too late to interrupt anything: {seen}"
    subprocess.run(["pkill", "-f", f"--serve {tmp_path}"], check=False)
