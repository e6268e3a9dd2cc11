"""The batch's pages without Snakemake (the fast tier's view of pages.py, gallery.py and
gallery_quality.py; test_gallery.py opens what a real run writes in a browser)."""

import csv
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from conftest import STYLE, STYLE2
from nst_core.outputs import gallery, gallery_quality, pages, quality
from nst_core.running import video_join

ODD = 'it\'s <b> & "quoted"'  # a name HTML must escape and a URL must quote


def test_a_new_photo_moves_at_most_two_pages_and_long_names_make_short_page_names():
    photos = [f"photo{i:04d}" for i in range(2000)]
    before = pages.pages(photos, 100)
    assert 5 < len(before) < 60 and sum(map(len, before.values())) == 2000
    for added in ("photo0500x", "zzz", "aaa"):
        after = pages.pages([*photos, added], 100)
        changed = {name for name in after if after[name] != before.get(name)}
        assert len(changed) <= 2, (added, changed)
    long_name = "é" * 120  # 240 bytes
    assert len(pages.page_name(long_name).encode()) <= 200 and pages.page_name(long_name) != pages.FIRST


def _linked(page: Path) -> list[Path]:
    """The local files a page's src and href attributes point at."""
    targets = re.findall(r'(?:src|href)="([^"#]+)"', page.read_text())
    return [(page.parent / unquote(t)).resolve() for t in targets if "://" not in t]


def test_gallery_pages_link_to_each_other_and_to_every_thumbnail_of_the_batch(tmp_path):
    photos = ["tubingen", "chelsea", ODD]
    folder = tmp_path / "gallery"
    count = gallery.write_gallery(str(folder / "index.html"), photos, {"starry": str(STYLE), "scream": str(STYLE2)})
    written = {str(p.relative_to(folder)) for p in folder.rglob("*.html")}
    assert written == set(gallery.pages(photos, ["starry", "scream"])) and count == len(written)
    assert (folder / gallery.painting_thumbnail("starry")).stat().st_size > 0
    linked = {p for page in folder.rglob("*.html") for p in _linked(page)}
    pages_and_paintings = {p.resolve() for p in folder.rglob("*") if p.is_file()}
    thumbnails = {(folder / gallery.thumbnail(photo, gallery.PHOTO_THUMBNAIL)).resolve() for photo in photos}
    thumbnails |= {
        (folder / gallery.thumbnail(photo, gallery.result_thumbnail_name(art))).resolve()
        for photo in photos
        for art in ("starry", "scream")
    }
    # every page and painting is reached; the rest are the thumbnails the photos' jobs write
    # and the pages of scores and quality that the quality rule writes
    assert pages_and_paintings <= linked | {(folder / "index.html").resolve()}
    assert thumbnails <= linked
    text = (folder / gallery.photo_page(1)).read_text()
    assert "it&#x27;s &lt;b&gt; &amp; &quot;quoted&quot;" in text and "<b> &" not in text


def _record(path: Path, artworks: dict) -> None:
    images = [
        dict(artwork=art, width=48, height=36, seconds=1.0, peak_gib=0.1, device="cpu", precision="fp32",
             style=style, content=content, photo_style=0.5, spread=spread, clipped=0.0, finite=True,
             fingerprint=f"{path.stem}-{art}")
        for art, (style, content, spread) in artworks.items()
    ]  # fmt: skip
    quality.write_record(str(path), images)


