"""The `nst` command: stylize, targets, sheet, score.

Bad input exits with status 2 and one line on stderr naming the file and the problem.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

from .errors import NSTError

EXAMPLES = {
    "stylize": """examples:
  nst stylize photo.jpg --style starry_night.jpg --output out.png
  nst stylize photo.jpg --style a.jpg --style b.jpg --style-weight 0.7 --style-weight 0.3 --output out.jpg
  nst stylize photo.jpg --style art.jpg --preset paper --size 384 --output paper.png
  nst stylize photo.jpg --targets art.targets.pt --preserve-color luminance --output out.webp
  nst stylize s3://bucket/photo.jpg --style s3://bucket/art.jpg --output s3://bucket/out.png""",
    "targets": """examples:
  nst targets starry_night.jpg --output starry.targets.pt --size 512
  nst stylize photo.jpg --targets starry.targets.pt --size 512 --output out.png""",
    "sheet": """examples:
  nst sheet results/*.png --output sheet.jpg --columns 4
  nst sheet - art1.jpg art2.jpg photo.jpg out1.png out2.png --columns 3 \\
      --label "" --label "Starry Night" --label "The Scream" --label photo --label "" --label "" -o grid.jpg""",
    "score": """examples:
  nst score out.png --content photo.jpg --style starry_night.jpg
  {"style": 0.0123, "content": 0.456}   (lower is closer, for both)""",
}

# Help for each Settings field; the option is --field-name.
SETTING_HELP = {
    "size": "output long side in px; the photo's aspect ratio is kept",
    "iterations": "optimiser steps at the final scale",
    "coarse_iterations": "optimiser steps at each coarser scale",
    "min_size": "smallest scale of the coarse-to-fine schedule (x sqrt 2 per step); 'none' for one scale",
    "content_layers": "comma-separated layers, e.g. relu4_2",
    "content_weight": "content loss weight (alpha)",
    "style_layers": "comma-separated layers, e.g. relu1_1,relu2_1,relu3_1,relu4_1,relu5_1",
    "layer_weighting": "style layer weights rule: channels (1e3/N^2) or equal (1/L)",
    "style_layer_weights": "comma-separated explicit weights, one per style layer",
    "style_weight": "style loss weight (beta); --style-weight is the blend of style images",
    "tv_weight": "total-variation loss weight",
    "normalisation": "loss normalisation: paper (1/2 sum; 1/(4N^2M^2)), mean (MSE) or scaled (sum d^2 / sum abs d)",
    "pooling": "VGG pooling",
    "padding": "padding of the first conv layer",
    "optimizer": "optimiser",
    "learning_rate": "learning rate (default 1 for lbfgs, 0.02 for adam)",
    "lbfgs_history": "L-BFGS history size",
    "init": "initial image: content, noise, or an image file",
    "style_scale": "style image size relative to the output size",
    "precision": "auto (bf16 where the hardware has it natively), fp32, or bf16 autocast (losses in fp32)",
    "seed": "random seed; on CPU the same seed and inputs give the same bytes",
    "device": "auto (cuda, mps, cpu), cpu, cuda, cuda:N or mps",
    "weights": "VGG-19 weights: bundled (Oxford), torchvision, or a state dict file",
    "preserve_color": "keep the photo's colours",
}
# Fields whose option name differs from the field name.
OPTION_NAMES = {"style_weight": "--style-loss-weight", "learning_rate": "--lr"}


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line (exit 2), without the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _csv(text: str) -> tuple:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _floats(text: str) -> tuple:
    return tuple(float(part) for part in _csv(text))


def _size_or_none(text: str):
    return None if text.lower() == "none" else int(text)


def _add_settings_options(parser: argparse.ArgumentParser) -> None:
    from .settings import CHOICES, PRESETS, Settings

    # Parsers for fields whose default does not tell the type (None) or that take lists.
    parsers = {
        "content_layers": (_csv, "LAYERS"),
        "style_layers": (_csv, "LAYERS"),
        "style_layer_weights": (_floats, "W,W,..."),
        "min_size": (_size_or_none, "PX"),
        "learning_rate": (float, "LR"),
    }
    group = parser.add_argument_group("settings (default: from --preset)")
    group.add_argument("--preset", choices=sorted(PRESETS), default="default", help="base settings (default: default)")
    for field in dataclasses.fields(Settings):
        option = OPTION_NAMES.get(field.name, "--" + field.name.replace("_", "-"))
        kwargs = {"dest": field.name, "default": None, "help": SETTING_HELP[field.name]}
        default = getattr(PRESETS["default"], field.name)
        if field.name in CHOICES:
            kwargs["choices"] = CHOICES[field.name]
        elif field.name in parsers:
            kwargs["type"], kwargs["metavar"] = parsers[field.name]
        elif isinstance(default, (int, float)):
            kwargs["type"] = type(default)
        group.add_argument(option, **kwargs)


