"""Choosing the torch device: "auto" (cuda, then mps, then cpu) or an explicit one."""

from __future__ import annotations

import torch

from .errors import NSTError


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
