"""What a result was made from, as a short hash: no torch import (workers and the pipeline use it).

- code_fingerprint(): nst_core's sources. The pipeline's rules carry it as a parameter, because
  Snakemake does not track imported modules, and warm workers are keyed by it, so old code
  never serves new jobs.
- image_fingerprint(): a stylized image's photo, style, settings and code, written into the PNG
  so that `nst stylize --skip-unchanged` can leave an image made from the same inputs as it is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent  # nst_core, the folder above files/
IMAGE_KEY = "nst:fingerprint"  # the PNG text chunk holding image_fingerprint()


def code_fingerprint(*context) -> str:
    """Hash of nst_core's sources and any context (an interpreter, a location, a thread count)."""
    digest = hashlib.sha256("\0".join(map(str, context)).encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_fingerprint(photo_sha256: str, style: dict, settings) -> str:
    """style: {"targets": sha256 of the targets file} or {"images": [sha256, ...], "blend": [...]}."""
    made_from = {
        "photo": photo_sha256,
        "style": style,
        "settings": dataclasses.asdict(settings),
        "code": code_fingerprint(),
    }
    return sha256(json.dumps(made_from, sort_keys=True, default=str).encode())


def artwork_fingerprint(photo_sha256: str, artwork) -> str:
    """image_fingerprint of an artwork's image of a photo (job.Artwork: its style by targets
    file or by images, its settings)."""
    # here, not at the top: fsspec, and the worker's client imports this module with the
    # standard library only
    from .storage import read_bytes

    if artwork.targets:
        style = {"targets": sha256(read_bytes(artwork.targets))}
    else:
        style = {"images": [sha256(read_bytes(path)) for path in artwork.styles], "blend": list(artwork.blend or [])}
    return image_fingerprint(photo_sha256, style, artwork.settings)
