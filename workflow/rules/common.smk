import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)  # the nst_core next to this Snakefile
import nst_core.storage as nst_storage  # listing and existence checks; no torch import
import nst_core.worker as nst_worker  # standard library only
from nst_core.errors import NSTError

validate(config, schema="../schemas/config.schema.yaml")

RESERVED_STYLE_NAMES = {"overview"}  # results/sheets/overview.jpg
# Settings whose option name differs from --setting-name (as in `nst stylize --help`).
OPTION_NAMES = {"style_weight": "--style-loss-weight", "learning_rate": "--lr"}
# Settings that define a style's Gram targets; the others only affect stylize jobs, so changing
# them (iterations, weights ...) does not recompute targets.
TARGET_SETTINGS = {
    "preset",
    "size",
    "min_size",
    "style_layers",
    "pooling",
    "padding",
    "weights",
    "style_scale",
    "preserve_color",
    "precision",
    "device",
}
STYLE_OVERRIDES = {
    "style_weight",
    "style_scale",
    "preserve_color",
    "content_weight",
    "tv_weight",
}


def find_photos(patterns):
    """Photo name (file name without extension) -> path or URL, from paths and glob patterns."""
    photos = {}
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        matches = nst_storage.expand(pattern)
        if not matches:
            raise WorkflowError(f"content: {pattern!r} matches no files")
        for path in matches:
            check_exists("content", path)
            name = Path(path).stem
            if photos.get(name, path) != path:
                raise WorkflowError(
                    f"content: {photos[name]} and {path} would both be named {name!r}; rename one"
                )
            photos[name] = path
    return dict(sorted(photos.items()))


def check_exists(section, path):
    if not nst_storage.exists(path):
        raise WorkflowError(f"{section}: {path}: no such file")


def source_file(path):
    """An input given by the user: a storage object for URLs (downloaded for the job, tracked by
    its modification time), a local file otherwise, also when results go to a default storage.
    """
    return storage(path) if nst_storage.is_url(path) else local(path)


def style_spec(name, value):
    """A style's images, blend weights and settings overrides, whatever form config gave."""
    if name in RESERVED_STYLE_NAMES:
        raise WorkflowError(f"styles: {name!r} is reserved (results/sheets/{name}.jpg)")
    if isinstance(value, str):
        value = {"image": value}
    images = [value["image"]] if "image" in value else value["images"]
    blend = value.get("blend", [])
    if blend and len(blend) != len(images):
        raise WorkflowError(
            f"styles: {name}: {len(blend)} blend weights for {len(images)} images"
        )
    for image in images:
        check_exists(f"styles: {name}", image)
    overrides = {key: value[key] for key in STYLE_OVERRIDES if key in value}
    return {
        "images": images,
        "blend": blend,
        "settings": {**config["nst"], **overrides},
    }


def command_options(settings):
    """`nst` command-line options for a settings mapping, shell-quoted."""
    options = []
    for key, value in sorted(settings.items()):
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        elif value is None:
            value = "none"
        options += [OPTION_NAMES.get(key, f"--{key.replace('_', '-')}"), str(value)]
    return shlex.join(options)


def check_results_prefix(prefix):
    """With results in an object store, a missing bucket is an error before any job starts
    (the storage plugin would otherwise create it)."""
    if prefix:
        nst_storage.check_location(prefix)


try:
    check_results_prefix(workflow.storage_settings.default_storage_prefix)
    PHOTOS = find_photos(config["content"])
    STYLES = {name: style_spec(name, value) for name, value in config["styles"].items()}
except NSTError as error:  # one line naming the file or URL, before any job starts
    raise WorkflowError(str(error)) from None
# Snakemake does not track imported modules: rules carry this hash of nst_core's sources as a
# param, so a code change reruns the jobs that use the code.
NST_CORE_CODE = nst_worker.code_fingerprint()
# Jobs (which inherit this environment) run the nst_core next to this Snakefile, the code
# fingerprinted above, whether or not it is installed.
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")])
    )
)


wildcard_constraints:
    style="|".join(map(re.escape, STYLES)),
    content="[^/]+",


def targets_per_photo(style):
    """Histogram colour matching makes a style's targets depend on each photo, so the photo's
    stylize job makes them from the artwork's images; other artworks' targets are cached.
    """
    return STYLES[style]["settings"].get("preserve_color") == "histogram"


def target_settings(style):
    settings = STYLES[style]["settings"]
    return {key: value for key, value in settings.items() if key in TARGET_SETTINGS}


def blend_options(style):
    """`--style-weight` options: blend weights of an artwork's images."""
    weights = STYLES[style]["blend"]
    return shlex.join([arg for w in weights for arg in ("--style-weight", str(w))])


def targets_blend(wildcards):
    return blend_options(wildcards.style)


def targets_options(wildcards):
    return command_options(target_settings(wildcards.style))


