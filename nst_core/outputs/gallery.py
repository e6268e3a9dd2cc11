"""A static HTML gallery of a batch: plain files with relative links, so it opens from disk, from
any static host or from a bucket, with no server code. Under results/gallery/:

  index.html                  the artworks (painting, name, their pages) and the pages by photo
  by-artwork/{artwork}/{n}.html   an artwork's results, each beside its photo
  by-photo/{n}.html           photos as rows, each artwork's result in a column
  videos/{video}.html         a video and its results in each artwork's style, playing side by side
  paintings/{artwork}.jpg     thumbnails of the paintings, made with the pages

A video's page plays videos/{video}.mp4, the source at the results' size in H.264 (made by the
pipeline's video_preview job: a browser may not play the user's own file), beside the results
in results/stylized/.

The thumbnails of a photo and its results (thumbs/{photo}/_photo.jpg, thumbs/{photo}/{artwork}.jpg:
a folder per photo, one output for Snakemake to plan) are made by the photo's stylize job; each
result's thumbnail links to the full-size image in results/stylized/. Pages depend only on the
names in the batch, not on the images, so a failed photo costs only its own thumbnails. No torch import.
"""

from __future__ import annotations

import functools
import hashlib
import html
import os
from urllib.parse import quote

from ..files.image_files import THUMBNAIL_SIDE, write_thumbnail
from ..files.storage import write_atomic

THUMBNAILS = "thumbs"  # folder of the thumbnails, a folder per photo
PHOTO_THUMBNAIL = "_photo.jpg"  # no artwork's name starts with _
RESULTS_PER_PAGE = 120  # an artwork page: each result beside its photo, 240 thumbnails
THUMBNAILS_PER_PAGE = 240  # a by-photo page: rows of (photo, then one result per artwork)
# The quality rule's views (gallery_quality.py), in one folder: one output for Snakemake, which
# records a rule's 10,000 inputs with each of its outputs.
QUALITY_VIEWS = "quality"
NEEDS_A_LOOK = f"{QUALITY_VIEWS}/needs-a-look.html"  # the flagged images

STYLE = """
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
nav { margin: 1em 0; } nav a, nav b { margin-right: .6em; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; background: #fff; padding: 6px; border: 1px solid #ddd; }
figure img { height: 120px; vertical-align: top; } figure img.photo { height: 60px; margin-left: 4px; }
figcaption { max-width: 260px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.scores { color: #555; } .flags { color: #c00; font-weight: bold; } figure.flagged { border-color: #c00; }
.plot { width: 500px; height: 360px; }
table { border-collapse: collapse; } td, th { padding: 4px; text-align: center; vertical-align: top; }
td img, th img { max-height: 96px; } th { font-weight: normal; }
.painting { height: 96px; vertical-align: middle; margin-right: 1em; }
.videos figure video { height: 240px; display: block; }
"""


# A figure's flags (comma-separated; none: ""), shown under it in red.
FLAGS_SCRIPT = """
function showFlags(figure, flags) {
  if (!flags) return;
  const line = document.createElement("div");
  line.className = "flags";
  line.textContent = flags.replaceAll(",", ", ");
  figure.append(line);
  figure.classList.add("flagged");
}
"""


# An artwork page's scores and flags (window.NST_SCORES: photo -> [style, content, flags, style
# weight]) on its figures, and sorting by them.
SCORES_SCRIPT = """
const scores = window.NST_SCORES;
if (scores) {
  const grid = document.querySelector(".grid"), figures = [...grid.children];
  figures.forEach((figure, index) => {
    figure.dataset.index = index;
    const own = scores[figure.dataset.photo];
    if (!own) return;
    [figure.dataset.style, figure.dataset.content, figure.dataset.flags] = own;
    if (own[3] != null) figure.dataset.weight = own[3];
    figure.querySelector(".scores").textContent =
      `style ${own[0].toPrecision(3)} · content ${own[1].toPrecision(3)}` +
      (own[3] == null ? "" : ` · weight ${own[3].toPrecision(3)}`);
    showFlags(figure, own[2]);
  });
  const worse = {
    index: f => +f.dataset.index,
    style: f => -(f.dataset.style ?? -Infinity),
    content: f => -(f.dataset.content ?? -Infinity),
    flags: f => -(f.dataset.flags ? f.dataset.flags.split(",").length : 0),
    weight: f => -(f.dataset.weight ?? -Infinity),
  };
  for (const button of document.querySelectorAll("#sort button")) {
    button.onclick = () => {
      const key = worse[button.dataset.key];
      figures.sort((a, b) => key(a) - key(b) || a.dataset.index - b.dataset.index);
      grid.append(...figures);
    };
  }
  document.getElementById("no-scores").hidden = true;
  document.getElementById("sort").hidden = false;
  document.getElementById("plot").hidden = false;
}
"""


