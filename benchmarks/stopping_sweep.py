"""Stop when done, many tolerances from one run (issue 36): the demo's photos x artworks, each
photo's job as the pipeline runs it, every image taking every step; at each of the host's reads
at the final scale (every 10 steps) each image's best loss and its best image are kept, and each
kept image is scored on the yardstick. A stop rule then picks, per image, the read it would stop
at: on a CPU each image is optimised on its own, so what it holds at that read is the image its
stopped run would give (tests/test_batch.py holds this to the bit). Prints, per tolerance, the
mean steps, the worst score changes against the full schedule and the images per hour estimated
from the run's own seconds per final-scale step; --trace keeps the per-read scores as JSON.

    python benchmarks/stopping_sweep.py [--size 256] [--tolerances 0.003,0.005,0.007,0.01] [--trace FILE]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from nst_core.core.optimize import LOSS_EVERY, STOP_WINDOW

DEMO = Path(__file__).resolve().parent.parent / "demo"
PHOTOS = ("astronaut", "chelsea", "coffee", "tubingen")
ARTWORKS = ("starry_night", "the_scream", "shipwreck", "woman_with_hat")
WINDOW = STOP_WINDOW // LOSS_EVERY  # reads back, as Stopping judges


def trace(settings, photos, folder: Path) -> tuple[dict, dict, float]:
    """({(photo, artwork): [(step, best loss, style, content)] per read}, {photo: (seconds of its
    job, seconds per final-scale step of its batch)}, the whole run's seconds)."""
    from nst_core.core import optimize
    from nst_core.core.reporter import Reporter
    from nst_core.core.scoring import Yardstick, painting_grams
    from nst_core.files.tensors import load_source, load_styles
    from nst_core.running.jobs import Artwork, stylize_photo

    kept = []  # per final scale: [(step, best losses [B], best images [B, 3, h, w])]

    class Kept(optimize.Stopping):  # never stops; keeps what each read sees
        def __init__(self, tolerance):
            super().__init__(tolerance)
            kept.append([])

        def done(self, best, active):
            kept[-1].append((best.loss.clone(), best.image.detach().clone()))
            return torch.zeros_like(active)

    class Clock(Reporter):
        def __init__(self):
            super().__init__(bar=False)
            self.final = []

        def step(self, scale, step, images):
            if scale == settings.size:
                self.final.append(time.perf_counter())

    optimize.Stopping, timing, traces = Kept, {}, {}
    started = time.perf_counter()
    for photo in photos:
        path = str(DEMO / "photos" / f"{photo}.jpg")
        artworks = [
            Artwork(str(folder / f"{photo}-{name}.png"), settings, styles=(str(DEMO / "styles" / f"{name}.jpg"),))
            for name in ARTWORKS
        ]
        clock, begun = Clock(), time.perf_counter()
        made = stylize_photo(path, artworks, clock)
        per_step = (clock.final[-1] - clock.final[0]) / (len(clock.final) - 1)
        timing[photo] = (time.perf_counter() - begun, per_step)
        reads = kept[-1]
        assert reads[0][1].shape[0] == len(ARTWORKS), "the photo's artworks were not one batch"
        source = load_source(path)
        for b, (name, stylized) in enumerate(zip(ARTWORKS, made)):
            assert not stylized.error, stylized.error
            width, height = stylized.size
            yardstick = Yardstick(source.tensor(settings.size))
            grams = painting_grams(load_styles((str(DEMO / "styles" / f"{name}.jpg"),), None), settings.size)
            rows = []
            for number, (losses, images) in enumerate(reads):
                margin = (images.shape[-1] - width) // 2
                image = images[b : b + 1, :, margin : margin + height, margin : margin + width].clamp(0, 1).float()
                scores = yardstick.measure(image, grams)
                rows.append((LOSS_EVERY * (number + 1), float(losses[b]), scores["style"], scores["content"]))
            rows.append((settings.iterations, None, stylized.measured["style"], stylized.measured["content"]))
            traces[photo, name] = rows
    return traces, timing, time.perf_counter() - started


def stop_read(rows, tolerance: float) -> int:
    """The read (index) at which Stopping(tolerance) stops an image; the last if never."""
    for number in range(WINDOW, len(rows) - 1):
        then, now = rows[number - WINDOW][1], rows[number][1]
        if (then - now) / abs(now) < tolerance:
            return number
    return len(rows) - 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--tolerances", default="0.002,0.003,0.005,0.007,0.01")
    parser.add_argument("--photos", type=int, default=4)
    parser.add_argument("--trace", help="write the per-read scores here (JSON)")
    args = parser.parse_args()

    from nst_core import preset

    settings = preset("default", size=args.size)
    with tempfile.TemporaryDirectory() as scratch:
        # any tolerance: it makes the final scale consult Stopping, which Kept answers "not yet"
        traces, timing, seconds = trace(settings.replace(stop_tolerance=1.0), PHOTOS[: args.photos], Path(scratch))
    if args.trace:
        Path(args.trace).write_text(json.dumps({"/".join(key): rows for key, rows in traces.items()}, indent=1))
    images = len(traces)
    full_steps = settings.iterations
    print(f"# {args.size} px, default settings ({settings.precision}), {images} images, full run {seconds:.0f} s")
    print(
        "| stop tolerance | mean steps | est. seconds | images/h | x full | worst style change | worst content change |"
    )
    print("|---|---|---|---|---|---|---|")
    for tolerance in [0.0, *map(float, args.tolerances.split(","))]:
        spent, steps, style, content = seconds, [], [], []
        for (photo, _), rows in traces.items():
            number = stop_read(rows, tolerance) if tolerance else len(rows) - 1
            taken = rows[number][0]
            steps.append(taken)
            spent -= (full_steps - taken) * timing[photo][1] / len(ARTWORKS)  # each image is evaluated alone
            style.append(rows[number][2] / rows[-1][2] - 1)
            content.append(rows[number][3] / rows[-1][3] - 1)
        print(
            f"| {tolerance or 'none (every step)'} | {sum(steps) / images:.0f} | {spent:.0f} "
            f"| {images * 3600 / spent:.0f} | {seconds / spent:.2f} | {100 * max(style):.1f}% "
            f"| {100 * max(content):.1f}% |"
        )


if __name__ == "__main__":
    main()
