"""Tiles: an image cut into parts whose features add up to the whole image's (objective.py).

Inner regions partition the feature maps (each feature counted once), with edges on a GRID px
grid so every pooling window is the whole image's; a tile also sees MARGIN px of context around
its inner region, so that its inner features are those of the whole image. No torch import.
"""

from __future__ import annotations

from dataclasses import dataclass

from .layers import layer_stride

# The deepest layer used (relu5_1/conv5_1) has one feature per 16 px. 80 px of margin was the
# least that gave exact features for the default preset and 64 for the paper's (tests/test_tiles.py).
GRID = 16
MARGIN = 96


@dataclass(frozen=True)
class Tile:
    """Rows y0:y1 and columns x0:x1 whose features this tile computes (its inner region), from the
    pixels top:bottom, left:right (the inner region and its margin, within the image)."""

    y0: int
    y1: int
    x0: int
    x1: int
    top: int
    bottom: int
    left: int
    right: int


def _cuts(length: int, step: int) -> list[tuple[int, int]]:
    edges = list(range(0, length, step)) + [length]
    return list(zip(edges[:-1], edges[1:]))


def tiles(height: int, width: int, tile_size: int | None, margin: int = MARGIN) -> list[Tile]:
    """Tiles of at most tile_size px a side whose inner regions cover the image; one tile (the
    image) when it fits or tile_size is None. ValueError when no inner region is left on the grid."""
    if tile_size is None or max(height, width) <= tile_size:
        return [Tile(0, height, 0, width, 0, height, 0, width)]
    step = (tile_size - 2 * margin) // GRID * GRID
    if step < GRID or margin % GRID:
        raise ValueError(f"{tile_size} px tiles with {margin} px margins leave no inner region on the {GRID} px grid")
    return [
        Tile(
            y0, y1, x0, x1, max(0, y0 - margin), min(height, y1 + margin), max(0, x0 - margin), min(width, x1 + margin)
        )
        for y0, y1 in _cuts(height, step)
        for x0, x1 in _cuts(width, step)
    ]


def inner_region(tile: Tile, layer: str, height: int, width: int, of_tile: bool) -> tuple:
    """The index of the tile's inner region in a layer's features: of the tile's own (of_tile) or
    of the whole image's. The last tile's region ends with the image, which need not be on the grid."""
    stride = layer_stride(layer)
    top, left = (tile.top, tile.left) if of_tile else (0, 0)
    y1 = None if tile.y1 == height else (tile.y1 - top) // stride
    x1 = None if tile.x1 == width else (tile.x1 - left) // stride
    return ..., slice((tile.y0 - top) // stride, y1), slice((tile.x0 - left) // stride, x1)


def pixels_of(tile: Tile) -> tuple:
    return ..., slice(tile.top, tile.bottom), slice(tile.left, tile.right)
