"""What one loss evaluation costs, lever by lever, and how close it comes to the CPU's limit (issue 6).

One evaluation = forward through VGG-19 up to the deepest layer used (relu5_1), the content and
style losses, and the backward pass to the image: what every L-BFGS step costs. Each variant is
timed on the same 384 px photo (best of --repeat after a warm-up). FLOPs are counted from the
layer shapes (convolutions and Gram matrices; backward to the input only, since the network's
weights are frozen: about the forward's count again). The limits are a measured large matrix
product (what torch can reach here) and the nominal peak for --ghz and --flops-per-cycle.

    python benchmarks/levers.py [--size 384] [--repeat 5] [--compile]

The network runs channels last (network.py). With --compile, torch.compile (inductor) rows are
added, which also run with zero padding of conv1_1, since inductor fails on the backward of
replicate padding.
"""

import argparse
import os
import time
from pathlib import Path

import torch

from nst_core import StyleTransfer, load_source, preset
from nst_core.files.image_files import fit_long_side
from nst_core.files.tensors import pil_to_tensor

HERE = Path(__file__).resolve().parent.parent
PHOTO = HERE / "demo" / "photos" / "tubingen.jpg"
STYLE = HERE / "demo" / "styles" / "starry_night.jpg"


def flops_per_evaluation(extractor, settings, width: int, height: int) -> float:
    forward, channels_in = 0.0, 3
    for name, channels, w, h in extractor.layer_shapes(width, height):
        if name.startswith("conv"):
            forward += 2 * channels_in * channels * 9 * w * h
        if name in settings.style_layers:
            forward += 2 * channels * channels * w * h  # Gram matrix
        channels_in = channels
    return 2 * forward  # backward to the input costs about what the forward did


def gemm_flops_per_second(dtype: torch.dtype, n: int = 2048, repeat: int = 5) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    best = min(timed(lambda: torch.mm(a, b)) for _ in range(repeat))
    return 2 * n**3 / best


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (minutes of compiling)")
    parser.add_argument("--ghz", type=float, default=2.6, help="core clock for the nominal peak")
    parser.add_argument(
        "--flops-per-cycle",
        type=float,
        default=32,
        help="fp32 FLOPs per cycle per core (Zen 4: two 256-bit FMA pipes = 32); bf16 counts double",
    )
    args = parser.parse_args()
    photo = load_source(str(PHOTO))
    width, height = fit_long_side(photo.image.size, args.size)
    cores = torch.get_num_threads()
    print(f"# {args.size} px ({width}x{height}), torch {torch.__version__}, {cores} threads, {os.cpu_count()} cores")

    variants = [("fp32", "fp32", False), ("bf16 autocast", "bf16", False)]
    if args.compile:
        variants += [("fp32 + torch.compile", "fp32", True), ("bf16 + torch.compile", "bf16", True)]
    limits = {"fp32": gemm_flops_per_second(torch.float32), "bf16": gemm_flops_per_second(torch.bfloat16)}
    nominal = {"fp32": args.ghz * 1e9 * args.flops_per_cycle * cores}
    nominal["bf16"] = 2 * nominal["fp32"]
    print(
        f"limits: matrix product {limits['fp32'] / 1e9:.0f} GFLOP/s fp32, {limits['bf16'] / 1e9:.0f} bf16; "
        f"nominal {nominal['fp32'] / 1e9:.0f} fp32, {nominal['bf16'] / 1e9:.0f} bf16 "
        f"({args.ghz} GHz x {args.flops_per_cycle:g} FLOPs/cycle x {cores} cores)"
    )
    reference = StyleTransfer(preset("default", size=args.size, min_size=None, precision="fp32"))
    flops = flops_per_evaluation(reference.extractor, reference.settings, width, height)
    print(f"one evaluation: {flops / 1e9:.0f} GFLOP")
    print(f"{'variant':<24} {'s/evaluation':>12} {'GFLOP/s':>8} {'of matmul':>9} {'of nominal':>10}")
    if args.compile:
        variants += [(name + ", zero padding", precision, True) for name, precision, c in variants if c]
    for name, precision, compiled in variants:
        padding = "zeros" if "zero padding" in name else "replicate"
        settings = preset("default", size=args.size, min_size=None, precision=precision, padding=padding)
        transfer = StyleTransfer(settings)
        targets = transfer.make_targets([str(STYLE)])
        content = pil_to_tensor(photo.image.resize((width, height)))
        features = transfer.extractor(content)
        content_targets = {layer: features[layer].detach() for layer in settings.content_layers}
        style_targets = targets.grams[args.size]
        if compiled:
            transfer.extractor = torch.compile(transfer.extractor)
        image = content.clone().requires_grad_(True)

        def evaluate(transfer=transfer, image=image, content_targets=content_targets, style_targets=style_targets):
            image.grad = None
            transfer.loss(image, content_targets, style_targets).backward()

        try:
            evaluate()
            evaluate()  # warm-up (and compilation)
        except Exception as error:  # torch.compile can fail on this model; say how, go on
            print(f"{name:<24} failed: {type(error).__name__}: {str(error).splitlines()[0][:150]}")
            continue
        seconds = min(timed(evaluate) for _ in range(args.repeat))
        flops = (
            flops_per_evaluation(
                transfer.extractor if not compiled else transfer.extractor._orig_mod, settings, width, height
            )
            / seconds
        )
        print(
            f"{name:<24} {seconds:>12.3f} {flops / 1e9:>8.0f} {flops / limits[precision]:>9.0%} "
            f"{flops / nominal[precision]:>10.0%}"
        )


if __name__ == "__main__":
    main()
