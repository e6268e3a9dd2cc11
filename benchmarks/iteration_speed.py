"""Seconds per optimisation iteration at 256 and 512 px, fp32 and bf16 (issue 2).

Runs the real stylize path (default preset, one scale) and times the difference between a run
with 1 and with 1 + N iterations (best of two each, after a warm-up run), so loading, targets,
start-up and one-time kernel selection are excluded.

    python benchmarks/iteration_speed.py [--iterations N] [--sizes 256 512] [--device cpu]
"""

import argparse
import pathlib
import platform
import time

import torch

from nst_core import StyleTransfer, load_source, preset
from nst_core.core.reporter import QUIET

HERE = pathlib.Path(__file__).resolve().parent.parent
SHARED = HERE.parent / "shared" / "data" / "images"
PHOTO = next(p for p in [SHARED / "content" / "tubingen.jpg", HERE / "tests" / "data" / "tubingen.jpg"] if p.exists())
STYLE = next(
    p for p in [SHARED / "style" / "starry_night.jpg", HERE / "tests" / "data" / "starry_night.jpg"] if p.exists()
)


def seconds_per_iteration(size: int, precision: str, iterations: int, device: str) -> float:
    photo = load_source(str(PHOTO))

    def run(count: int) -> float:
        settings = preset("default", size=size, min_size=None, iterations=count, precision=precision, device=device)
        transfer = StyleTransfer(settings)
        targets = transfer.make_targets([str(STYLE)])
        started = time.perf_counter()
        transfer.stylize(photo, targets, reporter=QUIET)
        return time.perf_counter() - started

    run(2)  # warm-up: one-time kernel selection and allocations must not count
    return (min(run(1 + iterations) for _ in range(2)) - min(run(1) for _ in range(2))) / iterations


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(
        f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, device {args.device}, photo {PHOTO.name}"
    )
    print(f"{'size':>6} {'precision':>9} {'s/iteration':>12} {'iterations/s':>13}")
    for size in args.sizes:
        for precision in ("fp32", "bf16"):
            seconds = seconds_per_iteration(size, precision, args.iterations, args.device)
            print(f"{size:>6} {precision:>9} {seconds:>12.3f} {1 / seconds:>13.2f}")


if __name__ == "__main__":
    main()
