"""VGG-19's layer names and channel counts: plain data, no torch (the settings table uses them)."""

from __future__ import annotations

from .errors import NSTError

_BLOCK_CONVS = (2, 2, 4, 4, 4)
_BLOCK_CHANNELS = (64, 128, 256, 512, 512)


def _layer_names() -> tuple[str, ...]:
    names = []
    for block, convs in enumerate(_BLOCK_CONVS, start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return tuple(names)


# Standard names in network order; the index of a name is also its index in torchvision's
# `vgg19().features`, which is how torchvision-layout state dicts are read.
LAYER_NAMES = _layer_names()
CONV_LAYERS = tuple(n for n in LAYER_NAMES if n.startswith("conv"))


def check_layers(names) -> None:
    unknown = [n for n in names if n not in LAYER_NAMES]
    if unknown:
        raise NSTError(f"unknown VGG-19 layer {unknown[0]!r}: use names like conv4_2, relu1_1, pool3")


def layer_block(name: str) -> int:
    """The block a layer is in: 1 for conv1_1 ... 5 for relu5_4 and pool5."""
    check_layers([name])
    return int(name[4])  # conv4_2, relu4_2, pool4: block digit at [4]


def layer_channels(name: str) -> int:
    """Number of channels of a layer's output (64 for conv1_x ... 512 for conv5_x)."""
    return _BLOCK_CHANNELS[layer_block(name) - 1]


def layer_stride(name: str) -> int:
    """Pixels of the input per position of a layer's output: 1 for block 1's convs, 2 for pool1
    and block 2, ... 16 for block 5 (each pool halves)."""
    pools_before = layer_block(name) - (0 if name.startswith("pool") else 1)
    return 2**pools_before
