"""StyleTransfer: the network of the settings a batch shares, which makes an artwork's Gram
targets, plans how a photo's scales fit in memory and stylizes it, coarse to fine, as a batch of
its artworks' images, each with its own loss weights (objective.ImageWeights)."""

from __future__ import annotations

import time

import torch
from tqdm import tqdm

from ..errors import NSTError, OutOfMemory
from ..files.tensors import SourceImage, load_image, load_styles, resize
from ..settings import Settings
from . import color, memory
from .device import exact_fp32, images_alone, resolve_device, resolve_precision
from .network import VGG19Features, load_weights
from .objective import ImageWeights, Objective, Predecessor, tiled_features
from .optimize import diverged, optimise
from .reporter import Reporter, duration
from .targets import GramTargets, made_for

HEARTBEAT_SECONDS = 60  # how often a long optimisation says how far it is, where no bar shows
# A frame that goes on from its predecessor keeps some of the layout of the frames before it, and
# its content drifts from its own frame over a shot; weighing its content this much more keeps
# frames' style and content within 5% of photo runs' (docs/video.md: 1.0 left content 6-8% further,
# 1.15 style 6-8% further).
FRAME_CONTENT = 1.08


class StyleTransfer:
    """The network for one Settings; makes Gram targets and stylizes photos with them. In a
    batch of several artworks' images, its settings are what the batch shares (settings.batch_key)
    and each image's weights and targets are its own.

    Build it once and reuse it for many photos: weights load and the network is built once.
    """

    def __init__(self, settings: Settings):
        self.device = resolve_device(settings.device)
        self.settings = settings.replace(precision=resolve_precision(settings.precision, self.device))
        exact_fp32(self.device, self.settings.precision)
        layers = list(settings.content_layers) + list(settings.style_layers)
        weights = load_weights(settings.weights)
        self.extractor = VGG19Features(weights, layers, settings.pooling, settings.padding).to(self.device)

    def make_targets(self, style_paths, blend=None, photo: SourceImage | None = None, settings=None) -> GramTargets:
        """An artwork's Gram targets from its images (blend: their weights, default equal);
        histogram colour preservation matches them to the photo's colours. settings: the
        artwork's own, where it shares this network with others (default: these)."""
        return GramTargets.compute(self.extractor, load_styles(style_paths, blend), self._own(settings), photo)

    def load_targets(
        self, path: str, photo: SourceImage | None = None, style_hashes=None, settings=None
    ) -> GramTargets:
        """Load a targets file and check it was made for these settings, or the artwork's own
        (and style images, if given)."""
        settings = self._own(settings)
        targets = GramTargets.load(path)
        wanted = made_for(settings, self.extractor.weights_fingerprint)
        targets.check(path, wanted, settings, photo, style_hashes)
        return targets

    def _own(self, settings: Settings | None) -> Settings:
        return self.settings if settings is None else settings.replace(precision=self.settings.precision)

    def plan(self, photo: SourceImage, batch: int = 1) -> list[memory.Plan]:
        """How each scale fits in memory for a batch of this many images (whole or by tiles);
        fails now, with the largest size that fits, if this photo at settings.size cannot even
        by tiles."""
        try:
            return memory.plan(self.extractor, self.settings, photo.image.size, self.device, batch)
        except NSTError as error:
            raise error.at(photo=photo.path) from None

    def loss(self, image: torch.Tensor, content_targets: dict, style_targets: dict) -> torch.Tensor:
        """The loss of an image (no gradients) against content features and Gram targets,
        wherever they are (targets are kept on the CPU)."""
        content_targets, style_targets = (
            {k: v.to(self.device) for k, v in t.items()} for t in (content_targets, style_targets)
        )
        weights = ImageWeights.of([self.settings])
        objective = Objective(
            self.extractor, self.settings, content_targets, style_targets, weights, self.settings.tile_size
        )
        return objective.loss(image.to(self.device))

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
        self, photo: SourceImage, targets: GramTargets, reporter: Reporter | None = None, plans=None
    ) -> torch.Tensor:
        """The stylized photo as a [1, 3, H, W] CPU tensor in [0, 1], long side = settings.size,
        with these settings' weights. reporter: told as it goes (default: a bar on a terminal).
        plans: each scale's memory.Plan, as self.plan(photo) makes them (the default)."""
        (result,) = self.stylize_batch(photo, [targets], reporter=reporter, plans=plans)
        if isinstance(result, NSTError):
            raise result.at(photo=photo.path)
        return result

    def stylize_batch(
        self,
        photo: SourceImage,
        targets: list[GramTargets],
        weights: ImageWeights | None = None,
        plans=None,
        reporter: Reporter | None = None,
        steps: dict | None = None,
    ) -> list[torch.Tensor | NSTError]:
        """The photo stylized with each of several artworks' targets, optimised together as one
        batch: each result ([1, 3, H, W] CPU tensor) is the one its own stylize() gives, or the
        NSTError that lost that image alone (it diverged).

        weights: each image's loss weights (default: these settings' for each). plans: as
        self.plan(photo, len(targets)) makes them (the default). reporter: told of each step,
        and about once a minute how far the work is, for a log or console where no bar shows.
        steps: filled in with {image index: steps it took at the final scale} (settings.stop_tolerance
        stops an image there once it is done).
        """
        weights = weights or ImageWeights.of([self.settings] * len(targets))
        plans = plans or self.plan(photo, len(targets))
        return self._guarded(photo, targets, weights, plans, reporter, steps)

    def go_on(
        self,
        photo: SourceImage,
        images: torch.Tensor,
        targets: list[GramTargets],
        weights: ImageWeights,
        iterations: int,
        plans=None,
        reporter: Reporter | None = None,
        steps: dict | None = None,
    ) -> list[torch.Tensor | NSTError]:
        """Images stylize_batch made ([B, 3, H, W]) optimised further at the final scale alone,
        from where they are, for `iterations` steps with these weights (a style_target's push:
        a larger style weight); as stylize_batch returns them."""
        plans = (plans or self.plan(photo, len(targets)))[-1:]
        schedule = [(self.settings.schedule()[-1][0], iterations)]
        return self._guarded(photo, targets, weights, plans, reporter, steps, schedule, images)

    def next_frame(
        self,
        frame: SourceImage,
        predecessor: Predecessor,
        targets: list[GramTargets],
        weights: ImageWeights,
        plans=None,
        reporter: Reporter | None = None,
    ) -> list[torch.Tensor | NSTError]:
        """A video frame's images, one per artwork, each starting from its predecessor's result
        warped into this frame (predecessor.images, at the output size), optimised at the final
        scale alone for settings.frame_iterations steps with the temporal loss keeping them
        there where predecessor.mask trusts the warp, and their content weighed FRAME_CONTENT
        times as much; as stylize_batch returns them. A video's first frame, and the first
        after a cut, are stylize_batch's."""
        weights = weights.scaled(content=FRAME_CONTENT)
        plans = (plans or self.plan(frame, len(targets)))[-1:]
        schedule = [(self.settings.schedule()[-1][0], self.settings.frame_iterations)]
        return self._guarded(frame, targets, weights, plans, reporter, None, schedule, predecessor.images, predecessor)

    def _guarded(self, photo, targets, weights, plans, reporter, steps, schedule=None, start=None, predecessor=None):
        """_stylize, its errors naming the photo; out of memory said as what fits."""
        s = self.settings
        if len(weights) != len(targets):
            raise ValueError(f"{len(weights)} images' weights for {len(targets)} targets")
        try:
            reporter = reporter or Reporter()
            return self._stylize(photo, targets, weights, plans, reporter, steps, schedule, start, predecessor)
        except NSTError as error:
            raise error.at(photo=photo.path) from None  # name the photo the run failed on
        except (RuntimeError, MemoryError) as error:
            if not memory.is_out_of_memory(error):
                raise
            budget = memory.budget_bytes(s, self.device)
            if budget is None:
                raise OutOfMemory(f"out of memory at {s.size} px: use a smaller --size").at(photo=photo.path) from None
            problem = memory.too_big(self.extractor, s, photo.image.size, self.device, budget)
            raise OutOfMemory(f"out of memory: {problem.problem}").at(photo=photo.path) from None

    def _objectives(self, content_targets: dict, targets: list, scale: int, plan, weights, predecessor=None) -> list:
        """The objective of a scale: one for the batch, or one per image where the network runs
        on each image alone (on a CPU: see device.images_alone); predecessor: a video frame's at
        this scale (Predecessor), or None."""
        layers = self.settings.style_layers
        grams = [{layer: own.grams[scale][layer].to(self.device) for layer in layers} for own in targets]

        def objective(images: range) -> Objective:
            style = {layer: torch.stack([grams[b][layer] for b in images]) for layer in layers}
            own = predecessor.of(images) if predecessor is not None else None
            return Objective(
                self.extractor,
                self.settings,
                content_targets,
                style,
                weights.images(images),
                plan.tile_size,
                predecessor=own,
            )

        if images_alone(self.device):
            return [objective(range(b, b + 1)) for b in range(len(targets))]
        return [objective(range(len(targets)))]

    def _stylize(
        self,
        photo,
        targets,
        weights,
        plans,
        reporter: Reporter,
        steps=None,
        schedule=None,
        start=None,
        predecessor=None,
    ) -> list:
        """schedule: (scale, steps) of each scale (default: the settings'); start: the images to
        begin from at its first scale (default: the settings' init); predecessor: a video frame's
        (Predecessor, at the output size) for the temporal loss."""
        s = self.settings
        torch.manual_seed(s.seed)
        generator = torch.Generator().manual_seed(s.seed)
        schedule = schedule or s.schedule()
        batch = len(targets)
        image, failed = None, {}
        # tqdm's disable=None means "only on a terminal".
        disable = None if reporter.bar is None else not reporter.bar
        with tqdm(
            total=sum(steps for _, steps in schedule), disable=disable, unit="it", dynamic_ncols=True, leave=False
        ) as shown:
            bar, margin = _Heartbeat(shown, schedule, reporter.note), 0
            for number, ((scale, iterations), plan) in enumerate(zip(schedule, plans)):
                bar.scale, final = scale, number == len(schedule) - 1
                content = photo.tensor(scale)
                height, width = content.shape[-2:]
                self.extractor.check_input_size(width, height, photo.path)
                # The image is optimised inside a reflected border, cropped at the end: its edges
                # then see what its middle sees, not the network's padding.
                previous, margin = margin, min(s.margin_px(scale), height - 1, width - 1)
                content = _reflect(content.to(self.device), margin)
                if s.preserve_color == "luminance":
                    content = color.luminance_rgb(content)
                content_targets = tiled_features(self.extractor, content, s.content_layers, plan.tile_size, s.precision)

                def placed(images, height=height, width=width, margin=margin):
                    """Images given at any size, at this scale and in its border, as the run holds them."""
                    images = resize(images.to(self.device), (height, width))
                    images = color.luminance_rgb(images) if s.preserve_color == "luminance" else images
                    return _reflect(images, margin)

                here = None
                if predecessor is not None:  # moved to this scale, in the same border; the border untrusted
                    mask = resize(predecessor.mask.to(self.device), (height, width)).clamp(0, 1)
                    here = Predecessor(placed(predecessor.images), torch.nn.functional.pad(mask, (margin,) * 4))
                objectives = self._objectives(content_targets, targets, scale, plan, weights, here)
                if start is not None:  # going on from images made before, at this scale
                    image, start = placed(start), None
                elif image is None:  # every image starts where its own run would
                    image = self._initial_image(content, generator).expand(batch, -1, -1, -1)
                else:  # coarse-to-fine: start from the upsampled previous result
                    image = _reflect(resize(_crop(image, previous), (height, width)).clamp(0, 1), margin)

                def on_step(step, image, scale=scale, margin=margin):
                    reporter.step(scale, step, _crop(image, margin))

                image = optimise(
                    image,
                    objectives,
                    s,
                    plan.history,
                    iterations,
                    bar,
                    failed,
                    on_step,
                    stop=s.stop_tolerance if final else None,
                    steps=steps if final else None,
                )
        results = _crop(image, margin).clamp(0, 1)
        if s.preserve_color == "luminance":
            results = color.recombine_luminance(results, photo.tensor(s.size).to(self.device))
        outcomes = []
        for b, result in enumerate(results.cpu().split(1)):
            if b not in failed and not torch.isfinite(result).all():
                failed[b] = diverged(s, "non-finite pixels", result)
            outcomes.append(failed.get(b, result))
        return outcomes


