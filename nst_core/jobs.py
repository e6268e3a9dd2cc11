"""File-to-file jobs, as the `nst` command and the pipeline run them: stylize one photo in the
manner of one artwork or of several (optimised together), make one artwork's Gram targets.
Inputs and outputs are paths or fsspec URLs; outputs are written atomically, and every check
that can fail does so before the expensive work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import memory, quality
from .device import describe
from .errors import NSTError, OutOfMemory
from .fingerprints import IMAGE_KEY, image_fingerprint, sha256
from .image_files import THUMBNAIL_SIDE, check_output, write_thumbnail
from .job import Artwork
from .scoring import Yardstick, painting_grams
from .settings import Settings, batch_key, check_batch
from .storage import check_location, read_bytes
from .targets import GramTargets
from .tensors import load_image, load_source, load_styles, png_text, save_image
from .transfer import StyleTransfer


@dataclass
class Stylized:
    """What became of one image: written (its size, seconds its batch took, how many images that
    batch held, peak memory in bytes on its device, how the last scale fitted where memory
    shaped it, the device and precision, its measures on the `nst score` yardstick), found up to
    date, or failed (error: one line naming the photo and the artwork)."""

    output: str
    written: bool
    size: tuple[int, int] | None = None
    seconds: float = 0.0
    peak_bytes: int | None = None
    tiles: str | None = None
    batch: int = 1
    error: str | None = None
    device: str | None = None
    precision: str | None = None
    measured: dict | None = None


def stylize_file(
    photo: str,
    output: str,
    settings: Settings,
    styles=(),
    blend=None,
    targets: str | None = None,
    skip_unchanged: bool = False,
    progress: bool | None = None,
    on_note=None,
) -> Stylized:
    """Stylize one photo in the manner of one artwork (see Artwork and stylize_photo); NSTError
    where it cannot."""
    if not styles and not targets:
        raise ValueError("stylize_file needs style images or a targets file")
    artwork = Artwork(output, settings, tuple(styles), tuple(blend) if blend else None, targets)
    (done,) = stylize_photo(photo, [artwork], skip_unchanged=skip_unchanged, progress=progress, on_note=on_note)
    if done.error:  # one artwork: the photo (or the output) is the name the line needs
        raise NSTError(done.error.replace(f"{photo}: {artwork.label}: ", f"{photo}: ", 1))
    return done


def stylize_photo(
    photo: str,
    artworks: list[Artwork],
    batch="auto",
    skip_unchanged: bool = False,
    progress: bool | None = None,
    on_note=None,
    on_device=None,
    on_image=None,
    photo_thumbnail: str | None = None,
    thumbnail_side: int = THUMBNAIL_SIDE,
    record: str | None = None,
) -> list[Stylized]:
    """Stylize one photo in the manner of each artwork: the photo is read once and its artworks
    are optimised together, as batches of images (batch: "auto", as many as fit in memory whole;
    or at most that many; 1: one at a time); artworks whose settings change the image's shape
    or schedule go in batches of their own. Each image is the one its own run would make.

    Failures stay per image: an artwork whose output, targets or painting is bad, or whose
    optimisation diverges, gets its Stylized.error and the others are written. A photo that
    cannot be read is an NSTError for all. skip_unchanged: leave an existing PNG that these
    inputs, settings and code made (a fingerprint in the file says so); otherwise the
    fingerprint is written with the result. Told before the work: on_device(text), what device
    and precision it uses; on_note(text), how the final scale fits where memory shaped it. on_image(artwork, stylized):
    told of each image as it is written, found up to date or fails. Thumbnails (of the photo, and
    of each image made or up to date) are written last, then the record (quality.py) of the images
    made or up to date, if one is named: an up-to-date image keeps its entry of the last record."""
    batch = check_batch(batch)
    done: dict[int, Stylized] = {}

    def finish(index: int, stylized: Stylized) -> None:
        done[index] = stylized
        if on_image:
            on_image(artworks[index], stylized)

    for index, artwork in enumerate(artworks):  # before reading anything
        try:
            check_output(artwork.output)
        except NSTError as error:  # it names the output, which is the artwork's
            finish(index, Stylized(artwork.output, written=False, error=str(error)))
    if len(done) == len(artworks):
        return [done[index] for index in range(len(artworks))]
    source = load_source(photo)
    pending: dict[Settings, list[int]] = {}  # batch key -> the artworks of its batches
    fingerprints = {}
    for index, artwork in enumerate(artworks):
        if index in done:
            continue
        try:
            if skip_unchanged:
                fingerprints[index] = _fingerprint(source, artwork)
                if png_text(artwork.output, IMAGE_KEY) == fingerprints[index]:
                    finish(index, Stylized(artwork.output, written=False))
                    continue
        except NSTError as error:
            finish(index, _failed(photo, artwork, error))
            continue
        pending.setdefault(batch_key(artwork.settings), []).append(index)
    job = _PhotoJob(source, fingerprints, finish, progress, on_note, on_device)
    for indices in pending.values():
        job.stylize_group(StyleTransfer(artworks[indices[0]].settings), [(i, artworks[i]) for i in indices], batch)
    if photo_thumbnail:
        write_thumbnail(photo, photo_thumbnail, thumbnail_side)
    for index, artwork in enumerate(artworks):
        if artwork.thumbnail and not done[index].error:
            write_thumbnail(artwork.output, artwork.thumbnail, thumbnail_side)
    if record:
        _write_record(record, source, artworks, [done[index] for index in range(len(artworks))], fingerprints)
    return [done[index] for index in range(len(artworks))]


def _write_record(path: str, source, artworks: list, done: list, fingerprints: dict) -> None:
    """The photo's record: an entry per image made, and per image up to date its entry of the
    last record (measured again from its file where that has none)."""
    last = {entry.get("fingerprint"): entry for entry in quality.read_record(path) if entry.get("fingerprint")}
    images = []
    for index, (artwork, stylized) in enumerate(zip(artworks, done)):
        fingerprint = fingerprints.get(index)
        if stylized.error:
            continue
        if stylized.written:
            width, height = stylized.size
            entry = {
                "artwork": artwork.called,
                "width": width,
                "height": height,
                "seconds": round(stylized.seconds / stylized.batch, 2),
                "peak_gib": round(stylized.peak_bytes / memory.GIB, 3) if stylized.peak_bytes else None,
                "device": stylized.device,
                "precision": stylized.precision,
                **stylized.measured,
            }
        elif fingerprint in last:
            entry = {**last[fingerprint], "artwork": artwork.called}
        else:  # made before records were kept: measured now, its seconds unknown
            entry = _measure_file(source, artwork)
        images.append({**entry, "fingerprint": fingerprint})
    quality.write_record(path, images)


def _measure_file(source, artwork: Artwork) -> dict:
    image = load_image(artwork.output)
    height, width = image.shape[-2:]
    if artwork.targets:
        grams = GramTargets.load(artwork.targets).score_grams
    else:
        grams = painting_grams(load_styles(artwork.styles, artwork.blend), max(width, height))
    yardstick = Yardstick(source.tensor(max(width, height)))
    return {"artwork": artwork.called, "width": width, "height": height, **yardstick.measure(image, grams)}


def _fingerprint(source, artwork: Artwork) -> str:
    if artwork.targets:
        style = {"targets": sha256(read_bytes(artwork.targets))}
    else:
        style = {"images": [sha256(read_bytes(path)) for path in artwork.styles], "blend": list(artwork.blend or [])}
    return image_fingerprint(source.sha256, style, artwork.settings)


def _failed(photo: str, artwork: Artwork, error: Exception) -> Stylized:
    """The line of an image that failed: the photo, then the artwork, unless the problem is in
    one of the artwork's own files, which the line then names alone."""
    text = str(error).removeprefix(f"{photo}: ")
    own = [artwork.targets, *artwork.styles]
    if any(path and text.startswith(f"{path}: ") for path in own):
        return Stylized(artwork.output, written=False, error=text)
    return Stylized(artwork.output, written=False, error=f"{photo}: {artwork.label}: {text}")


