"""The static gallery, opened from disk in a real browser (Debian's Chromium, driven by playwright)."""

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from conftest import CHROMIUM, CONFIG, PHOTO, PHOTO2, make_project, needs_a_browser, snakemake, sync_playwright
from nst_core.outputs import gallery


def browse(folder: Path) -> dict:
    """Every HTML page under folder, opened from disk: page -> (console errors, images that did
    not decode, absolute paths of the full-size results it links to)."""
    seen = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        errors = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        for path in sorted(folder.rglob("*.html")):
            errors.clear()
            page.goto(path.as_uri(), wait_until="load")
            broken = page.evaluate(
                "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
            )
            links = page.evaluate("Array.from(document.links).map(a => a.href)")
            results = {unquote(urlparse(link).path) for link in links if link.endswith(".png")}
            seen[path.relative_to(folder).as_posix()] = (list(errors), broken, results)
        browser.close()
    return seen


# Long enough that a normal artwork's images are clearly stylized (the yardstick's style score
# well over 1.5x better than the photo's own), where `faint`'s style weight leaves them weak;
# `pushed`'s style target is out of reach: each image is pushed as far as its bounds allow.
QUALITY_CONFIG = {
    **CONFIG,
    "artworks": {
        **CONFIG["artworks"],
        "faint": {"image": "art/starry_night.jpg", "style_weight": 0.01},
        "pushed": {"image": "art/the_scream.jpg", "style_target": 1000},
    },
    "nst": {**CONFIG["nst"], "size": 48, "iterations": 16},
    "sheets": {"cell": 32, "page_size": 2},
}
NAMES = ["café #1", "50% off", "it's <B>", "a&b", "space d"]  # characters URLs and HTML treat specially
PHOTOS = sorted([*NAMES, "tubingen", "chelsea"])


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One real run: odd photo names, and an artwork too faint to be stylized."""
    workdir = make_project(tmp_path_factory.mktemp("gallery"), QUALITY_CONFIG)
    for i, name in enumerate(NAMES):
        shutil.copy2(PHOTO if i % 2 else PHOTO2, workdir / "photos" / f"{name}.jpg")
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


@needs_a_browser
def test_every_gallery_page_opens_from_disk_and_reaches_every_result(batch):
    folder = batch / "results" / "gallery"
    artworks = QUALITY_CONFIG["artworks"]
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*.html")} == {
        *gallery.pages(PHOTOS, artworks),
        gallery.NEEDS_A_LOOK,
    }
    seen = browse(folder)
    for page, (errors, broken, _) in seen.items():
        assert errors == [] and broken == [], (page, errors, broken)
    reached = set().union(*(results for _, _, results in seen.values()))
    expected = {str(batch / "results" / "stylized" / a / f"{p}.png") for a in artworks for p in PHOTOS}
    assert reached == expected
    assert all(Path(path).is_file() for path in reached)
    # The faint artwork's images are all flagged, so all on the needs-a-look page, beside their photos
    _, _, flagged = seen[gallery.NEEDS_A_LOOK]
    assert {str(batch / "results" / "stylized" / "faint" / f"{p}.png") for p in PHOTOS} <= flagged


def test_quality_table_has_a_row_per_image_and_flags_the_faint_and_the_pushed_artworks(batch):
    lines = (batch / "results" / "quality.tsv").read_text().splitlines()
    header, rows = lines[0].split("\t"), [dict(zip(lines[0].split("\t"), line.split("\t"))) for line in lines[1:]]
    assert header[-1] == "flags" and {"style", "content", "seconds", "device", "precision"} <= set(header)
    assert sorted((row["photo"], row["artwork"]) for row in rows) == sorted(
        (p, a) for p in PHOTOS for a in QUALITY_CONFIG["artworks"]
    )
    for row in rows:
        assert float(row["style"]) > 0 and float(row["content"]) >= 0 and float(row["seconds"]) > 0
        assert ("weak_style" in row["flags"].split(",")) == (row["artwork"] == "faint"), row
        assert ("short_of_target" in row["flags"].split(",")) == (row["artwork"] == "pushed"), row
        own = QUALITY_CONFIG["artworks"][row["artwork"]]
        weight = own.get("style_weight", 1.0) if isinstance(own, dict) else 1.0
        pushed = row["artwork"] == "pushed"
        # a pushed image keeps a round only where it gained: its weight is raised or left
        assert float(row["style_weight"]) >= weight if pushed else float(row["style_weight"]) == weight, row
        assert float(row["style_ratio"]) < 1000 and (int(row["steps"]) > 16) == pushed, row
    assert any(float(row["style_weight"]) > 1 for row in rows if row["artwork"] == "pushed")


@needs_a_browser
def test_artwork_pages_show_scores_sort_by_them_and_plot_them(batch):
    folder = batch / "results" / "gallery"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        errors = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto((folder / gallery.artwork_page("faint", 1)).as_uri(), wait_until="load")
        shown = page.locator("figure .scores").all_inner_texts()
        assert shown and all(text.startswith("style ") and " · content " in text for text in shown)
        assert page.locator("figure.flagged .flags").all_inner_texts() == ["weak_style"] * len(shown)
        page.click("text=style, worst first")
        styles = [float(s) for s in page.eval_on_selector_all("figure", "fs => fs.map(f => f.dataset.style)")]
        assert styles == sorted(styles, reverse=True) and len(styles) == len(shown)
        # The pushed artwork's images, sorted by the style weight each ended with
        page.goto((folder / gallery.artwork_page("pushed", 1)).as_uri(), wait_until="load")
        assert all(" · weight " in text for text in page.locator("figure .scores").all_inner_texts())
        page.click("text=style weight, highest first")
        weights = [float(w) for w in page.eval_on_selector_all("figure", "fs => fs.map(f => f.dataset.weight)")]
        assert weights == sorted(weights, reverse=True) and max(weights) > 1 and len(weights) == len(shown)
        # Each plot: a dot per image, each a link to its image
        for artwork in QUALITY_CONFIG["artworks"]:
            page.goto((folder / gallery.plot(artwork)).as_uri(), wait_until="load")
            resolve = "links => links.map(a => new URL(a.href.baseVal, document.baseURI).href)"  # SVG links
            links = page.eval_on_selector_all("a", resolve)
            targets = {unquote(urlparse(str(link)).path) for link in links}
            assert targets == {str(batch / "results" / "stylized" / artwork / f"{p}.png") for p in PHOTOS}
        browser.close()
    assert errors == []


def test_pages_hold_a_bounded_number_of_thumbnails():
    photos = [f"photo{i:05d}" for i in range(1000)]
    artworks = [f"art{i}" for i in range(10)]
    pages = gallery.pages(photos, artworks)
    assert pages[0] == "index.html" and len(pages) == len(set(pages))
    assert len([p for p in pages if p.startswith("by-artwork/art0/")]) == 9  # 120 results per page
    assert len([p for p in pages if p.startswith("by-photo/")]) == 48  # 21 rows of 11 thumbnails