def _reflect(image: torch.Tensor, margin: int) -> torch.Tensor:
    return torch.nn.functional.pad(image, (margin,) * 4, mode="reflect") if margin else image


def _crop(image: torch.Tensor, margin: int) -> torch.Tensor:
    return image[..., margin : image.shape[-2] - margin, margin : image.shape[-1] - margin]


class _Heartbeat:
    """The progress bar, and a line every HEARTBEAT_SECONDS for whoever is told (a log or a
    console, where the bar does not show): how far the work is, weighing each step by its
    scale's pixels, and about how long the rest will take at that pace."""

    def __init__(self, bar, schedule, tell, every: float = HEARTBEAT_SECONDS):
        self.bar, self.tell, self.every = bar, tell, every
        self.total = sum(scale * scale * steps for scale, steps in schedule)
        self.done, self.scale = 0, schedule[0][0]
        self.started = self.last = time.monotonic()

    def set_postfix_str(self, text: str, refresh: bool = False) -> None:
        self.bar.set_postfix_str(text, refresh=refresh)

    def update(self, steps: int) -> None:
        self.bar.update(steps)
        self.done += self.scale * self.scale * steps
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last, elapsed = now, now - self.started
        left = elapsed * (self.total - self.done) / self.done
        self.tell(f"{100 * self.done / self.total:.0f}% done at {self.scale} px, about {duration(left)} left")
