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
    "load_image": "files.tensors",
    "load_source": "files.tensors",
    "save_image": "files.tensors",
    "LAYER_NAMES": "layers",
    "VGG19Features": "core.network",
    "load_weights": "core.network",
    "to_torchvision_layout": "core.network",
    "StyleTransfer": "core.transfer",
    "score": "core.scoring",
    "measure": "core.scoring",
    "stylize_file": "running.jobs",
    "stylize_photo": "running.jobs",
    "Artwork": "running.job",
    "PhotoJob": "running.job",
    "targets_file": "running.jobs",
    "PRESETS": "settings",
    "SETTINGS": "settings",
    "Settings": "settings",
    "preset": "settings",
    "GramTargets": "core.targets",
    "load_styles": "files.tensors",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nst_core' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
