"""A real user's first batch (issue 15): a config of one's own, broken and oddly named files,
files that are not files, and a console that reads well."""

import json
import os
import shutil
import subprocess
import sys
import time

import yaml
from PIL import Image

from conftest import CONFIG, PHOTO, STYLE, make_project, planned_outputs, run_cli, snakemake, write_config


def test_a_configfile_of_ones_own_replaces_the_demo_batch(tmp_path):
    workdir = make_project(tmp_path)  # its config.yaml (the "demo") has artworks starry and scream, size 32
    mine = {"photos": ["photos/tubingen.jpg"], "artworks": {"mine": "art/the_scream.jpg"}}
    (workdir / "mine.yaml").write_text(yaml.safe_dump(mine))
    planned = planned_outputs(workdir, "--configfile", "mine.yaml")
    assert {p for p in planned if "/stylized/" in p} == {"results/mine/stylized/mine/tubingen.png"}
    # settings it does not give are the defaults, not the demo config's (coarse_iterations: 1)
    mine["nst"] = {"size": 32, "min_size": None, "iterations": 1, "device": "cpu"}
    (workdir / "mine.yaml").write_text(yaml.safe_dump(mine))
    result = snakemake(workdir, "--configfile", "mine.yaml")
    assert result.returncode == 0, result.stderr
    job = json.loads((workdir / "results/mine/logs/stylize/tubingen.job").read_text())
    assert job["settings"]["size"] == 32 and job["settings"].get("coarse_iterations") != 1
    # --config's nested values reach the workflow as text: numbers among them still work
    size = "nst={size: 40, iterations: 1, min_size: none, device: cpu}"
    result = snakemake(workdir, "--config", size, "results=results/forty")
    assert result.returncode == 0, result.stderr
    with Image.open(workdir / "results/forty/stylized/scream/tubingen.png") as image:
        assert max(image.size) == 40
    # --config alone still adjusts the demo batch
    planned = planned_outputs(workdir, "--config", "stylize_threads=1")
    assert {"results/stylized/starry/chelsea.png", "results/stylized/scream/tubingen.png"} <= planned


