"""One scale of a batch's optimisation: the optimiser, each image's best iterate, and the one
rule that says when an image diverged. Each image is its own problem: nothing mixes across the
batch, so each result is the one its own run would give."""

from __future__ import annotations

import dataclasses

import torch

from ..errors import Diverged
from .lbfgs import BatchedLBFGS

# A loss this many times above a reference for this many evaluations in a row has diverged.
DIVERGENCE_STEPS = 5
DIVERGENCE_GROWTH = 10
MAX_RESTARTS = 3  # of L-BFGS per scale, from its best image, after its loss ran away
# Steps between the host's reads of the losses (each read waits for a GPU to finish its queue).
LOSS_EVERY = 10
STOP_WINDOW = 2 * LOSS_EVERY  # steps over which an image's progress is judged (Stopping)


class _Adam:
    """torch's Adam, elementwise (one over the batch is each image's own), kept within [0, 1]."""

    def __init__(self, image: torch.Tensor, lr: float):
        self.image, self.adam = image, torch.optim.Adam([image], lr=lr)

    def step(self, loss: torch.Tensor, grad: torch.Tensor, active: torch.Tensor) -> None:
        self.adam.step()
        with torch.no_grad():
            self.image.clamp_(0, 1)


def make_optimizer(settings, image: torch.Tensor, history: int):
    """The settings' optimiser over a batch of images: step(loss, grad, active) moves them in place."""
    if settings.optimizer == "adam":
        return _Adam(image, settings.lr())
    return BatchedLBFGS(image, settings.lr(), max(1, history))


class Normaliser:
    """Each image's loss divided by its first. L-BFGS in torch rejects curvature pairs below an
    absolute threshold and its first step is 1/|g|_1, so raw losses of ~1e9 diverge; divided by
    its first loss, every preset and weight we tried converges. Per image: one artwork's weights
    do not set another's steps."""

    def __init__(self, batch: int, device):
        self.first = torch.ones(batch, dtype=torch.float64, device=device)  # 1 where it is unusable
        self.factors = torch.ones(batch, device=device)  # 1 / first, in fp32
        self.known = [False] * batch  # on the host: which images have theirs

    def scale_for(self, first: int, last: int):
        """The factors of images first:last, as a function of their losses (Objective.backward)."""

        def factor(losses: torch.Tensor) -> torch.Tensor:
            if not self.known[first]:  # in float64, then fp32, as a Python float would be
                usable = torch.isfinite(losses) & (losses > 0)
                self.first[first:last] = torch.where(usable, losses.double(), 1.0)
                self.factors[first:last] = (1 / self.first[first:last]).float()
                self.known[first:last] = [True] * (last - first)
            return self.factors[first:last].clone()  # not a view of what later rows change

        return factor

    def scale_for_images(self, indices: list[int]):
        """The factors of these images, known already (a batch shrunk after its first losses)."""
        index = torch.tensor(indices, device=self.factors.device)
        return lambda losses: self.factors.index_select(0, index)

    def start(self) -> torch.Tensor:
        """Each image's first loss (float64), itself: 1 / factor rounds either way, and "never
        below its start" must hold for a run that stayed at its first loss."""
        return self.first


def evaluate(
    objectives: list, image: torch.Tensor, lost: torch.Tensor, normaliser, gradients=True, working=None
) -> torch.Tensor:
    """Each image's loss ([B]) and, with gradients, its normalised gradient in image.grad.
    objectives: one for the batch, or one per image (each alone, in a tensor of its own).
    working: with one objective for the batch, the images still worked on (the objective is
    theirs: Objective.images); the others' losses are NaN and their gradients 0."""
    if len(objectives) == 1 and working is not None:
        losses = torch.full((image.shape[0],), torch.nan, device=image.device)
        if not working:  # every image done or lost
            image.grad = torch.zeros_like(image)
            return losses
        part = image.detach()[working].requires_grad_(gradients)
        if not gradients:
            losses[working] = objectives[0].loss(part)
            return losses
        losses[working] = objectives[0].backward(part, normaliser.scale_for_images(working))
        image.grad = torch.zeros_like(image)
        image.grad[working] = part.grad
        return losses
    if len(objectives) == 1:
        if not gradients:
            return objectives[0].loss(image.detach())
        image.grad = None
        return objectives[0].backward(image, normaliser.scale_for(0, image.shape[0]))
    losses, grads = [], []
    for b, objective in enumerate(objectives):
        part = image.detach()[b : b + 1].clone().requires_grad_(gradients)
        if lost[b]:  # not worth its time (reading lost costs nothing on a CPU)
            losses.append(torch.full((1,), torch.nan, device=image.device))
            part.grad = torch.zeros_like(part)
        elif gradients:
            losses.append(objective.backward(part, normaliser.scale_for(b, b + 1)))
        else:
            losses.append(objective.loss(part))
        grads.append(part.grad)
    if gradients:
        image.grad = torch.cat(grads)
    return torch.cat(losses)


