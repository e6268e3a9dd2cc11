"""Peak memory of `nst stylize` at 512, 1024 and 2048 px, and what a size that does not fit says.

Each size runs the real command (default preset, one scale, 1 iteration) in its own process;
the peak is that process's maximum resident set. The estimate is nst_core.memory's, which
checks a size before optimising. Then a size too big for this machine shows its message.

    python benchmarks/peak_memory.py [--sizes 512 1024 2048] [--precision fp32 bf16] [--too-big 8192] [--max-memory 8]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PHOTO = HERE / "demo" / "photos" / "tubingen.jpg"
STYLE = HERE / "demo" / "styles" / "starry_night.jpg"


def nst(*args) -> list[str]:
    return [sys.executable, "-m", "nst_core", "stylize", str(PHOTO), "--style", str(STYLE), "--quiet", *args]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--too-big", type=int, default=8192)
    parser.add_argument("--max-memory", type=float, default=8, help="GiB the --too-big run may use")
    args = parser.parse_args()

    import torch

    from nst_core import StyleTransfer, load_source, preset
    from nst_core.image_files import fit_long_side
    from nst_core.memory import GIB, available_bytes, estimate_bytes

    photo = load_source(str(PHOTO))
    cpu = torch.device("cpu")
    print(f"# {PHOTO.name}, {os.cpu_count()} cores, {available_bytes(cpu) / GIB:.1f} GiB available")
    print(f"{'size':>6} {'pixels':>11} {'precision':>9} {'peak (GiB)':>11} {'estimate':>9} {'seconds':>8}")
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            width, height = fit_long_side(photo.image.size, size)
            for precision in args.precision:
                transfer = StyleTransfer(preset("default", size=size, min_size=None, precision=precision))
                # one iteration: one L-BFGS pair at most
                estimate = estimate_bytes(transfer.extractor, transfer.settings, width, height, cpu, None, 1)
                started = time.perf_counter()
                process = subprocess.Popen(
                    nst(
                        "--size",
                        str(size),
                        "--min-size",
                        "none",
                        "--iterations",
                        "1",
                        "--precision",
                        precision,
                        "--output",
                        f"{scratch}/out.png",
                    ),
                    stderr=subprocess.PIPE,
                )
                _, status, usage = os.wait4(process.pid, 0)
                seconds = time.perf_counter() - started
                peak = usage.ru_maxrss * 1024
                note = "" if status == 0 else f"  failed: {process.stderr.read().decode().strip()}"
                print(
                    f"{size:>6} {f'{width}x{height}':>11} {precision:>9} {peak / GIB:>11.2f} {estimate / GIB:>9.2f} "
                    f"{seconds:>8.1f}{note}"
                )
        # under a budget, as on a shared machine: with enough memory it would run, by tiles, for an hour
        too_big = ["--size", str(args.too_big), "--max-memory", str(args.max_memory)]
        result = subprocess.run(nst(*too_big, "--output", f"{scratch}/big.png"), capture_output=True, text=True)
        print(f"{' '.join(too_big)}: exit {result.returncode}: {result.stderr.strip()}")


if __name__ == "__main__":
    main()