def _settings(args):
    from .settings import Settings, preset

    overrides = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(Settings) if getattr(args, f.name) is not None
    }
    return preset(args.preset, **overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nst", description="Neural style transfer (Gatys, Ecker & Bethge, CVPR 2016).")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name, help_text):
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    stylize = command("stylize", "stylize a photo in the manner of one or more style images")
    stylize.add_argument("content", help="the photo (path or fsspec URL)")
    stylize.add_argument("--style", action="append", default=[], help="style image; repeat to blend several")
    stylize.add_argument(
        "--style-weight", dest="blend", action="append", type=float, default=[], help="blend weight per --style"
    )
    stylize.add_argument("--targets", help="precomputed Gram targets file (from `nst targets`) instead of --style")
    stylize.add_argument("--output", "-o", required=True, help="output image; format from the extension")
    stylize.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    stylize.add_argument(
        "--skip-unchanged",
        action="store_true",
        help="leave a PNG output as it is if this code made it from the same photo, style and settings "
        "(a fingerprint in the file says so); otherwise write the fingerprint with the result",
    )
    _add_settings_options(stylize)

    targets = command("targets", "compute a style's Gram targets once, for reuse by many stylize runs")
    targets.add_argument("style", nargs="+", help="style image(s)")
    targets.add_argument(
        "--style-weight", dest="blend", action="append", type=float, default=[], help="blend weight per style"
    )
    targets.add_argument("--color-reference", help="the photo, for --preserve-color histogram")
    targets.add_argument("--output", "-o", required=True, help="targets file to write")
    _add_settings_options(targets)

    sheet = command("sheet", "write a labelled contact sheet of images")
    sheet.add_argument("images", nargs="+", help="images in reading order; - leaves a cell empty")
    sheet.add_argument("--label", action="append", help="label per image, in order (default: file names)")
    sheet.add_argument("--output", "-o", required=True)
    sheet.add_argument("--columns", type=int, help="images per row (default: about square)")
    sheet.add_argument("--cell", type=int, default=256, help="thumbnail long side in px (default: 256)")

    score = command("score", "print style and content distances of an image as one JSON line")
    score.add_argument("image")
    score.add_argument("--content", required=True, help="the photo")
    score.add_argument("--style", required=True, help="the style image")
    return parser


def _check_output(path: str) -> None:
    """An unknown extension or an unwritable bucket fails before any work is done."""
    from .images import output_format
    from .storage import check_location

    output_format(path)
    check_location(path)


FINGERPRINT_KEY = "nst:fingerprint"


def _fingerprint(args, settings, photo) -> str:
    """What a stylized image is made from: photo, style (targets file or images), settings, code."""
    import hashlib

    from .storage import read_bytes
    from .worker import code_fingerprint

    if args.targets:
        style = {"targets": hashlib.sha256(read_bytes(args.targets)).hexdigest()}
    else:
        style = {"images": [hashlib.sha256(read_bytes(p)).hexdigest() for p in args.style], "blend": args.blend}
    made_from = {
        "photo": photo.sha256,
        "style": style,
        "settings": dataclasses.asdict(settings),
        "code": code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(made_from, sort_keys=True, default=str).encode()).hexdigest()


def _run_stylize(args) -> None:
    from .images import png_text, save_image
    from .optimize import StyleTransfer
    from .targets import load_source

    _check_output(args.output)
    if not args.style and not args.targets:
        raise NSTError("give --style STYLE (one or more) or --targets FILE")
    settings = _settings(args)
    started = time.perf_counter()
    photo = load_source(args.content)
    text = None
    if args.skip_unchanged:
        text = {FINGERPRINT_KEY: _fingerprint(args, settings, photo)}
        if png_text(args.output, FINGERPRINT_KEY) == text[FINGERPRINT_KEY]:
            print(f"nst: {args.output} is up to date (same photo, style, settings and code)", file=sys.stderr)
            return
    transfer = StyleTransfer(settings)
    transfer.check_fits(photo)  # before making targets at that size
    if args.targets:
        hashes = None
        if args.style:
            from .targets import load_styles

            hashes = [s.sha256 for s in load_styles(args.style, args.blend)]
        targets = transfer.load_targets(args.targets, photo, style_hashes=hashes)
    else:
        targets = transfer.make_targets(args.style, args.blend, photo)
    result = transfer.stylize(photo, targets, progress=False if args.quiet else None)
    save_image(result, args.output, text=text)
    if not args.quiet:
        seconds = time.perf_counter() - started
        print(f"nst: wrote {args.output} ({result.shape[-1]}x{result.shape[-2]}, {seconds:.1f} s)", file=sys.stderr)


def _run_targets(args) -> None:
    from .optimize import StyleTransfer
    from .storage import check_location
    from .targets import load_source

    check_location(args.output)
    settings = _settings(args)
    photo = load_source(args.color_reference) if args.color_reference else None
    StyleTransfer(settings).make_targets(args.style, args.blend, photo).save(args.output)


def _run_sheet(args) -> None:
    from .sheet import write_sheet

    _check_output(args.output)
    write_sheet(args.images, args.output, columns=args.columns, cell=args.cell, labels=args.label)


def _run_score(args) -> None:
    from .scoring import score

    print(json.dumps(score(args.image, args.content, args.style)))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    runners = {"stylize": _run_stylize, "targets": _run_targets, "sheet": _run_sheet, "score": _run_score}
    try:
        runners[args.command](args)
    except NSTError as error:
        print(f"nst {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nst {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
