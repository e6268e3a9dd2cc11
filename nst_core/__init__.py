"""Neural style transfer (Gatys, Ecker & Bethge, CVPR 2016) in pure PyTorch.

    from nst_core import StyleTransfer, preset, load_source, save_image
    transfer = StyleTransfer(preset("default", size=512))
    photo = load_source("photo.jpg")
    targets = transfer.make_targets(["starry_night.jpg"])   # or transfer.load_targets(FILE)
    save_image(transfer.stylize(photo, targets), "out.png")

Names are imported on first use, so `nst_core.storage` (used by the pipeline to list photos)
does not pay for importing torch.
"""

import importlib

_EXPORTS = {
    "NSTError": "errors",
    "load_image": "images",
    "save_image": "images",
    "LAYER_NAMES": "network",
    "VGG19Features": "network",
    "load_weights": "network",
    "to_torchvision_layout": "network",
    "StyleTransfer": "optimize",
    "score": "scoring",
    "PRESETS": "settings",
    "Settings": "settings",
    "preset": "settings",
    "GramTargets": "targets",
    "load_source": "targets",
    "load_styles": "targets",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nst_core' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
