import copy
import difflib
import os
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)  # the nst_core next to this Snakefile
import snakemake_internals as internals  # workflow/: what is read of Snakemake beyond its API
import nst_core.settings as nst_settings  # the settings table; no torch import
import nst_core.files.image_files as nst_image_files  # decoding checks of paintings; no torch import
import nst_core.outputs.pages as nst_pages  # contact sheet pages; no torch import
import nst_core.outputs.gallery as nst_gallery  # the static HTML gallery; no torch import
import nst_core.files.storage as nst_storage  # listing and existence checks; no torch import
import nst_core.running.progress as nst_progress  # the run's progress ledger; no torch import
import nst_core.outputs.quality as nst_quality  # quality flags' thresholds; no torch import
import nst_core.video.plan as nst_video_plan  # a video's segments; no torch import
import nst_core.video.frame_sheet as nst_video_sheet  # a video's contact sheet; no torch import
from nst_core.errors import NSTError
from nst_core.files.fingerprints import code_fingerprint

# A config of one's own (--configfile) defines the batch: the demo's config.yaml, which Snakemake
# has already merged under it key by key, is dropped (its artworks would otherwise stay in).
# Settings the user's config does not give take their defaults from the schema and settings table.
if internals.configfile_values(workflow) is not None:
    config.clear()
    config.update(copy.deepcopy(internals.configfile_values(workflow)))

# Each batch's outputs lie under one folder, so that two batches in one project do not mix: the
# demo's config.yaml names results/, and a config of one's own, NAME.yaml, gets results/NAME/
# unless it names its own (`results:`).
RESULTS_FOLDERS = {
    "stylized",
    "targets",
    "sheets",
    "gallery",
    "logs",
    "quality",
    "videos",
}  # inside a results folder


def results_folder():
    configfiles = internals.configfiles(workflow)
    if "results" in config or not configfiles:
        return str(config.get("results", "results")).rstrip("/")
    name = Path(configfiles[-1]).stem
    if name in RESULTS_FOLDERS:
        raise NSTError(
            f"{configfiles[-1]}: its results would go to results/{name}/, "
            f"a folder of the demo's results; name another with `results: FOLDER`"
        )
    return f"results/{name}"


