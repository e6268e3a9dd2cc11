"""The style-content knob on one photo and painting: stylize at each style weight (or content
weight) and print `nst score` for each, so one sees how the result moves with it.

    python benchmarks/style_knob.py [--photo tubingen] [--painting starry_night] [--size 256]
        [--knob style_weight] [--weights 0.05,0.2,0.5,1,2,5,20] [--keep DIR]

--keep DIR keeps the images (DIR/{knob}_{weight}.png) and a contact sheet of them (DIR/knob.jpg).
"""

import argparse
import tempfile
import time
from pathlib import Path

from nst_core import preset, save_image, score, stylize_file
from nst_core.outputs.sheet import make_sheet

DEMO = Path(__file__).resolve().parent.parent / "demo"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", default="tubingen")
    parser.add_argument("--painting", default="starry_night")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--knob", default="style_weight", choices=["style_weight", "content_weight"])
    parser.add_argument("--weights", default="0.05,0.2,0.5,1,2,5,20")
    parser.add_argument("--keep", type=Path, help="keep the images and a contact sheet of them here")
    args = parser.parse_args()
    photo, painting = DEMO / "photos" / f"{args.photo}.jpg", DEMO / "styles" / f"{args.painting}.jpg"
    weights = [float(w) for w in args.weights.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{args.photo} x {args.painting}, preset {args.preset} at {args.size} px, {args.knob}:")
        print(f"| {args.knob} | style | content | seconds |\n|---|---|---|---|")
        images = []
        for weight in weights:
            out = folder / f"{args.knob}_{weight:g}.png"
            started = time.perf_counter()
            settings = preset(args.preset, size=args.size, **{args.knob: weight})
            stylize_file(str(photo), str(out), settings, styles=[str(painting)])
            seconds = time.perf_counter() - started
            scores = score(str(out), str(photo), str(painting))
            print(f"| {weight:g} | {scores['style']:.3f} | {scores['content']:.3f} | {seconds:.0f} |", flush=True)
            images.append(out)
        if args.keep:
            labels = [f"{args.knob} {weight:g}" for weight in weights]
            sheet = make_sheet([str(image) for image in images], columns=len(images), labels=labels)
            save_image(sheet, str(folder / "knob.jpg"))
            print(f"kept in {folder}")


if __name__ == "__main__":
    main()
