"""The objective of one scale (content and style losses of an image's VGG-19 features, and total
variation), evaluated on the whole image or, when that does not fit, by tiles with the same result.

Every feature term is a function of sums over feature positions (losses.py): per style layer the
sum of F F^T, per content layer the sums of d^2 and |d|. By tiles, in two passes:
1. each tile's sums over its inner region, without gradients, added up: the whole image's sums,
   hence the loss and its derivative with respect to each sum;
2. each tile again, with gradients, backpropagating sum_k (dL/dS_k) * S_k(tile). Its gradient is
   the tile's exact share of the whole image's: the tiles' pixel gradients are added up.
No feathering: where the margin suffices (tiles.py), the result is the untiled one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import torch

from ..tiles import MARGIN, Tile, inner_region, pixels_of, tiles
from .losses import content_loss_of, content_sums, style_loss_of, style_sums, temporal_loss, tv_loss
from .network import autocast


def _forward_by_tiles(extractor, image: torch.Tensor, tile_size, precision: str, margin: int = MARGIN):
    """Each tile of the image with its features, without gradients (the whole image: one tile)."""
    for tile in tiles(*image.shape[-2:], tile_size, margin):
        with torch.no_grad(), autocast(image.device, precision):
            features = extractor(image[pixels_of(tile)])
        yield tile, features


def _add(totals: dict, part: dict) -> None:
    for key, value in part.items():
        totals[key] = totals[key] + value if key in totals else value


def features_and_grams(extractor, image: torch.Tensor, map_layers, gram_layers, tile_size, precision: str):
    """In one pass without gradients: the image's features at map_layers (e.g. a photo's content
    targets) and its Gram matrices ([B, C, C], divided by the positions) at gram_layers (a
    painting's style targets), by tiles when it is larger than tile_size: the same maps and
    Grams, needing the memory of one tile's activations besides the maps themselves."""
    height, width = image.shape[-2:]
    maps, sums, positions = {}, {}, {}
    for tile, part in _forward_by_tiles(extractor, image, tile_size, precision):
        for layer in map_layers:
            if layer not in maps:
                channels, (h, w) = part[layer].shape[1], _layer_size(extractor, layer, width, height)
                maps[layer] = part[layer].new_empty((image.shape[0], channels, h, w))
            maps[layer][inner_region(tile, layer, height, width, False)] = part[layer][
                inner_region(tile, layer, height, width, True)
            ]
        inner = {layer: part[layer][inner_region(tile, layer, height, width, True)] for layer in gram_layers}
        _add(sums, {layer: style_sums(own) for layer, own in inner.items()})
        _add(positions, {layer: own.shape[-2] * own.shape[-1] for layer, own in inner.items()})
    return maps, {layer: sums[layer] / positions[layer] for layer in gram_layers}


def tiled_features(extractor, image: torch.Tensor, layers, tile_size: int | None, precision: str) -> dict:
    """The image's features at `layers` (features_and_grams)."""
    return features_and_grams(extractor, image, layers, (), tile_size, precision)[0]


def tiled_grams(extractor, image: torch.Tensor, layers, tile_size: int | None, precision: str) -> dict:
    """The image's Gram matrices at `layers` (features_and_grams)."""
    return features_and_grams(extractor, image, (), layers, tile_size, precision)[1]


def _layer_size(extractor, layer: str, width: int, height: int) -> tuple[int, int]:
    for name, _, w, h in extractor.layer_shapes(width, height):
        if name == layer:
            return h, w
    raise KeyError(layer)


def _content(objective, layer, sums, positions, pixels):
    target = objective.content_targets[layer]
    return content_loss_of(sums["squares", layer], sums["absolute", layer], target, objective.settings.normalisation)


def _style(objective, layer, sums, positions, pixels):
    target = objective.style_targets[layer]
    return style_loss_of(sums["style", layer], positions[layer], target, objective.settings.normalisation)


def _tv(objective, layer, sums, positions, pixels):
    return tv_loss(pixels)


def _temporal(objective, layer, sums, positions, pixels):
    return temporal_loss(pixels, objective.predecessor.images, objective.predecessor.mask)


@dataclass(frozen=True)
class Predecessor:
    """A video frame's predecessor, for the temporal loss: each image's previous result warped
    into this frame ([B, 3, H, W]) and where that can be trusted ([1, 1, H, W]), at one scale."""

    images: torch.Tensor
    mask: torch.Tensor

    def of(self, indices) -> Predecessor:
        return Predecessor(self.images[list(indices)], self.mask)


@dataclass(frozen=True)
class ImageWeights:
    """Each image's loss weights in a batch, from its artwork's settings: the one place they
    are read (of), built once per batch; the shared settings hold none of them."""

    content: tuple[float, ...]
    style: tuple[float, ...]
    tv: tuple[float, ...]
    temporal: tuple[float, ...]
    # each image's factor on some of its style layers' weights ({layer: factor}; a style_target's
    # push tilts them towards where the image falls short)
    style_tilt: tuple[dict, ...] = ()

    @classmethod
    def of(cls, image_settings, style_tilt=None) -> ImageWeights:
        return cls(
            content=tuple(s.content_weight for s in image_settings),
            style=tuple(s.style_weight for s in image_settings),
            tv=tuple(s.tv_weight for s in image_settings),
            temporal=tuple(s.temporal_weight for s in image_settings),
            style_tilt=tuple(style_tilt or ({} for _ in image_settings)),
        )

    def __len__(self) -> int:
        return len(self.style)

    def scaled(self, content: float = 1.0) -> ImageWeights:
        """These weights, each image's content weight times `content`."""
        return replace(self, content=tuple(weight * content for weight in self.content))

    def images(self, indices) -> ImageWeights:
        """The weights of some of the batch's images."""
        values = (self.content, self.style, self.tv, self.temporal, self.tilts())
        return ImageWeights(*(tuple(weights[b] for b in indices) for weights in values))

    def tilts(self) -> tuple[dict, ...]:
        """Each image's style tilt ({} where it has none)."""
        return self.style_tilt or tuple({} for _ in self.style)


@dataclass(frozen=True)
class Term:
    """A term of the loss: its value per image ([B]) at one of its parts (a layer, or None for
    the pixels), from the scale's sums (Objective._sums) or the pixels; each part's share of the
    term's weight; the term's weight of each image."""

    value: object
    parts: object  # settings -> {part: share}
    weight: object  # ImageWeights -> a weight per image
    tilt: object = lambda w: tuple({} for _ in w.style)  # ImageWeights -> each image's {part: factor}


# The loss: each term's weighted parts, added in this order.
TERMS = {
    "content": Term(_content, lambda s: dict.fromkeys(s.content_layers, 1.0), lambda w: w.content),
    "style": Term(_style, lambda s: s.layer_weights(), lambda w: w.style, lambda w: w.tilts()),
    "tv": Term(_tv, lambda s: {None: 1.0}, lambda w: w.tv),
    "temporal": Term(_temporal, lambda s: {None: 1.0}, lambda w: w.temporal),  # a video frame's only
}


class Objective:
    """The loss of one scale of a batch of images of one photo, per image ([B]), for the photo's
    content features ([1, ...]) and each image's Grams ([C, C] for all, or [B, C, C]) and loss
    weights; built once per scale. settings: what the batch shares (layers, normalisation,
    precision). tile_size: tile the images when their long side is larger (None: never).
    predecessor: a video frame's (the temporal term; None: a photo, no such term)."""

    def __init__(
        self,
        extractor,
        settings,
        content_targets: dict,
        style_targets: dict,
        weights: ImageWeights,
        tile_size=None,
        margin=MARGIN,
        predecessor: Predecessor | None = None,
    ):
        self.extractor, self.settings, self.predecessor = extractor, settings, predecessor
        self.content_targets, self.style_targets = content_targets, style_targets
        self.tile_size, self.margin = tile_size, margin
        self.device = next(iter(content_targets.values())).device
        # each part's factor per image: a product in Python floats, rounded to fp32 once; a term
        # no image weighs is left out, and the temporal term but for a video frame
        self.factors = {
            (name, part): torch.tensor(
                [w * share * tilt.get(part, 1.0) for w, tilt in zip(term.weight(weights), term.tilt(weights))],
                device=self.device,
            )
            for name, term in TERMS.items()
            if any(term.weight(weights)) and (name != "temporal" or predecessor is not None)
            for part, share in term.parts(settings).items()
        }

    def images(self, indices: list[int]) -> Objective:
        """The objective of some of the batch's images, in this order (a batch that shrinks as
        its images are done)."""
        part, index = copy.copy(self), torch.tensor(indices, device=self.device)
        part.style_targets = {layer: gram.index_select(0, index) for layer, gram in self.style_targets.items()}
        part.predecessor = self.predecessor.of(indices) if self.predecessor is not None else None
        part.factors = {key: factor.index_select(0, index) for key, factor in self.factors.items()}
        return part

    def tiles(self, image: torch.Tensor) -> list[Tile]:
        return tiles(*image.shape[-2:], self.tile_size, self.margin)

    def _features(self, pixels: torch.Tensor) -> dict:
        with autocast(self.device, self.settings.precision):
            return self.extractor(pixels)

    def _sums(self, features: dict, tile: Tile, height: int, width: int) -> tuple[dict, dict]:
        """A tile's sums over its inner region, and the number of style positions there."""

        def inner(layer, of_tile: bool):
            return inner_region(tile, layer, height, width, of_tile)

        sums, positions = {}, {}
        for layer in self.settings.content_layers:
            own, target = features[layer][inner(layer, True)], self.content_targets[layer][inner(layer, False)]
            sums["squares", layer], sums["absolute", layer] = content_sums(own, target)
        for layer in self.settings.layer_weights():
            own = features[layer][inner(layer, True)]
            sums["style", layer], positions[layer] = style_sums(own), own.shape[-2] * own.shape[-1]
        return sums, positions

    def _total(self, sums: dict, positions: dict, pixels: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(pixels.shape[0], device=self.device)
        for (name, part), factor in self.factors.items():
            total = total + factor * TERMS[name].value(self, part, sums, positions, pixels)
        return total

    def loss(self, image: torch.Tensor) -> torch.Tensor:
        """The loss of each image ([B]), without gradients."""
        with torch.no_grad():
            sums, positions = self._whole_sums(image)
            return self._total(sums, positions, image)

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
            total = self._total(sums, positions, image)
            (total * scale_for(total.detach())).sum().backward()
            return total.detach()
        sums, positions = self._whole_sums(image.detach())  # pass 1: the whole image's sums, no gradients
        leaves = {key: value.requires_grad_(True) for key, value in sums.items()}
        pixels = image.detach().requires_grad_(True)
        total = self._total(leaves, positions, pixels)
        scaled = (total * scale_for(total.detach())).sum()
        *derivatives, grad = torch.autograd.grad(scaled, [*leaves.values(), pixels], allow_unused=True)
        grad = torch.zeros_like(image) if grad is None else grad
        for tile in pieces:  # pass 2: each tile's share of the gradient
            window = pixels_of(tile)
            part = image.detach()[window].requires_grad_(True)
            own, _ = self._sums(self._features(part), tile, height, width)
            surrogate = sum((d * own[key]).sum() for key, d in zip(leaves, derivatives) if d is not None)
            grad[window] += torch.autograd.grad(surrogate, part)[0]
        image.grad = grad if image.grad is None else image.grad + grad
        return total.detach()
