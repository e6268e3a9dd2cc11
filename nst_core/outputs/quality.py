"""Quality flags of stylized images, and the batch's table of them (results/quality.tsv).

A stylize job measures each image it makes on the `nst score` yardstick (scoring.Yardstick) and
writes one record per photo (a small TSV); the table is made from the records, which is where flags
that compare an image with the rest of the batch are judged. No torch import.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import statistics
from dataclasses import dataclass, field, fields, replace

from ..errors import NSTError
from ..files.storage import read_bytes, write_atomic

# Each flag and what it means, most severe first (the order of the "needs a look" page).
FLAGS = {
    "non_finite": "NaN or infinite values before saving",
    "flat": "near-constant: the pixels' standard deviation is under `flat` (0-1 scale)",
    "clipped": "mostly black or white: over a share `clipped` of the pixels are near black or white",
    "lost_layout": "its layout (the correlation of its deep feature maps with the photo's) is under `lost_layout`",
    "weak_style": "the style score is less than `weak_style` times better than the photo's own against the painting",
    "short_of_target": "its style ratio (the photo's own style score over the image's) is short of its artwork's "
    "`style_target` after the push",
    "outlier": "style or content worse than the artwork's other results: a robust z-score over `outlier`",
}
COLUMNS = (
    "photo",
    "artwork",
    "width",
    "height",
    "seconds",
    "steps",  # optimiser steps at the final scale (fewer where the image stopped when done)
    "style_weight",  # the style weight the image ended with (more where a style_target pushed it)
    "style_ratio",  # the photo's own style score over the image's: how far the style came
    "peak_gib",
    "device",
    "precision",
    "style",
    "content",
    "layout",  # the correlation of the image's relu4_2 maps with the photo's (1: the photo's layout)
    "frames",  # a video's row: its frames (empty for a photo); style and content are their means
    "warping_error",  # a video's row: the mean over frame pairs (video/measure.py)
)


def _threshold(default, help_text: str, alone: bool = True):
    """A threshold; alone: judged on one image by itself (image_flags), not within a batch. Its
    type is its default's."""
    return field(default=default, metadata={"help": help_text, "alone": alone})


@dataclass(frozen=True)
class Thresholds:
    """Where each flag starts (config.yaml's `quality:`, `nst check`'s options)."""

    flat: float = _threshold(0.02, "flat below this standard deviation of the pixels (0-1 scale)")
    clipped: float = _threshold(0.5, "clipped above this share of black or white pixels")
    weak_style: float = _threshold(1.5, "weak_style below this ratio of the photo's own style score to the image's")
    # The photo upside down scores 0.01 to 0.28 from 128 px, flat 0; the demo's images 0.57 to 0.87
    # (docs/benchmarks.md, "The layout flag").
    lost_layout: float = _threshold(
        0.35, "lost_layout below this correlation of the image's deep maps with the photo's"
    )
    outlier: float = _threshold(3.5, "outlier above this robust z-score within an artwork's results", alone=False)
    outlier_min: int = _threshold(8, "outliers are judged among at least this many results of an artwork", alone=False)


# Thresholds that are correlations, and what a value of 1 or more may have been meant as.
CORRELATIONS = {"lost_layout": "before 6 December 2026 a multiple of the batch's median content distance"}


def image_thresholds() -> list:
    """The thresholds of the flags one image raises by itself (`nst check`'s options)."""
    return [row for row in fields(Thresholds) if row.metadata["alone"]]