class BestIterate:
    """Each image's best iterate (L-BFGS can spike; the result is the best) and its last
    DIVERGENCE_STEPS losses since its (re)start, on the device in float64 (as Python floats)."""

    def __init__(self, image: torch.Tensor):
        batch, device = image.shape[0], image.device
        self.loss = torch.full((batch,), torch.inf, dtype=torch.float64, device=device)
        self.image = image.detach().clone()
        self.recent = torch.full((DIVERGENCE_STEPS, batch), torch.nan, dtype=torch.float64, device=device)
        self.seen = torch.zeros(batch, dtype=torch.long, device=device)  # losses since the (re)start

    def record(self, losses: torch.Tensor, image: torch.Tensor, where: torch.Tensor) -> None:
        losses = losses.double()
        better = where & (losses < self.loss)
        self.loss = torch.where(better, losses, self.loss)
        self.image = torch.where(better[:, None, None, None], image.detach(), self.image)
        self.recent = torch.where(where, torch.cat([self.recent[1:], losses[None]]), self.recent)
        self.seen = self.seen + where.long()

    def restart(self, which: torch.Tensor) -> None:
        self.seen = torch.where(which, 0, self.seen)


class Divergence:
    """When an image has diverged: a non-finite loss loses it at once; losses that stay
    DIVERGENCE_GROWTH times above its best (L-BFGS ran away: restart from the best, at most
    MAX_RESTARTS times) or, at the end, above its start with no step below it (steps far too
    large: noise with finite losses) lose it too. A run that never lowered the loss but did not
    run away returns its start: with a tiny style weight that is the photo, the honest answer."""

    def __init__(self, batch: int, device):
        self.restarts = torch.zeros(batch, dtype=torch.long, device=device)
        self.bad_step = torch.zeros(batch, dtype=torch.long, device=device)  # first non-finite loss
        self.bad_loss = torch.zeros(batch, dtype=torch.float64, device=device)

    def broken(self, losses: torch.Tensor, active: torch.Tensor, step: int) -> torch.Tensor:
        """The active images whose loss is not finite: lost (only their own)."""
        broken = active & ~torch.isfinite(losses)
        self.bad_step = torch.where(broken, step + 1, self.bad_step)
        self.bad_loss = torch.where(broken, losses.double(), self.bad_loss)
        return broken

    def ran_away(self, best: BestIterate, active: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(images to restart from their best, images that stop here after MAX_RESTARTS)."""
        far = active & (best.seen >= DIVERGENCE_STEPS) & (best.recent.min(0).values > DIVERGENCE_GROWTH * best.loss)
        self.restarts = self.restarts + far.long()
        stops = far & (self.restarts > MAX_RESTARTS)
        return far & ~stops, stops

    def failures(self, best: BestIterate, start: torch.Tensor, lost: torch.Tensor, settings, image) -> dict:
        """{image index: NSTError} of the images this scale lost (the host reads them once)."""
        failed = {}
        for b in torch.nonzero(self.bad_step).flatten().tolist():
            if int(self.bad_step[b]) == 1:  # before any step: not the steps' size but the loss itself
                where = f"{float(self.bad_loss[b])} before any step at {image.shape[-1]}x{image.shape[-2]} px"
                failed[b] = Diverged(f"its loss is {where}: check its weights")
            else:
                what = f"loss {float(self.bad_loss[b])} at step {int(self.bad_step[b])}"
                failed[b] = diverged(settings, what, image)
        steps = torch.arange(DIVERGENCE_STEPS, device=image.device)[:, None]
        after_first = steps >= DIVERGENCE_STEPS - (best.seen - 1)
        lowest = torch.where(after_first, best.recent, torch.inf).min(0).values
        grew = ~lost & (best.loss >= start) & (best.seen > 1) & (lowest > DIVERGENCE_GROWTH * start)
        last = best.recent[-1]
        for b in torch.nonzero(grew).flatten().tolist():
            what = f"the loss grew from {float(start[b]):.4g} to {float(last[b]):.4g}"
            failed[b] = diverged(settings, what, image)
        return failed


def diverged(settings, what: str, image: torch.Tensor) -> Diverged:
    default = dataclasses.replace(settings, learning_rate=None).lr()  # the optimizer's own
    return Diverged(
        f"optimisation diverged ({what} at {image.shape[-1]}x{image.shape[-2]} px): lower the "
        f"learning rate (--lr; {settings.lr():g} now, {default:g} by default for {settings.optimizer})"
    )


class Stopping:
    """When an image is done: its best loss fell by less than `tolerance` (a share of it) over
    its last STOP_WINDOW steps. Judged at the host's reads of the losses, each image on its own
    losses alone, so an image stops at the step its own run would."""

    def __init__(self, tolerance: float):
        self.tolerance, self.marks = tolerance, []  # each read's best losses

    def done(self, best: BestIterate, active: torch.Tensor) -> torch.Tensor:
        self.marks.append(best.loss.clone())
        back = STOP_WINDOW // LOSS_EVERY
        if len(self.marks) <= back:
            return torch.zeros_like(active)
        then = self.marks[-1 - back]
        fell = (then - best.loss) / best.loss.abs()
        return active & torch.isfinite(then) & torch.isfinite(best.loss) & (fell < self.tolerance)


def optimise(
    image,
    objectives: list,
    settings,
    history: int,
    iterations: int,
    bar,
    failed: dict,
    on_step=None,
    stop: float | None = None,
    steps: dict | None = None,
):
    """One scale for a batch of images: each image's best iterate. objectives: one for the
    batch, or one per image (evaluate). failed: {image index: NSTError} of the images already
    lost (not optimised), to which this scale adds its own. stop: the Stopping tolerance, where
    images stop when done (None: every image takes every step); steps: {image index: steps it
    took}, filled in for every image not lost."""
    batch = image.shape[0]
    image = image.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)  # moved in place
    lost = torch.tensor([b in failed for b in range(batch)], device=image.device)
    optimizer = make_optimizer(settings, image, history)
    normaliser, best, divergence = Normaliser(batch, image.device), BestIterate(image), Divergence(batch, image.device)
    active = ~lost  # optimised now: not lost, not stopped after too many restarts, not done
    (full, *_) = objectives
    resting = lost  # not evaluated (on a CPU, where each image is evaluated alone): lost or done
    stopping, taken = Stopping(stop), {}
    working = None  # with one objective for the batch: the images it still holds (None: all)
    count = len(objectives[0].tiles(image))
    shape = f"{image.shape[-1]}x{image.shape[-2]}" + (f" in {count} tiles" if count > 1 else "")
    shape += f", {batch} images" if batch > 1 else ""
    for step in range(iterations):
        losses = evaluate(objectives, image, resting, normaliser, working=working)
        best.record(losses, image, active)
        optimizer.step(losses, image.grad, active)
        broken = divergence.broken(losses, active, step)
        lost, active, resting = lost | broken, active & ~broken, resting | broken
        read = step % LOSS_EVERY == LOSS_EVERY - 1 or step == iterations - 1  # the host reads now and then
        if read:
            shown = float(torch.where(torch.isfinite(losses), losses, 0).max())  # the largest
            bar.set_postfix_str(f"{shape} loss {shown:.4g}", refresh=False)
        if read and stop is not None:
            done = stopping.done(best, active)
            taken.update(dict.fromkeys(torch.nonzero(done).flatten().tolist(), step + 1))
            active, resting = active & ~done, resting | done
            if len(objectives) == 1 and bool(done.any()):  # the batch shrinks to the images not done
                working = torch.nonzero(~resting).flatten().tolist()
                objectives = [full.images(working)] if working else objectives
        bar.update(1)
        if on_step is not None:
            on_step(step + 1, image.detach())
        if settings.optimizer == "lbfgs":  # a bad curvature pair, often just after a scale change
            again, stops = divergence.ran_away(best, active)
            active = active & ~stops
            with torch.no_grad():
                image.copy_(torch.where(again[:, None, None, None], best.image, image))
            optimizer.restart(again)
            best.restart(again)
        if read and stop is not None and not bool(active.any()):  # every image done or lost
            bar.update(iterations - step - 1)
            break
    if steps is not None:
        steps.update({b: taken.get(b, iterations) for b, gone in enumerate(lost.tolist()) if not gone})
    if not iterations:
        return image.detach()
    # the last step's (an image done rests at its best: its last step is not taken up)
    best.record(evaluate(objectives, image, resting, normaliser, gradients=False, working=working), image, ~resting)
    failed.update(divergence.failures(best, normaliser.start(), lost, settings, image))
    return best.image
