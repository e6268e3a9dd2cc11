"""One photo's job as data: the photo, its artworks (each with its style, by paintings or a
targets file, and its own settings) and what the job writes. The pipeline hands it to the
library as a JSON file (`nst stylize --job FILE`); `nst stylize` for people builds the same
types from its options. No torch here: the pipeline reads this module while planning.

    {"photo": "photos/tubingen.jpg",
     "settings": {"size": 192, "iterations": 30, ...},      # every artwork's, as config's nst
     "artworks": [{"name": "scream", "targets": "targets/scream.pt", "settings": {"style_weight": 2.0},
                   "output": "stylized/scream/tubingen.png", "thumbnail": "thumbs/scream.jpg"},
                  {"name": "hat", "styles": ["a.jpg", "b.jpg"], "blend": [0.7, 0.3], "output": ...}],
     "batch": "auto", "skip_unchanged": true, "record": "quality/tubingen.tsv",
     "photo_thumbnail": "thumbs/_photo.jpg", "thumbnail_side": 192}

An artwork's Gram targets, made once for many photos' jobs, are a job of their own
(`nst targets --job FILE`):

    {"styles": ["a.jpg", "b.jpg"], "blend": [0.7, 0.3], "settings": {"size": 192, ...},
     "output": "targets/hat.pt"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import NSTError
from ..files.image_files import THUMBNAIL_SIDE, check_thumbnail_side
from ..files.storage import file_stem, read_bytes
from ..settings import Settings, check_batch, from_mapping


@dataclass(frozen=True)
class Artwork:
    """One image to make of a photo: the artwork's style, by its images (styles, with blend
    weights) or its targets file (checked against the settings, and against styles if both are
    given), with the artwork's settings. name: what messages call it (default: its file).
    thumbnail: where to write a small JPEG of the image, for a gallery."""

    output: str
    settings: Settings
    styles: tuple = ()
    blend: tuple | None = None
    targets: str | None = None
    name: str | None = None
    thumbnail: str | None = None

    def __post_init__(self):
        if not self.styles and not self.targets:
            raise ValueError("an artwork needs style images or a targets file")

    @property
    def label(self) -> str:
        return self.name or self.targets or self.styles[0]

    @property
    def called(self) -> str:
        """What lines and tables call it: its name, or its file's, without folder or extension."""
        return self.name or file_stem(self.label)


@dataclass(frozen=True)
class PhotoJob:
    """One photo's images, one per artwork, optimised together (jobs.stylize_photo runs it)."""

    photo: str
    artworks: tuple[Artwork, ...]
    batch: str | int = "auto"
    skip_unchanged: bool = False
    record: str | None = None
    photo_thumbnail: str | None = None
    thumbnail_side: int = THUMBNAIL_SIDE


@dataclass(frozen=True)
class TargetsJob:
    """An artwork's Gram targets to make (jobs.make_targets runs it): its images and their blend
    weights, its settings; color_reference: the photo, for histogram colour preservation."""

    styles: tuple
    output: str
    settings: Settings
    blend: tuple | None = None
    color_reference: str | None = None


@dataclass(frozen=True)
class SegmentJob:
    """One segment of a video in each artwork's style (video_jobs.run_segment runs it): the video,
    its plan (video_jobs.make_plan), the segment's number in it; each artwork's output is the
    segment's frames (MP4); previous: each artwork's previous segment's output, where the plan
    says this segment goes on from it.

        {"video": "videos/bunny.mp4", "plan": "videos/bunny/plan.json", "segment": 3,
         "settings": {"size": 256, ...}, "artworks": [{"name": "scream", "targets": "...",
         "output": "videos/bunny/scream/3.mp4"}], "previous": ["videos/bunny/scream/2.mp4"]}"""

    video: str
    plan: str
    segment: int
    artworks: tuple[Artwork, ...]
    previous: tuple[str, ...] = ()


_SEGMENT_KEYS = {"video", "plan", "segment", "settings", "artworks", "previous"}


def segment_job_from_mapping(data, place: str = "job") -> SegmentJob:
    """The segment job a mapping describes; NSTError naming `place` and the key."""
    try:
        data = _checked_keys(None, data, _SEGMENT_KEYS, {"video", "plan", "segment", "artworks"})
        shared = _checked_type("settings", data.get("settings", {}), dict, "a mapping")
        artworks = _artworks(data["artworks"], shared)
        previous = tuple(_checked_type("previous", data.get("previous", []), list, "a list"))
        if previous and len(previous) != len(artworks):
            raise NSTError(f"{len(previous)} previous outputs for {len(artworks)} artworks").at("previous")
        segment = _checked_type("segment", data["segment"], int, "a whole number")
        return SegmentJob(data["video"], data["plan"], segment, artworks, previous)
    except NSTError as error:
        raise error.at(place) from None


