"""Tiles compute the whole image's objective: the same loss and gradient where the margin suffices
(and visibly not where it is too small), the same features, the same stylized image."""

import math

import pytest
import torch
from PIL import Image

from conftest import DEVICE, PHOTO, STYLE, STYLE2
from nst_core import StyleTransfer, load_source, preset, save_image, score
from nst_core.core.objective import ImageWeights, Objective, tiled_features, tiled_grams
from nst_core.core.reporter import QUIET
from nst_core.files.tensors import pil_to_tensor
from nst_core.tiles import GRID as TILE_GRID
from nst_core.tiles import MARGIN as TILE_MARGIN
from nst_core.tiles import tiles

WIDTH, HEIGHT = 336, 208  # not on the grid: the last tiles end with the image
INNER = 128  # 3 x 2 tiles, each inner region with context on every side that has a neighbour


def test_inner_regions_cover_the_image_once_on_the_grid():
    layout = tiles(HEIGHT, WIDTH, INNER + 2 * TILE_MARGIN)
    covered = torch.zeros(HEIGHT, WIDTH, dtype=torch.int)
    for tile in layout:
        covered[tile.y0 : tile.y1, tile.x0 : tile.x1] += 1
        assert tile.top % TILE_GRID == 0 and tile.left % TILE_GRID == 0
        assert tile.bottom - tile.top <= INNER + 2 * TILE_MARGIN and tile.right - tile.left <= INNER + 2 * TILE_MARGIN
        assert tile.y0 - tile.top == min(tile.y0, TILE_MARGIN)  # context above, unless at the border
    assert len(layout) == 6 and bool((covered == 1).all())
    assert len(tiles(HEIGHT, WIDTH, WIDTH)) == 1  # fits: the whole image


def photo_strip(top: int, bottom: int) -> Image.Image:
    """Rows top to bottom of the photo at WIDTH px wide (336x252)."""
    return Image.open(PHOTO).convert("RGB").resize((WIDTH, 252), Image.LANCZOS).crop((0, top, WIDTH, bottom))


@pytest.fixture(scope="module")
def problem():
    """fp32 settings with every loss term, a photo's content features, the painting's Grams, and
    an image between the photo and noise (so every term has a gradient)."""
    torch.manual_seed(0)
    photo = load_source(str(PHOTO))
    content = pil_to_tensor(photo.image.resize((WIDTH, HEIGHT), Image.LANCZOS))
    image = (content + 0.1 * torch.randn_like(content)).clamp(0, 1)
    return photo, content, image


def evaluate(transfer, content, image, style_grams, tile_size, margin=TILE_MARGIN):
    s = transfer.settings
    content, image = content.to(transfer.device), image.to(transfer.device)
    style_grams = {layer: gram.to(transfer.device) for layer, gram in style_grams.items()}
    content_targets = tiled_features(transfer.extractor, content, s.content_layers, None, s.precision)
    objective = Objective(transfer.extractor, s, content_targets, style_grams, ImageWeights.of([s]), tile_size, margin)
    pixels = image.clone().requires_grad_(True)
    loss = objective.backward(pixels, lambda value: 1 / value)
    return float(loss), pixels.grad.cpu()


@pytest.mark.parametrize("name, normalisation", [("default", "scaled"), ("paper", "paper"), ("default", "mean")])
def test_tiled_loss_and_gradient_are_the_whole_images(problem, name, normalisation):
    photo, content, image = problem
    settings = preset(name, size=WIDTH, min_size=None, device=DEVICE, precision="fp32", tv_weight=1.0)
    transfer = StyleTransfer(settings.replace(normalisation=normalisation))
    grams = transfer.make_targets([STYLE]).grams[WIDTH]
    loss, grad = evaluate(transfer, content, image, grams, None)
    tiled_loss, tiled_grad = evaluate(transfer, content, image, grams, INNER + 2 * TILE_MARGIN)
    assert abs(tiled_loss - loss) / loss <= 1e-6
    assert float((tiled_grad - grad).norm() / grad.norm()) <= 1e-5
    if name == "default" and normalisation == "scaled":
        # the check can fail: half the margin leaves deep features at tile edges wrong
        # (measured: 3.6e-4 at 48 px, 1.7e-5 at 64, 1.8e-7 from 80 up)
        _, cut_short = evaluate(transfer, content, image, grams, INNER + 2 * 48, margin=48)
        assert float((cut_short - grad).norm() / grad.norm()) > 1e-4


