"""The tiny workflow through a real single-node Slurm cluster with the shipped profile."""

import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SNAKEMAKE, make_project
from slurm_cluster import Cluster, unavailable_reason

pytest.importorskip("snakemake_executor_plugin_slurm")
REASON = unavailable_reason()
if REASON:  # said in the test report, not silently: see `pytest -rs`
    pytestmark = pytest.mark.skip(reason=f"no Slurm test cluster on this machine: {REASON}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    running = Cluster(tmp_path_factory.mktemp("slurm")).start()
    yield running
    running.stop()


def ci_profile(folder: Path) -> Path:
    """The shipped profile with what this one-node CI cluster needs: its partition, no GPUs,
    squeue for job status (no slurmdbd, so no sacct) and quick first status checks."""
    profile = yaml.safe_load((REPO / "profiles/slurm/profile.yaml").read_text())
    profile["default-resources"].update(slurm_partition="debug", runtime=10, mem_mb=500)
    profile["set-resources"] = {"stylize": {"gpu": 0}, "artwork_targets": {"gpu": 0}}
    profile.update(
        {
            "jobs": 2,
            "latency-wait": 10,
            "slurm-status-command": "squeue",
            "slurm-init-seconds-before-status-checks": 1,
            "cores": 2,
        }
    )  # the node has 2
    folder.mkdir(parents=True)
    (folder / "profile.yaml").write_text(yaml.safe_dump(profile))
    return folder


def test_workflow_runs_as_slurm_jobs_with_stylize_jobs_grouped(cluster, tmp_path):
    (tmp_path / "project").mkdir()
    workdir = make_project(tmp_path / "project")
    profile = ci_profile(tmp_path / "profile")
    before = set(cluster.jobs())
    result = subprocess.run(
        ["timeout", "-k", "10", "600", SNAKEMAKE, "--workflow-profile", str(profile)],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for style in ("starry", "scream"):
        for photo in ("tubingen", "chelsea"):
            assert (workdir / f"results/stylized/{style}/{photo}.png").is_file()
    assert (workdir / "results/sheets/overview.jpg").is_file()
    slurm_jobs = set(cluster.jobs()) - before
    # 2 artwork_targets submissions + the 2 photos' stylize jobs bundled into 1 group submission;
    # the sheets ran locally (localrules)
    assert len(slurm_jobs) == 3, slurm_jobs
    assert all(line.endswith("COMPLETED") for line in slurm_jobs), slurm_jobs
