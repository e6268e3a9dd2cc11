"""Side by side with pastiche, the peer that uses the same Oxford VGG-19 weights (issue 6).

Same photo and painting (Tubingen x The Starry Night), same size (384 px long side):
pastiche for 100 L-BFGS steps, and our default preset. Each runs as its own process, from the
command line's start to its exit; peak memory is that process's maximum resident set. Both
outputs are scored with `nst score` (lower is closer). Our run also saves a snapshot every few
steps (the time spent saving is subtracted): the time to reach pastiche's final style score,
with a content score at least as good, is that of the first such snapshot (coarse-scale
snapshots are scored as the 384 px image they would give if the run stopped there).

    python benchmarks/compare_peers.py [--size 384] [--steps 100] [--every 5] [--set precision=bf16 ...]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
SHARED = HERE.parent / "shared" / "data" / "images"
PHOTO = next(p for p in [SHARED / "content" / "tubingen.jpg", HERE / "demo" / "photos" / "tubingen.jpg"] if p.exists())
STYLE = next(
    p for p in [SHARED / "style" / "starry_night.jpg", HERE / "demo" / "styles" / "starry_night.jpg"] if p.exists()
)


def measured(argv: list[str], log: Path) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one command."""
    with open(log, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    if status != 0:
        sys.exit(f"{argv[0]} failed; see its output:\n{log.read_text()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def trace(folder: str, size: int, every: int, overrides: dict, started: float) -> None:
    """Child process: our default preset, saving snapshots; prints their times as JSON."""
    import torch.nn.functional as F

    from nst_core import StyleTransfer, load_source, preset
    from nst_core.core.reporter import Reporter
    from nst_core.files.image_files import fit_long_side
    from nst_core.files.tensors import save_image

    settings = preset("default", size=size, **overrides)
    photo = load_source(str(PHOTO))
    transfer = StyleTransfer(settings)
    targets = transfer.make_targets([str(STYLE)])
    width, height = fit_long_side(photo.image.size, size)
    overhead, snapshots = 0.0, []
    budgets = dict(settings.schedule())  # {scale: its steps}

    class Snapshots(Reporter):
        def step(self, scale, step, image):
            nonlocal overhead
            if step % every and step != budgets[scale]:
                return
            now = time.time()
            path = f"{folder}/snapshot-{len(snapshots):04d}.png"
            image = F.interpolate(image.float(), size=(height, width), mode="bicubic", align_corners=False).clamp(0, 1)
            save_image(image.cpu(), path)
            snapshots.append({"seconds": now - started - overhead, "scale": scale, "step": step, "path": path})
            overhead += time.time() - now

    result = transfer.stylize(photo, targets, Snapshots(bar=False))
    save_image(result, f"{folder}/ours.png")
    print(json.dumps({"snapshots": snapshots, "overhead": overhead}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--steps", type=int, default=100, help="pastiche's L-BFGS steps")
    parser.add_argument("--every", type=int, default=5, help="our snapshot interval, in steps")
    parser.add_argument("--print-every", type=int, default=4, help="print every Nth snapshot's scores")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a setting of ours")
    parser.add_argument("--reuse-peer", metavar="FOLDER", help="keep pastiche's run here and reuse it next time")
    parser.add_argument("--keep", help="copy both outputs into this folder")
    parser.add_argument("--trace", nargs=2, help=argparse.SUPPRESS)  # internal: FOLDER START_TIME
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        name, value = item.split("=", 1)
        overrides[name] = json.loads(value) if value[:1].isdigit() or value in ("null", "true", "false") else value
    if args.trace:
        trace(args.trace[0], args.size, args.every, overrides, float(args.trace[1]))
        return

    from nst_core.core.scoring import score

    pastiche = shutil.which("pastiche") or sys.exit("pastiche is not installed: pip install pastiche")
    print(f"# {PHOTO.name} x {STYLE.name}, {args.size} px long side, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        peer_output = folder / "pastiche.png"
        cached = Path(args.reuse_peer or folder) / "pastiche.json"
        if args.reuse_peer and cached.exists():  # while trying settings of ours: pastiche is slow
            peer_seconds, peer_mb = json.loads(cached.read_text())
            shutil.copy(cached.with_suffix(".png"), peer_output)
        else:
            peer_seconds, peer_mb = measured(
                [
                    pastiche,
                    "--device",
                    "cpu",
                    "--optimizer",
                    "lbfgs",
                    "--num-steps",
                    str(args.steps),
                    "--size",
                    str(args.size),
                    "--seed",
                    "0",
                    "--content",
                    str(PHOTO),
                    "--styles",
                    str(STYLE),
                    "--output",
                    str(peer_output),
                ],
                folder / "pastiche.log",
            )
            if args.reuse_peer:
                Path(args.reuse_peer).mkdir(parents=True, exist_ok=True)
                cached.write_text(json.dumps([peer_seconds, peer_mb]))
                shutil.copy(peer_output, cached.with_suffix(".png"))
        log = folder / "ours.log"
        ours_seconds, ours_mb = measured(
            [
                sys.executable,
                __file__,
                "--size",
                str(args.size),
                "--every",
                str(args.every),
                *sum([["--set", s] for s in args.set], []),
                "--trace",
                scratch,
                repr(time.time()),
            ],
            log,
        )
        report = json.loads(log.read_text().strip().splitlines()[-1])
        ours_seconds -= report["overhead"]
        peer_score = score(str(peer_output), str(PHOTO), str(STYLE))
        ours_score = score(str(folder / "ours.png"), str(PHOTO), str(STYLE))
        settings = ", ".join(args.set) or "as shipped"
        print(f"{'':<28} {'pastiche':>12} {'nst default':>12}")
        print(f"{'settings':<28} {f'{args.steps} L-BFGS':>12} {settings:>12}")
        print(f"{'wall time (s)':<28} {peer_seconds:>12.1f} {ours_seconds:>12.1f}")
        print(f"{'peak memory (MB)':<28} {peer_mb:>12.0f} {ours_mb:>12.0f}")
        print(f"{'style score (lower=closer)':<28} {peer_score['style']:>12.3f} {ours_score['style']:>12.3f}")
        print(f"{'content score':<28} {peer_score['content']:>12.3f} {ours_score['content']:>12.3f}")
        reached = None
        print("our progress (snapshot: seconds, scale px, step, style, content):", end="")
        for index, snap in enumerate(report["snapshots"]):
            snap_score = score(snap["path"], str(PHOTO), str(STYLE))
            if index % args.print_every == 0:
                print(
                    f"\n  {snap['seconds']:6.1f} s {snap['scale']:4d} px {snap['step']:4d}"
                    f"  {snap_score['style']:.3f} {snap_score['content']:.3f}",
                    end="",
                )
            better = snap_score["style"] <= peer_score["style"] and snap_score["content"] <= peer_score["content"]
            if better and not reached:
                reached = snap, snap_score
        print()
        if reached:
            snap, snap_score = reached
            print(
                f"ours reaches pastiche's scores after {snap['seconds']:.1f} s "
                f"({snap['scale']} px scale, step {snap['step']}: style {snap_score['style']:.3f}, "
                f"content {snap_score['content']:.3f}), {peer_seconds / snap['seconds']:.1f}x faster than pastiche"
            )
        else:
            print("ours does not reach pastiche's style score with as good a content score in this run")
        if args.keep:
            Path(args.keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(peer_output, Path(args.keep) / "pastiche.png")
            shutil.copy(folder / "ours.png", Path(args.keep) / "ours.png")
            if reached:
                shutil.copy(reached[0]["path"], Path(args.keep) / "ours_at_pastiche_quality.png")


if __name__ == "__main__":
    main()
