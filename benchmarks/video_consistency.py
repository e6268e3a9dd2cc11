"""Temporal consistency of stylized video (issue 37): a stretch of the demo video stylized in
each artwork's style as the pipeline does it (each frame from its predecessor's warped result,
with the temporal loss) and as independent photos (each frame the whole schedule from the
frame itself, same settings), side by side.

Printed per method: the warping error (nst_core/video/measure.py: Lai et al., ECCV 2018, with
Farneback's flow, not the DIS flow the method follows), each frame's style and content scores on
the `nst score` yardstick (means), and seconds per frame.

    python benchmarks/video_consistency.py [--size 128] [--first 30] [--frames 24]
        [--artworks starry_night the_scream] [--set NAME=VALUE ...] [--reuse DIR]

--reuse DIR keeps the independent frames there and reads them next time (they are slow, and
do not depend on the temporal settings).
"""

import argparse
import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
VIDEO = HERE.parent / "shared" / "data" / "video" / "bigbuckbunny.mp4"
STYLES = HERE / "demo" / "styles"
VIDEO_SETTINGS = ("temporal_weight", "frame_iterations", "segment_frames")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--first", type=int, default=30, help="first frame (the motion peaks at 38-42)")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--artworks", nargs="+", default=["starry_night", "the_scream"])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a setting")
    parser.add_argument("--reuse", metavar="DIR", help="keep the independent frames here, and reuse them")
    args = parser.parse_args()

    import torch

    from nst_core import StyleTransfer, preset
    from nst_core.core.objective import ImageWeights
    from nst_core.core.reporter import QUIET
    from nst_core.core.scoring import Yardstick
    from nst_core.files.tensors import SourceImage, load_image, pil_to_tensor, save_image
    from nst_core.video.measure import warping_error
    from nst_core.video.sequence import stylize_frames
    from nst_core.video.video_files import frames, scan

    overrides = {}
    for item in args.set:
        name, value = item.split("=", 1)
        overrides[name] = json.loads(value)
    video = scan(str(VIDEO))
    size = video.frame_size(args.size)
    settings = preset("default", size=max(size), **overrides)
    transfer = StyleTransfer(settings)
    targets = [transfer.make_targets([str(STYLES / f"{name}.jpg")]) for name in args.artworks]
    weights = ImageWeights.of([settings] * len(targets))
    images = list(frames(video, size, args.first, args.frames))
    indexed = list(enumerate(images, start=args.first))

    started = time.perf_counter()
    ours = [made for _, made in stylize_frames(transfer, indexed, targets, weights, "bbb", reporter=QUIET)]
    ours_seconds = time.perf_counter() - started

    # the independent frames depend on every setting given but a video's own
    theirs = sorted(f"{name}={value}" for name, value in overrides.items() if name not in VIDEO_SETTINGS)
    key = "-".join([str(args.size), str(args.first), str(args.frames), *args.artworks, settings.precision, *theirs])
    cache = Path(args.reuse) / key if args.reuse else None
    independent, alone_seconds = [], None
    if cache and (cache / "seconds.json").exists():
        alone_seconds = json.loads((cache / "seconds.json").read_text())
        for t in range(len(images)):
            independent.append([load_image(str(cache / f"{t}-{b}.png")) for b in range(len(targets))])
    else:
        started = time.perf_counter()
        for index, image in indexed:
            frame = SourceImage(f"bbb frame {index}", image, "")
            independent.append(transfer.stylize_batch(frame, targets, weights, reporter=QUIET))
        alone_seconds = time.perf_counter() - started
        if cache:
            cache.mkdir(parents=True, exist_ok=True)
            for t, made in enumerate(independent):
                for b, result in enumerate(made):
                    save_image(result, str(cache / f"{t}-{b}.png"))
            (cache / "seconds.json").write_text(json.dumps(alone_seconds))

    sticks = [Yardstick(pil_to_tensor(image)) for image in images]
    print(
        f"# {VIDEO.name} frames {args.first}-{args.first + args.frames - 1} at {size[0]}x{size[1]}, "
        f"{transfer.settings.precision}, temporal_weight {settings.temporal_weight:g}, "
        f"frame_iterations {settings.frame_iterations}, {torch.get_num_threads()} threads"
    )
    print("| artwork | method | warping error | style (mean) | content (mean) | s/frame (all artworks) |")
    print("|---|---|---|---|---|---|")
    for b, name in enumerate(args.artworks):
        for method, made, seconds in (("ours", ours, ours_seconds), ("independent", independent, alone_seconds)):
            stylized = [(frame[b].float() * 255).round() / 255 for frame in made]  # as the file holds it
            scores = [stick.measure(image, targets[b].score_grams) for stick, image in zip(sticks, stylized)]
            style = sum(s["style"] for s in scores) / len(scores)
            content = sum(s["content"] for s in scores) / len(scores)
            print(
                f"| {name} | {method} | {warping_error(images, stylized):.5f} | {style:.4f} | {content:.4f} "
                f"| {seconds / len(images):.2f} |"
            )


if __name__ == "__main__":
    main()
