"""A style target met (issue 36): the demo's 4 photos in the manner of The Scream at 128 px,
default schedule, once as they are and once with `style_target` (default 6); per image its
style ratio on the yardstick, content distance, the style weight it ended with, its final-scale
steps and its flags; and a contact sheet, each photo's image without the target above the one
with it (--sheet).

    python benchmarks/style_target.py [--size 128] [--target 6] [--sheet docs/images/style-target.jpg]
"""

import argparse
import tempfile
import time
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "demo"
PHOTOS = ("astronaut", "chelsea", "coffee", "tubingen")


def run(settings, folder: Path) -> tuple[float, dict]:
    """Seconds, and {photo: (image path, Stylized)}."""
    from nst_core.core.reporter import QUIET
    from nst_core.running.jobs import stylize_file

    started, made = time.perf_counter(), {}
    for photo in PHOTOS:
        output = folder / f"{photo}.png"
        styles = (str(DEMO / "styles" / "the_scream.jpg"),)
        made[photo] = (
            output,
            stylize_file(str(DEMO / "photos" / f"{photo}.jpg"), str(output), settings, styles, reporter=QUIET),
        )
    return time.perf_counter() - started, made


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--target", type=float, default=6.0)
    parser.add_argument("--sheet", help="write the before/after contact sheet here")
    args = parser.parse_args()

    from nst_core import preset
    from nst_core.files.image_files import save_picture
    from nst_core.outputs.quality import Thresholds, image_flags, style_ratio
    from nst_core.outputs.sheet import make_sheet

    base = preset("default", size=args.size)
    with tempfile.TemporaryDirectory() as scratch:
        runs = {}
        for target in (None, args.target):
            folder = Path(scratch) / str(target)
            folder.mkdir()
            runs[target] = run(base.replace(style_target=target), folder)
        print(f"# The Scream, {args.size} px, default settings ({base.precision})")
        print("| photo | style target | style ratio | content | style weight | steps | flags | seconds |")
        print("|---|---|---|---|---|---|---|---|")
        for photo in PHOTOS:
            for target, (_, made) in runs.items():
                stylized = made[photo][1]
                measured = {**stylized.measured, "style_target": target}
                flags = ",".join(image_flags(measured, Thresholds())) or "-"
                print(
                    f"| {photo} | {target or 'none'} | {style_ratio(measured):.2f} | {measured['content']:.3f} "
                    f"| {stylized.style_weight:g} | {stylized.steps} | {flags} | {stylized.seconds:.0f} |"
                )
        for target, (seconds, _) in runs.items():
            print(f"# {target or 'no target'}: {seconds:.0f} s for {len(PHOTOS)} images")
        if args.sheet:
            paths = [str(runs[target][1][photo][0]) for target in runs for photo in PHOTOS]
            labels = [
                f"{photo}, {'target ' + str(target) if target else 'no target'}" for target in runs for photo in PHOTOS
            ]
            save_picture(make_sheet(paths, columns=len(PHOTOS), labels=labels), args.sheet)


if __name__ == "__main__":
    main()
