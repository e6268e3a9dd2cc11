"""The `nst` command: stylize, targets, sheet, thumbnail, score, check; a thin mapping of arguments onto library calls.

Bad input exits with status 2 and one line on stderr naming the file and the problem.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.metadata
import json
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from .core.reporter import Reporter
from .errors import NSTError
from .files.storage import file_stem
from .outputs.quality import short_of_target, style_ratio
from .running import progress
from .running.job import Artwork, PhotoJob, TargetsJob, read_job, read_segment_job, read_targets_job
from .settings import IMAGE, PRESET_OPTION, PRESETS, RUN, SETTINGS, TARGETS, check_batch, preset


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line (exit 2), without the usage block; an unknown
    option is reported by its command (`nst stylize: error: ...`) with the closest known ones."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")

    def parse_args(self, args=None, namespace=None):
        args, unknown = self.parse_known_args(args, namespace)
        if unknown:
            command = self._commands.choices[args.command] if getattr(args, "command", None) else self
            options = [o for action in command._actions for o in action.option_strings]
            guesses = {m for word in unknown for m in difflib.get_close_matches(word.split("=")[0], options, 3, 0.6)}
            hint = f" (did you mean {' or '.join(sorted(guesses))}?)" if guesses else ""
            command.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")
        return args


def _typed(parse):
    """An argparse type from a parser that raises ValueError with a message of its own."""

    def convert(text: str):
        try:
            return parse(text)
        except (ValueError, NSTError) as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _blend(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"blend must be comma-separated numbers, not {text!r}") from None


def _add_settings_options(parser: argparse.ArgumentParser, *effects: str) -> None:
    """An option per setting of the table that affects what this command makes (or where it runs)."""
    group = parser.add_argument_group("settings (default: from --preset)")
    group.add_argument(
        PRESET_OPTION, choices=sorted(PRESETS), default="default", help="base settings (default: default)"
    )
    for row in SETTINGS.values():
        if row.affects not in effects:
            continue
        default = row.format(getattr(PRESETS["default"], row.name))
        shown = "" if "default:" in row.help else f"default: {default}"  # once, where the help has its own
        notes = "; ".join(filter(None, ["comma-separated" if row.is_list else "", shown]))
        help_text = f"{row.help} ({notes})" if notes else row.help
        # Not given: no attribute (None is a value: `--min-size none` means one scale).
        kwargs = {"dest": row.name, "default": argparse.SUPPRESS, "help": help_text.replace("%", "%%")}
        if row.choices and not row.is_list:
            kwargs["choices"] = row.choices
        else:
            metavar = row.kind.__name__.upper()
            kwargs["type"], kwargs["metavar"] = _typed(row.parse), f"{metavar},..." if row.is_list else metavar
        group.add_argument(row.option, **kwargs)


def _given(args) -> dict:
    return {name: getattr(args, name) for name in SETTINGS if hasattr(args, name)}


def _settings(args):
    """The settings of the command line."""
    return preset(args.preset, **_given(args))


def _add_style_options(parser) -> None:
    parser.add_argument("--style", action="append", default=[], help="style image; repeat to blend several")
    parser.add_argument("--blend", type=_typed(_blend), metavar="W,W,...", help=BLEND_HELP)
    parser.add_argument("--targets", help="precomputed Gram targets file (from `nst targets`) instead of --style")


LOG_HELP = "also write this command's messages (stderr) to FILE, which is replaced"
BLEND_HELP = "blend weights, one per style image, comma-separated (default: equal)"


@dataclass(frozen=True)
class _Command:
    help: str
    examples: str
    options: Callable  # adds the command's arguments to its parser
    run: Callable  # args -> exit status (None: 0)


COMMANDS: dict[str, _Command] = {}  # in the order --help lists them


def command(name: str, help_text: str, options: Callable, examples: str):
    """Registers the decorated function as the runner of `nst NAME`: each command is written in
    one place, its options function and runner side by side."""

    def register(run):
        COMMANDS[name] = _Command(help_text, examples, options, run)
        return run

    return register


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nst", description="Neural style transfer (Gatys, Ecker & Bethge, CVPR 2016).")
    parser.add_argument("--version", action="version", version=f"nst {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parser._commands = commands
    for name, spec in COMMANDS.items():
        spec.options(
            commands.add_parser(
                name,
                help=spec.help,
                description=spec.help,
                epilog=spec.examples,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        )
    return parser


def _add_threshold_options(parser) -> None:
    """An option per quality threshold of the flags judged on one image alone."""
    from .outputs.quality import image_thresholds

    group = parser.add_argument_group("thresholds")
    for row in image_thresholds():
        option = "--" + row.name.replace("_", "-")
        help_text = f"{row.metadata['help']} (default: {row.default})"
        group.add_argument(option, type=type(row.default), default=row.default, help=help_text)


def _add_job_option(parser, kind: str, gives: str) -> None:
    """--job FILE: the pipeline's way to give a command its work, as data."""
    parser.add_argument(
        "--job",
        metavar="FILE",
        help=f"{kind} (JSON, nst_core/running/job.py): {gives}, instead of the options that give them "
        "(the pipeline's jobs are such files)",
    )