# A video page's videos play together: the source leads, the results follow it (play, pause,
# seek, and back in step where they drift); its scores (window.NST_VIDEO_SCORES: artwork ->
# [style, content, warping error, flags]) under each result.
VIDEO_SCRIPT = """
const videos = [...document.querySelectorAll("video")], lead = videos[0];
const others = () => videos.filter(v => v !== lead);
document.getElementById("play").onclick = () => {
  for (const v of videos) v.currentTime = 0;
  lead.play();
};
lead.addEventListener("play", () => others().forEach(v => v.play()));
lead.addEventListener("pause", () => others().forEach(v => v.pause()));
lead.addEventListener("seeked", () => others().forEach(v => { v.currentTime = lead.currentTime; }));
lead.addEventListener("timeupdate", () => others().forEach(v => {
  if (Math.abs(v.currentTime - lead.currentTime) > 0.1) v.currentTime = lead.currentTime;
}));
const scores = window.NST_VIDEO_SCORES;
if (scores) {
  for (const figure of document.querySelectorAll("figure[data-artwork]")) {
    const own = scores[figure.dataset.artwork];
    if (!own) continue;
    figure.querySelector(".scores").textContent =
      `style ${own[0].toPrecision(3)} · content ${own[1].toPrecision(3)} · warping error ${own[2].toPrecision(3)}`;
    showFlags(figure, own[3]);
  }
}
"""


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def _photos_per_page(artworks) -> int:
    return max(1, THUMBNAILS_PER_PAGE // (len(artworks) + 1))


def artwork_page(artwork: str, number: int) -> str:
    return f"by-artwork/{artwork}/{number}.html"


def photo_page(number: int) -> str:
    return f"by-photo/{number}.html"


def video_page(video: str) -> str:
    return f"videos/{video}.html"


def video_source(video: str) -> str:
    """The source video as the gallery plays it (H.264 at the results' size)."""
    return f"videos/{video}.mp4"


def video_scores(video: str) -> str:
    """The scores of a video's results, a script its page loads (gallery_quality.py)."""
    return f"{QUALITY_VIEWS}/videos/{video}.js"


def video_result(artwork: str, video: str) -> str:
    """An artwork's video, relative to the gallery folder."""
    return f"../stylized/{artwork}/{video}.mp4"


def painting_thumbnail(artwork: str) -> str:
    return f"paintings/{artwork}.jpg"


def result_thumbnail_name(artwork: str) -> str:
    """The file name, in a photo's thumbnail folder, of its result in an artwork's style."""
    return f"{artwork}.jpg"


def plot(artwork: str) -> str:
    """The artwork's plot of its images' scores (gallery_quality.py)."""
    return f"{QUALITY_VIEWS}/plots/{artwork}.svg"


def page_scores(artwork: str, number: int) -> str:
    """The scores of an artwork page's images, a script the page loads (gallery_quality.py)."""
    return f"{QUALITY_VIEWS}/scores/{artwork}/{number}.js"


def root_of(path: str) -> str:
    """The link from a file at `path` (below the gallery folder) to the gallery folder."""
    return "../" * path.count("/")


def thumbnail(photo: str, name: str) -> str:
    return f"{THUMBNAILS}/{photo}/{name}"


def result(artwork: str, photo: str) -> str:
    """The full-size result, relative to the gallery folder (results/gallery/)."""
    return f"../stylized/{artwork}/{photo}.png"


def artwork_chunks(photos) -> list[list[str]]:
    """The photos of each artwork page, in order."""
    return _chunks(sorted(photos), RESULTS_PER_PAGE)


def pages(photos, artworks, videos=()) -> list[str]:
    """Paths (relative to the gallery folder) of every HTML page, index first."""
    return list(_page_makers(photos, artworks, videos))


def href(root: str, path: str) -> str:
    """A link from a page `root` below the gallery folder to one of the paths above; each name
    quoted (no name holds a /)."""
    return root + quote(path, safe="/")


def document(title: str, body: str) -> bytes:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    ).encode()