def test_tiled_features_and_style_targets_are_the_whole_images(problem):
    _, content, _ = problem
    settings = preset("default", size=WIDTH, min_size=None, device=DEVICE, precision="fp32")
    transfer = StyleTransfer(settings)
    layers = ["relu1_1", "relu4_2", "relu5_1"]
    content = content.to(transfer.device)
    whole = tiled_features(transfer.extractor, content, layers, None, "fp32")
    tiled = tiled_features(transfer.extractor, content, layers, INNER + 2 * TILE_MARGIN, "fp32")
    for layer in layers:
        assert tiled[layer].shape == whole[layer].shape
        torch.testing.assert_close(tiled[layer], whole[layer], rtol=1e-4, atol=1e-4)
    # a painting's Grams summed over tiles (it is scaled to WIDTH, larger than a tile)
    grams = transfer.make_targets([STYLE]).grams[WIDTH]
    by_tiles = StyleTransfer(settings.replace(tile_size=INNER + 2 * TILE_MARGIN)).make_targets([STYLE]).grams[WIDTH]
    for layer, gram in grams.items():
        assert float((by_tiles[layer] - gram).norm() / gram.norm()) <= 1e-5, layer


def test_bf16_by_tiles_is_bf16_whole():
    """bf16 autocast reaches every tile: the loss and gradient by tiles are the whole image's in
    bf16 (measured: 1e-7 and 0.5%), not fp32's (0.2% and 5%). A 16-row strip in 3 tiles, since
    bf16 convolutions on a CPU without native bf16 are ~100x slower than fp32."""
    torch.manual_seed(0)
    strip = photo_strip(100, 116)
    content = pil_to_tensor(strip)
    image = (content + 0.1 * torch.randn_like(content)).clamp(0, 1)
    painting = pil_to_tensor(Image.open(STYLE).convert("RGB").resize((96, 96), Image.LANCZOS))
    results = {}
    for precision, tile_size in [("fp32", None), ("bf16", None), ("bf16", INNER + 2 * TILE_MARGIN)]:
        transfer = StyleTransfer(preset("default", size=WIDTH, min_size=None, device=DEVICE, precision=precision))
        grams = tiled_grams(
            transfer.extractor, painting.to(transfer.device), transfer.settings.style_layers, None, "fp32"
        )
        results[precision, tile_size] = evaluate(transfer, content, image, grams, tile_size)
    (_, fp32_grad), (loss, grad), (tiled_loss, tiled_grad) = results.values()
    assert abs(tiled_loss - loss) / loss <= 1e-5
    assert float((tiled_grad - grad).norm() / grad.norm()) <= 0.02
    assert float((grad - fp32_grad).norm() / fp32_grad.norm()) > 0.02, "the check can tell bf16 from fp32"


@pytest.fixture(scope="module")
def strip_file(tmp_path_factory):
    """A 336x48 strip of the photo."""
    path = tmp_path_factory.mktemp("strip") / "strip.png"
    photo_strip(40, 88).save(path)
    return path


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1 / float((a - b).pow(2).mean()))


SCHEDULE_TILE = 240  # inner regions of 48 px: 6 tiles at 238 px (252 with its margin), 8 at 336 (356)


@pytest.mark.parametrize("colours", [("none", "histogram"), ("luminance", "luminance")])
def test_a_photos_artworks_by_tiles_on_the_default_schedule_are_the_untiled_ones(strip_file, tmp_path, colours):
    # Coarse to fine (168, 238, 336 px, each inside its reflected margin; 4 and 3 steps at the
    # coarse scales and 8 at the last, as issue 34's command), two artworks in one batch at their own
    # weights and colour modes (luminance changes the content, so it has a batch of its own);
    # tiles at both finer scales.
    settings = preset(
        "default", size=WIDTH, min_size=168, iterations=8, coarse_iterations=4, device=DEVICE, precision="fp32"
    )
    assert [scale for scale, _ in settings.schedule()] == [168, 238, WIDTH]
    photo = load_source(str(strip_file))
    results = {}
    for tile_size in (None, SCHEDULE_TILE):
        own = [
            settings.replace(tile_size=tile_size, style_weight=weight, preserve_color=colour)
            for weight, colour in zip((1.0, 3.0), colours)
        ]
        transfer = StyleTransfer(own[0])
        plans = transfer.plan(photo, 2)
        assert [plan.tile_size for plan in plans] == [None, tile_size, tile_size]
        targets = [transfer.make_targets([style], photo=photo, settings=o) for style, o in zip((STYLE, STYLE2), own)]
        results[tile_size] = transfer.stylize_batch(photo, targets, ImageWeights.of(own), reporter=QUIET, plans=plans)
    for b, (untiled, tiled) in enumerate(zip(*results.values())):
        # the check has power: the optimisation moved the image >= 100x further (squared error)
        # from the photo than tiles moved it from the untiled result (measured: 69-89 dB against 26-37)
        moved = psnr(untiled, pil_to_tensor(photo.image))
        assert psnr(untiled, tiled) >= 40 and psnr(untiled, tiled) - moved >= 20, (b, psnr(untiled, tiled), moved)
        scores = []
        for name, image in [("untiled", untiled), ("tiled", tiled)]:
            save_image(image, str(tmp_path / f"{name}{b}.png"))
            scores.append(score(str(tmp_path / f"{name}{b}.png"), str(strip_file), str((STYLE, STYLE2)[b])))
        # 1% on a CPU; 3% (issue 34's bar) on a GPU, where two runs of one path part as well
        # (an H200: 0.4% to 1.5% between tiles and not)
        bound = 0.01 if torch.device(DEVICE).type == "cpu" else 0.03
        for key in ("style", "content"):
            assert abs(scores[1][key] - scores[0][key]) <= bound * abs(scores[0][key]), (b, scores)