@dataclass
class _PhotoJob:
    """The artworks of one photo still to make; finish(artwork index, Stylized) records what
    became of each."""

    source: object
    fingerprints: dict
    finish: object
    progress: bool | None
    on_note: object
    on_device: object
    devices_told: set = field(default_factory=set)
    yardsticks: dict = field(default_factory=dict)  # (long side, device) -> the photo's Yardstick

    def measure(self, transfer: StyleTransfer, size: int, result, targets) -> dict:
        """The image's measures on the yardstick (the photo's references made once per job)."""
        key = (size, str(transfer.device))
        if key not in self.yardsticks:
            self.yardsticks[key] = Yardstick(self.source.tensor(size), transfer.device, transfer.settings.max_memory)
        return self.yardsticks[key].measure(result, targets.score_grams)

    def fail(self, members: list, error: NSTError) -> None:
        """Each of these artworks (index, artwork, ...) fails with this error."""
        for index, artwork, *_ in members:
            self.finish(index, _failed(self.source.path, artwork, error))

    def stylize_group(self, transfer: StyleTransfer, members: list, batch) -> None:
        """The artworks of one batch key: their targets, then batches of them that fit in memory."""
        told = (transfer.device, transfer.settings.precision)
        if self.on_device and told not in self.devices_told:
            self.devices_told.add(told)
            asked = members[0][1].settings.precision
            self.on_device(describe(transfer.device, transfer.settings.precision, asked))
        try:
            transfer.plan(self.source)  # fails before making targets at a size that cannot fit
        except NSTError as error:
            return self.fail(members, error)
        ready = []
        for index, artwork in members:
            try:
                own = artwork.settings
                if artwork.targets:
                    hashes = [s.sha256 for s in load_styles(artwork.styles, artwork.blend)] if artwork.styles else None
                    targets = transfer.load_targets(artwork.targets, self.source, style_hashes=hashes, settings=own)
                else:
                    targets = transfer.make_targets(artwork.styles, artwork.blend, self.source, settings=own)
            except NSTError as error:
                self.fail([(index, artwork)], error)
                continue
            ready.append((index, artwork, targets))
        if not ready:
            return
        most = None if batch == "auto" else batch
        aspect = self.source.image.size
        size = memory.batch_size(transfer.extractor, transfer.settings, aspect, transfer.device, len(ready), most)
        count = -(-len(ready) // size)  # batches of nearly equal sizes
        for number in range(count):
            self.stylize_batch(transfer, ready[number::count])

    def stylize_batch(self, transfer: StyleTransfer, members: list) -> None:
        started, source = time.perf_counter(), self.source
        try:
            plans = transfer.plan(source, len(members))  # fails before the work at a size that cannot fit
        except NSTError as error:
            return self.fail(members, error)
        tiles = plans[-1].describe() if plans[-1].constrained else None
        if tiles and self.on_note:
            self.on_note(f"{source.path}: {tiles} (about {plans[-1].needed / memory.GIB:.1f} GiB)")
        memory.reset_peak(transfer.device)
        targets = [targets for _, _, targets in members]
        settings = [artwork.settings for _, artwork, _ in members]
        try:
            what = f"{len(members)} images together" if len(members) > 1 else members[0][1].label
            told = self.on_note and (lambda text: self.on_note(f"{source.path}: {what}: {text}"))
            results = transfer.stylize_batch(
                source, targets, settings, progress=self.progress, plans=plans, on_progress=told or None
            )
        except OutOfMemory as error:
            if len(members) == 1:
                return self.fail(members, error)
            for member in members:  # the estimate was short: one by one
                self.stylize_batch(transfer, [member])
            return
        except NSTError as error:
            return self.fail(members, error)
        seconds, peak = time.perf_counter() - started, memory.peak_bytes(transfer.device)
        where = {"device": str(transfer.device), "precision": transfer.settings.precision}
        for (index, artwork, targets), result in zip(members, results):
            if isinstance(result, NSTError):
                self.fail([(index, artwork)], result)
                continue
            fingerprint = self.fingerprints.get(index)
            measured = self.measure(transfer, artwork.settings.size, result, targets)
            save_image(result, artwork.output, text={IMAGE_KEY: fingerprint} if fingerprint else None)
            size = (result.shape[-1], result.shape[-2])
            made = Stylized(artwork.output, True, size, seconds, peak, tiles, len(members), measured=measured, **where)
            self.finish(index, made)


def targets_file(styles, output: str, settings: Settings, blend=None, color_reference: str | None = None) -> None:
    """Make an artwork's Gram targets from its images and save them; color_reference is the
    photo, for histogram colour preservation."""
    check_location(output)
    photo = load_source(color_reference) if color_reference else None
    StyleTransfer(settings).make_targets(styles, blend, photo).save(output)
