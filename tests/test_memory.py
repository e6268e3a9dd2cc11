"""Each scale fits in memory: whole where it can, else by tiles (with fewer L-BFGS pairs only where
that buys reasonable tiles); a size that cannot fit even so fails before any work, with the
largest size that does."""

import os
import re
import subprocess
import sys

import pytest
import torch
from PIL import Image

from conftest import PHOTO, REPO, STYLE, tiny
from nst_core import StyleTransfer
from nst_core.core.device import resolve_precision
from nst_core.core.memory import (
    GIB,
    HISTORY_LEVELS,
    IMAGE_COPIES,
    SMALLEST_TILE,
    base_bytes,
    batch_size,
    estimate_bytes,
    features_tile_size,
    image_bytes,
    is_out_of_memory,
    plan,
    plan_scale,
)
from nst_core.errors import NSTError

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def transfer():
    return StyleTransfer(tiny(precision="fp32"))


def test_estimate_grows_with_pixels_history_and_tile(transfer):
    extractor, settings = transfer.extractor, transfer.settings

    def estimate(width, height, tile=None, history=0):
        return estimate_bytes(extractor, settings, width, height, CPU, tile, history)

    small, large = estimate(512, 384), estimate(1024, 768)
    assert large > 3 * (small - estimate(0, 0))
    # each L-BFGS pair is two image-size vectors
    assert estimate(1024, 768, history=10) - large == 20 * image_bytes(1024, 768)
    # by tiles the network's part is a tile's, far less than the whole image's
    assert estimate(4096, 3072, 1024) < estimate(4096, 3072) / 5
    assert estimate(4096, 3072, 512) < estimate(4096, 3072, 1024)


def test_a_batch_counts_each_images_history_and_copies_and_is_as_large_as_fits(transfer, images_alone):
    # without the reflected margin, so that the plan's image is 256x192
    extractor, settings = transfer.extractor, transfer.settings.replace(size=256, iterations=100, margin=0.0)

    def estimate(batch, device=CPU):
        return estimate_bytes(extractor, settings, 256, 192, device, None, 100, batch)

    # On a CPU the network runs on one image at a time: its activations are there once.
    per_image = (2 * 100 + IMAGE_COPIES) * image_bytes(256, 192)
    assert estimate(4) - estimate(1) == 3 * per_image
    on_gpu = torch.device("cuda")  # no GPU needed: only the estimate's arithmetic
    copies = IMAGE_COPIES * image_bytes(256, 192)
    one = estimate(1, on_gpu) - base_bytes(extractor, settings, on_gpu)  # the weights and workspace once
    assert estimate(4, on_gpu) - estimate(1, on_gpu) == pytest.approx(3 * (one + copies), abs=8)
    # Three fit in the budget, not four: batches of at most three; at most what is asked.
    three = settings.replace(max_memory=(estimate(3) + estimate(4)) / 2 / GIB)
    assert batch_size(extractor, three, (256, 192), CPU, images=4) == 3
    assert batch_size(extractor, three, (256, 192), CPU, images=2) == 2
    assert batch_size(extractor, three, (256, 192), CPU, images=4, most=1) == 1
    none = settings.replace(max_memory=estimate(1) / GIB * 1.01)
    assert batch_size(extractor, none, (256, 192), CPU, images=4) == 1


def test_a_scale_goes_whole_where_it_fits_and_by_the_largest_tiles_where_not(transfer):
    extractor, settings = transfer.extractor, transfer.settings.replace(lbfgs_history=100)

    def plan_with(budget, width=2048, height=1536, iterations=200):
        return plan_scale(extractor, settings, width, height, iterations, CPU, budget)

    whole = estimate_bytes(extractor, settings, 2048, 1536, CPU, None, 100)
    assert plan_with(whole).tile_size is None and plan_with(whole).history == 100
    tiled = plan_with(whole - 1)
    assert tiled.tile_size is not None and tiled.history == 100  # same result as whole: full history
    assert tiled.needed <= whole - 1
    larger = estimate_bytes(extractor, settings, 2048, 1536, CPU, tiled.tile_size + 16, 100)
    assert larger > whole - 1, "the largest tile that fits"
    # a tighter budget trades L-BFGS pairs for tiles of the ladder's sizes, never below its floors
    tight = plan_with(3 * GIB)
    assert tight.needed <= 3 * GIB and HISTORY_LEVELS[-1][-1] <= tight.history < 100
    assert tight.tile_size >= SMALLEST_TILE
    # no more pairs than iterations: a short scale keeps its whole history
    assert plan_with(3 * GIB, iterations=4).history == 4
    # where even the smallest reasonable tile with the fewest pairs cannot fit: None
    assert plan_with(estimate_bytes(extractor, settings, 2048, 1536, CPU, 512, 5) - 1) is None