def seam_scores(image: torch.Tensor, photo: torch.Tensor, lines, k: int = 8) -> list[float]:
    """How far each vertical line's step stands out from the image's other lines, as a z-score: a
    line's step is the change, summed over colours, in the mean of what the style added to the
    photo (image - photo) from the k columns on its left to the k on its right. A seam between
    tiles styled apart shows as a step along the whole line; lines 2k or more from every seam make
    the reference."""
    added = (image - photo)[0]
    width = added.shape[-1]
    columns = torch.cat([torch.zeros_like(added[..., :1]), added.cumsum(-1)], -1)
    positions = range(k, width - k + 1)
    steps = torch.stack(
        [
            ((2 * columns[..., b] - columns[..., b - k] - columns[..., b + k]) / k).mean(-1).abs().sum()
            for b in positions
        ]
    )
    reference = torch.tensor([all(abs(b - line) >= 2 * k for line in lines) for b in positions])
    mean, spread = steps[reference].mean(), steps[reference].std()
    return [float((steps[line - k] - mean) / spread) for line in lines]


def test_no_seams_where_tiles_meet_while_tiles_styled_apart_and_feathered_show_theirs(tmp_path):
    """A strip of the photo in 3 tiles side by side (inner regions cut at 128 and 256 px): by tiles
    its seam scores are those of any line; styled as 3 photos of their own (each with 8 px overlap
    and linear feathering, as tiling scripts do) the same check finds the seams."""
    strip = photo_strip(100, 228)
    strip.save(tmp_path / "strip.png")
    photo = pil_to_tensor(strip)
    settings = preset("default", size=WIDTH, min_size=None, iterations=30, device=DEVICE, precision="fp32")
    transfer = StyleTransfer(settings.replace(tile_size=INNER + 2 * TILE_MARGIN))
    assert len(tiles(strip.height, WIDTH, INNER + 2 * TILE_MARGIN)) == 3
    tiled = transfer.stylize(load_source(str(tmp_path / "strip.png")), transfer.make_targets([STYLE]), reporter=QUIET)
    cuts, overlap = [INNER, 2 * INNER], 8
    total, weights = torch.zeros_like(photo), torch.zeros(WIDTH)
    for left, right in zip([0, *cuts], [*cuts, WIDTH]):
        x0, x1 = max(0, left - overlap), min(WIDTH, right + overlap)
        strip.crop((x0, 0, x1, strip.height)).save(tmp_path / "piece.png")
        apart = StyleTransfer(settings.replace(size=max(x1 - x0, strip.height)))  # size: the long side
        piece = apart.stylize(load_source(str(tmp_path / "piece.png")), apart.make_targets([STYLE]), reporter=QUIET)
        weight = torch.ones(x1 - x0)
        ramp = (torch.arange(2 * overlap) + 0.5) / (2 * overlap)
        if x0 > 0:
            weight[: 2 * overlap] = ramp
        if x1 < WIDTH:
            weight[-2 * overlap :] = ramp.flip(0)
        total[..., x0:x1] += weight * piece
        weights[x0:x1] += weight
    feathered = total / weights
    ours, theirs = seam_scores(tiled, photo, cuts), seam_scores(feathered, photo, cuts)
    assert max(ours) < 2 and sum(ours) / len(ours) < 1, ours
    # the check can fail: feathered seams score 2.2-2.5 on a Zen 4 CPU (AVX-512), above 2.5 on a Zen 3
    assert sum(theirs) / len(theirs) > 2, theirs
