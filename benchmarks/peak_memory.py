"""Peak memory of `nst stylize` against its `--max-memory` cap (issue 34), and what a size that
does not fit says.

Each case runs the real command in its own process (default preset, one scale, 2 iterations, so
its plan keeps 2 L-BFGS pairs) and reads that process's maximum resident set (getrusage): the
painting's targets, the optimisation by the tiles the cap leaves room for, the scores and the
PNG. Caps are chosen so that every size above 512 px goes by tiles (512 px fits whole in any cap
it is accepted in). `--artworks 4` optimises four paintings of the photo in one job. The last
line is what a size too big for its cap says.

    python benchmarks/peak_memory.py [--sizes 512 1024 1536 2048] [--precision bf16 fp32]
        [--caps 2.5] [--artworks 1 4] [--too-big 8192 --too-big-cap 8]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PHOTO = HERE / "demo" / "photos" / "tubingen.jpg"
STYLES = sorted((HERE / "demo" / "styles").glob("*.jpg"))
GIB = 2**30


def command(size: int, precision: str, cap: float, artworks: int, scratch: str) -> list[str]:
    """The photo's job with `artworks` paintings, as a job file (nst_core/running/job.py)."""
    settings = {"size": size, "min_size": None, "iterations": 2, "precision": precision, "max_memory": cap}
    paintings = [{"styles": [str(style)], "output": f"{scratch}/{k}.png"} for k, style in enumerate(STYLES[:artworks])]
    job = Path(scratch) / "photo.job"
    job.write_text(json.dumps({"photo": str(PHOTO), "settings": settings, "artworks": paintings}))
    return [sys.executable, "-m", "nst_core", "stylize", "--job", str(job)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 1536, 2048])
    parser.add_argument("--precision", nargs="+", default=["bf16", "fp32"])
    parser.add_argument("--caps", type=float, nargs="+", default=[2.5], help="GiB")
    parser.add_argument("--artworks", type=int, nargs="+", default=[1])
    parser.add_argument("--too-big", type=int, default=8192)
    parser.add_argument("--too-big-cap", type=float, default=8, help="GiB the --too-big run may use")
    args = parser.parse_args()

    print(f"# {PHOTO.name}, {os.cpu_count()} cores; peak = the process's maximum resident set")
    print(f"{'size':>5} {'precision':>9} {'artworks':>8} {'cap':>5} {'peak':>6} {'peak/cap':>8} {'s':>6}  plan")
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            for precision in args.precision:
                for artworks in args.artworks:
                    for cap in args.caps:
                        started = time.perf_counter()
                        process = subprocess.Popen(
                            command(size, precision, cap, artworks, scratch), stderr=subprocess.PIPE, text=True
                        )
                        _, status, usage = os.wait4(process.pid, 0)
                        seconds, peak = time.perf_counter() - started, usage.ru_maxrss * 1024 / GIB
                        lines = process.stderr.read().strip().splitlines()
                        tiled = (m.group(1) for line in lines if (m := re.search(r": (\d+x\d+ px in .*)", line)))
                        plan = next(tiled, "whole")
                        note = plan if status == 0 else f"failed: {lines[-1] if lines else status}"
                        print(
                            f"{size:>5} {precision:>9} {artworks:>8} {cap:>5} {peak:>6.2f} {peak / cap:>8.0%} "
                            f"{seconds:>6.0f}  {note}",
                            flush=True,
                        )
        too_big = ["--size", str(args.too_big), "--max-memory", str(args.too_big_cap)]
        style = ["--style", str(STYLES[0]), "--quiet", "--output", f"{scratch}/big.png"]
        result = subprocess.run(
            [sys.executable, "-m", "nst_core", "stylize", str(PHOTO), *style, *too_big], capture_output=True, text=True
        )
        print(f"{' '.join(too_big)}: exit {result.returncode}: {result.stderr.strip()}")


if __name__ == "__main__":
    main()
