"""Pages of a batch for contact sheets: photos in name order, cut where a photo's name says so.

A photo starts a new page when a hash of its name is 0 modulo the page size (content-defined
chunking, as rsync and backup tools cut files). Pages then hold `page_size` photos on average and
stay put as the batch grows: a new photo changes only the page it joins, or splits that page in
two when it starts one, so at most two pages are remade per artwork, where pages of a fixed count
would all shift after it. The price: page lengths vary (geometrically: over 3x the average for
about 1 page in 20).
"""

from __future__ import annotations

import hashlib

FIRST = "first"  # the page of the photos before any photo that starts a page


def starts_page(photo: str, page_size: int) -> bool:
    digest = hashlib.blake2b(photo.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % page_size == 0


def page_name(photo: str) -> str:
    """The name of the page a photo starts: distinct from FIRST whatever the photo's name, and
    short enough for a file name (255 bytes) when the photo's is near that length."""
    encoded = photo.encode("utf-8", "surrogateescape")
    if len(encoded) <= 200:
        return f"from-{photo}"
    digest = hashlib.blake2b(encoded, digest_size=4).hexdigest()
    return f"from-{encoded[:160].decode('utf-8', 'ignore')}~{digest}"


def pages(photos, page_size: int) -> dict[str, list[str]]:
    """Page name -> its photos, in name order; page names in that order too."""
    if page_size < 1:
        raise ValueError(f"page size must be at least 1, not {page_size}")
    result: dict[str, list[str]] = {}
    page = FIRST
    for photo in sorted(photos):
        if starts_page(photo, page_size):
            page = page_name(photo)
        result.setdefault(page, []).append(photo)
    return result
