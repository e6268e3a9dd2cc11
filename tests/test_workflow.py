"""The real `snakemake` command on a tiny config: outputs, reruns, bad photos and bad configs."""

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image

from conftest import CONFIG, DATA, make_project, planned_outputs, snakemake, write_config
from nst_core.outputs import gallery

CONSOLE = {}  # what the finished run printed


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One complete run; tests that change things work on copies of it."""
    workdir = make_project(tmp_path_factory.mktemp("finished"))
    result = snakemake(workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    CONSOLE["text"] = result.stdout + result.stderr
    return workdir


def test_the_console_has_a_line_per_image_naming_its_photo_and_artwork_with_the_runs_progress(finished):
    console = CONSOLE["text"]
    lines = re.findall(
        r"^nst: wrote results/stylized/(\w+)/(\w+)\.png \((\w+) in (\w+), \d+x\d+, [\d.]+ s.*\) · (\d) of 4 images",
        console,
        re.M,
    )
    assert sorted((artwork, photo) for artwork, photo, *_ in lines) == sorted(
        (a, p) for a in ("scream", "starry") for p in ("chelsea", "tubingen")
    ), console
    assert all(photo == named and artwork == style for artwork, photo, named, style, _ in lines), lines
    assert sorted(int(done) for *_, done in lines) == [1, 2, 3, 4]
    assert re.search(r"^nst: wrote .* · 1 of 4 images, about \d+ (s|min) left$", console, re.M), console
    # the device and precision once, before the first image
    (device,) = re.findall(r"^nst: jobs on \S+: cpu, (?:bf16|fp32) \(.+\)$", console, re.M)
    assert console.index(device) < console.index("nst: wrote results/stylized/")


@pytest.fixture
def project(finished, tmp_path):
    copy = tmp_path / "project"
    shutil.copytree(finished, copy)  # copy2 keeps modification times
    return copy


def stylized(artworks=("starry", "scream"), photos=("tubingen", "chelsea")):
    return {f"results/stylized/{a}/{p}.png" for a in artworks for p in photos}


def sheets(*artworks):
    # two photos, default page size: one page, "first" (unless a name starts a page: 1 in 100)
    return {f"results/sheets/{a}/first.jpg" for a in artworks} | {"results/sheets/overview.jpg"}


def thumbnails(photos=("tubingen", "chelsea")):
    return {f"results/gallery/thumbs/{p}" for p in photos}  # a folder per photo


def records(photos=("tubingen", "chelsea")):
    return {f"results/quality/{p}.tsv" for p in photos}  # each photo's scores, by its job


def quality():
    """The outputs of the quality job: the table and the folder of the gallery's views of it."""
    return {"results/quality.tsv", f"results/gallery/{gallery.QUALITY_VIEWS}"}


def gallery_pages(artworks=("starry", "scream"), photos=("tubingen", "chelsea")):
    """The outputs of the gallery job: its pages and the paintings' thumbnails."""
    return {f"results/gallery/{page}" for page in gallery.pages(photos, artworks)} | {
        f"results/gallery/paintings/{a}.jpg" for a in artworks
    }


def test_outputs_and_sheets_have_the_right_sizes(finished):
    sizes = {"tubingen": (32, 24), "chelsea": (32, 22)}  # long side 32, aspect kept (64x43)
    for path in stylized():
        with Image.open(finished / path) as image:
            assert image.size == sizes[Path(path).stem]
    assert (finished / "results/targets/starry.pt").is_file()
    # per-style sheet: 2 photos in one row (columns capped at the number of images)
    with Image.open(finished / "results/sheets/starry/first.jpg") as sheet:
        assert sheet.size == (2 * (32 + 8), 24 + 8 + 16)  # the row as tall as its tallest image (32x24)
    # overview: (1 + 2 artworks) columns x (1 + 2 photos) rows, each row as tall as its tallest
    # thumbnail: the paintings (The Scream is 25x32), then tubingen's (32x24) and chelsea's (32x22)
    with Image.open(finished / "results/sheets/overview.jpg") as overview:
        assert overview.size == (3 * (32 + 8), (32 + 24) + (24 + 24) + (22 + 24))
    for log in [
        "results/logs/artwork_targets/starry.log",
        "results/logs/stylize/chelsea.log",
        "results/logs/sheets/overview.log",
    ]:
        assert (finished / log).is_file()
    for bench in ["results/logs/benchmarks/artwork_targets/scream.tsv", "results/logs/benchmarks/stylize/tubingen.tsv"]:
        assert (finished / bench).read_text().startswith("s\t")