def _stylize_options(stylize) -> None:
    stylize.add_argument("photo", nargs="?", help="the photo (path or fsspec URL)")
    _add_job_option(stylize, "a job file", "the photo, its artworks, their settings and what it writes")
    _add_style_options(stylize)
    stylize.add_argument("--output", "-o", help="output image; format from the extension")
    stylize.add_argument(
        "--batch",
        type=_typed(check_batch),
        default="auto",
        help="images optimised together: auto (as many as fit in memory whole; default) "
        "or at most N (1: one at a time)",
    )
    stylize.add_argument("--photo-thumbnail", help="write a small JPEG of the photo here")
    stylize.add_argument("--thumbnail-side", type=int, help="thumbnails' long side in px (default: the gallery's)")
    stylize.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    stylize.add_argument(
        "--skip-unchanged",
        action="store_true",
        help="leave a PNG output as it is if this code made it from the same photo, style and settings "
        "(a fingerprint in the file says so); otherwise write the fingerprint with the result",
    )
    stylize.add_argument("--log", metavar="FILE", help=LOG_HELP)
    stylize.add_argument(
        "--record",
        metavar="FILE",
        help="write each image's scores and measures (TSV, for the batch's quality table); an image "
        "found up to date keeps its entry of the FILE already there",
    )
    _add_settings_options(stylize, TARGETS, IMAGE, RUN)


def _job_of_options(args) -> PhotoJob:
    """The job `nst stylize`'s options describe: one artwork; or a job file's, with --job."""
    if args.job:
        given = [args.photo, args.style, args.targets, args.output, args.record, args.photo_thumbnail]
        if any(given) or _given(args) or args.skip_unchanged or args.thumbnail_side or args.batch != "auto":
            raise NSTError("with --job, the job file gives the photo, its artworks, their settings and outputs")
        return read_job(args.job)
    if not args.photo:
        raise NSTError("give the photo (or --job FILE)")
    if not args.style and not args.targets:
        raise NSTError("give --style STYLE (one or more) or --targets FILE")
    if not args.output:
        raise NSTError("give --output FILE")
    blend = tuple(args.blend) if args.blend else None
    artwork = Artwork(args.output, _settings(args), tuple(args.style), blend, args.targets)
    side = _thumbnail_side(args.thumbnail_side, "--thumbnail-side")
    return PhotoJob(args.photo, (artwork,), args.batch, args.skip_unchanged, args.record, args.photo_thumbnail, side)


@command(
    "stylize",
    "stylize a photo in the manner of an artwork (one or more style images), or of several",
    _stylize_options,
    examples="""examples:
  nst stylize photo.jpg --style starry_night.jpg --output out.png
  nst stylize photo.jpg --style a.jpg --style b.jpg --blend 0.7,0.3 --output out.jpg
  nst stylize photo.jpg --style art.jpg --preset paper --size 384 --output paper.png
  nst stylize photo.jpg --targets art.targets.pt --preserve-color luminance --output out.webp
  nst stylize s3://bucket/photo.jpg --style s3://bucket/art.jpg --output s3://bucket/out.png
  nst stylize --job photo.job
      (a job file: the photo's images in several artworks' styles, optimised together; its keys:
      nst_core/running/job.py, and the pipeline writes one per photo, results/logs/stylize/PHOTO.job)""",
)
def _run_stylize(args) -> None:
    from .running import jobs

    job = _job_of_options(args)
    made = jobs.run(job, _ConsoleReporter(job, args.quiet))
    failed = sum(1 for stylized in made if stylized.error)
    if failed:
        raise _Reported(f"{failed} of {len(made)} images failed")


