"""How each scale of a run fits in memory: whole, or by tiles (objective.py) with as much of the
L-BFGS history as fits; checked before optimising, with the largest size that fits where none does.

On Linux an allocation that does not fit usually succeeds and the kernel's OOM killer ends the
process later, with no message; so sizes are checked against an estimate first, and an
allocation failure that still happens gets the same message.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import NSTError
from ..files.image_files import fit_long_side
from ..tiles import GRID as TILE_GRID
from ..tiles import MARGIN as TILE_MARGIN
from ..tiles import tiles
from .device import images_alone, resolve_precision

GIB = 2**30
# The network's peak: FACTOR x the elements of all its layer outputs x 4 bytes, plus base_bytes
# (torch and the weights): fitted to benchmarks/peak_memory.py at 512 and 1024 px, rounded up ~7%.
CPU_BASE_BYTES = 600 * 2**20
# On a GPU the allocator's peak holds the weights, autocast's bf16 copies of them, and cuDNN's
# workspace: on an H200, up to 82 MiB in bf16 at 512 px and 185 MiB in fp32 (TF32 off) at 192 px.
GPU_WORKSPACE_BYTES = 256 * 2**20
FACTOR = {"fp32": 1.6, "bf16": 1.0}
# Whole-size fp32 tensors by tiles (image, gradient, best iterate, photo, L-BFGS's direction and
# last gradient, slack), besides the L-BFGS history's pairs.
IMAGE_COPIES = 8
# Whole if it fits; else tiles of GOOD_TILE px or more with the full history (the untiled
# result); else the least work with fewer pairs (HISTORY_LEVELS); never tiles under SMALLEST_TILE
# px, whose margins would be most of the work (docs/tiles.md).
GOOD_TILE = 1024
HISTORY_LEVELS = ((50, 20), (10, 5))
SMALLEST_TILE = 512


@dataclass(frozen=True)
class Plan:
    """How one scale is optimised: by tiles of at most tile_size px a side (None: the whole
    image at once) keeping `history` L-BFGS pairs (of the settings' `wanted`), estimated to need
    `needed` bytes. Only fewer pairs change the result."""

    width: int
    height: int
    tile_size: int | None
    history: int
    wanted: int
    needed: int

    @property
    def constrained(self) -> bool:
        """Whether memory shaped it: tiles, or fewer L-BFGS pairs."""
        return self.tile_size is not None or self.history < self.wanted

    def describe(self) -> str:
        if self.tile_size is None:
            text = f"{self.width}x{self.height} px whole"
        else:
            count = len(tiles(self.height, self.width, self.tile_size))
            text = f"{self.width}x{self.height} px in {count} tiles of {self.tile_size} px"
        return text + (f", L-BFGS history {self.history} of {self.wanted}" if self.history < self.wanted else "")


def image_bytes(width: int, height: int) -> int:
    return 3 * width * height * 4  # the image is optimised in fp32 whatever the precision


def estimate_bytes(
    extractor, settings, width: int, height: int, device: torch.device, tile_size=None, history: int = 0, batch=1
) -> int:
    """Peak bytes of optimising one scale for a batch of images (or of computing its features,
    with history 0): each image has its own history and copies, and its own activations where
    the batch goes through the network at once (not on a CPU: device.images_alone); torch, the
    weights and the photo's content features are there once."""
    tiled = tile_size is not None and max(width, height) > tile_size
    tile_width, tile_height = (min(width, tile_size), min(height, tile_size)) if tiled else (width, height)
    network = FACTOR[settings.precision] * 4 * extractor.activation_elements(tile_width, tile_height)
    state = 2 * history * image_bytes(width, height)
    shared, copies = 0, IMAGE_COPIES * image_bytes(width, height)
    if tiled:  # whole-size tensors beside the tile's: the image's copies and the content targets
        shared = 4 * sum(
            c * w * h for name, c, w, h in extractor.layer_shapes(width, height) if name in settings.content_layers
        )
        state += copies
    elif batch > 1:  # the fit above holds one image's copies; the others' are besides
        shared = (batch - 1) * copies
    networks = 1 if images_alone(device) else batch
    return int(base_bytes(extractor, settings, device) + networks * network + batch * state + shared)


def base_bytes(extractor, settings, device: torch.device) -> int:
    """What a run holds whatever its size: torch and the weights in a CPU process's resident
    memory; the weights (and their bf16 copies) and a workspace on a GPU."""
    if device.type == "cpu":
        return CPU_BASE_BYTES
    weights = sum(p.numel() * p.element_size() for p in extractor.parameters())
    return int(weights * (1.5 if settings.precision == "bf16" else 1)) + GPU_WORKSPACE_BYTES


def _cgroup_rooms() -> list[int]:
    """Room left under each memory cgroup limit this process is in, from its own cgroup up to the
    root (v2, then v1): a Slurm job's limit is its cgroup's, not the machine's."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    rooms = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            root, limit_name, usage_name = Path("/sys/fs/cgroup"), "memory.max", "memory.current"
        elif "memory" in controllers.split(","):
            root, limit_name, usage_name = (
                Path("/sys/fs/cgroup/memory"),
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
            )
        else:
            continue
        folder = root / path.lstrip("/")
        while True:
            with contextlib.suppress(OSError, ValueError):
                limit = (folder / limit_name).read_text().strip()
                if limit.isdigit():  # "max" where there is no limit
                    rooms.append(int(limit) - int((folder / usage_name).read_text()))
            if folder == root or root not in folder.parents:
                break
            folder = folder.parent
    return rooms


def available_bytes(device: torch.device) -> int | None:
    """Memory this process can still use on the device, or None where it cannot be told."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        limits = [int(fields["MemAvailable"].split()[0]) * 1024]
    except (OSError, KeyError, ValueError):
        return None
    # Torch and the weights are already loaded in this process, so the base is partly paid.
    return min(limits + _cgroup_rooms()) + CPU_BASE_BYTES // 2


def budget_bytes(settings, device: torch.device) -> int | None:
    """What a run may use: the device's free memory, or max_memory where that is less (or the
    device cannot tell); None where neither is known."""
    available = available_bytes(device)
    if settings.max_memory is None:
        return available
    wanted = int(settings.max_memory * GIB)
    return wanted if available is None else min(wanted, available)


def _tile_sizes(longest: int, limit: int | None) -> list[int]:
    """Tile sizes to try, largest first: the whole image (unless limited), then sizes whose inner
    regions are whole steps of the grid."""
    top = longest if limit is None else min(limit, longest)
    steps = (top - 2 * TILE_MARGIN) // TILE_GRID
    grid = [2 * TILE_MARGIN + k * TILE_GRID for k in range(steps, 0, -1)]
    return ([longest] if top == longest else []) + [size for size in grid if size < longest]


def plan_scale(
    extractor, settings, width: int, height: int, iterations: int, device, budget, batch: int = 1
) -> Plan | None:
    """The plan of one scale of a batch within budget bytes (None: not even by tiles): the whole
    image with the full L-BFGS history where it fits, else as GOOD_TILE's comment says."""
    per_step = settings.lbfgs_history if settings.optimizer == "lbfgs" else 1  # Adam: 2 moments, as 1 pair
    wanted = min(per_step, iterations)
    longest = max(width, height)
    sizes = _tile_sizes(longest, settings.tile_size)

    def needed(tile_size, history):
        return estimate_bytes(extractor, settings, width, height, device, tile_size, history, batch)

    def plan(tile_size, history):
        tile = None if tile_size >= longest else tile_size
        return Plan(width, height, tile, history, wanted, needed(tile_size, history))

    if budget is None:
        return plan(sizes[0], wanted)

    def largest_tile(history):
        if sizes[0] == longest and needed(longest, history) <= budget:
            return longest  # whole (tiles add whole-size tensors, so not the end of the order below)
        grid = [size for size in sizes if size < longest]
        low, high = 0, len(grid)  # the estimate grows with the tile: the first that fits, by bisection
        while low < high:
            middle = (low + high) // 2
            if needed(grid[middle], history) <= budget:
                high = middle
            else:
                low = middle + 1
        return grid[low] if low < len(grid) else None

    def work(tile_size):
        return sum((t.bottom - t.top) * (t.right - t.left) for t in tiles(height, width, tile_size))

    tile = largest_tile(wanted)
    if tile is not None and tile >= min(GOOD_TILE, sizes[0]):
        return plan(tile, wanted)
    smallest = min(SMALLEST_TILE, sizes[0])
    for levels in ((wanted, *HISTORY_LEVELS[0]), HISTORY_LEVELS[1]):
        options = []
        for history in sorted({min(level, wanted) for level in levels}, reverse=True):
            tile = largest_tile(history)
            if tile is not None and tile >= smallest:
                options.append((work(tile), history, tile))
        if options:
            least = min(cost for cost, _, _ in options)
            history, _, tile = max((h, -cost, t) for cost, h, t in options if cost <= 1.1 * least)
            return plan(tile, history)
    return None


def features_tile_size(extractor, settings, width: int, height: int, device: torch.device) -> int | None:
    """Tiles for computing an image's features without gradients (a painting's Gram targets):
    those of a scale with no optimiser state; where none fits, tiles of SMALLEST_TILE px, since
    a pass without gradients holds far less than that estimate counts (no autograd graph, no
    image copies), and smaller tiles would be mostly margin (208 px ones: 40 times the work)."""
    plan = plan_scale(extractor, settings, width, height, 0, device, budget_bytes(settings, device))
    if plan:
        return plan.tile_size
    longest = max(width, height)
    sizes = _tile_sizes(longest, settings.tile_size)
    tile = next((size for size in sizes if size <= SMALLEST_TILE), sizes[-1])
    return None if tile >= longest else tile


def _schedule(settings, aspect: tuple, size: int):
    """(width, height, iterations) of each scale of the coarse-to-fine schedule up to size."""
    settings = settings.replace(size=size)
    return [
        (*(side + 2 * settings.margin_px(scale) for side in fit_long_side(aspect, scale)), steps)
        for scale, steps in settings.schedule()
    ]


def _plans(extractor, settings, aspect, size, device, budget, batch: int = 1) -> list[Plan | None]:
    return [
        plan_scale(extractor, settings, w, h, n, device, budget, batch) for w, h, n in _schedule(settings, aspect, size)
    ]


def largest_fitting_size(extractor, settings, aspect: tuple, device: torch.device, budget: int) -> int:
    """Largest long side whose every scale fits in budget bytes, by tiles if need be (0: none)."""
    low, high = 0, 65536
    while low < high:
        size = (low + high + 1) // 2
        if all(_plans(extractor, settings, aspect, size, device, budget)):
            low = size
        else:
            high = size - 1
    return low


def too_big(extractor, settings, aspect: tuple, device: torch.device, budget: int) -> NSTError:
    fits = largest_fitting_size(extractor, settings, aspect, device, budget)
    width, height = fit_long_side(aspect, settings.size)
    smallest = min(SMALLEST_TILE, max(width, height))
    history = min(HISTORY_LEVELS[-1][-1], settings.lbfgs_history)
    needed = estimate_bytes(extractor, settings, width, height, device, smallest, history)
    advice = f"use --size {fits} or less" if fits >= extractor.min_side else "free some memory"
    if settings.precision == "fp32" and resolve_precision("auto", device) == "bf16":
        advice += " (or --precision bf16)"  # only where native: emulated bf16 is ~100x slower
    return NSTError(
        f"{settings.size} px needs about {needed / GIB:.1f} GiB of {device.type} memory even by tiles "
        f"and {budget / GIB:.1f} GiB is available: {advice}"
    )


def plan(extractor, settings, aspect: tuple, device: torch.device, batch: int = 1) -> list[Plan]:
    """Each scale's plan for a batch of images of this aspect at settings.size; NSTError (with
    the largest size that fits one image) where even tiles cannot fit."""
    budget = budget_bytes(settings, device)
    plans = _plans(extractor, settings, aspect, settings.size, device, budget, batch)
    if not all(plans):
        raise too_big(extractor, settings, aspect, device, budget)
    return plans


def batch_size(extractor, settings, aspect: tuple, device: torch.device, images: int, most=None) -> int:
    """How many of a photo's `images` to optimise together (at most `most`; None: all): the
    largest batch whose every scale fits whole with the full L-BFGS history. One where even
    two do not: memory then shapes one image at a time (tiles, fewer pairs), as unbatched."""
    most = images if most is None else min(most, images)
    budget = budget_bytes(settings, device)
    if most <= 1 or budget is None:
        return max(1, most)

    def fits(batch):
        plans = _plans(extractor, settings, aspect, settings.size, device, budget, batch)
        return all(p is not None and not p.constrained for p in plans)

    low, high = 1, most  # the estimate grows with the batch: the largest that fits, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.OutOfMemoryError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)


def reset_peak(device: torch.device) -> None:
    """Start measuring a job's peak: the allocator's counter on a GPU; on Linux the process's
    resident high-water mark, which writing 5 to /proc/self/clear_refs resets, so a warm worker
    reports each job's peak rather than its whole life's."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")


def peak_bytes(device: torch.device) -> int | None:
    """Peak memory since reset_peak: GPU memory allocated, or resident memory; None if unknown."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return int(kib) * 1024 if kib else None
