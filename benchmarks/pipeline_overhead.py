"""Per-job overhead of the pipeline and dry-run time at scale (issue 5).

1. 40 tiny stylize jobs (32 px, 1 iteration) plus their targets, sheets and gallery, run by the real
   `snakemake --cores 2`: wall time per job with a fresh process per job (NST_WORKER=off),
   with warm workers started by the run (cold), and with workers already warm.
2. `snakemake --dry-run` for 10,000 photos x 10 artworks (a generated file list of empty files).

    python benchmarks/pipeline_overhead.py [--photos 40] [--dry-run-photos 10000] [--skip-dry-run]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from nst_core.outputs.pages import pages

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
DATA = REPO / "tests" / "data"


def project(folder: Path, photos: int, artworks: int, empty_photos: bool = False) -> Path:
    for name in ("Snakefile", "workflow", "profiles", "nst_core", "envs"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, folder / name)
    (folder / "photos").mkdir()
    (folder / "art").mkdir()
    photo = (DATA / "tubingen.jpg").read_bytes()
    for i in range(photos):
        (folder / "photos" / f"p{i:05d}.jpg").write_bytes(b"" if empty_photos else photo)
    for i in range(artworks):
        shutil.copy2(DATA / "starry_night.jpg", folder / "art" / f"s{i}.jpg")
    config = {
        "photos": ["photos/*.jpg"],
        "artworks": {f"s{i}": f"art/s{i}.jpg" for i in range(artworks)},
        "nst": {"size": 32, "iterations": 1, "coarse_iterations": 0, "min_size": None, "device": "cpu"},
        "sheets": {"cell": 32},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


def timed(folder: Path, *args, env=None) -> float:
    """Every job made again: --forceall, and no earlier images, which stylize would keep."""
    shutil.rmtree(folder / "results", ignore_errors=True)
    started = time.perf_counter()
    subprocess.run(
        [SNAKEMAKE, "--cores", "2", "--quiet", "all", *args],
        cwd=folder,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--dry-run-photos", type=int, default=10_000)
    parser.add_argument("--dry-run-artworks", type=int, default=10)
    parser.add_argument("--skip-dry-run", action="store_true")
    args = parser.parse_args()
    print(f"# {os.cpu_count()} cores, snakemake --cores 2")
    with tempfile.TemporaryDirectory() as scratch:
        folder = project(Path(scratch), args.photos, 1)
        sheet_pages = len(pages([f"p{i:05d}" for i in range(args.photos)], 100))  # the default page size
        jobs = args.photos + 1 + sheet_pages + 2  # stylize per photo (one artwork), targets, pages, overview, gallery
        env = {**os.environ, "NST_WORKER_DIR": str(Path(scratch) / "workers")}
        fresh = timed(folder, env={**env, "NST_WORKER": "off"})
        cold = timed(folder, "--forceall", env=env)
        warm = timed(folder, "--forceall", env=env)
        subprocess.run(["pkill", "-f", "--", f"--serve {scratch}"], check=False)
        print(
            f"{jobs} jobs ({args.photos} x stylize 32 px 1 iteration, targets, {sheet_pages} sheet pages, overview, "
            "gallery), whole `snakemake` command:"
        )
        for name, seconds in [
            ("fresh process per job", fresh),
            ("warm workers, cold start", cold),
            ("warm workers, warm", warm),
        ]:
            print(f"  {name:<26} {seconds:6.1f} s   {seconds / jobs:5.2f} s/job")
    if not args.skip_dry_run:
        with tempfile.TemporaryDirectory() as scratch:
            folder = project(Path(scratch), args.dry_run_photos, args.dry_run_artworks, empty_photos=True)
            started = time.perf_counter()
            subprocess.run(
                [SNAKEMAKE, "--cores", "2", "--dry-run", "--quiet"],
                cwd=folder,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            seconds = time.perf_counter() - started
            count = args.dry_run_photos * args.dry_run_artworks
            print(
                f"dry run, {args.dry_run_photos} photos x {args.dry_run_artworks} artworks "
                f"({args.dry_run_photos} stylize jobs, {count} images): {seconds:.1f} s"
            )


if __name__ == "__main__":
    main()
