"""Neural style transfer (Gatys, Ecker & Bethge, CVPR 2016) in pure PyTorch.

    from nst_core import StyleTransfer, preset, load_source
    transfer = StyleTransfer(preset("default", size=512))
    photo = load_source("photo.jpg")
    targets = transfer.make_targets(["starry_night.jpg"])   # or transfer.load_targets(FILE)
    save_image(transfer.stylize(photo, targets), "out.png")
"""

from .errors import NSTError
from .images import load_image, save_image
from .network import LAYER_NAMES, VGG19Features, load_weights, to_torchvision_layout
from .optimize import StyleTransfer
from .score import score
from .settings import PRESETS, Settings, preset
from .targets import GramTargets, load_source, load_styles

__all__ = [
    "NSTError",
    "load_image",
    "save_image",
    "LAYER_NAMES",
    "VGG19Features",
    "load_weights",
    "to_torchvision_layout",
    "StyleTransfer",
    "score",
    "PRESETS",
    "Settings",
    "preset",
    "GramTargets",
    "load_source",
    "load_styles",
]
