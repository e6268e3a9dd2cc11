"""How much context a tile needs: the relative error of the tiled loss and gradient against the
whole image's, per margin (issue 17). fp32 on the CPU, a 400x300 image between the photo and
noise, 128 px inner regions, tv_weight 1 so every term counts.

    python benchmarks/tile_margins.py [--preset default] [--margins 0 16 32 48 64 80 96 128]
"""

import argparse
import pathlib
import time

import torch
from PIL import Image

from nst_core import StyleTransfer, load_source, preset
from nst_core.core.objective import ImageWeights, Objective, tiled_features
from nst_core.files.tensors import pil_to_tensor

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
WIDTH, HEIGHT, INNER = 400, 300, 128


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--margins", type=int, nargs="+", default=[0, 16, 32, 48, 64, 80, 96, 128])
    args = parser.parse_args()
    torch.manual_seed(0)
    settings = preset(args.preset, size=WIDTH, min_size=None, device="cpu", precision="fp32", tv_weight=1.0)
    transfer = StyleTransfer(settings)
    photo = load_source(str(DATA / "tubingen.jpg"))
    content = pil_to_tensor(photo.image.resize((WIDTH, HEIGHT), Image.LANCZOS))
    grams = transfer.make_targets([str(DATA / "starry_night.jpg")]).grams[WIDTH]
    features = tiled_features(transfer.extractor, content, settings.content_layers, None, "fp32")
    image = (content + 0.1 * torch.randn_like(content)).clamp(0, 1)

    def evaluate(tile_size, margin):
        pixels = image.clone().requires_grad_(True)
        objective = Objective(
            transfer.extractor,
            transfer.settings,
            features,
            grams,
            ImageWeights.of([transfer.settings]),
            tile_size,
            margin,
        )
        started = time.perf_counter()
        loss = float(objective.backward(pixels, lambda value: 1.0))
        return loss, pixels.grad, time.perf_counter() - started

    loss, grad, seconds = evaluate(None, 0)
    print(f"# {args.preset} preset, {WIDTH}x{HEIGHT} fp32, inner regions {INNER} px; whole image {seconds:.1f} s")
    print("margin  loss error  gradient error  seconds")
    for margin in args.margins:
        tiled_loss, tiled_grad, seconds = evaluate(INNER + 2 * margin, margin)
        print(
            f"{margin:6d}  {abs(tiled_loss - loss) / loss:10.1e}  "
            f"{float((tiled_grad - grad).norm() / grad.norm()):14.1e}  {seconds:7.1f}"
        )


if __name__ == "__main__":
    main()
