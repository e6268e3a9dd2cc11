"""Contact sheets cover every photo, in pages that stay put as a batch grows; a broken photo costs
only its own page."""

import random
import shutil

from conftest import CONFIG, PHOTO, PHOTO2, make_project, planned_outputs, snakemake
from nst_core.outputs import gallery
from nst_core.outputs.pages import FIRST, page_name, pages


def changed_pages(before: dict, after: dict) -> set:
    return {page for page in before.keys() | after.keys() if before.get(page) != after.get(page)}


def fixed_pages(photos, page_size):
    """Pages of exactly page_size photos in name order: what the test below must tell apart."""
    ordered = sorted(photos)
    return {str(i): ordered[i : i + page_size] for i in range(0, len(ordered), page_size)}


def test_a_new_photo_changes_at_most_two_pages():
    rng = random.Random(0)
    photos = [f"IMG_{n:06d}" for n in rng.sample(range(10**6), 3000)]
    before = pages(photos, 50)
    assert sorted(p for page in before.values() for p in page) == sorted(photos)  # each photo once
    assert 35 <= len(photos) / len(before) <= 70  # about 50 per page
    newcomers = [f"IMG_{rng.randrange(10**6):06d}x" for _ in range(300)] + ["0first", "~last"]
    for new in newcomers:
        assert len(changed_pages(before, pages(photos + [new], 50))) <= 2, new
    # the check can fail: fixed-size pages shift after the newcomer
    assert len(changed_pages(fixed_pages(photos, 50), fixed_pages(photos + ["0first"], 50))) > 2


def test_page_names_fit_in_a_file_name_and_stay_distinct():
    long_names = ["é" * 125 + "a", "é" * 125 + "b"]  # 251 bytes: the longest a .jpg photo's name can be
    names = {page_name(photo) for photo in long_names}
    assert len(names) == 2 and all(len(f"{name}.jpg".encode()) <= 255 for name in names)
    assert page_name("chelsea") == "from-chelsea" != FIRST


def test_every_photo_is_on_a_page_and_a_broken_photo_costs_only_its_page(tmp_path):
    config = {**CONFIG, "artworks": {"starry": CONFIG["artworks"]["starry"]}, "sheets": {"cell": 32, "page_size": 4}}
    workdir = make_project(tmp_path, config)
    photos = workdir / "photos"
    names = [f"photo{i:02d}" for i in range(24)]
    for i, name in enumerate(names):
        shutil.copy2(PHOTO if i % 2 else PHOTO2, photos / f"{name}.jpg")
    for original in (PHOTO, PHOTO2):
        (photos / original.name).unlink()
    broken = "photo07"
    (photos / f"{broken}.jpg").write_bytes(PHOTO.read_bytes()[:1000])
    expected = pages(names, 4)
    assert 3 <= len(expected) <= 12
    planned = planned_outputs(workdir)
    assert {p for p in planned if p.startswith("results/sheets/starry/")} == {
        f"results/sheets/starry/{page}.jpg" for page in expected
    }
    result = snakemake(workdir, "--keep-going")
    assert result.returncode == 1 and f"photos/{broken}.jpg: corrupt or truncated image" in result.stderr
    made = {path.stem for path in (workdir / "results/sheets/starry").glob("*.jpg")}
    assert made == {page for page, members in expected.items() if broken not in members}, result.stderr[-3000:]
    # the gallery's pages are made, with every other photo's thumbnails
    assert (workdir / "results/gallery/index.html").is_file()
    thumbnails = {path.parent.name for path in (workdir / "results/gallery/thumbs").glob("*/starry.jpg")}
    assert thumbnails == set(names) - {broken}
    # a new photo: its own job and its pages (at most two), besides what failed before
    still_pending = planned_outputs(workdir)
    shutil.copy2(PHOTO, photos / "photo10b.jpg")
    changed = changed_pages(expected, pages([*names, "photo10b"], 4))
    assert 1 <= len(changed) <= 2
    new = {
        "results/stylized/starry/photo10b.png",
        "results/gallery/thumbs/photo10b",
        "results/quality/photo10b.tsv",
    }
    new |= {f"results/sheets/starry/{page}.jpg" for page in changed}
    # the gallery's pages (one job, a second's work; they only name the photos)
    new |= {f"results/gallery/{page}" for page in gallery.pages([*names, "photo10b"], ["starry"])}
    new.add("results/gallery/paintings/starry.jpg")
    assert planned_outputs(workdir) == still_pending | new


def test_a_label_sits_right_under_its_image(tmp_path):
    # A wide image in a square cell: its label must be next to it, not at the cell's foot, where it
    # would seem to name the image of the row below (as the overview's photo labels did).
    from PIL import Image

    from nst_core.outputs.sheet import make_sheet

    Image.new("RGB", (200, 50), (0, 0, 255)).save(wide := tmp_path / "wide.png")
    sheet = make_sheet([str(wide)], cell=64, labels=["wide photo"]).convert("RGB")
    blue = [
        y
        for y in range(sheet.height)
        if sheet.getpixel((sheet.width // 2, y))[2] > 200 > sheet.getpixel((sheet.width // 2, y))[0]
    ]
    ink = [y for y in range(sheet.height) if any(max(sheet.getpixel((x, y))) < 100 for x in range(sheet.width))]
    image_bottom, label_top = max(blue), min(ink)
    assert 0 < label_top - image_bottom <= 6, (image_bottom, label_top)