def test_odd_names_work_and_files_that_are_not_photos_are_left_out(tmp_path):
    workdir = make_project(tmp_path)
    photos = workdir / "photos"
    longest = "é" * 125 + "z"  # 251 bytes: with .jpg, the longest name a file may have
    for name in ("a{b.jpg", "-rf.jpg", "with space's $(x).jpg", f"{longest}.jpg"):
        shutil.copy2(PHOTO, photos / name)
    left_out = {
        "wildcard": "a{b}.jpg",
        "path variable": "it's a <b>.jpg",
        "newline": "new\nline.jpg",
        "periodic": "x" + "ab" * 25 + ".jpg",
        "fifo": "pipe.jpg",
        "folder": "folder.jpg",
    }
    shutil.copy2(PHOTO, photos / left_out["wildcard"])
    shutil.copy2(PHOTO, photos / left_out["path variable"])
    shutil.copy2(PHOTO, photos / left_out["newline"])
    shutil.copy2(PHOTO, photos / left_out["periodic"])
    os.mkfifo(photos / left_out["fifo"])
    (photos / left_out["folder"]).mkdir()
    config = {**CONFIG, "photos": ["photos/*.jpg"]}
    write_config(workdir, config)
    result = snakemake(workdir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("a{b", "-rf", "with space's $(x)", longest, "tubingen"):
        for artwork in CONFIG["artworks"]:
            assert (workdir / "results" / "stylized" / artwork / f"{name}.png").is_file(), (artwork, name)
    assert (workdir / "results" / "sheets" / "overview.jpg").is_file()
    lines = [line for line in result.stderr.splitlines() if "left out" in line]
    assert len(lines) == len(left_out), lines
    for name in left_out.values():
        assert any(repr(f"photos/{name}") in line for line in lines), (name, lines)


def test_nst_reads_only_regular_files_of_a_bounded_size(tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")  # reading it would wait forever for a writer
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")  # reading it would never end
    with open(tmp_path / "sparse.jpg", "wb") as handle:
        handle.truncate(20 * 2**30)  # 20 GB, no disk used
    (tmp_path / "folder.jpg").mkdir()
    expected = {
        "pipe.jpg": "is a FIFO, not a file",
        "zero.jpg": "is a device, not a file",
        "sparse.jpg": "20.0 GiB is more than nst reads (1 GiB at most)",
        "folder.jpg": "is a directory, not a file",
    }
    for name, problem in expected.items():
        photo = tmp_path / name
        result = run_cli("stylize", photo, "--style", STYLE, "-o", tmp_path / "out.png", "--size", 32)
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines() == [f"nst stylize: error: {photo}: {problem}"]
    assert not (tmp_path / "out.png").exists()


def test_the_commands_small_manners(tmp_path):
    bare = run_cli()
    assert bare.returncode == 2 and "stylize" in bare.stderr and "score" in bare.stderr  # the help, not a riddle
    assert run_cli("--version").stdout.strip().startswith("nst ")
    typo = run_cli("stylize", PHOTO, "--style", STYLE, "--sise", 32, "-o", tmp_path / "x.png")
    assert typo.returncode == 2
    assert typo.stderr.splitlines() == [
        "nst stylize: error: unrecognized arguments: --sise 32 (did you mean --min-size or --seed or --size?)"
    ]
    sheet = run_cli("sheet", PHOTO, "--label", "two\nlines", "-o", tmp_path / "sheet.jpg", "--cell", 32)
    assert sheet.returncode == 0 and sheet.stderr.startswith(f"nst: wrote {tmp_path / 'sheet.jpg'} ("), sheet.stderr
    huge = run_cli("sheet", PHOTO, "--cell", 60000, "-o", tmp_path / "huge.jpg")
    assert huge.returncode == 2 and len(huge.stderr.splitlines()) == 1 and "too large" in huge.stderr
    score = run_cli("score", PHOTO, "--photo", PHOTO, "--style", STYLE)
    assert score.returncode == 0
    for value in json.loads(score.stdout).values():
        assert value == float(f"{value:.3g}")  # rounded as the README shows


def test_a_broken_painting_stops_the_run_before_any_job_naming_it(tmp_path):
    workdir = make_project(tmp_path)
    (workdir / "art" / "broken.jpg").write_bytes((workdir / "art" / "the_scream.jpg").read_bytes()[:1200])
    config = {**CONFIG, "artworks": {**CONFIG["artworks"], "broken": "art/broken.jpg"}}
    write_config(workdir, config)
    result = snakemake(workdir, "--keep-going")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith(
        "Error: artworks: broken: art/broken.jpg: corrupt or truncated image"
    )
    assert 'File "' not in result.stderr
    assert not (workdir / "results").exists(), "no job ran"


def test_keep_going_with_odd_names_and_a_truncated_photo_makes_every_other_image(tmp_path):
    workdir = make_project(tmp_path)
    photos = workdir / "photos"
    shutil.copy2(PHOTO, photos / "café au lait #1.jpg")
    (photos / "truncated.jpg").write_bytes(PHOTO.read_bytes()[:1000])
    write_config(workdir, {**CONFIG, "photos": ["photos/*"]})
    result = snakemake(workdir, "--keep-going")
    assert result.returncode == 1  # one job failed
    assert "nst stylize: error: photos/truncated.jpg: corrupt or truncated image" in result.stderr
    for name in ("café au lait #1", "tubingen", "chelsea"):
        for artwork in CONFIG["artworks"]:
            assert (workdir / "results" / "stylized" / artwork / f"{name}.png").is_file(), (artwork, name)
    assert not list((workdir / "results" / "stylized").rglob("truncated.png"))


def test_leftovers_of_killed_writes_are_removed_by_a_later_write(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    parts = {
        "killed": folder / ".nst-killed.part",  # a write killed an hour ago: removed
        "held": folder / ".nst-held.part",  # as old, but a live writer holds it
        "young": folder / ".nst-young.part",  # a write that may be between creating and locking
        "theirs": folder / ".nst-theirs.part",  # another user's
        "not ours": folder / "killed.part",
    }
    an_hour_ago = time.time() - 3600
    for name, path in parts.items():
        path.write_bytes(b"half an image")
        if name != "young":
            os.utime(path, (an_hour_ago, an_hour_ago))
    os.chown(parts["theirs"], 65534, 65534)
    hold = "import fcntl, sys, time; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); print(1, flush=True)"
    hold += "; time.sleep(99)"
    with subprocess.Popen([sys.executable, "-c", hold, parts["held"]], stdout=subprocess.PIPE) as writer:
        assert writer.stdout.readline()
        result = run_cli(
            "stylize",
            PHOTO,
            "--style",
            STYLE,
            "-o",
            folder / "out.png",
            "--size",
            32,
            "--iterations",
            2,
            "--min-size",
            "none",
        )
        writer.kill()
    assert result.returncode == 0, result.stderr
    assert {name for name, path in parts.items() if path.exists()} == {"held", "young", "theirs", "not ours"}
    assert (folder / "out.png").is_file()


def test_the_console_shows_a_short_line_per_job_and_nothing_gpu_on_a_cpu(tmp_path):
    workdir = make_project(tmp_path)
    result = snakemake(workdir, "--dry-run")
    text = result.stdout + result.stderr
    assert "stylize tubingen: its images in 2 artworks' styles (log: results/logs/stylize/tubingen.log)" in text, text
    assert "targets of scream: Gram matrices of its painting, once" in text
    assert "Shell command" not in text and "nst_core.worker" not in text and "gpu" not in text
    assert "all 4 images (2 photos x 2 artworks) and their sheets" in text  # not the list of every result
    lines = [line for line in text.splitlines() if not line.startswith("  ")]  # not the header's paths
    assert max(map(len, lines)) < 120, text


def test_two_batches_in_one_project_keep_their_results_and_galleries_apart(tmp_path):
    """The demo's batch (config.yaml) in results/, then a batch of one's own (--configfile
    mine.yaml) with other artworks in results/mine/: each gallery shows its own batch, and a
    batch changed in place makes its gallery again."""
    workdir = make_project(tmp_path)
    assert snakemake(workdir).returncode == 0
    demo = sorted(p for p in (workdir / "results").rglob("*") if p.is_file() and "mine" not in p.parts)
    made = {p: p.stat().st_mtime_ns for p in demo}
    mine = {
        "photos": ["photos/tubingen.jpg"],
        "artworks": {
            "soft": {"image": "art/the_scream.jpg", "style_weight": 0.5},
            "mixed": {"images": ["art/the_scream.jpg", "art/starry_night.jpg"], "blend": [0.5, 0.5]},
        },
        "nst": CONFIG["nst"],
        "sheets": {"cell": 32},
    }
    (workdir / "mine.yaml").write_text(yaml.safe_dump(mine))
    result = snakemake(workdir, "--configfile", "mine.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    ours = workdir / "results" / "mine"
    index = (ours / "gallery" / "index.html").read_text()
    assert "1 photos × 2 artworks" in index and "soft" in index and "mixed" in index
    assert "starry" not in index and "scream" not in index
    for page in ("by-artwork/soft/1.html", "by-artwork/mixed/1.html", "by-photo/1.html"):
        assert (ours / "gallery" / page).is_file(), page
    assert sorted(p.name for p in (ours / "stylized").iterdir()) == ["mixed", "soft"]
    assert (ours / "logs" / "stylize" / "tubingen.log").is_file()
    # the demo's results where they were, untouched, and none of the new batch's among them
    assert {p: p.stat().st_mtime_ns for p in demo} == made
    assert sorted(p.name for p in (workdir / "results" / "stylized").iterdir()) == ["scream", "starry"]
    assert "2 photos × 2 artworks" in (workdir / "results" / "gallery" / "index.html").read_text()
    # nothing left to do for either batch
    for args in ([], ["--configfile", "mine.yaml"]):
        assert "Nothing to be done" in snakemake(workdir, "--dry-run", *args).stdout, args
    # a batch changed in place (an artwork removed) makes its gallery again
    config = {**CONFIG, "artworks": {"starry": CONFIG["artworks"]["starry"]}}
    write_config(workdir, config)
    assert snakemake(workdir).returncode == 0
    index = (workdir / "results" / "gallery" / "index.html").read_text()
    assert "2 photos × 1 artworks" in index and "scream" not in index
    # a config named like a folder of results is asked to name its own
    (workdir / "gallery.yaml").write_text(yaml.safe_dump(mine))
    result = snakemake(workdir, "--dry-run", "--configfile", "gallery.yaml")
    assert result.returncode == 2 and "results: FOLDER" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2, result.stderr
