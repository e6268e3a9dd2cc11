"""What scoring each image costs a stylize job (issue 26): the job of one photo in the demo's four
artworks' styles, from targets files as the pipeline runs it, with the time spent on the
yardstick (the photo's features once, then each image's) summed apart from the rest.

    python benchmarks/scoring_cost.py [--size 192] [--iterations 30] [--coarse-iterations 15]

Also prints what the targets job pays for the yardstick's Grams of a painting, and what loading
the yardstick's network costs a worker once.
"""

import argparse
import tempfile
import time
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "demo"
ARTWORKS = ("starry_night", "the_scream", "shipwreck", "woman_with_hat")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--coarse-iterations", type=int, default=15)
    parser.add_argument("--photo", default="tubingen")
    args = parser.parse_args()

    from nst_core import preset
    from nst_core.core import scoring
    from nst_core.files.tensors import load_styles
    from nst_core.running import jobs
    from nst_core.running.jobs import Artwork, stylize_photo, targets_file

    settings = preset("default", size=args.size, iterations=args.iterations, coarse_iterations=args.coarse_iterations)
    spent = {"yardstick": 0.0}

    def timed(function):
        def run(*a, **k):
            started = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                spent["yardstick"] += time.perf_counter() - started

        return run

    with tempfile.TemporaryDirectory() as scratch:
        targets = {}
        for name in ARTWORKS:
            targets[name] = f"{scratch}/{name}.pt"
            targets_file([str(DEMO / "styles" / f"{name}.jpg")], targets[name], settings)
        paintings = load_styles([str(DEMO / "styles" / f"{name}.jpg") for name in ARTWORKS])
        started = time.perf_counter()
        for painting in paintings:
            scoring.painting_grams([painting], args.size)
        grams_seconds = (time.perf_counter() - started) / len(paintings)
        # the yardstick's two steps, timed where the job calls them
        jobs.Yardstick.__init__ = timed(jobs.Yardstick.__init__)
        jobs.Yardstick.measure = timed(jobs.Yardstick.measure)
        artworks = [Artwork(f"{scratch}/{name}.png", settings, targets=targets[name], name=name) for name in ARTWORKS]
        started = time.perf_counter()
        done = stylize_photo(str(DEMO / "photos" / f"{args.photo}.jpg"), artworks, record=f"{scratch}/record.tsv")
        job = time.perf_counter() - started
    assert not any(d.error for d in done), [d.error for d in done]
    scoring._scoring_network.cache_clear()
    started = time.perf_counter()
    scoring._scoring_network()
    load = time.perf_counter() - started
    what = f"{len(ARTWORKS)} artworks, {args.size} px, {args.iterations} final steps, {done[0].precision}"
    print(f"# {args.photo} in {what}")
    share = 100 * spent["yardstick"] / job
    print(f"stylize job: {job:.1f} s; scoring its images: {spent['yardstick']:.2f} s ({share:.1f}%)")
    print(f"targets job: the yardstick's Grams of a painting, {grams_seconds:.2f} s")
    print(f"once per worker process: loading the yardstick's network, {load:.2f} s")


if __name__ == "__main__":
    main()