def test_each_artworks_sheet_shows_its_own_results(project):
    # One job makes a page of every artwork's sheets from the photos' thumbnail folders: each
    # sheet's cells must be that artwork's thumbnails, not another artwork's or the photo's.
    colours = {"starry": (255, 0, 0), "scream": (0, 0, 255), "photo": (0, 255, 0)}
    names = {"starry": gallery.result_thumbnail_name("starry"), "scream": gallery.result_thumbnail_name("scream")}
    names["photo"] = gallery.PHOTO_THUMBNAIL
    for folder in (project / "results/gallery/thumbs").iterdir():
        for what, colour in colours.items():
            Image.new("RGB", (32, 24), colour).save(folder / names[what])
    result = snakemake(project, "--forcerun", "artwork_sheets")
    assert result.returncode == 0, result.stderr
    for artwork in ["starry", "scream"]:
        with Image.open(project / f"results/sheets/{artwork}/first.jpg") as sheet:
            centres = [sheet.convert("RGB").getpixel((4 + 16 + 40 * column, 4 + 16)) for column in (0, 1)]
        for centre in centres:
            assert max(abs(a - b) for a, b in zip(centre, colours[artwork])) < 40, (artwork, centres)


def test_second_run_has_nothing_to_do(project):
    result = snakemake(project, "--dry-run")
    assert "Nothing to be done" in result.stdout + result.stderr


def rerun_remakes(project):
    """Run again after a change: (targets files remade, stylized images remade). A photo's job
    makes all its images; those it reports up to date were left as they were."""
    planned = planned_outputs(project)
    shutil.rmtree(project / "results" / "logs" / "stylize")  # the logs of the photo jobs that run now
    result = snakemake(project)
    assert result.returncode == 0, result.stdout + result.stderr
    artworks = yaml.safe_load((project / "config.yaml").read_text())["artworks"]
    remade = set()
    for log in (project / "results" / "logs" / "stylize").glob("*.log"):
        text = log.read_text()
        kept = set(re.findall(r"^nst: (\S+) is up to date", text, re.M))
        written = set(re.findall(r"^nst: wrote (\S+) ", text, re.M))
        assert kept | written == stylized(artworks, photos=[log.stem]) and not kept & written, text
        remade |= written
    return {p for p in planned if p.startswith("results/targets/")}, remade


def test_adding_a_photo_runs_only_its_job_and_the_sheets(project):
    shutil.copy2(DATA / "starry_night.jpg", project / "photos" / "night.jpg")
    planned = planned_outputs(project)
    photos = ["tubingen", "chelsea", "night"]
    photo_job = stylized(photos=["night"]) | thumbnails(photos=["night"]) | records(photos=["night"])
    assert planned == photo_job | sheets("starry", "scream") | gallery_pages(photos=photos) | quality()
    assert rerun_remakes(project) == (set(), stylized(photos=["night"]))


def test_a_deleted_image_is_made_again_by_its_photos_job(project):
    (project / "results" / "stylized" / "starry" / "chelsea.png").unlink()
    planned = planned_outputs(project)
    photo_job = stylized(photos=["chelsea"]) | thumbnails(photos=["chelsea"]) | records(photos=["chelsea"])
    assert planned == photo_job | sheets("starry", "scream") | quality()
    assert rerun_remakes(project) == (set(), {"results/stylized/starry/chelsea.png"})


def test_adding_an_artwork_makes_only_its_images(project):
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["artworks"]["hat"] = "art/starry_night.jpg"  # same painting, its own name and results
    write_config(project, config)
    targets, remade = rerun_remakes(project)
    assert targets == {"results/targets/hat.pt"}
    assert remade == {"results/stylized/hat/tubingen.png", "results/stylized/hat/chelsea.png"}
    assert (project / "results/sheets/hat/first.jpg").is_file()
    assert "Nothing to be done" in snakemake(project, "--dry-run").stdout


def test_changing_an_artworks_style_weight_remakes_only_its_images(project):
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["artworks"]["scream"]["style_weight"] = 3.0
    write_config(project, config)
    before = (project / "results/stylized/starry/tubingen.png").read_bytes()
    assert rerun_remakes(project) == (set(), stylized(artworks=["scream"]))
    assert (project / "results/stylized/starry/tubingen.png").read_bytes() == before


def test_changing_an_artworks_style_scale_remakes_its_targets_too(project):
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["artworks"]["scream"]["style_scale"] = 1.5
    write_config(project, config)
    assert rerun_remakes(project) == ({"results/targets/scream.pt"}, stylized(artworks=["scream"]))


def test_changing_an_artworks_image_remakes_its_targets_and_images(project):
    shutil.copy(DATA / "chelsea.png", project / "art" / "starry_night.jpg")  # new content, new mtime
    assert rerun_remakes(project) == ({"results/targets/starry.pt"}, stylized(artworks=["starry"]))


def test_changing_iterations_remakes_images_not_targets(project):
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["nst"]["iterations"] = 3
    write_config(project, config)
    assert rerun_remakes(project) == (set(), stylized())


