"""The static gallery, opened from disk in a real browser (Debian's Chromium, driven by playwright)."""

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from conftest import CONFIG, PHOTO, PHOTO2, make_project, snakemake
from nst_core import gallery

CHROMIUM = shutil.which("chromium")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # said in the test report: see `pytest -rs`
    sync_playwright = None


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


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium)")
@pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install playwright)")
def test_every_gallery_page_opens_from_disk_and_reaches_every_result(tmp_path):
    config = {**CONFIG, "sheets": {"cell": 32, "page_size": 2}}
    workdir = make_project(tmp_path, config)
    names = ["café #1", "50% off", "it's <B>", "a&b", "space d"]  # characters URLs and HTML treat specially
    for i, name in enumerate(names):
        shutil.copy2(PHOTO if i % 2 else PHOTO2, workdir / "photos" / f"{name}.jpg")
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = workdir / "results" / "gallery"
    photos = sorted([*names, "tubingen", "chelsea"])
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*.html")} == set(
        gallery.pages(photos, CONFIG["artworks"])
    )
    seen = browse(folder)
    for page, (errors, broken, _) in seen.items():
        assert errors == [] and broken == [], (page, errors, broken)
    reached = set().union(*(results for _, _, results in seen.values()))
    expected = {str(workdir / "results" / "stylized" / a / f"{p}.png") for a in CONFIG["artworks"] for p in photos}
    assert reached == expected
    assert all(Path(path).is_file() for path in reached)


def test_pages_hold_a_bounded_number_of_thumbnails():
    photos = [f"photo{i:05d}" for i in range(1000)]
    artworks = [f"art{i}" for i in range(10)]
    pages = gallery.pages(photos, artworks)
    assert pages[0] == "index.html" and len(pages) == len(set(pages))
    assert len([p for p in pages if p.startswith("by-artwork/art0/")]) == 9  # 120 results per page
    assert len([p for p in pages if p.startswith("by-photo/")]) == 48  # 21 rows of 11 thumbnails
