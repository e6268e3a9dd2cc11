"""A size that cannot fit fails before any work, with the largest size that does."""

import torch

from conftest import PHOTO, STYLE, tiny
from nst_core import StyleTransfer
from nst_core.memory import estimate_bytes, is_out_of_memory, largest_fitting_size
from nst_core.pictures import fit_long_side

CPU = torch.device("cpu")


def test_estimate_grows_with_the_number_of_pixels():
    extractor = StyleTransfer(tiny()).extractor
    small, large = (estimate_bytes(extractor, w, h, "fp32", CPU) for w, h in [(512, 384), (1024, 768)])
    assert large > 3 * (small - estimate_bytes(extractor, 0, 0, "fp32", CPU))


def test_largest_fitting_size_is_the_boundary():
    extractor = StyleTransfer(tiny()).extractor
    available = 3 * 2**30
    size = largest_fitting_size(extractor, (640, 480), "fp32", CPU, available)
    assert 500 < size < 20000
    fits = [
        estimate_bytes(extractor, *fit_long_side((640, 480), s), "fp32", CPU) <= available for s in (size, size + 1)
    ]
    assert fits == [True, False]


def test_a_size_that_cannot_fit_fails_at_once_with_a_size_that_does(tmp_path, cli):
    output = tmp_path / "out.png"
    code, _, err = cli("stylize", PHOTO, "--style", STYLE, "--size", 60000, "--device", "cpu", "--output", output)
    assert code == 2
    line = err.strip()
    assert "\n" not in line and str(PHOTO) in line
    assert "60000 px needs about" in line and "GiB is available: use --size" in line
    suggested = int(line.split("use --size ")[1].split()[0])
    assert 256 <= suggested < 60000
    assert not output.exists()


def test_allocation_failures_are_recognised():
    assert is_out_of_memory(
        RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")
    )
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
