"""Whether a size fits in memory, checked before optimising, and the largest size that does.

On Linux an allocation that does not fit usually succeeds and the kernel's OOM killer ends the
process later, with no message; so sizes are checked against an estimate first, and an
allocation failure that still happens gets the same message.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from .errors import NSTError
from .pictures import fit_long_side

GIB = 2**30
# Peak = BASE + FACTOR x (elements of all layer outputs at the final scale) x 4 bytes, fitted to
# `python benchmarks/peak_memory.py` (resident memory of `nst stylize` at 512 and 1024 px: fp32
# 1.20 and 3.21 GiB, bf16 1.02 and 2.30 GiB) and rounded up by about 7%.
BASE_BYTES = {"cpu": 600 * 2**20, "cuda": 0}
FACTOR = {"fp32": 1.6, "bf16": 1.0}
# (limit, usage) of this process's memory cgroup: v2, then v1.
CGROUP_FILES = (
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def estimate_bytes(extractor, width: int, height: int, precision: str, device: torch.device) -> int:
    elements = extractor.activation_elements(width, height)
    return int(BASE_BYTES.get(device.type, 0) + FACTOR[precision] * 4 * elements)


def available_bytes(device: torch.device) -> int | None:
    """Memory this process can still use on the device, or None where it cannot be told."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free
    if device.type != "cpu":
        return None
    limits = []
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        limits.append(int(fields["MemAvailable"].split()[0]) * 1024)
    except (OSError, KeyError, ValueError):
        return None
    for limit_path, usage_path in CGROUP_FILES:
        try:
            limit = Path(limit_path).read_text().strip()
            if limit.isdigit():  # "max" where there is no limit
                limits.append(int(limit) - int(Path(usage_path).read_text()))
        except (OSError, ValueError):
            pass
    # Torch and the weights are already loaded in this process, so the base is partly paid.
    return min(limits) + BASE_BYTES["cpu"] // 2


def largest_fitting_size(extractor, aspect: tuple, precision: str, device: torch.device, available: int) -> int:
    """Largest long side whose estimate fits in available bytes (0 if none does)."""
    low, high = 0, 65536
    while low < high:
        size = (low + high + 1) // 2
        width, height = fit_long_side(aspect, size)
        if estimate_bytes(extractor, width, height, precision, device) <= available:
            low = size
        else:
            high = size - 1
    return low


def too_big(extractor, aspect: tuple, size: int, precision: str, device: torch.device, available: int) -> NSTError:
    fits = largest_fitting_size(extractor, aspect, precision, device, available)
    width, height = fit_long_side(aspect, size)
    needed = estimate_bytes(extractor, width, height, precision, device)
    advice = f"use --size {fits} or less" if fits >= extractor.min_side else "free some memory"
    if precision == "fp32":
        advice += " (or --precision bf16)"
    return NSTError(
        f"{size} px needs about {needed / GIB:.1f} GiB of {device.type} memory and "
        f"{available / GIB:.1f} GiB is available: {advice}"
    )


def check_fits(extractor, aspect: tuple, size: int, precision: str, device: torch.device) -> None:
    available = available_bytes(device)
    if available is None:
        return
    width, height = fit_long_side(aspect, size)
    if estimate_bytes(extractor, width, height, precision, device) > available:
        raise too_big(extractor, aspect, size, precision, device, available)


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
