"""Stylizing beyond memory by tiles: peak memory under a real memory limit, and seconds per
iteration tiled against whole, from 1024 px up.

Each size runs in its own process. Tiled: the process is put in a memory cgroup of --cap GiB
(the kernel kills it if it goes over) and plans by itself from that limit, for a run of
--planned-iterations at the final scale; it holds that plan's whole L-BFGS history from the start
(the pairs the few timed steps have not made yet are allocated and touched beforehand), so its
peak is that of the whole run. Whole: the same without a limit, where the machine has the memory.
Seconds per iteration are the mean of the optimiser steps after the first (fp32, one scale).

    python benchmarks/tiles.py [--sizes 1024 1536 2048] [--cap 2.5] [--steps 3]
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PHOTO = HERE / "demo" / "photos" / "tubingen.jpg"
STYLE = HERE / "demo" / "styles" / "starry_night.jpg"
CGROUP_V1 = Path("/sys/fs/cgroup/memory")


def child(size: int, steps: int, planned: int) -> None:
    """One run, printed as a JSON line: the plan, the estimate, seconds per step, the peak."""
    import torch

    from nst_core import StyleTransfer, load_source, preset
    from nst_core.core import memory
    from nst_core.core.memory import GIB, image_bytes
    from nst_core.core.reporter import Reporter

    settings = preset("default", size=size, min_size=None, iterations=planned, precision="fp32", device="cpu")
    transfer = StyleTransfer(settings)
    photo = load_source(str(PHOTO))
    plans = transfer.plan(photo)
    plan = plans[-1]
    # The planned run's L-BFGS history, less the pairs the timed steps make: held from the start.
    ballast = [torch.ones(image_bytes(plan.width, plan.height) // 4) for _ in range(2 * max(0, plan.history - steps))]
    times = []

    class Steps(Reporter):
        def step(self, scale, step, image):
            times.append(time.perf_counter())

    transfer.settings = transfer.settings.replace(iterations=steps)  # the plans stay the planned run's
    targets = transfer.make_targets([str(STYLE)])
    started = time.perf_counter()
    transfer.stylize(photo, targets, Steps(bar=False), plans=plans)
    per_step = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else times[0] - started
    print(
        json.dumps(
            {
                "plan": plan.describe(),
                "tiled": plan.tile_size is not None,
                "estimate_gib": plan.needed / GIB,
                "budget_gib": (memory.budget_bytes(settings, transfer.device) or 0) / GIB,
                "seconds_per_step": per_step,
                "peak_gib": memory.peak_bytes(transfer.device) / GIB,
                "ballast_pairs": len(ballast) // 2,
            }
        ),
        flush=True,
    )


def limited(cap_gib: float, name: str) -> tuple[list[str], Path]:
    """A new memory cgroup of cap_gib (v1 or v2), and a shell prefix putting a command in it."""
    limit = int(cap_gib * 2**30)
    for folder, limit_file in (
        (CGROUP_V1 / name, "memory.limit_in_bytes"),
        (Path("/sys/fs/cgroup") / name, "memory.max"),
    ):
        try:
            folder.mkdir(exist_ok=True)
            (folder / limit_file).write_text(str(limit))
            return ["sh", "-c", f'echo $$ > "{folder}/cgroup.procs" && exec "$@"', "sh"], folder
        except OSError:
            continue
    sys.exit("cannot make a memory cgroup here (needs root and a writable /sys/fs/cgroup)")


def run(size: int, steps: int, planned: int, cap: float | None) -> dict:
    command = [sys.executable, __file__, "--child", str(size), str(steps), str(planned)]
    prefix, folder = limited(cap, f"nst-bench-{os.getpid()}") if cap is not None else ([], None)
    result = subprocess.run([*prefix, *command], capture_output=True, text=True)
    if folder is not None:
        with contextlib.suppress(OSError):
            folder.rmdir()
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode or not lines:
        return {"error": f"exit {result.returncode}: {(result.stderr.strip().splitlines() or ['killed'])[-1]}"}
    return json.loads(lines[-1])


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        size, steps, planned = sys.argv[2:]
        child(int(size), int(steps), int(planned))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 1536, 2048])
    parser.add_argument("--cap", type=float, default=2.5, help="GiB of the tiled runs' memory cgroup")
    parser.add_argument("--steps", type=int, default=3, help="optimiser steps timed (the first is not counted)")
    parser.add_argument("--planned-iterations", type=int, default=200, help="the run whose memory is planned")
    parser.add_argument("--whole-up-to", type=int, default=2048, help="largest size also run whole")
    args = parser.parse_args()
    print(f"# {PHOTO.name}, fp32, {os.cpu_count()} cores, tiled runs in a {args.cap} GiB memory cgroup")
    print(f"{'size':>5}  {'tiled: plan':<58} {'peak/estimate (GiB)':>19} {'s/it':>6}   {'whole: peak':>11} {'s/it':>6}")
    for size in args.sizes:
        tiled = run(size, args.steps, args.planned_iterations, args.cap)
        whole = run(size, args.steps, args.steps, None) if size <= args.whole_up_to else {}
        if "error" in tiled:
            left = f"{tiled['error']:<58} {'':>19} {'':>6}"
        else:
            memory = f"{tiled['peak_gib']:.2f} / {tiled['estimate_gib']:.2f}"
            left = f"{tiled['plan']:<58} {memory:>19} {tiled['seconds_per_step']:6.1f}"
        right = "" if not whole else whole.get("error") or f"{whole['peak_gib']:11.2f} {whole['seconds_per_step']:6.1f}"
        if whole.get("tiled"):
            right += f" ({whole['plan']})"
        print(f"{size:>5}  {left}   {right}", flush=True)


if __name__ == "__main__":
    main()
