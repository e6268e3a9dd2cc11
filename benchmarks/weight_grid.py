"""Every style and content weight completes on the demo set (issue 13), and the style knob moves
the result: for each preset, photo and painting, stylize over a grid of weights and report any
run that fails, plus how often nst score moves against the style weight.

    python benchmarks/weight_grid.py [--size 128] [--presets default,paper] [--iterations 40]
"""

import argparse
import itertools
import tempfile
import time
from pathlib import Path

from nst_core import NSTError, preset, score, stylize_file

DEMO = Path(__file__).resolve().parent.parent / "demo"
STYLE_WEIGHTS = (0.05, 0.2, 1, 5, 20)
CONTENT_WEIGHTS = (0.1, 1, 10)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--presets", default="default,paper")
    parser.add_argument("--iterations", type=int, default=40, help="per scale (200 and 500 take long)")
    args = parser.parse_args()
    photos, paintings = sorted((DEMO / "photos").glob("*.jpg")), sorted((DEMO / "styles").glob("*.jpg"))
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.presets.split(","):
            overrides = {"size": args.size, "iterations": args.iterations, "coarse_iterations": args.iterations}
            runs, failures, against, started = 0, [], 0, time.perf_counter()
            for photo, painting in itertools.product(photos, paintings):
                for content_weight in CONTENT_WEIGHTS:
                    styles = []
                    for style_weight in STYLE_WEIGHTS:
                        settings = preset(name, **overrides, style_weight=style_weight, content_weight=content_weight)
                        out = f"{scratch}/out.png"
                        runs += 1
                        try:
                            stylize_file(str(photo), out, settings, styles=[str(painting)])
                        except NSTError as error:
                            failures.append(f"{photo.stem} x {painting.stem} {style_weight}/{content_weight}: {error}")
                            continue
                        styles.append(score(out, str(photo), str(painting))["style"])
                    against += sum(b > a * 1.05 for a, b in zip(styles, styles[1:]))
            seconds = time.perf_counter() - started
            print(
                f"{name} at {args.size} px, {args.iterations} iterations: {runs} runs "
                f"({len(photos)} photos x {len(paintings)} paintings x "
                f"style weights {STYLE_WEIGHTS} x content weights {CONTENT_WEIGHTS}), {seconds:.0f} s"
            )
            print(f"  failed: {len(failures)}")
            for line in failures:
                print(f"    {line}")
            print(f"  style score up by more than 5% from one style weight to the next: {against} times")


if __name__ == "__main__":
    main()
