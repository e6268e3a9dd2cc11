"""What the quality rule costs at scale: the table and the gallery's views of it, made from
synthetic records (one per photo, like the stylize jobs write) of N photos x K artworks.

    python benchmarks/quality_table.py [--photos 10000] [--artworks 10]
"""

import argparse
import random
import tempfile
import time
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=10000)
    parser.add_argument("--artworks", type=int, default=10)
    args = parser.parse_args()

    from nst_core.outputs import quality
    from nst_core.outputs.gallery_quality import write_quality

    rng = random.Random(0)
    artworks = [f"art{i}" for i in range(args.artworks)]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "records").mkdir()
        records = {}
        for number in range(args.photos):
            images = []
            for artwork in artworks:
                style, content = rng.lognormvariate(-1.8, 0.3), rng.lognormvariate(-0.8, 0.4)
                images.append(
                    dict(artwork=artwork, width=512, height=384, seconds=100.0, peak_gib=1.2, device="cpu")
                    | dict(precision="bf16", style=style, content=content, photo_style=style * rng.uniform(2, 8))
                    | dict(spread=0.2, clipped=0.01, finite=True, fingerprint="0" * 64)
                )
            records[f"photo{number:05d}"] = str(folder / "records" / f"photo{number:05d}.tsv")
            quality.write_record(records[f"photo{number:05d}"], images)
        started = time.perf_counter()
        rows = write_quality(
            str(folder / "quality.tsv"), str(folder / "gallery"), records, artworks, quality.Thresholds()
        )
        seconds = time.perf_counter() - started
        plot = (folder / "gallery" / "plots" / "art0.svg").stat().st_size
        table = (folder / "quality.tsv").stat().st_size
    flagged = sum(1 for row in rows if row["flags"])
    print(f"# {args.photos} photos x {args.artworks} artworks: {len(rows)} rows, {flagged} flagged")
    print(f"quality rule: {seconds:.1f} s; quality.tsv {table / 2**20:.1f} MiB, a plot {plot / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