# A stylize job makes one photo's image for every artwork. Snakemake's planning costs about
# half a millisecond per job, so with ten artworks that is a tenth of the cost of a job per
# (photo, artwork) pair. Its inputs, outputs and params are static patterns and name -> value
# mappings, not functions, which Snakemake would call once per job.


def photo_input():
    """A pattern when every photo is a local file in one folder with one extension (the usual
    case), else a lookup of the photo's path or URL."""
    if not any(map(nst_storage.is_url, PHOTOS.values())):
        layouts = {
            (os.path.dirname(p), os.path.splitext(p)[1]) for p in PHOTOS.values()
        }
        if len(layouts) == 1:
            folder, extension = layouts.pop()
            escaped = folder.replace("{", "{{").replace("}", "}}")
            return local(os.path.join(escaped, f"{{content}}{extension}"))
    return lambda wildcards: source_file(PHOTOS[wildcards.content])


def style_source(i, style):
    """Artwork i's stylize inputs, and the `nst stylize` option that names them: its
    cached Gram targets (targets_i), or its images (style_i_0, style_i_1 ...) for the job to
    make the photo's own targets."""
    if not targets_per_photo(style):
        name = f"targets_{i}"
        return {name: f"results/targets/{style}.pt"}, f"--targets {{input.{name}:q}}"
    inputs = {
        f"style_{i}_{j}": source_file(image)
        for j, image in enumerate(STYLES[style]["images"])
    }
    return inputs, " ".join(f"--style {{input.{name}:q}}" for name in inputs)


def stylize_styles():
    """Inputs for every artwork, in STYLES order (see style_source)."""
    inputs = {}
    for i, style in enumerate(STYLES):
        inputs.update(style_source(i, style)[0])
    return inputs


def stylize_images():
    """Each artwork's image of the photo, named image_0 ... in STYLES order. update(): when an
    artwork is added or changed, the photo's job runs again but keeps the images made from
    unchanged inputs; `nst stylize --skip-unchanged` knows them by the fingerprint it writes.
    Not for results in object storage: Snakemake cannot back those up before the job (it would
    need their local copies), so there the job makes all the photo's images again."""
    keep = (
        update if not workflow.storage_settings.default_storage_prefix else lambda f: f
    )
    images = {}
    for i, style in enumerate(STYLES):
        gallery = dict(
            caption="../report/stylized.rst",
            category="Stylized",
            subcategory=style,
            labels={"photo": "{content}", "artwork": style},
        )
        path = f"results/stylized/{style}/{{content}}.png"
        images[f"image_{i}"] = keep(report(path, **gallery))
    return images


def stylize_options():
    """`nst stylize` options of each artwork, named options_0 ... in STYLES order."""
    options = {}
    for i, (style, spec) in enumerate(STYLES.items()):
        blend = blend_options(style) if targets_per_photo(style) else ""
        options[f"options_{i}"] = " ".join(
            filter(None, [command_options(spec["settings"]), blend])
        )
    return options


def stylize_shell():
    """One `nst stylize` per artwork, in order, each served by the slot's warm worker. The log
    gets a line per image: written (size, seconds) or up to date (no progress bars off a tty).
    """
    commands = [
        f"python -m nst_core.worker stylize {{input.photo:q}} {style_source(i, style)[1]}"
        f" {{params.options_{i}}} --skip-unchanged --output {{output.image_{i}:q}}"
        for i, style in enumerate(STYLES)
    ]
    return (
        "export OMP_NUM_THREADS={threads}; ( "
        + " && ".join(commands)
        + " ) 2> {log:q} || {{ cat {log:q} >&2; exit 1; }}"
    )


def style_images(wildcards):
    return [source_file(p) for p in STYLES[wildcards.style]["images"]]


def stylized(style, photos=None):
    return [f"results/stylized/{style}/{name}.png" for name in (photos or PHOTOS)]


def sheet_photos(limit):
    return list(PHOTOS)[:limit]


def overview_cells():
    """Cells of the overview grid in reading order, as (input or None for the empty corner,
    label): the artworks along the first row, each photo down the first column followed by
    its stylized versions."""
    photos = sheet_photos(config["sheets"]["overview_photos"])
    cells = [(None, "")] + [(source_file(STYLES[s]["images"][0]), s) for s in STYLES]
    for name in photos:
        cells.append((source_file(PHOTOS[name]), name))
        cells += [(f"results/stylized/{s}/{name}.png", "") for s in STYLES]
    return cells


def overview_arguments(wildcards, input):
    """`nst sheet` arguments: the jobs' local copies of the inputs, '-' for the empty corner."""
    paths = iter(input)
    grid = overview_cells()
    cells = ["-" if cell is None else next(paths) for cell, label in grid]
    labels = [arg for cell, label in grid for arg in ("--label", label)]
    return shlex.join(cells + labels)


def final_outputs():
    outputs = [path for style in STYLES for path in stylized(style)]
    outputs += [f"results/sheets/{style}.jpg" for style in STYLES]
    return outputs + ["results/sheets/overview.jpg"]
