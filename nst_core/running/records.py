"""A photo job's record: each image's scores and measures (quality.py's TSV), written after its
images; an image found up to date keeps its entry of the last record."""

from __future__ import annotations

from ..core import memory
from ..core.scoring import Yardstick, painting_grams
from ..core.targets import GramTargets
from ..files.tensors import load_image, load_styles
from ..outputs import quality
from .job import Artwork


def write_record(path: str, source, artworks: list, made: list, fingerprints: dict) -> None:
    """The photo's record: an entry per image made (made: each artwork's jobs.Stylized), and per
    image up to date its entry of the last record (measured again from its file where that has
    none). fingerprints: each artwork's image fingerprint, by index."""
    last = {entry.get("fingerprint"): entry for entry in quality.read_record(path) if entry.get("fingerprint")}
    images = []
    for index, (artwork, stylized) in enumerate(zip(artworks, made)):
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
                "steps": stylized.steps,
                "style_weight": stylized.style_weight,
                "style_target": artwork.settings.style_target,
                **stylized.measured,
            }
        elif fingerprint in last:  # the fingerprint holds the settings: the target too
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
    measured = yardstick.measure(image, grams)
    return {
        "artwork": artwork.called,
        "width": width,
        "height": height,
        **measured,
        "style_target": artwork.settings.style_target,
    }