def validated(config):
    """Snakemake's validate (which also fills in the schema's defaults), its error one line
    naming the key, instead of jsonschema's dump of the schema."""
    try:
        validate(config, schema="../schemas/config.schema.yaml")
    except WorkflowError as error:
        problem = internals.validation_problem(error)
        if problem is None:
            raise
        where = ": ".join(map(str, problem.absolute_path)) or "config"
        # A key of its own: name it, and the closest known one.
        if problem.validator == "additionalProperties":
            known = problem.schema.get("properties", {})
            for key in problem.instance:
                if key not in known:
                    close = difflib.get_close_matches(key, known, n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise NSTError(
                        f"{where}: unknown key {key!r}{hint} (keys: {', '.join(known)})"
                    ) from None
        if problem.validator == "oneOf" and "description" in problem.schema:
            what = problem.schema["description"]
            raise NSTError(
                f"{where}: {problem.instance!r} is not allowed: {what}"
            ) from None
        raise NSTError(f"{where}: {problem.message}") from None


RESERVED_ARTWORK_NAMES = {
    "overview.jpg",
    "videos",
}  # {results}/sheets/overview.jpg, sheets/videos/
# Artwork names name files: no path separators, no leading dot, nothing a shell or Snakemake reads.
ARTWORK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
ARTWORK_KEYS = {"image", "images", "blend"}  # besides settings an artwork may override
PER_ARTWORK = sorted(n for n, row in nst_settings.SETTINGS.items() if row.per_artwork)


@dataclass(frozen=True)
class Artwork:
    """A named style: one or more painting images, their blend weights, and the settings of its
    jobs (the config's `nst` settings with the artwork's overrides, as given)."""

    name: str
    images: tuple
    blend: tuple
    settings: dict
    overrides: dict  # the settings it gives of its own

    # cached: each photo's job asks (a Settings of the mapping costs about 0.1 ms)
    @cached_property
    def targets_per_photo(self):
        """Histogram colour matching makes the targets depend on each photo, so the photo's
        stylize job makes them from the images; other artworks' targets are made once.
        """
        return nst_settings.from_mapping(self.settings).preserve_color == "histogram"

    def sources(self):
        return [source_file(path) for path in self.images]


def find_photos(patterns, key="photos"):
    """Photo (or video) name (file name without extension) -> path or URL, from paths and glob
    patterns under the config's key. Files that cannot be read are left out, each with one line
    saying why: they cost only their own results."""
    photos = {}
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        matches = nst_storage.expand(pattern)
        if not matches:
            raise NSTError(f"{key}: {pattern!r} matches no files")
        for path, problem in matches:
            name = Path(path).stem
            problem = name_problem(name) or problem
            if problem:
                # not again where a job parses the workflow
                if internals.is_main_process(workflow):
                    print(f"{key}: {path!r} left out: {problem}", file=sys.stderr)
                continue
            if photos.get(name, path) != path:
                raise NSTError(
                    f"{key}: {photos[name]} and {path} would both be named {name!r}; rename one"
                )
            photos[name] = path
    return dict(sorted(photos.items()))


NAME_CHECKS = internals.name_checks()  # Snakemake's own tests of the names it refuses


def name_problem(name):
    """Why a photo's name cannot name its results, or None."""
    if name in (".", ".."):
        return "its name is only dots (rename it)"
    if not name.isprintable():
        return "its name has a line break or another control character (rename it)"
    if NAME_CHECKS["wildcard"](name):
        return "Snakemake reads {...} in a name as a wildcard, and cannot escape it (rename it)"
    if NAME_CHECKS["pathvar"](name):
        return "Snakemake reads <word> in a name as a path variable, and cannot escape it (rename it)"
    if NAME_CHECKS["periodic"](name):
        return "its name ends in 20 or more repeats of the same text, which Snakemake refuses (rename it)"
    return None


def check_painting(name, path):
    """Artworks are configuration, and few: a broken painting stops the run before any job,
    naming it, rather than costing every photo's job after hours of work (decoding the few
    paintings costs well under a second)."""
    try:
        nst_image_files.check_source(path)
    except NSTError as error:
        raise error.at("artworks", name) from None


def source_file(path):
    """An input given by the user: a storage object for URLs (downloaded for the job, tracked by
    its modification time), a local file otherwise, also when results go to a default storage.
    """
    return storage(path) if nst_storage.is_url(path) else local(path)


def checked_settings(where, values):
    """The settings mapping, or a one-line error naming where it is and the setting."""
    try:
        nst_settings.from_mapping(values)
    except NSTError as error:
        raise error.at(where) from None
    return values


def artwork(name, entry):
    """An Artwork from its config entry: an image path, or a mapping with overrides."""
    if name in RESERVED_ARTWORK_NAMES:
        raise NSTError(f"artworks: {name!r} is reserved ({RESULTS}/sheets/{name})")
    if not ARTWORK_NAME.fullmatch(name):
        raise NSTError(
            f"artworks: {name!r}: a name is letters, digits and _ . - (it names files)"
        )
    entry = {"image": entry} if isinstance(entry, str) else entry
    overrides = {key: value for key, value in entry.items() if key not in ARTWORK_KEYS}
    for key in overrides:
        if key not in PER_ARTWORK:
            close = difflib.get_close_matches(key, [*ARTWORK_KEYS, *PER_ARTWORK], n=1)
            raise NSTError(
                f"artworks: {name}: {key!r} is not a setting an artwork may override"
                + (f"; did you mean {close[0]!r}?" if close else "")
                + f" (it may give image, images, blend, {', '.join(PER_ARTWORK)})"
            )
    if ("image" in entry) == ("images" in entry):
        raise NSTError(f"artworks: {name}: give either image or images")
    images = [entry["image"]] if "image" in entry else entry["images"]
    blend = entry.get("blend", [])
    if blend and len(blend) != len(images):
        raise NSTError(
            f"artworks: {name}: {len(blend)} blend weights for {len(images)} images"
        )
    settings = checked_settings(f"artworks: {name}", {**config["nst"], **overrides})
    if internals.is_main_process(
        workflow
    ):  # checked before any job; a job's own parse need not
        for image in images:
            check_painting(name, image)
    return Artwork(name, tuple(images), tuple(blend), settings, overrides)


def photo_input():
    """How a job names its photo: a pattern when every photo is a local file in one folder with
    one extension (the usual case), else a lookup of its path or URL (a function, which
    Snakemake calls once per job)."""
    if not any(map(nst_storage.is_url, PHOTOS.values())):
        layouts = {
            (os.path.dirname(p), os.path.splitext(p)[1]) for p in PHOTOS.values()
        }
        if len(layouts) == 1:
            folder, extension = layouts.pop()
            if not NAME_CHECKS["wildcard"](folder + extension):
                return local(os.path.join(folder, f"{{photo}}{extension}"))
    return lambda wildcards: source_file(PHOTOS[wildcards.photo])


def check_results_prefix(prefix):
    """With results in an object store, a missing bucket is an error before any job starts
    (the storage plugin would otherwise create it)."""
    if prefix:
        nst_storage.check_location(prefix)


# A batch that cannot run stops here, before any job, with one line naming the key or file and
# exit status 2 (Snakemake's WorkflowError would add the lines of the calls that raised it).
try:
    config["results"] = results_folder()
    validated(config)
    checked_settings("nst", config["nst"])
    config["sheets"].setdefault("cell", nst_image_files.THUMBNAIL_SIDE)
    nst_image_files.check_thumbnail_side(config["sheets"]["cell"], "sheets: cell")
    QUALITY = nst_quality.thresholds(config["quality"])
    check_results_prefix(internals.default_storage_prefix(workflow))
    RESULTS = config["results"]
    PHOTOS = find_photos(config.get("photos", []))
    VIDEOS = find_photos(config.get("videos", []), "videos")
    if set(PHOTOS) & set(VIDEOS):
        name = sorted(set(PHOTOS) & set(VIDEOS))[0]
        raise NSTError(
            f"videos: {VIDEOS[name]} and photos: {PHOTOS[name]} would both be named {name!r}; rename one"
        )
    ARTWORKS = {
        name: artwork(name, entry) for name, entry in config["artworks"].items()
    }
except NSTError as error:
    print(f"Error: {error}", file=sys.stderr)
    raise SystemExit(2)
# A video's chains of segment jobs, each job after the one before: one (video_jobs: together), or
# one per artwork (by_artwork).
SEGMENT_CHAINS = 1 if config["video_jobs"] == "together" else len(ARTWORKS)
# Snakemake does not track imported modules: rules carry this hash of nst_core's sources as a
# param, so a code change reruns the jobs that use the code.
NST_CORE_CODE = code_fingerprint()
# Jobs (which inherit this environment) run the nst_core next to this Snakefile, the code
# fingerprinted above, whether or not it is installed.
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")])
    )
)


wildcard_constraints:
    artwork="|".join(map(re.escape, ARTWORKS)),
    photo="[^/]+",
    video="[^/]+",
    segment="[0-9]+",
    page=f"{nst_pages.FIRST}|{re.escape(nst_pages.page_name(''))}[^/]+",