def _nav(root: str, here: int, count: int, link) -> str:
    """Index, previous, numbered pages, next."""
    items = [f'<a href="{root}index.html">index</a>']
    if here > 1:
        items.append(f'<a href="{link(here - 1)}">previous</a>')
    for number in range(1, count + 1):
        items.append(f"<b>{number}</b>" if number == here else f'<a href="{link(number)}">{number}</a>')
    if here < count:
        items.append(f'<a href="{link(here + 1)}">next</a>')
    return f"<nav>{' '.join(items)}</nav>"


def _range(photos: list[str]) -> str:
    if not photos:
        return "(no photos)"
    first, last = html.escape(photos[0]), html.escape(photos[-1])
    return first if first == last else f"{first} – {last}"


def _index(photos, artworks, by_artwork, by_photo, videos) -> bytes:
    rows = []
    for artwork in artworks:
        links = " ".join(
            f'<a href="{href("", artwork_page(artwork, n))}" title="{_range(chunk)}">{n}</a>'
            for n, chunk in enumerate(by_artwork, 1)
        )
        rows.append(
            f'<p><img class="painting" src="{href("", painting_thumbnail(artwork))}" alt="{html.escape(artwork)}">'
            f"<b>{html.escape(artwork)}</b> pages: {links}</p>"
        )
    photo_links = "".join(
        f'<li><a href="{href("", photo_page(n))}">{_range(chunk)}</a></li>' for n, chunk in enumerate(by_photo, 1)
    )
    video_links = "".join(f'<li><a href="{href("", video_page(v))}">{html.escape(v)}</a></li>' for v in videos)
    what = f"{len(photos)} photos" + (f" and {len(videos)} video{'s' * (len(videos) != 1)}" if videos else "")
    body = (
        f"<h1>{what} × {len(artworks)} artworks</h1>\n"
        f'<p><a href="{NEEDS_A_LOOK}">Needs a look</a>: the images the quality checks flag, and each '
        "artwork's plot of its images' scores</p>\n<h2>By artwork</h2>\n"
        + "\n".join(rows)
        + (f"\n<h2>By photo</h2>\n<ol>{photo_links}</ol>" if photos else "")
        + (f"\n<h2>Videos</h2>\n<ul>{video_links}</ul>" if videos else "")
    )
    return document("Gallery", body)


def _artwork_page(artwork, number, chunks) -> bytes:
    root = "../../"  # by-artwork/{artwork}/ -> the gallery folder
    figures = []
    for photo in chunks[number - 1]:
        name = html.escape(photo)
        figures.append(
            f'<figure data-photo="{name}"><a href="{href(root, result(artwork, photo))}">'
            f'<img src="{href(root, thumbnail(photo, result_thumbnail_name(artwork)))}"'
            f' alt="{name} in the style of {artwork}"></a>'
            f'<img class="photo" src="{href(root, thumbnail(photo, PHOTO_THUMBNAIL))}" alt="{name}">'
            f'<figcaption title="{name}">{name}</figcaption><div class="scores"></div></figure>'
        )
    nav = _nav(root, number, len(chunks), lambda n: f"{n}.html")
    header = (
        f'<h1><img class="painting" src="{href(root, painting_thumbnail(artwork))}" alt="{artwork}">'
        f"{html.escape(artwork)}, page {number} of {len(chunks)}</h1>"
    )
    # The scores come from a script, written once every photo's job has run
    # (gallery_quality.py): until then the page shows the images without them.
    controls = (
        f'<p id="no-scores" class="scores">Scores and flags show here once every photo\'s job has run.</p>'
        '<p id="sort" hidden>sort by: <button data-key="index">name</button> '
        '<button data-key="style">style, worst first</button> '
        '<button data-key="content">content, worst first</button> '
        '<button data-key="flags">flags first</button> '
        '<button data-key="weight">style weight, highest first</button> '
        f'· <a href="{root}{NEEDS_A_LOOK}">needs a look</a></p>'
    )
    scores = (
        f'<object id="plot" hidden data="{href(root, plot(artwork))}" type="image/svg+xml" class="plot"></object>'
        f'<script src="{href(root, page_scores(artwork, number))}"></script>'
        f"<script>{FLAGS_SCRIPT}{SCORES_SCRIPT}</script>"
    )
    grid = f'<div class="grid">\n{"".join(figures)}\n</div>'
    return document(f"{artwork} {number}", f"{header}\n{nav}\n{controls}\n{grid}\n{nav}\n{scores}")