def test_a_size_too_big_is_told_the_largest_that_plans(transfer):
    extractor, settings = transfer.extractor, transfer.settings.replace(iterations=200, min_size=128, max_memory=3.0)

    def fits(size):  # what a run of that size would be told
        try:
            plan(extractor, settings.replace(size=size), (640, 480), CPU)
        except NSTError:
            return False
        return True

    with pytest.raises(NSTError, match="60000 px needs about .* even by tiles and 3.0 GiB is available") as error:
        plan(extractor, settings.replace(size=60000), (640, 480), CPU)
    advised = int(re.search(r"use --size (\d+) or less", str(error.value)).group(1))
    assert 1000 < advised < 20000
    assert fits(advised) and not fits(advised + 1)


def test_max_memory_is_the_budget(transfer):
    settings = transfer.settings.replace(size=2048, iterations=50, max_memory=2.5)
    plans = plan(transfer.extractor, settings, (640, 480), CPU)
    assert plans[-1].tile_size is not None and plans[-1].needed <= 2.5 * GIB
    assert "tiles of" in plans[-1].describe()


def test_a_paintings_features_go_whole_where_they_fit_else_by_reasonable_tiles(transfer):
    settings = transfer.settings
    assert features_tile_size(transfer.extractor, settings.replace(max_memory=8.0), 640, 507, CPU) is None
    # where not even tiles fit by the optimisation's estimate: 512 px tiles, not 208 px ones (40x the work)
    assert features_tile_size(transfer.extractor, settings.replace(max_memory=0.25), 640, 507, CPU) == SMALLEST_TILE
    assert (
        features_tile_size(transfer.extractor, settings.replace(max_memory=0.25, tile_size=320), 640, 507, CPU) == 320
    )


def test_a_size_that_cannot_fit_fails_at_once_with_a_size_that_does(tmp_path, cli):
    output = tmp_path / "out.png"
    where = ["--device", "cpu", "--precision", "fp32", "--output", output]
    code, _, err = cli("stylize", PHOTO, "--style", STYLE, "--size", 60000, *where)
    assert code == 2
    line = err.strip()
    assert "\n" not in line and str(PHOTO) in line
    assert "60000 px needs about" in line and "even by tiles" in line and "GiB is available: use --size" in line
    suggested = int(line.split("use --size ")[1].split()[0])
    assert 1024 <= suggested < 60000
    # bf16 is advised, to an fp32 run, only where the CPU has it natively (emulated, it is ~100x slower)
    assert ("--precision bf16" in line) == (resolve_precision("auto", CPU) == "bf16")
    assert not output.exists()


def test_a_size_beyond_max_memory_is_stylized_by_tiles(tmp_path, cli, transfer):
    """The command chooses tiles by itself and says so; --max-memory is the budget. A 4:1
    panorama goes in 2 tiles (a 4:3 photo would need 4 of the smallest reasonable size)."""
    panorama = tmp_path / "panorama.png"
    Image.open(PHOTO).convert("RGB").crop((0, 300, 1024, 556)).save(panorama)
    settings = transfer.settings.replace(size=640, iterations=1, margin=0.0)  # the image is 640x160
    budget = estimate_bytes(transfer.extractor, settings, 640, 160, CPU, 512, 1) + 2**20
    assert budget < estimate_bytes(transfer.extractor, settings, 640, 160, CPU, None, 1)
    output = tmp_path / "out.png"
    code, _, err = cli(
        "stylize", panorama, "--style", STYLE, "--size", 640, "--min-size", "none", "--iterations", 1,
        "--max-memory", budget / GIB, "--device", "cpu", "--precision", "fp32", "--margin", 0, "--output", output,
    )  # fmt: skip
    assert code == 0, err
    tiles = "640x160 px in 2 tiles of 512 px"
    assert err.startswith(f"nst: {panorama}: {tiles} (about "), err  # said before the work
    assert f"nst: wrote {output} (panorama in starry_night, 640x160," in err and err.strip().endswith(f"{tiles})")


@pytest.mark.slow
def test_a_run_keeps_its_max_memory_by_tiles_up_to_its_scores(tmp_path):
    # The process's peak resident memory (getrusage) of a run whose cap forces tiles: within 10%
    # of the cap, the painting's targets, the scores and the PNG included (benchmarks/peak_memory.py
    # prints more such cases). 640 px in fp32 under 1.75 GiB: 4 tiles; the peak measured 1.29 GiB.
    photo = REPO / "demo" / "photos" / "tubingen.jpg"
    style = REPO / "demo" / "styles" / "starry_night.jpg"
    cap = 1.75
    command = [sys.executable, "-m", "nst_core", "stylize", str(photo), "--style", str(style), "--size", "640"]
    command += ["--min-size", "none", "--iterations", "2", "--precision", "fp32", "--max-memory", str(cap)]
    process = subprocess.Popen([*command, "--output", str(tmp_path / "out.png")], stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    err = process.stderr.read()
    assert status == 0, err
    assert "680x520 px in 4 tiles" in err  # the cap shaped the run
    assert usage.ru_maxrss * 1024 <= 1.1 * cap * GIB, (usage.ru_maxrss / 2**20, err)


def test_allocation_failures_are_recognised():
    assert is_out_of_memory(
        RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")
    )
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