def test_changing_size_remakes_targets_and_images(project):
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["nst"]["size"] = 40
    write_config(project, config)
    assert rerun_remakes(project) == ({"results/targets/starry.pt", "results/targets/scream.pt"}, stylized())


def test_changing_nst_core_code_remakes_everything(project):
    with open(project / "nst_core" / "core" / "losses.py", "a") as source:
        source.write("\n# a changed line\n")
    assert rerun_remakes(project) == ({"results/targets/starry.pt", "results/targets/scream.pt"}, stylized())


def test_histogram_artwork_targets_are_made_in_the_photos_job(tmp_path):
    # photos/*.jpg: one folder, one extension, so the photo input is a static pattern
    config = {**CONFIG, "photos": ["photos/*.jpg"]}
    config["artworks"] = {
        "starry": {
            "images": ["art/starry_night.jpg", "art/the_scream.jpg"],
            "blend": [0.7, 0.3],
            "preserve_color": "histogram",
        },
        "scream": "art/the_scream.jpg",
    }
    workdir = make_project(tmp_path, config)
    result = snakemake(workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (workdir / "results/stylized/starry/tubingen.png").is_file()
    assert (workdir / "results/stylized/scream/tubingen.png").is_file()
    assert not (workdir / "results/stylized/starry/chelsea.png").exists()  # a .png photo
    assert sorted(p.name for p in (workdir / "results/targets").iterdir()) == ["scream.pt"]
    # the job the photo's job ran, as data: the blend's paintings, not a targets file
    job = json.loads((workdir / "results/logs/stylize/tubingen.job").read_text())
    starry, scream = ({a["name"]: a for a in job["artworks"]}[name] for name in ("starry", "scream"))
    assert starry["styles"] == ["art/starry_night.jpg", "art/the_scream.jpg"] and starry["blend"] == [0.7, 0.3]
    assert "targets" not in starry and scream["targets"] == "results/targets/scream.pt"
    assert starry["settings"] == {"preserve_color": "histogram"}
    rerun = snakemake(workdir, "--dry-run")
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
    # a changed image of the blend remakes only that artwork's image
    shutil.copy(DATA / "chelsea.png", workdir / "art" / "starry_night.jpg")
    assert rerun_remakes(workdir) == (set(), {"results/stylized/starry/tubingen.png"})


def test_the_readmes_install_has_what_a_report_needs():
    # The README installs nst[workflow]: `snakemake --report` fails without pygments (which the
    # test install brings anyway, through pytest).
    from importlib.metadata import requires

    assert any(line.startswith("pygments") and 'extra == "workflow"' in line for line in requires("nst"))


def test_report_is_a_gallery(finished):
    result = snakemake(finished, "--report", "report.html")
    assert result.returncode == 0, result.stderr
    html = (finished / "report.html").read_text()
    assert len(html) > 10_000
    assert "Photo tubingen in the style of" in html and "in the style of ." not in html  # captions


def test_bad_photo_does_not_stop_the_others(tmp_path):
    workdir = make_project(tmp_path)
    (workdir / "photos" / "broken.jpg").write_text("not a picture")
    result = snakemake(workdir, "--keep-going")
    assert result.returncode != 0
    assert (result.stdout + result.stderr).count("broken.jpg: not an image") == 1  # once, as it happened
    for path in stylized():
        assert (workdir / path).is_file(), path
    assert not (workdir / "results/stylized/starry/broken.png").exists()
    # without --keep-going the error names the file too
    result = snakemake(workdir)
    assert result.returncode != 0 and "broken.jpg: not an image" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["nst"].update(sizee=64), "nst: unknown setting 'sizee'; did you mean 'size'?"),
        (
            lambda c: c.update(stylize_thread=2),
            "config: unknown key 'stylize_thread'; did you mean 'stylize_threads'?",
        ),
        (lambda c: c["nst"].update(size="big"), "nst: size must be an integer, not 'big'"),
        (
            lambda c: c["artworks"]["scream"].update(preserve_color="luminence"),
            "artworks: scream: preserve_color 'luminence' is not one of none, luminance, histogram",
        ),
        (
            lambda c: c["artworks"]["scream"].update(iterations=5),
            "artworks: scream: 'iterations' is not a setting an artwork may override",
        ),
        (
            lambda c: c["artworks"]["scream"].update(preserve_colour="none"),
            "artworks: scream: 'preserve_colour' is not a setting an artwork may override;"
            " did you mean 'preserve_color'?",
        ),
        (
            lambda c: c["artworks"]["scream"].update(blend=["x"]),
            "artworks: scream: blend: 0: 'x' is not of type 'number'",
        ),
        (lambda c: c["artworks"]["scream"].update(images=["a.jpg"]), "artworks: scream: give either image or images"),
        (lambda c: c["artworks"].update({"../evil": "art/starry_night.jpg"}), "artworks: '../evil': a name is letters"),
        (lambda c: c["artworks"].update({"a\n": "art/starry_night.jpg"}), "artworks: 'a\\n': a name is letters"),
        (lambda c: c["artworks"].update({"overview.jpg": "art/starry_night.jpg"}), "'overview.jpg' is reserved"),
        (lambda c: c.update(photos=["nowhere/*.jpg"]), "photos: 'nowhere/*.jpg' matches no files"),
        (lambda c: c["artworks"].update(gone="art/missing.jpg"), "artworks: gone: art/missing.jpg: no such file"),
        (lambda c: c["sheets"].update(cell=2000), "sheets: cell 2000: give 16 to 1024 px"),
        (lambda c: c.update(stylize_batch=0), "stylize_batch: 0 is not allowed: auto (as many of a photo's images"),
        (
            lambda c: c.update(quality={"weak_styel": 2}),
            "quality: unknown threshold 'weak_styel'; did you mean 'weak_style'?",
        ),
    ],
    ids=[
        "unknown-setting",
        "unknown-key",
        "wrong-type",
        "artwork-setting-value",
        "not-per-artwork",
        "misspelt-artwork-key",
        "artwork-value-type",
        "image-and-images",
        "path-in-artwork-name",
        "newline-in-artwork-name",
        "reserved-name",
        "empty-glob",
        "missing-artwork-image",
        "thumbnail-larger-than-nst-thumbnail-makes",
        "batch-of-none",
        "misspelt-threshold",
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, change, message):
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    change(config)
    workdir = make_project(tmp_path, config)
    result = snakemake(workdir)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    # one line: no dump of the schema, no lines of the calls that raised it
    assert "Failed validating" not in result.stdout + result.stderr
    assert 'File "' not in result.stderr, result.stderr
    assert not (workdir / "results").exists()