def read_segment_job(path: str) -> SegmentJob:
    """The segment job in a JSON job file (a path or URL)."""
    return segment_job_from_mapping(_mapping_in(path), path)


_JOB_KEYS = {"photo", "settings", "artworks", "batch", "skip_unchanged", "record", "photo_thumbnail", "thumbnail_side"}
_ARTWORK_KEYS = {"name", "output", "thumbnail", "styles", "blend", "targets", "settings"}


def _checked_keys(place: str | None, entry, known: set, required: set) -> dict:
    if not isinstance(entry, dict):
        raise NSTError(f"expected a mapping, not {type(entry).__name__}").at(place)
    unknown, missing = set(entry) - known, required - set(entry)
    if unknown:
        raise NSTError(f"unknown key {sorted(unknown)[0]!r} (keys: {', '.join(sorted(known))})").at(place)
    if missing:
        raise NSTError(f"{sorted(missing)[0]!r} is missing").at(place)
    return entry


def _checked_type(place: str, value, kind: type, expected: str):
    if not isinstance(value, kind):
        raise NSTError(f"expected {expected}, not {type(value).__name__}").at(place)
    return value


def _artwork(entry, shared: dict) -> Artwork:
    entry = _checked_keys(None, entry, _ARTWORK_KEYS, {"output"})
    if not entry.get("styles") and not entry.get("targets"):
        raise NSTError("give styles (one or more images) or targets (a file)")
    overrides = _checked_type("settings", entry.get("settings", {}), dict, "a mapping")
    for key in ("styles", "blend"):
        _checked_type(key, entry.get(key, []), list, "a list")
    settings = from_mapping({**shared, **overrides})  # checked here, once
    blend = tuple(entry["blend"]) if entry.get("blend") else None
    styles = tuple(entry.get("styles", ()))
    return Artwork(
        entry["output"], settings, styles, blend, entry.get("targets"), entry.get("name"), entry.get("thumbnail")
    )


def _artworks(entries, shared: dict) -> tuple[Artwork, ...]:
    artworks = []
    for index, entry in enumerate(_checked_type("artworks", entries, list, "a list")):
        name = entry.get("name", index + 1) if isinstance(entry, dict) else index + 1
        try:
            artworks.append(_artwork(entry, shared))
        except NSTError as error:
            raise error.at(f"artwork {name}") from None
    if not artworks:
        raise NSTError("no artworks")
    return tuple(artworks)


def job_from_mapping(data, place: str = "job") -> PhotoJob:
    """The job a mapping (a job file's JSON) describes; NSTError naming `place` and the key."""
    try:
        return _job(data)
    except NSTError as error:
        raise error.at(place) from None


def _job(data) -> PhotoJob:
    data = _checked_keys(None, data, _JOB_KEYS, {"photo", "artworks"})
    shared = _checked_type("settings", data.get("settings", {}), dict, "a mapping")
    return PhotoJob(
        data["photo"],
        _artworks(data["artworks"], shared),
        check_batch(data.get("batch", "auto")),
        bool(data.get("skip_unchanged", False)),
        data.get("record"),
        data.get("photo_thumbnail"),
        check_thumbnail_side(data.get("thumbnail_side", THUMBNAIL_SIDE), "thumbnail_side"),
    )


_TARGETS_KEYS = {"styles", "blend", "settings", "output", "color_reference"}


def targets_job_from_mapping(data, place: str = "job") -> TargetsJob:
    """The targets job a mapping describes; NSTError naming `place` and the key."""
    try:
        data = _checked_keys(None, data, _TARGETS_KEYS, {"styles", "output"})
        styles = _checked_type("styles", data["styles"], list, "a list")
        if not styles:
            raise NSTError("give one or more images").at("styles")
        blend = _checked_type("blend", data.get("blend", []), list, "a list")
        settings = from_mapping(_checked_type("settings", data.get("settings", {}), dict, "a mapping"))
        return TargetsJob(tuple(styles), data["output"], settings, tuple(blend) or None, data.get("color_reference"))
    except NSTError as error:
        raise error.at(place) from None


def _mapping_in(path: str):
    try:
        return json.loads(read_bytes(path))
    except ValueError as error:
        raise NSTError(f"not a job file ({error})", path=path) from None


def read_job(path: str) -> PhotoJob:
    """The photo job in a JSON job file (a path or URL)."""
    return job_from_mapping(_mapping_in(path), path)


def read_targets_job(path: str) -> TargetsJob:
    """The targets job in a JSON job file (a path or URL)."""
    return targets_job_from_mapping(_mapping_in(path), path)