class _ConsoleReporter(Reporter):
    """`nst stylize`'s lines on stderr: one per image as it is written (or found up to date, or
    failed), naming the photo and the artwork, with the run's progress where the workflow counts
    it; notes, and the device once per machine of a counted run. quiet: no bar, no notes, and
    only the lines of images up to date or failed."""

    def __init__(self, job: PhotoJob, quiet: bool):
        super().__init__(bar=False if quiet else None)
        self.photo = file_stem(job.photo) or job.photo
        self.quiet = quiet

    def note(self, text: str) -> None:
        if not self.quiet:
            print(f"nst: {text}", file=sys.stderr, flush=True)

    def device(self, text: str) -> None:  # a bad input stays one line
        if progress.counted() and progress.first_here():
            self.note(f"jobs on {socket.gethostname()}: {text}")

    def image(self, artwork, stylized) -> None:
        if stylized.error:
            line = f"nst stylize: error: {stylized.error}"
        elif not stylized.written:
            line = f"nst: {stylized.output} is up to date (same photo, style, settings and code)"
        elif self.quiet:
            line = None
        else:
            width, height = stylized.size
            peak = f", peak {stylized.peak_bytes / 2**30:.2f} GiB" if stylized.peak_bytes else ""
            tiles = f", {stylized.tiles}" if stylized.tiles else ""
            together = f" for {stylized.batch} images together" if stylized.batch > 1 else ""
            made_of = f"{self.photo} in {artwork.called}, {width}x{height}, {stylized.seconds:.1f} s"
            line = f"nst: wrote {stylized.output} ({made_of}{together}{peak}{tiles}{_pushed(artwork, stylized)})"
        run = progress.image_done(stylized.seconds / stylized.batch if stylized.written else None)
        if line:
            print(f"{line} · {run}" if run and not stylized.error else line, file=sys.stderr, flush=True)


def _pushed(artwork, stylized) -> str:
    """Where an artwork has a style target: how far its image came, at what weight."""
    target = artwork.settings.style_target
    if not target or not stylized.measured:
        return ""
    short = ", short of it" if short_of_target(stylized.measured, target) else ""
    ratio = style_ratio(stylized.measured)
    return f", style ratio {ratio:.1f} for a target of {target:g}{short}, at style weight {stylized.style_weight:g}"


class _Reported(NSTError):
    """An error whose lines are already printed: only the exit status is left to give."""


def _video_options(video) -> None:
    video.add_argument("video", nargs="?", help="the video (path or fsspec URL)")
    _add_job_option(video, "a segment job file", "the video, its plan, the segment, its artworks and outputs")
    _add_style_options(video)
    video.add_argument("--output", "-o", help="the stylized video: H.264 in MP4, with the source's audio")
    video.add_argument("--quiet", "-q", action="store_true", help="no progress lines or summary")
    video.add_argument("--log", metavar="FILE", help=LOG_HELP)
    _add_settings_options(video, TARGETS, IMAGE, RUN)


@command(
    "video",
    "stylize a video in the manner of an artwork, each frame going on from the one before (Ruder et "
    "al. 2016: no flicker), with the source's audio",
    _video_options,
    examples="""examples:
  nst video clip.mp4 --style starry_night.jpg --size 256 --output clip_starry.mp4
  nst video clip.mp4 --style art.jpg --temporal-weight 0 --output flicker.mp4   (frames independent)
  nst video --job segment.job
      (a segment job file, as the pipeline writes one per segment of a video: its frames in
      several artworks' styles, optimised together; its keys: nst_core/running/job.py)""",
)
def _run_video(args) -> None:
    from .running import video_jobs

    reporter = _VideoReporter(args.quiet)
    if args.job:
        if args.video or args.style or args.targets or args.output or _given(args):
            raise NSTError("with --job, the job file gives the video, its artworks, their settings and outputs")
        made = video_jobs.run_segment(read_segment_job(args.job), reporter)
        errors = [image.error for image in made if image.error]
        for error in errors:
            print(f"nst video: error: {error}", file=sys.stderr, flush=True)
        if errors:
            raise _Reported(f"{len(errors)} of {len(made)} artworks' frames failed")
        return
    if not args.video:
        raise NSTError("give the video (or --job FILE)")
    if not args.style and not args.targets:
        raise NSTError("give --style STYLE (one or more) or --targets FILE")
    if not args.output:
        raise NSTError("give --output FILE")
    settings = _settings(args)
    artwork = Artwork(args.output, settings, tuple(args.style), tuple(args.blend) if args.blend else None, args.targets)
    (made,) = video_jobs.stylize_video(args.video, (artwork,), lambda _: args.output, settings.segment_frames, reporter)
    if isinstance(made, NSTError):
        raise made.at(photo=args.video)
    if not args.quiet:
        print(
            f"nst: wrote {args.output} ({made['frames']} frames in {artwork.called}, {made['seconds_per_frame']:.2f} s "
            f"a frame; warping error {made['warping_error']:.4f}, style {made['style']:.3f}, "
            f"content {made['content']:.3f})",
            file=sys.stderr,
        )


