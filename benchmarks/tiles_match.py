"""Forced tiles against the untiled run on the default coarse-to-fine schedule (issue 34), and how
far rounding alone moves a run: the same untiled command with 1 and with 2 threads.

Runs `nst stylize` on the demo's Tübingen and The Starry Night, fp32, seed 0, as three commands
(untiled with 2 threads, untiled with 1, tiled with 2), then prints each pair's PSNR and every
image's `nst score`.

    python benchmarks/tiles_match.py [--size 512 --iterations 8 --coarse-iterations 4 --tile-size 256]
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PHOTO = HERE / "demo" / "photos" / "tubingen.jpg"
STYLE = HERE / "demo" / "styles" / "starry_night.jpg"


def psnr(a, b) -> float:
    return 10 * math.log10(1 / float((a - b).pow(2).mean()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--coarse-iterations", type=int, default=4)
    parser.add_argument("--tile-size", type=int, default=256)
    args = parser.parse_args()

    from nst_core import score
    from nst_core.files.tensors import load_image

    common = ["--size", str(args.size), "--iterations", str(args.iterations)]
    common += ["--coarse-iterations", str(args.coarse_iterations), "--precision", "fp32", "--seed", "0", "--quiet"]
    runs = {"untiled": ([], 2), "untiled, 1 thread": ([], 1), "tiled": (["--tile-size", str(args.tile_size)], 2)}
    with tempfile.TemporaryDirectory() as scratch:
        images = {}
        for name, (extra, threads) in runs.items():
            output = f"{scratch}/{len(images)}.png"
            command = [sys.executable, "-m", "nst_core", "stylize", str(PHOTO), "--style", str(STYLE), *common, *extra]
            started = time.perf_counter()
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            subprocess.run([*command, "--output", output], check=True, env=env)
            measured = score(output, str(PHOTO), str(STYLE))
            images[name] = load_image(output)
            seconds = time.perf_counter() - started
            print(f"{name:>18}: style {measured['style']:.4f}, content {measured['content']:.4f}, {seconds:.0f} s")
        print(f"tiled against untiled: {psnr(images['tiled'], images['untiled']):.1f} dB")
        print(f"1 thread against 2 (untiled): {psnr(images['untiled, 1 thread'], images['untiled']):.1f} dB")


if __name__ == "__main__":
    main()
