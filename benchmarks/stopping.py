"""Stop when done (issue 36): the demo's 4 photos x 4 artworks, each photo's job as the pipeline
runs it (its artworks optimised together), once with every image taking every step and once for
each stop tolerance given; per image its steps at the final scale and its yardstick scores, and
per run the images per hour and how far the scores moved from the full schedule's.

    python benchmarks/stopping.py [--size 256] [--tolerances 0.01,0.003] [--photos 4]
"""

import argparse
import tempfile
import time
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "demo"
PHOTOS = ("astronaut", "chelsea", "coffee", "tubingen")
ARTWORKS = ("starry_night", "the_scream", "shipwreck", "woman_with_hat")


def run(settings, photos, folder: Path) -> tuple[float, dict]:
    """Seconds for every photo's job, and {(photo, artwork): (steps, style, content)}."""
    from nst_core.core.reporter import QUIET
    from nst_core.running.jobs import Artwork, stylize_photo

    started, made = time.perf_counter(), {}
    for photo in photos:
        artworks = [
            Artwork(str(folder / f"{photo}-{name}.png"), settings, styles=(str(DEMO / "styles" / f"{name}.jpg"),))
            for name in ARTWORKS
        ]
        for name, stylized in zip(ARTWORKS, stylize_photo(str(DEMO / "photos" / f"{photo}.jpg"), artworks, QUIET)):
            assert not stylized.error, stylized.error
            made[photo, name] = (stylized.steps, stylized.measured["style"], stylized.measured["content"])
    return time.perf_counter() - started, made


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--tolerances", default="0.01,0.003")
    parser.add_argument("--photos", type=int, default=4)
    args = parser.parse_args()

    from nst_core import preset

    photos = PHOTOS[: args.photos]
    base = preset("default", size=args.size)
    runs = {}
    with tempfile.TemporaryDirectory() as scratch:
        for tolerance in [None, *map(float, args.tolerances.split(","))]:
            folder = Path(scratch) / str(tolerance)
            folder.mkdir()
            runs[tolerance] = run(base.replace(stop_tolerance=tolerance), photos, folder)
    seconds, full = runs[None]
    images = len(full)
    print(f"# {args.size} px, default settings ({base.precision}), {len(photos)} photos x {len(ARTWORKS)} artworks")
    print("| stop tolerance | seconds | images/h | x full | mean steps | worst style change | worst content change |")
    print("|---|---|---|---|---|---|---|")
    for tolerance, (spent, made) in runs.items():
        steps = sum(made[key][0] for key in made) / images
        # lower is closer for both: a positive change is a worse image
        style = max(made[key][1] / full[key][1] - 1 for key in made)
        content = max(made[key][2] / full[key][2] - 1 for key in made)
        rate = images * 3600 / spent
        print(
            f"| {tolerance or 'none (every step)'} | {spent:.0f} | {rate:.0f} | {seconds / spent:.2f} | {steps:.0f} "
            f"| {100 * style:.1f}% | {100 * content:.1f}% |"
        )
    for tolerance, (_, made) in runs.items():
        if tolerance is not None:
            print(f"# {tolerance}: " + ", ".join(f"{p}/{a[:6]} {made[p, a][0]}" for p, a in made))


if __name__ == "__main__":
    main()
