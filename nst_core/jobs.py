"""File-to-file jobs, as the `nst` command and the pipeline run them: stylize one photo, make one
artwork's Gram targets. Inputs and outputs are paths or fsspec URLs; outputs are written
atomically, and every check that can fail does so before the expensive work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import memory
from .fingerprints import IMAGE_KEY, image_fingerprint, sha256
from .images import load_source, png_text, save_image
from .optimize import StyleTransfer
from .pictures import check_output
from .settings import Settings
from .storage import check_location, read_bytes
from .targets import load_styles


@dataclass
class Stylized:
    """What stylize_file did: wrote the image (its size, seconds taken, peak memory in bytes on
    its device, how the last scale fitted where memory shaped it), or found it up to date."""

    output: str
    written: bool
    size: tuple[int, int] | None = None
    seconds: float = 0.0
    peak_bytes: int | None = None
    tiles: str | None = None


def stylize_file(
    photo: str,
    output: str,
    settings: Settings,
    styles=(),
    blend=None,
    targets: str | None = None,
    skip_unchanged: bool = False,
    progress: bool | None = None,
    on_tiles=None,
) -> Stylized:
    """Stylize one photo in the manner of an artwork, given by its images (styles, with blend
    weights) or by its targets file (checked against the settings, and against styles if both
    are given). skip_unchanged: leave an existing PNG that these inputs, settings and code made
    (a fingerprint in the file says so); otherwise the fingerprint is written with the result.
    on_tiles(text): told, before the work, how the final scale fits where memory shaped it
    (tiles, fewer L-BFGS pairs)."""
    if not styles and not targets:
        raise ValueError("stylize_file needs style images or a targets file")
    check_output(output)
    started = time.perf_counter()
    source = load_source(photo)
    fingerprint = None
    if skip_unchanged:
        if targets:
            style = {"targets": sha256(read_bytes(targets))}
        else:
            style = {"images": [sha256(read_bytes(path)) for path in styles], "blend": list(blend or [])}
        fingerprint = image_fingerprint(source.sha256, style, settings)
        if png_text(output, IMAGE_KEY) == fingerprint:
            return Stylized(output, written=False)
    transfer = StyleTransfer(settings)
    plans = transfer.plan(source)  # fails before making targets at a size that cannot fit
    tiles = plans[-1].describe() if plans[-1].constrained else None
    if tiles and on_tiles:
        on_tiles(f"{photo}: {tiles} (about {plans[-1].needed / memory.GIB:.1f} GiB)")
    memory.reset_peak(transfer.device)
    if targets:
        hashes = [s.sha256 for s in load_styles(styles, blend)] if styles else None
        gram_targets = transfer.load_targets(targets, source, style_hashes=hashes)
    else:
        gram_targets = transfer.make_targets(styles, blend, source)
    result = transfer.stylize(source, gram_targets, progress=progress, plans=plans)
    save_image(result, output, text={IMAGE_KEY: fingerprint} if fingerprint else None)
    size = (result.shape[-1], result.shape[-2])
    seconds, peak = time.perf_counter() - started, memory.peak_bytes(transfer.device)
    return Stylized(output, written=True, size=size, seconds=seconds, peak_bytes=peak, tiles=tiles)


def targets_file(styles, output: str, settings: Settings, blend=None, color_reference: str | None = None) -> None:
    """Make an artwork's Gram targets from its images and save them; color_reference is the
    photo, for histogram colour preservation."""
    check_location(output)
    photo = load_source(color_reference) if color_reference else None
    StyleTransfer(settings).make_targets(styles, blend, photo).save(output)