class _VideoReporter(Reporter):
    """`nst video`'s lines on stderr: a line per frame made; quiet: none."""

    def __init__(self, quiet: bool):
        super().__init__(bar=False if quiet else None)
        self.quiet = quiet

    def note(self, text: str) -> None:
        if not self.quiet:
            print(f"nst: {text}", file=sys.stderr, flush=True)

    def frame(self, video: str, number: int, frames: int, artworks: int, seconds: float) -> None:
        run = progress.frame_done(seconds)  # counted in the run's ledger, quiet or not
        if not self.quiet:
            styles = f"{artworks} artworks' styles" if artworks > 1 else "its artwork's style"
            line = f"nst: {video}: frame {number + 1} of {frames} in {styles}, {seconds:.1f} s"
            print(f"{line} · {run}" if run else line, file=sys.stderr, flush=True)


def _targets_options(targets) -> None:
    targets.add_argument("style", nargs="*", help="style image(s) of the artwork")
    _add_job_option(targets, "a targets job file", "the images, their blend, settings and output")
    targets.add_argument("--blend", type=_typed(_blend), metavar="W,W,...", help=BLEND_HELP)
    targets.add_argument("--color-reference", help="the photo, for --preserve-color histogram")
    targets.add_argument("--output", "-o", help="targets file to write")
    targets.add_argument("--quiet", "-q", action="store_true", help="no summary line")
    targets.add_argument("--log", metavar="FILE", help=LOG_HELP)
    _add_settings_options(targets, TARGETS, RUN)


def _targets_job_of_options(args) -> TargetsJob:
    """The targets job `nst targets`'s options describe; or a job file's, with --job."""
    if args.job:
        if args.style or args.output or args.blend or args.color_reference or _given(args):
            raise NSTError("with --job, the job file gives the images, their blend, settings and output")
        return read_targets_job(args.job)
    if not args.style:
        raise NSTError("give the artwork's image (one or more)")
    if not args.output:
        raise NSTError("give --output FILE")
    blend = tuple(args.blend) if args.blend else None
    return TargetsJob(tuple(args.style), args.output, _settings(args), blend, args.color_reference)


@command(
    "targets",
    "compute an artwork's Gram targets once, for reuse by many stylize runs",
    _targets_options,
    examples="""examples:
  nst targets starry_night.jpg --output starry.targets.pt --size 512
  nst targets --job starry.job    (a targets job file, as the pipeline writes: nst_core/running/job.py)
  nst stylize photo.jpg --targets starry.targets.pt --size 512 --output out.png""",
)
def _run_targets(args) -> None:
    from .running.jobs import make_targets

    started = time.perf_counter()
    job = _targets_job_of_options(args)
    make_targets(job)
    scales = ", ".join(map(str, job.settings.scales()))
    if not args.quiet:
        print(f"nst: wrote {job.output} ({scales} px, {time.perf_counter() - started:.1f} s)", file=sys.stderr)


def _sheet_options(sheet) -> None:
    sheet.add_argument("images", nargs="+", help="images in reading order; - leaves a cell empty")
    sheet.add_argument("--label", action="append", help="label per image, in order (default: file names)")
    sheet.add_argument("--output", "-o", required=True)
    sheet.add_argument("--columns", type=int, help="images per row (default: about square)")
    from .outputs.sheet import CELL

    sheet.add_argument("--cell", type=int, default=CELL, help=f"thumbnail long side in px (default: {CELL})")
    sheet.add_argument("--log", metavar="FILE", help=LOG_HELP)


@command(
    "sheet",
    "write a labelled contact sheet of images",
    _sheet_options,
    examples="""examples:
  nst sheet results/*.png --output sheet.jpg --columns 4
  nst sheet - art1.jpg art2.jpg photo.jpg out1.png out2.png --columns 3 \\
      --label "" --label "Starry Night" --label "The Scream" --label photo --label "" --label "" -o grid.jpg""",
)
def _run_sheet(args) -> None:
    from .files.image_files import check_output
    from .outputs.sheet import write_sheet

    check_output(args.output)
    width, height = write_sheet(args.images, args.output, columns=args.columns, cell=args.cell, labels=args.label)
    print(f"nst: wrote {args.output} ({width}x{height}, {len(args.images)} cells)", file=sys.stderr)


