"""Optimising an image so its VGG-19 features match a photo's content and an artwork's Grams."""

from __future__ import annotations

import dataclasses
import math

import torch
from tqdm import tqdm

from . import color, memory
from .device import resolve_device, resolve_precision
from .errors import NSTError
from .images import SourceImage, load_image, resize
from .network import VGG19Features, load_weights
from .objective import Objective, tiled_features
from .settings import Settings
from .targets import GramTargets, load_styles, made_for

# A loss this many times above the best (L-BFGS: restart from the best) or, with no progress,
# above the start (diverged), for this many evaluations in a row.
DIVERGENCE_STEPS = 5
DIVERGENCE_GROWTH = 10
MAX_RESTARTS = 3  # of L-BFGS per scale, from its best image, after its loss ran away


class StyleTransfer:
    """The network for one Settings; makes Gram targets and stylizes photos with them.

    Build it once and reuse it for many photos: weights load and the network is built once.
    """

    def __init__(self, settings: Settings):
        self.device = resolve_device(settings.device)
        self.settings = settings.replace(precision=resolve_precision(settings.precision, self.device))
        layers = list(settings.content_layers) + list(settings.style_layers)
        weights = load_weights(settings.weights)
        self.extractor = VGG19Features(weights, layers, settings.pooling, settings.padding).to(self.device)

    def make_targets(self, style_paths, blend=None, photo: SourceImage | None = None) -> GramTargets:
        """An artwork's Gram targets from its images (blend: their weights, default equal);
        histogram colour preservation matches them to the photo's colours."""
        return GramTargets.compute(self.extractor, load_styles(style_paths, blend), self.settings, photo)

    def load_targets(self, path: str, photo: SourceImage | None = None, style_hashes=None) -> GramTargets:
        """Load a targets file and check it was made for these settings (and style images, if given)."""
        targets = GramTargets.load(path)
        wanted = made_for(self.settings, self.extractor.weights_fingerprint)
        targets.check(path, wanted, self.settings, photo, style_hashes)
        return targets

    def plan(self, photo: SourceImage) -> list[memory.Plan]:
        """How each scale fits in memory (whole or by tiles); fails now, with the largest size that
        fits, if this photo at settings.size cannot even by tiles."""
        try:
            return memory.plan(self.extractor, self.settings, photo.image.size, self.device)
        except NSTError as error:
            raise NSTError(f"{photo.path}: {error}") from None

    def loss(self, image: torch.Tensor, content_targets: dict, style_targets: dict) -> torch.Tensor:
        """The loss of an image (no gradients) against content features and Gram targets."""
        objective = Objective(self.extractor, self.settings, content_targets, style_targets, self.settings.tile_size)
        return objective.loss(image)

    def _optimise(self, image, objective: Objective, plan, iterations: int, bar, on_step=None) -> torch.Tensor:
        s = self.settings
        image = image.detach().contiguous().requires_grad_(True)  # L-BFGS views grads flat

        def new_optimizer():
            if s.optimizer == "adam":
                return torch.optim.Adam([image], lr=s.lr())
            # One L-BFGS iteration per step() keeps its history across calls and lets us report
            # progress; negative tolerances make it run exactly the iterations asked for.
            return torch.optim.LBFGS(
                [image],
                lr=s.lr(),
                max_iter=1,
                history_size=max(1, plan.history),
                tolerance_grad=-1,
                tolerance_change=-1,
            )

        optimizer = new_optimizer()
        count = len(objective.tiles(image))
        in_tiles = f" in {count} tiles" if count > 1 else ""

        # L-BFGS in torch rejects curvature pairs below an absolute threshold and its first step
        # is 1/|g|_1, so raw losses of ~1e9 make it diverge. Minimising loss / (initial loss) is
        # scale-free: it converges for every preset and weight setting we tried.
        normaliser = []
        best = [math.inf, image.detach().clone()]  # L-BFGS can spike; the result is the best iterate
        losses = []  # every evaluation since the (re)start, to tell divergence from a spike
        restarts = 0

        def scale_for(value: float) -> float:
            if not normaliser:
                normaliser.append(1 / value if math.isfinite(value) and value > 0 else 1.0)
            return normaliser[0]

        def closure():
            optimizer.zero_grad(set_to_none=True)
            loss = objective.backward(image, scale_for)
            value = float(loss)
            losses.append(value)
            if value < best[0]:
                best[0], best[1] = value, image.detach().clone()
            return loss

        for step in range(iterations):
            loss = float(optimizer.step(closure))
            if s.optimizer == "adam":
                with torch.no_grad():
                    image.clamp_(0, 1)
            if not math.isfinite(loss):
                raise self._diverged(f"loss {loss} at step {step + 1}", image)
            bar.set_postfix_str(f"{image.shape[-1]}x{image.shape[-2]}{in_tiles} loss {loss:.4g}", refresh=False)
            bar.update(1)
            if on_step is not None:
                on_step(step + 1, image.detach())
            recent = losses[-DIVERGENCE_STEPS:]
            if s.optimizer == "lbfgs" and len(recent) == DIVERGENCE_STEPS and min(recent) > DIVERGENCE_GROWTH * best[0]:
                # L-BFGS went off (a bad curvature pair, often just after a scale change): go
                # on from the best image with a fresh history instead of wasting the scale.
                restarts += 1
                if restarts > MAX_RESTARTS:
                    break
                with torch.no_grad():
                    image.copy_(best[1])
                optimizer, losses[:] = new_optimizer(), []
        if not iterations:
            return image.detach()
        with torch.no_grad():  # the last step's result has not been evaluated yet
            final = float(objective.loss(image))
        losses.append(final)
        if final < best[0]:
            best[0], best[1] = final, image.detach().clone()
        # Divergence is a loss that never went below its start and ended far above it (steps far
        # too large, e.g. Adam with a huge learning rate, clamped to [0, 1]: noise with finite
        # losses). A run where no step lowered the loss and none ran away returns its start,
        # the best iterate: with a tiny style weight that is the photo, the honest answer.
        start, recent = 1 / normaliser[0], losses[1:][-DIVERGENCE_STEPS:]  # after the first evaluation
        if best[0] >= start and recent and min(recent) > DIVERGENCE_GROWTH * start:
            raise self._diverged(f"the loss grew from {start:.4g} to {recent[-1]:.4g}", image)
        return best[1]

    def _diverged(self, what: str, image: torch.Tensor) -> NSTError:
        default = dataclasses.replace(self.settings, learning_rate=None).lr()  # the optimizer's own
        return NSTError(
            f"optimisation diverged ({what} at {image.shape[-1]}x{image.shape[-2]} px): lower the "
            f"learning rate (--lr; {self.settings.lr():g} now, {default:g} by default for {self.settings.optimizer})"
        )

    def _initial_image(self, content: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        init = self.settings.init
        if init == "content":
            return content.clone()
        if init == "noise":
            noise = torch.rand(content.shape, generator=generator)  # white noise, as in the paper
            return noise.to(self.device)
        image = load_image(init).to(self.device)
        if self.settings.preserve_color == "luminance":
            image = color.luminance_rgb(image)
        return resize(image, tuple(content.shape[-2:])).clamp(0, 1)

    def stylize(
        self, photo: SourceImage, targets: GramTargets, progress: bool | None = None, callback=None, plans=None
    ) -> torch.Tensor:
        """The stylized photo as a [1, 3, H, W] CPU tensor in [0, 1], long side = settings.size.

        progress: True shows a bar, False none, None (default) a bar only on a terminal.
        callback(scale, step, image): called after every optimiser step (benchmarks trace progress).
        plans: each scale's memory.Plan, as self.plan(photo) makes them (the default).
        """
        s = self.settings
        plans = plans or self.plan(photo)
        try:
            return self._stylize(photo, targets, plans, progress, callback)
        except NSTError as error:
            if str(error).startswith(f"{photo.path}:"):
                raise
            raise NSTError(f"{photo.path}: {error}") from None  # name the photo the run failed on
        except (RuntimeError, MemoryError) as error:
            if not memory.is_out_of_memory(error):
                raise
            budget = memory.budget_bytes(s, self.device)
            if budget is None:
                raise NSTError(f"{photo.path}: out of memory at {s.size} px: use a smaller --size") from None
            problem = memory.too_big(self.extractor, s, photo.image.size, self.device, budget)
            raise NSTError(f"{photo.path}: out of memory: {problem}") from None

    def _stylize(self, photo: SourceImage, targets: GramTargets, plans, progress, callback) -> torch.Tensor:
        s = self.settings
        torch.manual_seed(s.seed)
        generator = torch.Generator().manual_seed(s.seed)
        schedule = s.schedule()
        image = None
        # tqdm's disable=None means "only on a terminal".
        disable = None if progress is None else not progress
        with tqdm(
            total=sum(steps for _, steps in schedule), disable=disable, unit="it", dynamic_ncols=True, leave=False
        ) as bar:
            for (scale, iterations), plan in zip(schedule, plans):
                content = photo.tensor(scale)
                height, width = content.shape[-2:]
                self.extractor.check_input_size(width, height, photo.path)
                content = content.to(self.device)
                if s.preserve_color == "luminance":
                    content = color.luminance_rgb(content)
                content_targets = tiled_features(self.extractor, content, s.content_layers, plan.tile_size, s.precision)
                style_targets = {layer: g.to(self.device) for layer, g in targets.grams[scale].items()}
                objective = Objective(self.extractor, s, content_targets, style_targets, plan.tile_size)
                if image is None:
                    image = self._initial_image(content, generator)
                else:  # coarse-to-fine: start from the upsampled previous result
                    image = resize(image, (height, width)).clamp(0, 1)
                on_step = None if callback is None else (lambda step, image, scale=scale: callback(scale, step, image))
                image = self._optimise(image, objective, plan, iterations, bar, on_step)
        result = image.clamp(0, 1)
        if s.preserve_color == "luminance":
            result = color.recombine_luminance(result, photo.tensor(s.size).to(self.device))
        if not torch.isfinite(result).all():
            raise self._diverged("non-finite pixels", result)
        return result.cpu()
