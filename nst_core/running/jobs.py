"""File-to-file jobs, as the `nst` command and the pipeline run them: stylize one photo in the
manner of one artwork or of several (optimised together), make one artwork's Gram targets.
Inputs and outputs are paths or fsspec URLs; outputs are written atomically, and every check
that can fail does so before the expensive work.
"""

from __future__ import annotations

import copy
import functools
import time
from dataclasses import dataclass, field

from ..core import memory
from ..core.device import describe
from ..core.objective import ImageWeights
from ..core.reporter import Reporter
from ..core.scoring import Yardstick
from ..core.transfer import StyleTransfer
from ..errors import NSTError, OutOfMemory
from ..files.fingerprints import IMAGE_KEY, artwork_fingerprint
from ..files.image_files import check_output, write_thumbnail
from ..files.storage import check_location
from ..files.tensors import load_source, load_styles, png_text, save_image
from ..settings import Settings, batch_key, check_batch
from .job import Artwork, PhotoJob, TargetsJob
from .push import Pushed, push
from .records import write_record


@dataclass
class Stylized:
    """What became of one image: written (its size, seconds its batch took, how many images that
    batch held, peak memory in bytes on its device, how the last scale fitted where memory
    shaped it, the device and precision, its measures on the `nst score` yardstick, its steps at
    the final scale), found up to
    date, or failed (error: naming the photo and the artwork, or the artwork's own file)."""

    output: str
    written: bool
    size: tuple[int, int] | None = None
    seconds: float = 0.0
    peak_bytes: int | None = None
    tiles: str | None = None
    batch: int = 1
    error: NSTError | None = None
    device: str | None = None
    precision: str | None = None
    measured: dict | None = None
    steps: int | None = None  # optimiser steps at the final scale
    style_weight: float | None = None  # the style weight it ended with (its style_target's push raises it)


def stylize_file(
    photo: str,
    output: str,
    settings: Settings,
    styles=(),
    blend=None,
    targets: str | None = None,
    skip_unchanged: bool = False,
    reporter: Reporter | None = None,
) -> Stylized:
    """Stylize one photo in the manner of one artwork (see Artwork and run); NSTError where it
    cannot."""
    artwork = Artwork(output, settings, tuple(styles), tuple(blend) if blend else None, targets)
    (stylized,) = run(PhotoJob(photo, (artwork,), skip_unchanged=skip_unchanged), reporter)
    if stylized.error:  # one artwork: the photo (or the file) names the line, not the artwork too
        error = copy.copy(stylized.error)
        error.artwork = None
        raise error
    return stylized


def stylize_photo(photo: str, artworks: list[Artwork], reporter: Reporter | None = None, **options) -> list[Stylized]:
    """run() the job of this photo and these artworks; options: PhotoJob's other fields."""
    return run(PhotoJob(photo, tuple(artworks), **options), reporter)


def run(job: PhotoJob, reporter: Reporter | None = None) -> list[Stylized]:
    """Stylize one photo in the manner of each of its artworks: the photo is read once and its
    artworks are optimised together, as batches of images (job.batch: "auto", as many as fit in
    memory whole; or at most that many; 1: one at a time); artworks whose settings change the
    image's shape or schedule go in batches of their own. Each image is the one its own run
    would make.

    Failures stay per image: an artwork whose output, targets or painting is bad, or whose
    optimisation diverges, gets its Stylized.error and the others are written. A photo that
    cannot be read is an NSTError for all. job.skip_unchanged: leave an existing PNG that these
    inputs, settings and code made (a fingerprint in the file says so); otherwise the
    fingerprint is written with the result. The reporter is told what device it uses, how the
    final scale fits where memory shaped it, and of each image as it is written, found up to
    date or fails. Thumbnails (of the photo, and of each image made or up to date) are written
    last, then the record (records.py) of the images made or up to date, if one is named."""
    reporter = reporter or Reporter()
    artworks, batch = job.artworks, check_batch(job.batch)
    outcomes: dict[int, Stylized] = {}

    def finish(index: int, stylized: Stylized) -> None:
        outcomes[index] = stylized
        reporter.image(artworks[index], stylized)

    for index, artwork in enumerate(artworks):  # before reading anything
        try:
            check_output(artwork.output)
        except NSTError as error:  # it names the output, which is the artwork's
            finish(index, Stylized(artwork.output, written=False, error=error))
    if len(outcomes) == len(artworks):
        return [outcomes[index] for index in range(len(artworks))]
    source = load_source(job.photo)
    pending: dict[Settings, list[int]] = {}  # what a batch shares -> the artworks of its batches
    fingerprints = {}
    for index, artwork in enumerate(artworks):
        if index in outcomes:
            continue
        try:
            if job.skip_unchanged:
                fingerprints[index] = artwork_fingerprint(source.sha256, artwork)
                if png_text(artwork.output, IMAGE_KEY) == fingerprints[index]:
                    finish(index, Stylized(artwork.output, written=False))
                    continue
        except NSTError as error:
            finish(index, _failed(job.photo, artwork, error))
            continue
        pending.setdefault(batch_key(artwork.settings), []).append(index)
    work = _Work(source, fingerprints, finish, reporter)
    for shared, indices in pending.items():
        work.stylize_group(StyleTransfer(shared), [(i, artworks[i]) for i in indices], batch)
    if job.photo_thumbnail:
        write_thumbnail(job.photo, job.photo_thumbnail, job.thumbnail_side)
    for index, artwork in enumerate(artworks):
        if artwork.thumbnail and not outcomes[index].error:
            write_thumbnail(artwork.output, artwork.thumbnail, job.thumbnail_side)
    made = [outcomes[index] for index in range(len(artworks))]
    if job.record:
        write_record(job.record, source, list(artworks), made, fingerprints)
    return made


