"""A photo's artworks optimised together: each image as its own run would make it (CPU, fp32)."""

import math

import pytest
import torch

from conftest import PHOTO, STYLE, STYLE2, tiny
from nst_core import NSTError, StyleTransfer, load_source
from nst_core.objective import Objective, tiled_features

STYLES = [STYLE, STYLE2]


def _scale(transfer, photo, targets, settings_of=None):
    """The objective of one scale (the final one) for these targets, and the photo at it."""
    s = transfer.settings
    content = photo.tensor(s.size)
    features = tiled_features(transfer.extractor, content, s.content_layers, None, s.precision)
    grams = {layer: torch.stack([t.grams[s.size][layer] for t in targets]) for layer in s.style_layers}
    own = settings_of or [s] * len(targets)
    weights = {name: [getattr(o, f"{name}_weight") for o in own] for name in ("content", "style", "tv")}
    return Objective(transfer.extractor, s, features, grams, weights=weights), content


def _torch_lbfgs(objective, content, steps, lr, history):
    """Our optimisation of one image as it was, with torch.optim.LBFGS: one iteration per step,
    no line search, tolerances off, loss divided by its first value, the best iterate kept."""
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS(
        [image], lr=lr, max_iter=1, history_size=history, tolerance_grad=-1, tolerance_change=-1
    )
    normaliser, best = [], [math.inf, image.detach().clone()]

    def scale_for(value):
        if not normaliser:
            normaliser.append(1 / float(value))
        return normaliser[0]

    def closure():
        optimizer.zero_grad(set_to_none=True)
        loss = objective.backward(image, scale_for)
        if float(loss) < best[0]:
            best[:] = float(loss), image.detach().clone()
        return loss

    for _ in range(steps):
        optimizer.step(closure)
    final = float(objective.loss(image.detach()))
    return image.detach() if final < best[0] else best[1]


def test_one_image_follows_torch_lbfgs_within_1e5_after_50_steps_at_128px():
    s = tiny(size=128, iterations=50, precision="fp32", margin=0.0)  # the image as torch's L-BFGS sees it
    transfer = StyleTransfer(s)
    photo = load_source(str(PHOTO))
    targets = transfer.make_targets([STYLE])
    objective, content = _scale(transfer, photo, [targets])
    expected = _torch_lbfgs(objective, content, 50, s.lr(), s.lbfgs_history)
    ours = transfer.stylize(photo, targets, progress=False)
    assert not torch.equal(ours, content)  # it moved
    assert (ours - expected.clamp(0, 1)).abs().max() <= 1e-5


@pytest.fixture(scope="module")
def four():
    """Four artworks (two paintings, each at two style weights) of one photo, their settings."""
    s = tiny(size=64, iterations=30, precision="fp32")
    transfer = StyleTransfer(s)
    photo = load_source(str(PHOTO))
    targets = [transfer.make_targets([style]) for style in STYLES for _ in (0, 1)]
    own = [s.replace(style_weight=w) for _ in STYLES for w in (1.0, 4.0)]
    alone = [transfer.stylize_batch(photo, [t], [o], progress=False)[0] for t, o in zip(targets, own)]
    return transfer, photo, targets, own, alone


def test_four_artworks_together_are_each_within_1e5_of_their_own_run(four):
    transfer, photo, targets, own, alone = four
    together = transfer.stylize_batch(photo, targets, own, progress=False)
    for one, batched in zip(alone, together):
        assert (one - batched).abs().max() <= 1e-5
    assert (alone[0] - alone[1]).abs().max() > 1e-2  # the weights are each image's own


def test_an_artwork_that_diverges_loses_only_its_own_image(four):
    transfer, photo, targets, own, alone = four
    broken = own[:2] + [own[2].replace(style_weight=1e39)] + own[3:]  # inf in fp32: non-finite losses
    results = transfer.stylize_batch(photo, targets, broken, progress=False)
    assert isinstance(results[2], NSTError) and "check its weights" in str(results[2])
    without = transfer.stylize_batch(photo, targets[:2] + targets[3:], own[:2] + own[3:], progress=False)
    for kept, result in zip(without, results[:2] + results[3:]):
        assert torch.equal(kept, result)
    for one, result in zip(alone[:2] + alone[3:], results[:2] + results[3:]):
        assert (one - result).abs().max() <= 1e-5


def test_settings_that_change_the_schedule_cannot_share_a_batch(four):
    transfer, photo, targets, own, _ = four
    with pytest.raises(ValueError, match="shape or schedule"):
        transfer.stylize_batch(photo, targets[:2], [own[0], own[1].replace(iterations=3)], progress=False)


def test_the_gpus_batched_reductions_take_each_images_own_steps():
    # On a GPU the dot products are one reduction over the batch (not torch.dot per image): the
    # same steps up to rounding, checked here on three quadratics of different curvatures, one
    # of them restarted halfway.
    from nst_core.lbfgs import BatchedLBFGS

    torch.manual_seed(0)
    scales = torch.rand(3, 1, 7, 5) * 10 + 0.1
    start = torch.rand(3, 1, 7, 5)

    def run(rows, batched_dots):
        x = start[rows].clone()
        optimizer = BatchedLBFGS(x, lr=1.0, history=4)
        optimizer.per_row = not batched_dots
        for step in range(12):
            grad = scales[rows] * x  # of sum(scale * x^2) / 2
            optimizer.step(grad, torch.ones(len(rows), dtype=torch.bool))
            if step == 6:
                optimizer.restart(torch.tensor([r == 1 for r in rows]))
        return x

    together = run([0, 1, 2], batched_dots=True)
    for row in range(3):
        torch.testing.assert_close(together[row : row + 1], run([row], batched_dots=False), rtol=1e-5, atol=1e-6)
    energy = (scales * together**2).flatten(1).sum(1)
    assert (energy < 0.5 * (scales * start**2).flatten(1).sum(1)).all()  # each went downhill


def test_a_photos_artworks_in_one_call_are_their_own_runs_and_a_bad_one_costs_only_itself(tmp_path):
    # Luminance preservation changes the content and the result: its artworks go in a batch of
    # their own (each with the photo's chroma); the weights differ within each batch. Every image
    # as stylize_file makes it.
    from nst_core import Artwork, stylize_file, stylize_photo
    from nst_core.tensors import load_image

    s = tiny(size=32, iterations=4, precision="fp32")
    luminance = s.replace(preserve_color="luminance")
    own = [s, s.replace(style_weight=3.0), luminance, luminance.replace(style_weight=3.0)]
    artworks = [Artwork(str(tmp_path / f"{k}.png"), o, styles=(str(STYLE),)) for k, o in enumerate(own)]
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not targets")
    artworks.append(Artwork(str(tmp_path / "bad.png"), s, targets=str(broken), name="bad"))
    made = stylize_photo(str(PHOTO), artworks)
    assert [done.batch for done in made[:4]] == [2, 2, 2, 2]
    assert made[4].error.startswith(f"{broken}: not a valid Gram targets file") and not (tmp_path / "bad.png").exists()
    for k, settings in enumerate(own):
        alone = tmp_path / f"alone{k}.png"
        stylize_file(str(PHOTO), str(alone), settings, styles=[str(STYLE)])
        assert torch.equal(load_image(str(alone)), load_image(str(tmp_path / f"{k}.png")))
