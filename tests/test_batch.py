"""A photo's artworks optimised together: each image as its own run would make it (CPU, fp32)."""

import pytest
import torch

from conftest import PHOTO, STYLE, STYLE2, tiny
from nst_core import NSTError, StyleTransfer, load_source
from nst_core.core.objective import ImageWeights, Objective, tiled_features
from nst_core.core.reporter import QUIET

STYLES = [STYLE, STYLE2]


def _scale(transfer, photo, targets, settings_of=None):
    """The objective of one scale (the final one) for these targets, and the photo at it."""
    s = transfer.settings
    content = photo.tensor(s.size)
    features = tiled_features(transfer.extractor, content, s.content_layers, None, s.precision)
    grams = {layer: torch.stack([t.grams[s.size][layer] for t in targets]) for layer in s.style_layers}
    own = settings_of or [s] * len(targets)
    return Objective(transfer.extractor, s, features, grams, ImageWeights.of(own)), content


def _quadratic(curvatures):
    """sum(c * x^2) / 2 per image: its value and gradient at x."""

    def at(x):
        return (curvatures * x**2).flatten(1).sum(1) / 2, curvatures * x

    return at


def test_lbfgs_first_step_trust_radius_and_backtracking_on_quadratics():
    # A first step of FIRST_STEP (RMS) down the gradient; a step that raised the loss taken back
    # to the accepted point and retried at BACKTRACK of its length; every image downhill after.
    from nst_core.core.lbfgs import BACKTRACK, FIRST_STEP, BatchedLBFGS

    torch.manual_seed(0)
    curvatures = torch.rand(2, 1, 7, 5) * 10 + 0.1
    start = torch.rand(2, 1, 7, 5)
    at, x = _quadratic(curvatures), start.clone()
    optimizer, everyone = BatchedLBFGS(x, lr=1.0, history=4), torch.ones(2, dtype=torch.bool)
    loss, grad = at(x)
    optimizer.step(loss, grad, everyone)
    step = x - start
    assert torch.allclose(step.flatten(1).pow(2).mean(1).sqrt(), torch.tensor(FIRST_STEP))
    unit = step.flatten(1) / step.flatten(1).norm(dim=1, keepdim=True)
    torch.testing.assert_close(unit, -grad.flatten(1) / grad.flatten(1).norm(dim=1, keepdim=True), rtol=1e-3, atol=1e-5)
    after_first = x.clone()
    loss, grad = at(x)
    loss[1] = 1e9  # image 1 is told its loss rose: back to its start, BACKTRACK of that step on
    optimizer.step(loss, grad, everyone)
    assert not torch.equal(x[0], after_first[0])  # image 0 took its L-BFGS step
    torch.testing.assert_close(x[1] - start[1], BACKTRACK * step[1], rtol=1e-3, atol=1e-6)
    for _ in range(30):
        loss, grad = at(x)
        optimizer.step(loss, grad, everyone)
    assert (at(x)[0] < 1e-3 * at(start)[0]).all()


def test_lbfgs_leaves_an_image_at_its_optimum_where_it_is():
    # A photo stylized with itself as the painting, at its own size, starts at its optimum: a
    # zero gradient is no step (0/0 once put NaN in the image), while its batch-mate goes on.
    from nst_core.core.lbfgs import BatchedLBFGS

    torch.manual_seed(0)
    start = torch.rand(2, 1, 7, 5)
    start[0] = 0.0
    at, x = _quadratic(torch.ones(2, 1, 7, 5)), start.clone()
    optimizer, everyone = BatchedLBFGS(x, lr=1.0, history=4), torch.ones(2, dtype=torch.bool)
    for _ in range(10):
        loss, grad = at(x)
        optimizer.step(loss, grad, everyone)
    assert torch.equal(x[0], start[0]) and at(x)[0][1] < 0.5 * at(start)[0][1]


@pytest.fixture(scope="module")
def four():
    """Four artworks (two paintings, each at two style weights) of one photo, their settings."""
    s = tiny(size=64, iterations=30, precision="fp32")
    transfer = StyleTransfer(s)
    photo = load_source(str(PHOTO))
    targets = [transfer.make_targets([style]) for style in STYLES for _ in (0, 1)]
    own = [s.replace(style_weight=w) for _ in STYLES for w in (1.0, 4.0)]
    alone = [transfer.stylize_batch(photo, [t], ImageWeights.of([o]), reporter=QUIET)[0] for t, o in zip(targets, own)]
    return transfer, photo, targets, own, alone


def test_four_artworks_together_are_each_within_1e5_of_their_own_run(four, images_alone):
    transfer, photo, targets, own, alone = four
    together = transfer.stylize_batch(photo, targets, ImageWeights.of(own), reporter=QUIET)
    for one, batched in zip(alone, together):
        assert (one - batched).abs().max() <= 1e-5
    assert (alone[0] - alone[1]).abs().max() > 1e-2  # the weights are each image's own


def test_an_artwork_that_diverges_loses_only_its_own_image(four, images_alone):
    transfer, photo, targets, own, alone = four
    broken = own[:2] + [own[2].replace(style_weight=1e39)] + own[3:]  # inf in fp32: non-finite losses
    results = transfer.stylize_batch(photo, targets, ImageWeights.of(broken), reporter=QUIET)
    assert isinstance(results[2], NSTError) and "check its weights" in str(results[2])
    assert results[2].kind == "diverged"
    without = transfer.stylize_batch(
        photo, targets[:2] + targets[3:], ImageWeights.of(own[:2] + own[3:]), reporter=QUIET
    )
    for kept, result in zip(without, results[:2] + results[3:]):
        assert torch.equal(kept, result)
    for one, result in zip(alone[:2] + alone[3:], results[:2] + results[3:]):
        assert (one - result).abs().max() <= 1e-5