def _failed(photo: str, artwork: Artwork, error: NSTError) -> Stylized:
    """An image that failed: its error names the photo and the artwork, unless the problem is
    in one of the artwork's own files, which then names the line alone."""
    if error.path and error.path in (artwork.targets, *artwork.styles):
        return Stylized(artwork.output, written=False, error=error)
    return Stylized(artwork.output, written=False, error=error.at(photo=photo, artwork=artwork.label))


@dataclass
class _Work:
    """The artworks of one photo still to make; finish(artwork index, Stylized) records what
    became of each."""

    source: object
    fingerprints: dict
    finish: object
    reporter: Reporter
    devices_told: set = field(default_factory=set)
    yardsticks: dict = field(default_factory=dict)  # (long side, device) -> the photo's Yardstick

    def measure(self, transfer: StyleTransfer, result, targets) -> dict:
        """The image's measures on the yardstick (the photo's references made once per job)."""
        size = max(result.shape[-2:])
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
        running_on = (transfer.device, transfer.settings.precision)
        if running_on not in self.devices_told:
            self.devices_told.add(running_on)
            asked = members[0][1].settings.precision
            self.reporter.device(describe(transfer.device, transfer.settings.precision, asked))
        try:
            transfer.plan(self.source)  # fails before making targets at a size that cannot fit
        except NSTError as error:
            return self.fail(members, error)
        ready = []
        for index, artwork in members:
            try:
                targets = artwork_targets(transfer, artwork, self.source)
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
            self.stylize_together(transfer, ready[number::count])

    def stylize_together(self, transfer: StyleTransfer, members: list) -> None:
        """One batch of images (index, artwork, targets), optimised together."""
        started, source = time.perf_counter(), self.source
        try:
            plans = transfer.plan(source, len(members))  # fails before the work at a size that cannot fit
        except NSTError as error:
            return self.fail(members, error)
        tiles = plans[-1].describe() if plans[-1].constrained else None
        if tiles:
            self.reporter.note(f"{source.path}: {tiles} (about {plans[-1].needed / memory.GIB:.1f} GiB)")
        memory.reset_peak(transfer.device)
        targets = [targets for _, _, targets in members]
        weights = ImageWeights.of([artwork.settings for _, artwork, _ in members])
        images = f"{len(members)} images together" if len(members) > 1 else members[0][1].label
        try:
            reporter = self.reporter.about(f"{source.path}: {images}")
            steps = {}
            results = transfer.stylize_batch(source, targets, weights, plans, reporter, steps)
        except OutOfMemory as error:
            if len(members) == 1:
                return self.fail(members, error)
            for member in members:  # the estimate was short: one by one
                self.stylize_together(transfer, [member])
            return
        except NSTError as error:
            return self.fail(members, error)
        images = []
        for number, ((_, artwork, targets), result) in enumerate(zip(members, results)):
            measured = None if isinstance(result, NSTError) else self.measure(transfer, result, targets)
            images.append(
                Pushed(artwork.settings, targets, result, measured, artwork.settings.style_weight, steps.get(number))
            )
        try:
            push(transfer, source, images, plans, reporter, functools.partial(self.measure, transfer))
        except NSTError as error:  # out of memory, say: each image keeps what the schedule made
            reporter.note(f"{source.path}: no push to the style target: {error}")
        seconds, peak = time.perf_counter() - started, memory.peak_bytes(transfer.device)
        device = {"device": str(transfer.device), "precision": transfer.settings.precision}
        for (index, artwork, _), image in zip(members, images):
            if isinstance(image.result, NSTError):
                self.fail([(index, artwork)], image.result)
                continue
            fingerprint = self.fingerprints.get(index)
            result = image.result
            save_image(result, artwork.output, text={IMAGE_KEY: fingerprint} if fingerprint else None)
            size = (result.shape[-1], result.shape[-2])
            made = Stylized(
                artwork.output,
                True,
                size,
                seconds,
                peak,
                tiles,
                len(members),
                measured=image.measured,
                steps=image.steps,
                style_weight=image.style_weight,
                **device,
            )
            self.finish(index, made)


def artwork_targets(transfer: StyleTransfer, artwork: Artwork, photo=None):
    """The artwork's Gram targets for this transfer: its targets file, checked (against its
    images too, if given), or made from its images; photo: for histogram colour preservation."""
    if artwork.targets:
        hashes = [s.sha256 for s in load_styles(artwork.styles, artwork.blend)] if artwork.styles else None
        return transfer.load_targets(artwork.targets, photo, hashes, artwork.settings)
    return transfer.make_targets(artwork.styles, artwork.blend, photo, artwork.settings)


def make_targets(job: TargetsJob) -> None:
    """Make an artwork's Gram targets from its images and save them."""
    check_location(job.output)
    photo = load_source(job.color_reference) if job.color_reference else None
    StyleTransfer(job.settings).make_targets(job.styles, job.blend, photo).save(job.output)


def targets_file(styles, output: str, settings: Settings, blend=None, color_reference: str | None = None) -> None:
    """make_targets of these images, settings and output; color_reference is the photo, for
    histogram colour preservation."""
    make_targets(TargetsJob(tuple(styles), output, settings, tuple(blend) if blend else None, color_reference))
