"""Choosing the torch device (\"auto\": cuda, then mps, then cpu) and the precision (\"auto\": bf16
where the hardware computes it natively, fp32 elsewhere)."""

from __future__ import annotations

import os

import torch

from ..errors import NSTError

# Set to 1, a batch goes through the network at once on a CPU too, as on a GPU: how the suite runs
# the GPU's branches where no GPU is (docs/testing.md). Read at each call, so a test can set it.
BATCHED_NETWORK = "NST_BATCHED_NETWORK"


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(spec: str = "auto") -> torch.device:
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise NSTError(f"unknown device {spec!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise NSTError(f"device {spec!r} requested but CUDA is not available here")
        if device.index is not None and device.index >= count:
            raise NSTError(f"device {spec!r} requested but only {count} CUDA device(s) exist")
    elif device.type == "mps" and not _mps_available():
        raise NSTError(f"device {spec!r} requested but MPS is not available here")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise NSTError(f"unsupported device {spec!r}: use auto, cpu, cuda, cuda:N or mps")
    return device


def _cpu_has_native_bf16() -> bool:
    """AVX-512 BF16 or AMX (Linux only; elsewhere we do not guess). Without them torch emulates
    bf16 and it is slower than fp32."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(spec: str, device: torch.device) -> str:
    if spec != "auto":
        return spec
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and _cpu_has_native_bf16() else "fp32"


def exact_fp32(device: torch.device, precision: str) -> None:
    """fp32 means fp32: cuDNN's convolutions use TF32 (10-bit mantissas) by default, where tiles
    and the whole image part by 1e-3 (an H200, seen). Process-wide; bf16 runs are unaffected."""
    if device.type == "cuda" and precision == "fp32":
        torch.backends.cudnn.allow_tf32 = False


def images_alone(device: torch.device) -> bool:
    """Whether the network runs on each image of a batch alone. On a CPU: there the same seed and
    inputs give the same bytes whatever else an image's batch holds (a batch's convolutions
    round differently from one image's), and the convolutions already run at the speed of a
    large matrix product, so a batch would gain little. NST_BATCHED_NETWORK=1 says no everywhere."""
    return device.type == "cpu" and os.environ.get(BATCHED_NETWORK) != "1"


def describe(device: torch.device, precision: str, asked: str = "auto") -> str:
    """What a job runs on, for its first line: "cpu, bf16 (native on this CPU)"."""
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    if asked != "auto":
        why = "as set"
    elif device.type == "cpu":
        why = "native on this CPU" if precision == "bf16" else "this CPU has no native bf16"
    else:
        why = "auto"
    return f"{where}, {precision} ({why})"