def thresholds(given: dict | None) -> Thresholds:
    """Thresholds from a mapping (config.yaml's `quality:`): an unknown name, or a value that is
    not a positive number, is an NSTError naming it."""
    known = {f.name: f for f in fields(Thresholds)}
    values = {}
    for name, value in (given or {}).items():
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise NSTError(f"quality: unknown threshold {name!r}{hint} (thresholds: {', '.join(known)})")
        kind = type(known[name].default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or kind(value) != value:
            raise NSTError(f"quality: {name}: give a positive {'whole ' if kind is int else ''}number, not {value!r}")
        if name in CORRELATIONS and value >= 1:
            raise NSTError(f"quality: {name}: give a correlation under 1, not {value!r} ({CORRELATIONS[name]})")
        values[name] = kind(value)
    return replace(Thresholds(), **values)


def image_flags(measured: dict, limits: Thresholds) -> list[str]:
    """The flags one image earns by itself (its Yardstick.measure)."""
    flags = []
    if not measured["finite"]:
        flags.append("non_finite")
    if measured["spread"] < limits.flat:
        flags.append("flat")
    if measured["clipped"] > limits.clipped:
        flags.append("clipped")
    if measured.get("layout") is not None and measured["layout"] < limits.lost_layout:
        flags.append("lost_layout")
    if style_ratio(measured) < limits.weak_style:
        flags.append("weak_style")
    if short_of_target(measured, measured.get("style_target")):
        flags.append("short_of_target")
    return flags


def is_video(row: dict) -> bool:
    """Whether a row of the table is a video's (its photo column names the video)."""
    return row.get("frames") is not None


def style_ratio(measured: dict) -> float:
    """How many times closer to the painting's style the image is than its photo, on the
    yardstick (inf for an image at the painting's own statistics)."""
    return measured["photo_style"] / measured["style"] if measured["style"] > 0 else math.inf


def short_of_target(measured: dict, target: float | None) -> bool:
    """Whether an image's style ratio is under its artwork's style_target (none: never)."""
    return bool(target) and style_ratio(measured) < target


def _robust_z(values: list[float]) -> list[float]:
    """Iglewicz and Hoaglin's modified z-score: 0.6745 (x - median) / MAD (0 where MAD is 0)."""
    middle = statistics.median(values)
    spread = statistics.median(abs(value - middle) for value in values)
    return [0.6745 * (value - middle) / spread if spread else 0.0 for value in values]


def batch_flags(rows: list[dict], limits: Thresholds) -> None:
    """Add to each row's flags those that compare it with the batch: outlier (the artwork's
    style and content, on the worse side)."""
    by_artwork: dict[str, list[dict]] = {}
    for row in rows:
        by_artwork.setdefault(row["artwork"], []).append(row)
    for own in by_artwork.values():
        if len(own) < limits.outlier_min:
            continue
        style, content = _robust_z([r["style"] for r in own]), _robust_z([r["content"] for r in own])
        for row, z_style, z_content in zip(own, style, content):
            if max(z_style, z_content) > limits.outlier:
                row["flags"].append("outlier")
    for row in rows:
        row["flags"].sort(key=list(FLAGS).index)


def worst_first(rows: list[dict]) -> list[dict]:
    """The flagged rows, the most severe flag first, then more flags, then the worse style score."""
    order = list(FLAGS)
    flagged = [row for row in rows if row["flags"]]
    return sorted(flagged, key=lambda r: (order.index(r["flags"][0]), -len(r["flags"]), -r["style"]))


RECORD = (*(c for c in COLUMNS[1:] if c != "style_ratio"), "photo_style", "spread", "clipped", "finite")
RECORD += ("style_target", "fingerprint")
_TEXT = {"artwork", "device", "precision", "fingerprint"}


def write_record(path: str, images: list[dict]) -> None:
    """A photo's record: a TSV row per image (its artwork, COLUMNS but the photo, what
    Yardstick.measure gives, the image's fingerprint), written whole. A TSV and not JSON: with
    .tsv, the longest photo name that names a PNG also names its record."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(RECORD)
    for image in images:
        writer.writerow([_cell(image.get(name), exact=True) for name in RECORD])
    write_atomic(path, out.getvalue().encode())


def _value(name: str, text: str):
    if text == "" or name in _TEXT:
        return text or None
    if name == "finite":
        return text == "True"
    return int(text) if name in ("width", "height", "steps", "frames") else float(text)


def read_record(path: str) -> list[dict]:
    """A photo's record's images; [] where there is none or it does not parse (it is remade)."""
    try:
        lines = read_bytes(path).decode().splitlines()
        table = list(csv.DictReader(lines, delimiter="\t"))
        return [{name: _value(name, row.get(name) or "") for name in RECORD} for row in table]
    except (NSTError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return []


def rows(records: dict, limits: Thresholds, videos: dict | None = None) -> list[dict]:
    """The batch's rows from its records (photo name -> record path; videos: video name -> its
    artworks' record paths), each with its flags."""
    table = []
    named = [*records.items(), *((video, path) for video, paths in (videos or {}).items() for path in paths)]
    for photo, path in named:
        for image in read_record(path):
            flags = image_flags(image, limits)
            table.append({**image, "photo": photo, "style_ratio": style_ratio(image), "flags": flags})
    batch_flags(table, limits)
    return table


def _cell(value, exact: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not exact:
        return f"{value:.4g}"
    return str(value)


def table_bytes(rows: list[dict]) -> bytes:
    """quality.tsv: a header, then one row per image, flags comma-separated (empty: fine)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow([*COLUMNS, "flags"])
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in COLUMNS] + [",".join(row["flags"])])
    return out.getvalue().encode()
