"""The batch's quality table and the gallery's views of it, made from the photos' records
(quality.py) once every photo's job has run. Under results/gallery/:

  needs-a-look.html                      the flagged images, worst first, each beside its photo
                                         and painting; every artwork's plot
  plots/{artwork}.svg                    style score against content score, a dot per image,
                                         linked to the image
  by-artwork/{artwork}/{n}.scores.js     the scores and flags of that page's images: the page
                                         (written before any image, by gallery.py) shows them
                                         and sorts by them
  videos/{video}.js                      the scores and flags of a video's results, for its page

Plain files: they open from disk like the rest of the gallery. No torch import.
"""

from __future__ import annotations

import html
import io
import json
import os
import re

from ..files.storage import write_atomic
from . import gallery
from .gallery import NEEDS_A_LOOK, page_scores, plot
from .quality import FLAGS, is_video, rows, table_bytes, worst_first

NEEDS_A_LOOK_ROWS = 500  # the flagged images the page shows; the rest are in quality.tsv


def write_quality(
    table: str, folder: str, records: dict, artworks, limits, log: str | None = None, videos: dict | None = None
) -> list[dict]:
    """quality.tsv at `table` from the records (photo name -> record path; videos: video name ->
    its artworks' record paths), and the gallery's views under `folder`; returns the rows. A log
    file, if named, says how many are flagged."""
    table_rows = rows(records, limits, videos)
    write_atomic(table, table_bytes(table_rows))
    artworks = list(artworks)
    by_artwork = {artwork: {} for artwork in artworks}
    for row in table_rows:
        by_artwork.setdefault(row["artwork"], {})[row["photo"]] = row
    for number, chunk in enumerate(gallery.artwork_chunks(records), 1):
        for artwork in artworks:
            scores = {
                photo: [mine["style"], mine["content"], ",".join(mine["flags"]), mine["style_weight"]]
                for photo in chunk
                if (mine := by_artwork[artwork].get(photo))
            }
            script = f"window.NST_SCORES = {json.dumps(scores, separators=(',', ':'))};\n"
            write_atomic(f"{folder}/{page_scores(artwork, number)}", script.encode())
    by_video = {video: {} for video in videos or {}}  # the table's rows read once, not once per video
    for row in table_rows:
        if is_video(row):
            by_video[row["photo"]][row["artwork"]] = [
                row["style"], row["content"], row["warping_error"], ",".join(row["flags"])
            ]  # fmt: skip
    for video, scores in by_video.items():
        script = f"window.NST_VIDEO_SCORES = {json.dumps(scores, separators=(',', ':'))};\n"
        write_atomic(f"{folder}/{gallery.video_scores(video)}", script.encode())
    for artwork in artworks:
        write_atomic(f"{folder}/{plot(artwork)}", _plot(artwork, list(by_artwork[artwork].values())))
    write_atomic(f"{folder}/{NEEDS_A_LOOK}", _needs_a_look(table_rows, artworks, os.path.basename(table)))
    if log:
        flagged = sum(1 for row in table_rows if row["flags"])
        write_atomic(log, f"{len(table_rows)} images, {flagged} flagged: {table}\n".encode())
    return table_rows


def _plot(artwork: str, own: list[dict]) -> bytes:
    """An SVG scatter of the artwork's images (flagged ones in red), each dot a link to its image."""
    import matplotlib

    matplotlib.use("svg")
    matplotlib.rcParams["svg.hashsalt"] = "nst"  # the same ids each time
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 3.6), dpi=100)
    for flagged, colour in ((False, "#3465a4"), (True, "#cc0000")):
        mine = [row for row in own if bool(row["flags"]) == flagged]
        if not mine:
            continue
        dots = axes.scatter(
            [row["content"] for row in mine],
            [row["style"] for row in mine],
            s=18,
            c=colour,
            label="flagged" if flagged else "not flagged",
        )
        root = gallery.root_of(plot(artwork))
        dots.set_urls([gallery.href(root, _opened(row)) for row in mine])
    axes.set_xlabel("content distance to the photo (lower: closer)")
    axes.set_ylabel("style distance to the painting")
    axes.set_title(f"{artwork}: {len(own)} images")
    if own:
        axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})  # no date: the same rows, the same bytes
    plt.close(figure)
    # a dot opens its image in the window, also where the plot is embedded in a page
    return buffer.getvalue().replace(b'target="_blank"', b'target="_top"')


def _opened(row: dict) -> str:
    """What a row's link opens, relative to the gallery folder: the image, or the video's page."""
    return gallery.video_page(row["photo"]) if is_video(row) else gallery.result(row["artwork"], row["photo"])


def _code(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def _needs_a_look(table_rows: list[dict], artworks: list[str], table_name: str) -> bytes:
    flagged = worst_first(table_rows)
    root = gallery.root_of(NEEDS_A_LOOK)

    def link(path):  # from the page's own folder
        return gallery.href(root, path)

    cells = []
    for row in flagged[:NEEDS_A_LOOK_ROWS]:
        photo, artwork = row["photo"], row["artwork"]
        name = html.escape(photo)
        if is_video(row):  # the video's result, its page, the painting
            shown = (
                f'<video src="{link(gallery.video_result(artwork, photo))}" muted preload="metadata"></video>'
                f'</td><td><a href="{link(gallery.video_page(photo))}">{name}</a> ({row["frames"]} frames)'
            )
        else:
            shown = (
                f'<a href="{link(gallery.result(artwork, photo))}">'
                f'<img src="{link(gallery.thumbnail(photo, gallery.result_thumbnail_name(artwork)))}"'
                f' alt="{name} in the style of {html.escape(artwork)}"></a></td>'
                f'<td><img src="{link(gallery.thumbnail(photo, gallery.PHOTO_THUMBNAIL))}" alt="{name}"><br>{name}'
            )
        cells.append(
            f"<tr><td>{shown}</td>"
            f'<td><img src="{link(gallery.painting_thumbnail(artwork))}" alt="{html.escape(artwork)}">'
            f"<br>{html.escape(artwork)}</td>"
            f'<td class="flags">{html.escape(", ".join(row["flags"]))}</td>'
            f"<td>{row['style']:.3g}</td><td>{row['content']:.3g}</td></tr>"
        )
    more = len(flagged) - NEEDS_A_LOOK_ROWS
    rest = f"<p>and {more} more: see {html.escape(table_name)}</p>" if more > 0 else ""
    meanings = "".join(f"<dt>{name}</dt><dd>{_code(html.escape(text))}</dd>" for name, text in FLAGS.items())
    plots = "".join(
        f'<object data="{link(plot(artwork))}" type="image/svg+xml" class="plot">{html.escape(artwork)}</object>'
        for artwork in artworks
    )
    table = (
        "<table><tr><th>result</th><th>photo</th><th>painting</th><th>flags</th><th>style</th><th>content</th></tr>\n"
        + "\n".join(cells)
        + "\n</table>"
        if cells
        else "<p>No image is flagged.</p>"
    )
    body = (
        f'<nav><a href="{root}index.html">index</a></nav>\n'
        f"<h1>Needs a look: {len(flagged)} of {len(table_rows)} images flagged</h1>\n{table}\n{rest}\n"
        f"<h2>What the flags mean</h2><dl>{meanings}</dl>\n"
        f"<h2>Scores by artwork</h2><p>Each dot an image (click: open it); lower is closer on both axes.</p>\n"
        f'<div class="grid">{plots}</div>'
    )
    return gallery.document("Needs a look", body)
