"""Seconds per video frame against a photo's job at the same size (issue 37): a stretch of the
demo video in several artworks' styles as the pipeline makes it (the first frame by the whole
coarse-to-fine schedule, the rest from their warped predecessors), and its first frame as a
photo (stylize_batch, the same artworks together), each timed alone in this process.

Printed: seconds for the first frame, the mean of the frames that go on, the photo's, and
images per hour (an image: one frame, or one photo, in one artwork's style) for each.

    python benchmarks/video_speed.py [--size 256] [--frames 8] [--first 30]
        [--artworks starry_night the_scream] [--set NAME=VALUE ...]
"""

import argparse
import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
VIDEO = HERE / "demo" / "videos" / "bigbuckbunny.mp4"
STYLES = HERE / "demo" / "styles"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--first", type=int, default=30)
    parser.add_argument("--artworks", nargs="+", default=["starry_night", "the_scream"])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a setting")
    args = parser.parse_args()

    import torch

    from nst_core import StyleTransfer, preset
    from nst_core.core.objective import ImageWeights
    from nst_core.core.reporter import QUIET
    from nst_core.files.tensors import SourceImage
    from nst_core.video.sequence import stylize_frames
    from nst_core.video.video_files import frames, scan

    overrides = {name: json.loads(value) for name, value in (item.split("=", 1) for item in args.set)}
    video = scan(str(VIDEO))
    size = video.frame_size(args.size)
    settings = preset("default", size=max(size), **overrides)
    transfer = StyleTransfer(settings)
    targets = [transfer.make_targets([str(STYLES / f"{name}.jpg")]) for name in args.artworks]
    weights = ImageWeights.of([settings] * len(targets))
    images = list(frames(video, size, args.first, args.frames))

    indexed = list(enumerate(images, start=args.first))
    seconds, started = [], time.perf_counter()
    for _ in stylize_frames(transfer, indexed, targets, weights, "bbb", reporter=QUIET):
        now = time.perf_counter()
        seconds.append(now - started)
        started = now
    started = time.perf_counter()
    transfer.stylize_batch(SourceImage("bbb frame", images[0], ""), targets, weights, reporter=QUIET)
    photo = time.perf_counter() - started

    going_on = sum(seconds[1:]) / len(seconds[1:])
    per_hour = len(targets) * 3600
    print(
        f"# {VIDEO.name} frames {args.first}-{args.first + args.frames - 1} at {size[0]}x{size[1]}, "
        f"{len(targets)} artworks together, {transfer.settings.precision}, "
        f"frame_iterations {settings.frame_iterations}, {torch.get_num_threads()} threads"
    )
    print("| what | seconds (all artworks) | images per hour |")
    print("|---|---|---|")
    print(f"| the first frame (the whole schedule) | {seconds[0]:.1f} | {per_hour / seconds[0]:.0f} |")
    print(f"| a frame that goes on (mean of {len(seconds) - 1}) | {going_on:.1f} | {per_hour / going_on:.0f} |")
    print(f"| the first frame as a photo (stylize_batch) | {photo:.1f} | {per_hour / photo:.0f} |")


if __name__ == "__main__":
    main()