def test_the_quality_table_and_views_name_the_flagged_image_first(tmp_path):
    photos = [f"p{i}" for i in range(10)]
    records = {}
    for i, photo in enumerate(photos):
        path = tmp_path / f"{photo}.tsv"
        flat = 0.001 if photo == "p3" else 0.2  # p3's starry image is near-constant
        _record(path, {"starry": (0.05 + 0.001 * i, 0.3, flat), "scream": (0.06, 0.3 + 0.01 * i, 0.2)})
        records[photo] = str(path)
    folder = tmp_path / "gallery"
    table = tmp_path / "quality.tsv"
    made = gallery_quality.write_quality(str(table), str(folder), records, ["starry", "scream"], quality.thresholds({}))
    assert len(made) == 20
    for path in [gallery.NEEDS_A_LOOK, gallery.plot("scream"), gallery.page_scores("starry", 1)]:
        assert (folder / path).is_file(), path
    with open(table, newline="") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    assert len(rows) == 20
    assert {(r["photo"], r["artwork"]) for r in rows if r["flags"]} == {("p3", "starry")}
    look = (folder / gallery.NEEDS_A_LOOK).read_text()
    assert look.count('<td class="flags">') == 1 and '<td class="flags">flat</td>' in look
    assert 'href="../../stylized/starry/p3.png"' in look  # the flagged image, full size, from quality/
    scores = (folder / gallery.page_scores("starry", 1)).read_text()
    assert '"p3":[' in scores and '"flat"' in scores


def test_a_videos_rows_pages_and_links_beside_photos(tmp_path):
    """A video's row per artwork in the table (its frames' means, the least spread, its warping
    error), its page in the gallery linking the source preview and each result, and the
    needs-a-look page linking its page where a frame is near-constant."""
    video = "clip #1 & co"
    segments = [  # two segments of the video in starry's style; a frame of the second is flat
        {"artwork": "starry", "segment": 0, "seconds": 3.0, "width": 48, "height": 26, "style_weight": 1.0,
         "device": "cpu", "precision": "fp32", "frames": [
             {"frame": 0, "style": 0.1, "content": 0.3, "photo_style": 0.5, "spread": 0.2, "clipped": 0.0,
              "finite": True, "warp": None},
             {"frame": 1, "style": 0.2, "content": 0.4, "photo_style": 0.5, "spread": 0.2, "clipped": 0.1,
              "finite": True, "warp": 0.002}]},
        {"artwork": "starry", "segment": 1, "seconds": 1.0, "width": 48, "height": 26, "style_weight": 1.0,
         "device": "cpu", "precision": "fp32", "frames": [
             {"frame": 2, "style": 0.3, "content": 0.5, "photo_style": 0.5, "spread": 0.001, "clipped": 0.0,
              "finite": True, "warp": 0.004}]},
    ]  # fmt: skip
    measures = video_join.video_measures(segments)
    assert measures["style"] == pytest.approx(0.2) and measures["warping_error"] == pytest.approx(0.003)
    assert (measures["frames"], measures["seconds"], measures["spread"], measures["clipped"]) == (3, 4.0, 0.001, 0.1)
    quality.write_record(str(tmp_path / "starry.tsv"), [measures])
    _record(tmp_path / "p0.tsv", {"starry": (0.05, 0.3, 0.2)})
    folder, table = tmp_path / "gallery", tmp_path / "quality.tsv"
    gallery.write_gallery(str(folder / "index.html"), ["p0"], {"starry": str(STYLE)}, videos=[video])
    gallery_quality.write_quality(
        str(table), str(folder), {"p0": str(tmp_path / "p0.tsv")}, ["starry"], quality.thresholds({}),
        videos={video: [str(tmp_path / "starry.tsv")]},
    )  # fmt: skip
    with open(table, newline="") as file:
        rows = {row["photo"]: row for row in csv.DictReader(file, delimiter="\t")}
    assert rows["p0"]["frames"] == rows["p0"]["warping_error"] == "" and rows["p0"]["flags"] == ""
    assert (rows[video]["frames"], rows[video]["warping_error"], rows[video]["flags"]) == ("3", "0.003", "flat")
    page = folder / gallery.video_page(video)
    linked = set(_linked(page))
    assert (folder / gallery.video_source(video)).resolve() in linked
    assert (folder / gallery.video_result("starry", video)).resolve() in linked
    scores = folder / gallery.video_scores(video)
    assert scores.resolve() in linked and '"starry":[' in scores.read_text()
    assert page.resolve() in set(_linked(folder / "index.html"))
    look = folder / gallery.NEEDS_A_LOOK
    assert page.resolve() in set(_linked(look)) and (folder / gallery.video_result("starry", video)).resolve() in set(
        _linked(look)
    )
    assert "clip #1 &amp; co" in page.read_text()
