"""Neural style transfer (Gatys, Ecker & Bethge, CVPR 2016) in pure PyTorch.

    from nst_core import StyleTransfer, preset, load_source, save_image, stylize_file
    settings = preset("default", size=512, style_weight=2)
    stylize_file("photo.jpg", "out.png", settings, styles=["starry_night.jpg"])   # one file

    transfer = StyleTransfer(settings)                          # many photos, one artwork
    targets = transfer.make_targets(["a.jpg", "b.jpg"], blend=[0.7, 0.3])   # or load_targets(FILE)
    save_image(transfer.stylize(load_source("photo.jpg"), targets), "out.png")

    stylize_photo("photo.jpg", [Artwork("a.png", settings, styles=("a.jpg",)),   # one photo, many
                                Artwork("b.png", settings, targets="b.pt")])     # artworks, together

Names are imported on first use, so the modules the pipeline reads while planning (settings,
storage, image_files, fingerprints) do not pay for importing torch.
"""

import importlib

_EXPORTS = {
    "NSTError": "errors",
    "load_image": "tensors",
    "load_source": "tensors",
    "save_image": "tensors",
    "LAYER_NAMES": "layers",
    "VGG19Features": "network",
    "load_weights": "network",
    "to_torchvision_layout": "network",
    "StyleTransfer": "transfer",
    "score": "scoring",
    "measure": "scoring",
    "stylize_file": "jobs",
    "stylize_photo": "jobs",
    "Artwork": "job",
    "PhotoJob": "job",
    "targets_file": "jobs",
    "PRESETS": "settings",
    "SETTINGS": "settings",
    "Settings": "settings",
    "preset": "settings",
    "GramTargets": "targets",
    "load_styles": "tensors",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nst_core' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
