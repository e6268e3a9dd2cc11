"""Images per hour on the demo's 4 photos x 4 artworks at default settings (issue 36's throughput
measure), each photo's job as the pipeline runs it, with every image's yardstick scores; --save
keeps a run, --against compares this run with a saved one, image by image. To compare two
versions of the code in the same hour, run the older from a worktree of it, outside the repository:

    git worktree add /tmp/before HEAD~1
    cd /tmp && PYTHONPATH=/tmp/before python /path/to/benchmarks/demo_throughput.py --save before.json
    cd /tmp && python /path/to/benchmarks/demo_throughput.py --against before.json
"""

import argparse
import json
import platform
import tempfile
from pathlib import Path

from stopping import PHOTOS, run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--photos", type=int, default=4)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--save", help="write this run's seconds and scores here (JSON)")
    parser.add_argument("--against", help="a saved run to compare with")
    args = parser.parse_args()

    import nst_core
    from nst_core import preset

    settings = preset("default", size=args.size, precision=args.precision)
    with tempfile.TemporaryDirectory() as scratch:
        seconds, made = run(settings, PHOTOS[: args.photos], Path(scratch))
    rate = len(made) * 3600 / seconds
    print(f"# {platform.processor() or platform.machine()}, code {Path(nst_core.__file__).parent}")
    print(f"# {args.size} px, {len(made)} images, precision {args.precision}: {seconds:.0f} s, {rate:.0f} images/h")
    scores = {f"{photo}/{artwork}": {"style": s, "content": c} for (photo, artwork), (_, s, c) in made.items()}
    if args.save:
        Path(args.save).write_text(json.dumps({"seconds": seconds, "rate": rate, "scores": scores}, indent=1))
    if args.against:
        before = json.loads(Path(args.against).read_text())
        print("| image | style before | after | change | content before | after | change |")
        print("|---|---|---|---|---|---|---|")
        for name, now in scores.items():
            then = before["scores"][name]
            cells = [
                f"{then[term]:.4f} | {now[term]:.4f} | {100 * (now[term] / then[term] - 1):+.1f}%"
                for term in ("style", "content")
            ]
            print(f"| {name} | {' | '.join(cells)} |")
        worst = {
            term: max(scores[n][term] / before["scores"][n][term] - 1 for n in scores) for term in ("style", "content")
        }
        print(
            f"images/h {before['rate']:.0f} -> {rate:.0f} ({rate / before['rate']:.2f}x); worst change (positive is "
            f"further from the target) style {100 * worst['style']:+.1f}%, content {100 * worst['content']:+.1f}%"
        )


if __name__ == "__main__":
    main()
