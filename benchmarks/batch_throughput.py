"""Images per hour of one photo's artworks optimised together (K at once) against one at a time,
with each batch's peak memory against the plan's estimate; on CUDA also the GPU's busy fraction.

Each (size, K) runs in its own process on a CPU (so each peak is its own; on a GPU all in one,
the allocator's peak reset between them): the default preset at that
size (coarse-to-fine from 128 px), --iterations at the final scale, one photo and K artworks
(the demo's paintings, in turn). Seconds are the optimisation's, after the targets are made.

    python benchmarks/batch_throughput.py                      # CPU: K = 1 2 4 at 128 and 256 px
    python benchmarks/batch_throughput.py --device cuda        # K = 1 2 4 8 at 512 and 1024 px,
                                                               # and one 512 px default image
    python benchmarks/batch_throughput.py --shared             # one L-BFGS over the summed loss
    python benchmarks/batch_throughput.py --job                # the photo job's command: 1 photo x 4
                                                               # artworks at 64 px, --batch auto and 1
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PHOTO = HERE / "demo" / "photos" / "tubingen.jpg"
STYLES = sorted((HERE / "demo" / "styles").glob("*.jpg"))
DEFAULTS = {"cpu": ([128, 256], [1, 2, 4]), "cuda": ([512, 1024], [1, 2, 4, 8])}


def _settings(args, size):
    from nst_core import preset

    return preset("default", size=size, iterations=args.iterations, device=args.device, precision=args.precision)


def one(args) -> dict:
    """One batch of K images at one size, in this process: seconds, peak and estimate."""
    import torch

    from nst_core import StyleTransfer, load_source
    from nst_core.core import memory
    from nst_core.core.reporter import QUIET

    (k,) = args.k
    transfer = StyleTransfer(_settings(args, args.size))
    photo = load_source(str(PHOTO))
    targets = [transfer.make_targets([STYLES[i % len(STYLES)]]) for i in range(k)]
    plans = transfer.plan(photo, k)
    estimate = max(plan.needed for plan in plans)
    device = transfer.device
    memory.reset_peak(device)
    profile = None
    started = time.perf_counter()
    if device.type == "cuda":
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CUDA]) as profile:
            results = transfer.stylize_batch(photo, targets, reporter=QUIET, plans=plans)
            torch.cuda.synchronize(device)
    else:
        results = transfer.stylize_batch(photo, targets, reporter=QUIET, plans=plans)
    seconds = time.perf_counter() - started
    failed = [str(r) for r in results if not isinstance(r, torch.Tensor)]
    row = {"size": args.size, "k": k, "seconds": seconds, "peak": memory.peak_bytes(device)}
    row.update(estimate=estimate, failed=failed, precision=transfer.settings.precision)
    if profile is not None:  # kernel time on the GPU against wall time
        busy = sum(event.self_device_time_total for event in profile.key_averages()) / 1e6
        row["busy"] = busy / seconds
    return row


def shared(args) -> None:
    """Four artworks at one scale: each image's own L-BFGS (ours) against one torch L-BFGS over
    the batch's summed loss (each image's loss divided by its first), K = 4, fp32."""
    import torch

    from nst_core import StyleTransfer, load_source, preset
    from nst_core.core.objective import ImageWeights, Objective, tiled_features
    from nst_core.core.reporter import QUIET

    s = preset("default", size=args.size, min_size=None, iterations=args.iterations, precision="fp32", device="cpu")
    transfer = StyleTransfer(s)
    photo = load_source(str(PHOTO))
    targets = [transfer.make_targets([STYLES[k % len(STYLES)]]) for k in range(4)]
    own = torch.cat(transfer.stylize_batch(photo, targets, reporter=QUIET))
    content = photo.tensor(s.size)
    features = tiled_features(transfer.extractor, content, s.content_layers, None, s.precision)
    grams = {layer: torch.stack([t.grams[s.size][layer] for t in targets]) for layer in s.style_layers}
    objective = Objective(transfer.extractor, s, features, grams, ImageWeights.of([s] * 4))
    image = content.repeat(4, 1, 1, 1).requires_grad_(True)
    optimizer = torch.optim.LBFGS(
        [image], lr=1, max_iter=1, history_size=s.lbfgs_history, tolerance_grad=-1, tolerance_change=-1
    )
    first = []

    def closure():
        optimizer.zero_grad(set_to_none=True)
        return objective.backward(image, lambda losses: first.append(1 / losses) or first[0]).sum()

    for _ in range(s.iterations):
        optimizer.step(closure)
    with torch.no_grad():
        ours, summed = objective.loss(own), objective.loss(image.clamp(0, 1))
    print(f"# {PHOTO.name} x {len(targets)} artworks, {s.size} px, {s.iterations} L-BFGS steps, fp32, one scale")
    print(f"{'artwork':>8} {'own L-BFGS loss':>16} {'shared L-BFGS loss':>19} {'ratio':>6} {'max |dpixel|':>13}")
    for k in range(4):
        gap = float((own[k] - image[k].detach().clamp(0, 1)).abs().max())
        ratio = float(summed[k] / ours[k])
        print(f"{k:>8} {float(ours[k]):>16.4g} {float(summed[k]):>19.4g} {ratio:>6.2f} {gap:>13.3f}")


def job(args) -> None:
    """The real command of a photo job (in a fresh process each time), 1 photo x 4 artworks, with
    the default batch and with one artwork at a time, in turn: each one's times, and the median."""
    import statistics
    import tempfile

    times = {"auto": [], "1": []}
    with tempfile.TemporaryDirectory() as scratch:
        settings = {"size": args.size, "device": args.device, "precision": args.precision}
        artworks = [{"styles": [str(STYLES[k % len(STYLES)])], "output": f"{scratch}/{k}.png"} for k in range(4)]
        for batch in times:  # a job file each (nst_core/running/job.py), as the pipeline's photo jobs
            spec = {"photo": str(PHOTO), "settings": settings, "artworks": artworks, "batch": batch}
            Path(scratch, f"batch-{batch}.job").write_text(json.dumps(spec))
        for _ in range(args.repeat):
            for batch in times:
                started = time.perf_counter()
                job = str(Path(scratch, f"batch-{batch}.job"))
                subprocess.run([sys.executable, "-m", "nst_core", "stylize", "--job", job, "--quiet"], check=True)
                times[batch].append(time.perf_counter() - started)
    print(f"# {PHOTO.name} x 4 artworks, {args.size} px, default preset, nst stylize in a fresh process each time")
    for batch, seconds in times.items():
        each = " ".join(f"{s:.1f}" for s in seconds)
        print(f"--batch {batch:<4}  median {statistics.median(seconds):.1f} s  ({each})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--k", type=int, nargs="+", help="batch sizes")
    parser.add_argument("--iterations", type=int, default=100, help="steps at the final scale (default 100)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--shared", action="store_true", help="compare one L-BFGS over the summed loss")
    parser.add_argument("--job", action="store_true", help="time the photo job's command, --batch auto and 1")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, with --job (default 3)")
    parser.add_argument("--size", type=int, default=128, help=argparse.SUPPRESS)  # of --one and --shared
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.shared:
        return shared(args)
    if args.job:
        return job(args)
    if args.one:
        return print(json.dumps(one(args)))
    kind = "cuda" if args.device.startswith("cuda") else "cpu"
    sizes, batches = args.sizes or DEFAULTS[kind][0], args.k or DEFAULTS[kind][1]
    print(f"# {PHOTO.name}, default preset, {args.iterations} final steps, {args.device}, {os.cpu_count()} cores")
    header = f"{'size':>5} {'K':>3} {'seconds':>8} {'images/hour':>12} {'peak GiB':>9} {'estimate':>9} {'fits':>5}"
    print(header + (f" {'GPU busy':>9}" if kind == "cuda" else ""))
    rows = [(size, k) for size in sizes for k in batches]
    if kind == "cuda":
        rows.insert(len(batches), (512, 0))  # one default image (200 final steps), before 1024 px
    for size, k in rows:
        iterations = args.iterations if k else 200
        if kind == "cuda":  # one process: the allocator's peak resets per row, and a GPU process
            # takes ~25 s to start (an H200, seen), more than most rows
            one_row = argparse.Namespace(**{**vars(args), "size": size, "k": [max(k, 1)], "iterations": iterations})
            row = one(one_row)
        else:  # a process each: a process's resident peak never goes down
            command = [sys.executable, __file__, "--one", "--size", str(size), "--k", str(max(k, 1))]
            command += ["--device", args.device, "--precision", args.precision, "--iterations", str(iterations)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                print(f"{size:>5} {k:>3} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            row = json.loads(done.stdout.splitlines()[-1])
        if not k:
            print(f"# one 512 px default image (200 final steps): {row['seconds']:.1f} s")
            continue
        peak, estimate = (row["peak"] or 0) / 2**30, row["estimate"] / 2**30
        per_hour = 3600 * row["k"] / row["seconds"]
        line = f"{size:>5} {k:>3} {row['seconds']:>8.1f} {per_hour:>12.0f} {peak:>9.2f} {estimate:>9.2f}"
        line += f" {'yes' if peak <= estimate else 'NO':>5}" + (f" {row['busy']:>9.0%}" if "busy" in row else "")
        print(line + (f"  failed: {row['failed']}" if row["failed"] else ""), flush=True)


if __name__ == "__main__":
    main()
