"""The objective of one scale (content and style losses of an image's VGG-19 features, and total
variation), evaluated on the whole image or, when that does not fit, by tiles with the same result.

Every feature term is a function of sums over feature positions (losses.py): per style layer the
sum of F F^T, per content layer the sums of d^2 and |d|. By tiles, in two passes:
1. each tile's sums over its inner region, without gradients, added up: the whole image's sums,
   hence the loss and its derivative with respect to each sum;
2. each tile again, with gradients, backpropagating sum_k (dL/dS_k) * S_k(tile). Its gradient is
   the tile's exact share of the whole image's: the tiles' pixel gradients are added up.
Inner regions partition the feature maps (each feature counted once), with edges on a 16 px grid
so every pooling window is the whole image's; a tile also sees `margin` px of context around its
inner region, so that the inner features are those of the whole image. No feathering: where the
margin suffices, the result is the untiled one (tests/test_tiles.py measures which margin does).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .layers import TILE_GRID as GRID
from .layers import TILE_MARGIN as MARGIN
from .layers import layer_stride
from .losses import content_loss_of, content_sums, style_loss_of, style_sums, tv_loss
from .network import autocast


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


def _inner(tile: Tile, layer: str, height: int, width: int, of_tile: bool) -> tuple:
    """The index of the tile's inner region in a layer's features: of the tile's own (of_tile) or
    of the whole image's. The last tile's region ends with the image, which need not be on the grid."""
    stride = layer_stride(layer)
    top, left = (tile.top, tile.left) if of_tile else (0, 0)
    y1 = None if tile.y1 == height else (tile.y1 - top) // stride
    x1 = None if tile.x1 == width else (tile.x1 - left) // stride
    return ..., slice((tile.y0 - top) // stride, y1), slice((tile.x0 - left) // stride, x1)


def _pixels(tile: Tile) -> tuple:
    return ..., slice(tile.top, tile.bottom), slice(tile.left, tile.right)


def _forward_by_tiles(extractor, image: torch.Tensor, tile_size, precision: str, margin: int = MARGIN):
    """Each tile of the image with its features, without gradients (the whole image: one tile)."""
    for tile in tiles(*image.shape[-2:], tile_size, margin):
        with torch.no_grad(), autocast(image.device, precision):
            features = extractor(image[_pixels(tile)])
        yield tile, features


def _add(totals: dict, part: dict) -> None:
    for key, value in part.items():
        totals[key] = totals[key] + value if key in totals else value


def tiled_features(extractor, image: torch.Tensor, layers, tile_size: int | None, precision: str) -> dict:
    """The image's features at `layers`, no gradients, computed by tiles when it is larger than
    tile_size: the same maps (e.g. the photo's content targets), needing the memory of one tile's
    activations besides the maps themselves."""
    height, width = image.shape[-2:]
    result = {}
    for tile, part in _forward_by_tiles(extractor, image, tile_size, precision):
        for layer in layers:
            if layer not in result:
                channels, (h, w) = part[layer].shape[1], _layer_size(extractor, layer, width, height)
                result[layer] = part[layer].new_empty((image.shape[0], channels, h, w))
            result[layer][_inner(tile, layer, height, width, False)] = part[layer][
                _inner(tile, layer, height, width, True)
            ]
    return result


def tiled_grams(extractor, image: torch.Tensor, layers, tile_size: int | None, precision: str) -> dict:
    """The image's Gram matrices ([B, C, C], divided by the positions) at `layers`, no gradients,
    summed over tiles when it is larger than tile_size (a large painting's style targets)."""
    height, width = image.shape[-2:]
    sums, positions = {}, {}
    for tile, part in _forward_by_tiles(extractor, image, tile_size, precision):
        inner = {layer: part[layer][_inner(tile, layer, height, width, True)] for layer in layers}
        _add(sums, {layer: style_sums(own) for layer, own in inner.items()})
        _add(positions, {layer: own.shape[-2] * own.shape[-1] for layer, own in inner.items()})
    return {layer: sums[layer] / positions[layer] for layer in layers}


def _layer_size(extractor, layer: str, width: int, height: int) -> tuple[int, int]:
    for name, _, w, h in extractor.layer_shapes(width, height):
        if name == layer:
            return h, w
    raise KeyError(layer)


class Objective:
    """The loss of one scale of a batch of images of one photo, per image ([B]), for the photo's
    content features ([1, ...]) and each image's Grams ([C, C] for all, or [B, C, C]); built once
    per scale. weights: each image's loss weights, {"content", "style", "tv": one float per image}
    (its artwork's; default: the settings' for one image). tile_size: tile the images when their
    long side is larger (None: never)."""

    def __init__(
        self,
        extractor,
        settings,
        content_targets: dict,
        style_targets: dict,
        tile_size=None,
        margin=MARGIN,
        *,
        weights=None,
    ):
        self.extractor, self.settings = extractor, settings
        self.content_targets, self.style_targets = content_targets, style_targets
        self.tile_size, self.margin = tile_size, margin
        self.device = next(iter(content_targets.values())).device
        s = settings
        weights = weights or {"content": [s.content_weight], "style": [s.style_weight], "tv": [s.tv_weight]}

        def factor(values, times=1.0):  # each product in Python floats, rounded to fp32 once
            return torch.tensor([value * times for value in values], device=self.device)

        self.content_factor = factor(weights["content"])
        self.style_factors = {layer: factor(weights["style"], w) for layer, w in s.layer_weights().items()}
        self.tv_factor = factor(weights["tv"]) if any(weights["tv"]) else None

    def tiles(self, image: torch.Tensor) -> list[Tile]:
        return tiles(*image.shape[-2:], self.tile_size, self.margin)

    def _features(self, pixels: torch.Tensor) -> dict:
        with autocast(self.device, self.settings.precision):
            return self.extractor(pixels)

    def _sums(self, features: dict, tile: Tile, height: int, width: int) -> tuple[dict, dict]:
        """A tile's sums over its inner region, and the number of style positions there."""

        def inner(layer, of_tile: bool):
            return _inner(tile, layer, height, width, of_tile)

        sums, positions = {}, {}
        for layer in self.settings.content_layers:
            own, target = features[layer][inner(layer, True)], self.content_targets[layer][inner(layer, False)]
            sums["squares", layer], sums["absolute", layer] = content_sums(own, target)
        for layer in self.settings.layer_weights():
            own = features[layer][inner(layer, True)]
            sums["style", layer], positions[layer] = style_sums(own), own.shape[-2] * own.shape[-1]
        return sums, positions

    def _feature_loss(self, sums: dict, positions: dict) -> torch.Tensor:
        s = self.settings
        total = torch.zeros((), device=self.device)
        for layer in s.content_layers:
            term = content_loss_of(
                sums["squares", layer], sums["absolute", layer], self.content_targets[layer], s.normalisation
            )
            total = total + self.content_factor * term
        for layer, factor in self.style_factors.items():
            term = style_loss_of(sums["style", layer], positions[layer], self.style_targets[layer], s.normalisation)
            total = total + factor * term
        return total

    def _with_tv(self, total: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return total if self.tv_factor is None else total + self.tv_factor * tv_loss(image)

    def loss(self, image: torch.Tensor) -> torch.Tensor:
        """The loss of each image ([B]), without gradients."""
        with torch.no_grad():
            sums, positions = self._whole_sums(image)
            return self._with_tv(self._feature_loss(sums, positions), image)

    def _whole_sums(self, image: torch.Tensor) -> tuple[dict, dict]:
        height, width = image.shape[-2:]
        sums, positions = {}, {}
        tiled = _forward_by_tiles(self.extractor, image, self.tile_size, self.settings.precision, self.margin)
        for tile, features in tiled:
            part, counts = self._sums(features, tile, height, width)
            _add(sums, part)
            _add(positions, counts)
        return sums, positions

    def backward(self, image: torch.Tensor, scale_for) -> torch.Tensor:
        """The loss L of each image ([B]); adds the gradient of sum(L * scale_for(L)) to
        image.grad. scale_for(L) is called with the losses, detached, and gives a factor per
        image: each image's gradient is its own loss's, scaled (VGG mixes nothing across a batch)."""
        height, width = image.shape[-2:]
        pieces = self.tiles(image)
        if len(pieces) == 1:  # the whole image: one pass
            sums, positions = self._sums(self._features(image), pieces[0], height, width)
            total = self._with_tv(self._feature_loss(sums, positions), image)
            (total * scale_for(total.detach())).sum().backward()
            return total.detach()
        sums, positions = self._whole_sums(image.detach())  # pass 1: the whole image's sums, no gradients
        leaves = {key: value.requires_grad_(True) for key, value in sums.items()}
        pixels = image.detach().requires_grad_(True)
        total = self._with_tv(self._feature_loss(leaves, positions), pixels)
        scaled = (total * scale_for(total.detach())).sum()
        *derivatives, grad = torch.autograd.grad(scaled, [*leaves.values(), pixels], allow_unused=True)
        grad = torch.zeros_like(image) if grad is None else grad
        for tile in pieces:  # pass 2: each tile's share of the gradient
            window = _pixels(tile)
            part = image.detach()[window].requires_grad_(True)
            own, _ = self._sums(self._features(part), tile, height, width)
            surrogate = sum((d * own[key]).sum() for key, d in zip(leaves, derivatives) if d is not None)
            grad[window] += torch.autograd.grad(surrogate, part)[0]
        image.grad = grad if image.grad is None else image.grad + grad
        return total.detach()