def _photo_page(artworks, number, chunks) -> bytes:
    root = "../"
    head = "".join(
        f'<th><a href="{href(root, artwork_page(a, 1))}"><img src="{href(root, painting_thumbnail(a))}" '
        f'alt="{html.escape(a)}"><br>{html.escape(a)}</a></th>'
        for a in artworks
    )
    rows = []
    for photo in chunks[number - 1]:
        name = html.escape(photo)
        cells = "".join(
            f'<td><a href="{href(root, result(a, photo))}">'
            f'<img src="{href(root, thumbnail(photo, result_thumbnail_name(a)))}"'
            f' alt="{name} in the style of {a}"></a></td>'
            for a in artworks
        )
        rows.append(
            f'<tr><td><img src="{href(root, thumbnail(photo, PHOTO_THUMBNAIL))}" alt="{name}"><br>{name}</td>'
            f"{cells}</tr>"
        )
    nav = _nav(root, number, len(chunks), lambda n: f"{n}.html")
    table = f"<table><tr><th>photo</th>{head}</tr>\n" + "\n".join(rows) + "\n</table>"
    return document(f"photos {number}", f"<h1>Photos, page {number} of {len(chunks)}</h1>\n{nav}\n{table}\n{nav}")


def _video_page(video: str, artworks) -> bytes:
    root = root_of(video_page(video))
    name = html.escape(video)
    # muted: a page may start them all at once (browsers let only muted videos play by themselves)
    attributes = 'muted loop playsinline controls preload="auto"'
    figures = [
        f'<figure><video src="{href(root, video_source(video))}" {attributes}></video>'
        f"<figcaption>{name}</figcaption></figure>"
    ]
    for artwork in artworks:
        figures.append(
            f'<figure data-artwork="{html.escape(artwork)}"><video src="{href(root, video_result(artwork, video))}" '
            f'{attributes}></video><figcaption><img class="photo" src="{href(root, painting_thumbnail(artwork))}" '
            f'alt="{html.escape(artwork)}"> {html.escape(artwork)}</figcaption><div class="scores"></div></figure>'
        )
    body = (
        f'<nav><a href="{root}index.html">index</a></nav>\n<h1>{name}</h1>\n'
        '<p><button id="play">play all from the start</button> (the results follow the first video: '
        "play, pause or seek it)</p>\n"
        f'<div class="grid videos">\n{"".join(figures)}\n</div>\n'
        f'<script src="{href(root, video_scores(video))}"></script><script>{FLAGS_SCRIPT}{VIDEO_SCRIPT}</script>'
    )
    return document(video, body)


def _page_makers(photos, artworks, videos=()) -> dict:
    """Each page's path -> a function that makes it: one list of pages, for planning and writing."""
    photos, artworks, videos = sorted(photos), list(artworks), sorted(videos)
    by_artwork = artwork_chunks(photos)
    by_photo = _chunks(photos, _photos_per_page(artworks))
    makers = {"index.html": functools.partial(_index, photos, artworks, by_artwork, by_photo, videos)}
    for video in videos:
        makers[video_page(video)] = functools.partial(_video_page, video, artworks)
    for artwork in artworks:
        for number in range(1, len(by_artwork) + 1):
            makers[artwork_page(artwork, number)] = functools.partial(_artwork_page, artwork, number, by_artwork)
    for number in range(1, len(by_photo) + 1):
        makers[photo_page(number)] = functools.partial(_photo_page, artworks, number, by_photo)
    return makers


def batch_hash(photos, artworks, videos=()) -> str:
    """A hash of the names the pages show: another photo, video or artwork makes them again."""
    names = repr([sorted(photos), list(artworks)] + ([sorted(videos)] if videos else []))
    return hashlib.sha256(names.encode("utf-8", "surrogateescape")).hexdigest()


def write_gallery(index: str, photos, paintings, side: int = THUMBNAIL_SIDE, log: str | None = None, videos=()) -> int:
    """Write the index (index.html in the gallery's folder), every page and the paintings'
    thumbnails (long side `side` px); paintings: artwork -> its (first) image, a mapping or
    Snakemake's named input. Returns the number of pages, which a log file, if named, says."""
    folder = os.path.dirname(index)
    paintings = dict(paintings.items())
    makers = _page_makers(photos, paintings, videos)
    for path, make in makers.items():
        write_atomic(f"{folder}/{path}", make())
    for artwork, painting in paintings.items():
        write_thumbnail(painting, f"{folder}/{painting_thumbnail(artwork)}", side)
    if log:
        write_atomic(log, f"wrote {len(makers)} pages under {folder}\n".encode())
    return len(makers)