def _thumbnail_side(side: int | None, option: str) -> int:
    from .files.image_files import THUMBNAIL_SIDE, check_thumbnail_side

    return check_thumbnail_side(THUMBNAIL_SIDE if side is None else side, option)


def _thumbnail_options(thumbnail) -> None:
    thumbnail.add_argument("pairs", nargs="+", metavar="IMAGE THUMBNAIL", help="each image, then its thumbnail")
    thumbnail.add_argument("--side", type=int, help="long side in px (default: the gallery's)")


@command(
    "thumbnail",
    "write small JPEGs of images, for a gallery",
    _thumbnail_options,
    examples="""examples:
  nst thumbnail photo.jpg thumbs/photo.jpg out.png thumbs/out.jpg --side 192""",
)
def _run_thumbnail(args) -> None:
    from .files.image_files import write_thumbnail

    if len(args.pairs) % 2:
        raise NSTError(f"give each image then its thumbnail: {len(args.pairs)} paths is not pairs")
    side = _thumbnail_side(args.side, "--side")
    for image, thumbnail in zip(args.pairs[::2], args.pairs[1::2]):
        write_thumbnail(image, thumbnail, side)


def _score_options(score) -> None:
    score.add_argument("image")
    score.add_argument("--photo", required=True, help="the photo it was made from")
    score.add_argument("--style", required=True, help="the style image")


@command(
    "score",
    "print style and content distances of an image as one JSON line",
    _score_options,
    examples="""examples:
  nst score out.png --photo photo.jpg --style starry_night.jpg
  {"style": 0.0123, "content": 0.456}   (lower is closer, for both)""",
)
def _run_score(args) -> None:
    from .core.scoring import score

    # Three significant digits: differences below that are noise between runs.
    scores = score(args.image, args.photo, args.style)
    print(json.dumps({name: float(f"{value:.3g}") for name, value in scores.items()}))


def _check_options(check) -> None:
    check.add_argument("image")
    check.add_argument("--photo", required=True, help="the photo it was made from")
    check.add_argument("--style", action="append", required=True, help="the artwork's image; repeat for a blend")
    check.add_argument("--blend", type=_typed(_blend), metavar="W,W,...", help=BLEND_HELP)
    _add_threshold_options(check)


@command(
    "check",
    "score an image made elsewhere and say which quality flags it raises",
    _check_options,
    examples="""examples:
  nst check out.png --photo photo.jpg --style starry_night.jpg
  nst check out.png --photo photo.jpg --style a.jpg --style b.jpg --blend 0.7,0.3 --weak-style 2
exit status: 0 when no flag is raised, 1 when one is, 2 for bad input""",
)
def _run_check(args) -> int:
    from .core.scoring import measure
    from .outputs.quality import image_flags, image_thresholds, thresholds

    limits = thresholds({row.name: getattr(args, row.name) for row in image_thresholds()})
    measured = measure(args.image, args.photo, args.style, args.blend)
    flags = image_flags(measured, limits)
    print(
        f"{args.image}: style {measured['style']:.3g} (the photo's own: {measured['photo_style']:.3g}), "
        f"content {measured['content']:.3g}, layout {measured['layout']:.3g}; flags: {', '.join(flags) or 'none'}"
    )
    return 1 if flags else 0


class _Tee:
    """stderr that also goes to a log file (--log): the console sees every line as it comes."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
            stream.flush()
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def isatty(self) -> bool:
        return False


def _version() -> str:
    try:
        return importlib.metadata.version("nst")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "(not installed)"


def main(argv=None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    status = None
    if args.command is None:  # bare `nst`: say what there is
        parser.print_help(sys.stderr)
        return 2
    stderr = sys.stderr
    try:
        if getattr(args, "log", None):
            try:
                log = open(args.log, "w", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
            except OSError as error:
                raise NSTError(f"{args.log}: cannot write the log ({error.strerror})") from None
            sys.stderr = _Tee(stderr, log)
        status = COMMANDS[args.command].run(args)
    except _Reported:
        return 2
    except NSTError as error:
        print(f"nst {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nst {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        if sys.stderr is not stderr:
            sys.stderr.streams[1].close()
            sys.stderr = stderr
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