def test_a_failed_rerun_keeps_the_images_from_before(project):
    before = {path: (project / path).read_bytes() for path in stylized()}
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["nst"]["style_weight"] = 1e39  # inf in fp32: every image's loss, so every photo's job, fails
    write_config(project, config)
    result = snakemake(project, "--keep-going")
    assert result.returncode != 0 and "check its weights" in result.stdout + result.stderr
    assert {path: (project / path).read_bytes() for path in stylized()} == before


def _psnr(a: Path, b: Path) -> float:
    import math

    from nst_core.files.tensors import load_image

    error = float((load_image(str(a)) - load_image(str(b))).pow(2).mean())
    return math.inf if error == 0 else 10 * math.log10(1 / error)


def test_one_artwork_at_a_time_makes_the_same_images(finished, tmp_path):
    # The default optimises a photo's two artworks together; stylize_batch 1 one at a time.
    assert "for 2 images together" in (finished / "results/logs/stylize/tubingen.log").read_text()
    copy = tmp_path / "one-at-a-time"
    shutil.copytree(finished, copy)
    shutil.rmtree(copy / "results/stylized")
    config = yaml.safe_load((copy / "config.yaml").read_text())
    write_config(copy, {**config, "stylize_batch": 1})
    result = snakemake(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "together" not in (copy / "results/logs/stylize/tubingen.log").read_text()
    for path in stylized():
        assert _psnr(copy / path, finished / path) >= 40
        assert (copy / path).read_bytes() == (finished / path).read_bytes()  # on a CPU, to the bit


def test_an_artwork_that_diverges_costs_only_its_own_images(project, finished):
    for path in stylized(artworks=["starry"]):
        (project / path).unlink()  # to be made again, in the same jobs as the failing artwork
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["artworks"]["broken"] = {"image": "art/the_scream.jpg", "style_weight": 1e39}  # inf in fp32
    write_config(project, config)
    result = snakemake(project, "--keep-going")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("nst stylize: error:")]
    assert {line.split(": ")[2] for line in lines} == {"photos/tubingen.jpg", "photos/chelsea.png"}
    assert all(": broken: its loss is inf before any step" in line for line in lines), lines
    assert not any((project / path).exists() for path in stylized(artworks=["broken"]))
    for path in stylized(artworks=["starry", "scream"]):  # written, kept, and as they were
        assert (project / path).read_bytes() == (finished / path).read_bytes()
    # Mended, the next run makes only the broken artwork's images.
    config["artworks"]["broken"]["style_weight"] = 1.0
    write_config(project, config)
    result = snakemake(project)
    assert result.returncode == 0, result.stdout + result.stderr
    log = (project / "results/logs/stylize/tubingen.log").read_text()
    assert "wrote results/stylized/broken/tubingen.png" in log and "starry/tubingen.png is up to date" in log