def test_the_gpus_batched_reductions_take_each_images_own_steps(monkeypatch):
    # On a GPU the recursion over the pairs is a few matrix products over the batch (not rounds of
    # torch.dot per image): the same steps up to rounding, checked here on three quadratics of
    # different curvatures, one of them restarted halfway, past the history's wrap.
    from nst_core.core.device import BATCHED_NETWORK
    from nst_core.core.lbfgs import BatchedLBFGS

    torch.manual_seed(0)
    scales = torch.rand(3, 1, 7, 5) * 10 + 0.1
    start = torch.rand(3, 1, 7, 5)

    def run(rows, batched_dots):
        x = start[rows].clone()
        monkeypatch.setenv(BATCHED_NETWORK, "1" if batched_dots else "0")
        optimizer = BatchedLBFGS(x, lr=1.0, history=4)
        assert optimizer.per_row != batched_dots and (optimizer.sy is not None) == batched_dots
        for step in range(12):
            loss, grad = (scales[rows] * x**2).flatten(1).sum(1) / 2, scales[rows] * x
            optimizer.step(loss, grad, torch.ones(len(rows), dtype=torch.bool))
            if step == 6:
                optimizer.restart(torch.tensor([r == 1 for r in rows]))
        return x

    together = run([0, 1, 2], batched_dots=True)
    for row in range(3):
        torch.testing.assert_close(together[row : row + 1], run([row], batched_dots=False), rtol=1e-5, atol=1e-5)
    energy = (scales * together**2).flatten(1).sum(1)
    assert (energy < 0.5 * (scales * start**2).flatten(1).sum(1)).all()  # each went downhill


def test_a_photos_artworks_in_one_call_are_their_own_runs_and_a_bad_one_costs_only_itself(tmp_path, images_alone):
    # Luminance preservation changes the content and the result: its artworks go in a batch of
    # their own (each with the photo's chroma); the weights differ within each batch. Every image
    # as stylize_file makes it.
    from nst_core import Artwork, stylize_file, stylize_photo
    from nst_core.files.tensors import load_image

    s = tiny(size=32, iterations=4, precision="fp32")
    luminance = s.replace(preserve_color="luminance")
    own = [s, s.replace(style_weight=3.0), luminance, luminance.replace(style_weight=3.0)]
    artworks = [Artwork(str(tmp_path / f"{k}.png"), o, styles=(str(STYLE),)) for k, o in enumerate(own)]
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not targets")
    artworks.append(Artwork(str(tmp_path / "bad.png"), s, targets=str(broken), name="bad"))
    made = stylize_photo(str(PHOTO), artworks)
    assert [done.batch for done in made[:4]] == [2, 2, 2, 2]
    assert (
        str(made[4].error).startswith(f"{broken}: not a valid Gram targets file")
        and not (tmp_path / "bad.png").exists()
    )
    for k, settings in enumerate(own):
        alone = tmp_path / f"alone{k}.png"
        stylize_file(str(PHOTO), str(alone), settings, styles=[str(STYLE)])
        assert torch.equal(load_image(str(alone)), load_image(str(tmp_path / f"{k}.png")))


def test_an_image_stopped_when_done_in_a_batch_is_its_own_run_stopped_at_the_same_step(images_alone):
    # The default coarse-to-fine schedule (32 then 48 px); at the final scale each image stops
    # once its loss fell by less than 8% over 20 steps (a tiny image's loss falls fast), judged on its
    # own losses alone.
    s = tiny(size=48, min_size=32, iterations=60, coarse_iterations=4, precision="fp32", stop_tolerance=0.08)
    transfer, photo = StyleTransfer(s), load_source(str(PHOTO))
    targets = [transfer.make_targets([style]) for style in STYLES for _ in (0, 1)]
    weights = ImageWeights.of([s.replace(style_weight=w) for _ in STYLES for w in (0.5, 8.0)])
    steps = {}
    together = transfer.stylize_batch(photo, targets, weights, reporter=QUIET, steps=steps)
    assert sorted(steps) == [0, 1, 2, 3] and min(steps.values()) < 60 == max(steps.values()), steps
    for b in range(4):
        own = {}
        alone = transfer.stylize_batch(photo, [targets[b]], weights.images([b]), reporter=QUIET, steps=own)
        assert own == {0: steps[b]} and torch.equal(alone[0], together[b]), b


def test_an_image_stopped_when_done_under_adam_is_its_own_run_stopped_at_the_same_step(images_alone):
    # Adam's momentum moves a done image's tensor on, but its result is its best iterate, which
    # stops with it: the same as its own run stopped there.
    s = tiny(size=32, iterations=60, optimizer="adam", precision="fp32", stop_tolerance=0.15)
    transfer, photo = StyleTransfer(s), load_source(str(PHOTO))
    targets = [transfer.make_targets([style]) for style in STYLES]
    weights = ImageWeights.of([s.replace(style_weight=w) for w in (0.5, 8.0)])
    steps = {}
    together = transfer.stylize_batch(photo, targets, weights, reporter=QUIET, steps=steps)
    assert min(steps.values()) < 60, steps
    for b in range(2):
        own = {}
        alone = transfer.stylize_batch(photo, [targets[b]], weights.images([b]), reporter=QUIET, steps=own)
        assert own == {0: steps[b]} and torch.equal(alone[0], together[b]), b
