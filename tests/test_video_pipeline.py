"""Videos in the pipeline (issue 37), by the real `snakemake`: a clip with a cut and audio, and a
file that is not a video, in two artworks' styles; segments of 3 frames on the default
coarse-to-fine schedule. One uninterrupted run serves several assertions; a second project is
killed (SIGKILL) in the middle and started again."""

import csv
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import av
import numpy as np
import pytest
from PIL import Image

from conftest import CHROMIUM, PHOTO, SNAKEMAKE, make_project, needs_a_browser, snakemake, sync_playwright
from nst_core.video import video_files

SOURCE = Path(__file__).parent.parent / "demo" / "videos" / "bigbuckbunny.mp4"
CONFIG = {
    "videos": ["videos/*.mp4"],
    "artworks": {"starry": "art/starry_night.jpg", "scream": {"image": "art/the_scream.jpg", "style_weight": 2.0}},
    "nst": {
        "size": 48,
        "min_size": 32,
        "iterations": 4,
        "coarse_iterations": 2,
        "frame_iterations": 3,
        "segment_frames": 3,
        "device": "cpu",
        "precision": "fp32",
    },
    "sheets": {"cell": 32},
}
ARTWORKS = ("starry", "scream")
CUT = 7  # the clip's first frame of its second shot


def make_clip(path: Path) -> None:
    """Seven frames of Big Buck Bunny, then a cut to four of a photo panning left, 25 fps, with
    Big Buck Bunny's audio."""
    bunny = video_files.scan(str(SOURCE))
    size = (80, 44)
    shot = list(video_files.frames(bunny, size, 38, CUT))
    photo = Image.open(PHOTO).convert("RGB").resize((100, 60))
    shot += [photo.crop((2 * n, 8, 2 * n + 80, 52)) for n in range(4)]
    video_files.write_video(shot, bunny, str(path), first=38)


def project(folder: Path, bad: bool, **more) -> Path:
    workdir = make_project(folder, {**CONFIG, **more})
    if "photos" not in more:
        shutil.rmtree(workdir / "photos")
    (workdir / "videos").mkdir()
    make_clip(workdir / "videos" / "clip.mp4")
    if bad:
        (workdir / "videos" / "bad.mp4").write_text("not a video\n")
    return workdir


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = project(tmp_path_factory.mktemp("videos"), bad=True)
    result = snakemake(workdir, "--keep-going")
    return workdir, result


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def audio_packets(path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(packet) for packet in container.demux(audio=0) if packet.size]


def test_each_artworks_video_has_every_frame_at_its_time_with_the_audio(finished):
    workdir, result = finished
    source = video_files.scan(str(workdir / "videos" / "clip.mp4"))
    assert source.cuts == (CUT,)
    for artwork in ARTWORKS:
        output = workdir / "results" / "stylized" / artwork / "clip.mp4"
        made = video_files.scan(str(output))
        assert (made.width, made.height, made.frames) == (48, 26, 11), result.stdout + result.stderr
        assert made.times == pytest.approx(source.times, abs=1e-3)
        assert audio_packets(output) == audio_packets(workdir / "videos" / "clip.mp4")
    starry, scream = (decoded(workdir / "results" / "stylized" / a / "clip.mp4") for a in ARTWORKS)
    assert not np.array_equal(starry[0], scream[0])
    said = result.stdout + result.stderr  # a line per frame, counting the run's frames (the clip's, planned in the run)
    assert "clip.mp4: frame 11 of 11 in 2 artworks' styles" in said and "· 11 of 11 frames" in said, said[-3000:]
    with Image.open(workdir / "results" / "sheets" / "videos" / "clip.jpg") as sheet:  # 3 rows of frames
        assert sheet.width > 4 * 32 and sheet.height > 3 * 26


def test_segments_end_at_the_cut_and_go_on_from_each_other_within_a_shot(finished):
    workdir, _ = finished
    plan = json.loads((workdir / "results" / "videos" / "clip" / "plan.json").read_text())
    parts = [(part["first"], part["count"], part["continues"]) for part in plan["segments"]]
    assert parts == [(0, 3, False), (3, 3, True), (6, 1, True), (7, 3, False), (10, 1, True)]
    job = json.loads((workdir / "results" / "logs" / "videos" / "clip" / "1.job").read_text())
    assert job["previous"] == [f"results/videos/clip/{artwork['name']}/0.mp4" for artwork in job["artworks"]]
    assert json.loads((workdir / "results" / "logs" / "videos" / "clip" / "3.job").read_text())["previous"] == []


def test_a_file_that_is_not_a_video_is_one_line_and_costs_only_its_own_results(finished):
    workdir, result = finished
    assert result.returncode != 0
    said = result.stdout + result.stderr
    assert said.count("bad.mp4: not a video FFmpeg can read") == 1, said[-3000:]
    assert "Traceback" not in said
    for artwork in ARTWORKS:
        assert not (workdir / "results" / "stylized" / artwork / "bad.mp4").exists()
        assert (workdir / "results" / "stylized" / artwork / "clip.mp4").is_file()


def test_by_artwork_each_artworks_frames_are_a_chain_of_jobs_of_their_own_and_the_same_frames(finished, tmp_path):
    """video_jobs: by_artwork, in a batch of photos and a video with a name that HTML and URLs
    treat specially."""
    workdir = project(tmp_path, bad=False, video_jobs="by_artwork", photos=["photos/*"])
    name = "café #1 it's"
    (workdir / "videos" / "clip.mp4").rename(workdir / "videos" / f"{name}.mp4")
    result = snakemake(workdir, "--resources", "gpu=2")  # two chains side by side, as on two GPUs
    assert result.returncode == 0, result.stdout + result.stderr
    logs = workdir / "results" / "logs" / "videos" / name
    for artwork in ARTWORKS:  # a job per segment and artwork, going on from its own artwork's segment
        job = json.loads((logs / artwork / "1.job").read_text())
        assert [a["name"] for a in job["artworks"]] == [artwork]
        assert job["previous"] == [f"results/videos/{name}/{artwork}/0.mp4"]
        made = workdir / "results" / "stylized" / artwork / f"{name}.mp4"
        assert made.read_bytes() == (finished[0] / "results" / "stylized" / artwork / "clip.mp4").read_bytes()
    said = result.stdout + result.stderr
    assert "frame 11 of 11 in its artwork's style" in said and "· 22 of 22 frames" in said, said[-3000:]
    assert "· 4 of 4 images" in said  # the photos counted apart
    with open(workdir / "results" / "quality.tsv", newline="") as table:
        rows = list(csv.DictReader(table, delimiter="\t"))
    assert sorted((row["photo"], row["frames"] != "") for row in rows) == sorted(
        [(photo, False) for photo in ("chelsea", "tubingen") for _ in ARTWORKS] + [(name, True)] * 2
    )
    gallery = workdir / "results" / "gallery"
    index = (gallery / "index.html").read_text()
    assert "2 photos and 1 video ×" in index and 'href="videos/caf%C3%A9%20%231%20it%27s.html"' in index
    page = (gallery / "videos" / f"{name}.html").read_text()
    assert 'src="../../stylized/starry/caf%C3%A9%20%231%20it%27s.mp4"' in page and "café #1 it&#x27;s" in page
    assert (gallery / "videos" / f"{name}.mp4").is_file() and (gallery / "quality" / "videos" / f"{name}.js").is_file()


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """A second project (no bad file) killed with SIGKILL after its first segment and started
    again: its folder, and the segments' files made before the kill (name -> mtime)."""
    folder = tmp_path_factory.mktemp("killed")
    workdir = project(folder, bad=False)
    env = {**os.environ, "NST_WORKER_DIR": str(folder / "workers")}
    segments = workdir / "results" / "videos" / "clip" / "starry"
    run = subprocess.Popen(
        [str(SNAKEMAKE), "--cores", "1"], cwd=workdir, env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not (segments / "1.mp4").exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run.poll() is None
    os.killpg(run.pid, signal.SIGKILL)  # snakemake and its jobs, as a cluster kill would
    run.wait()
    time.sleep(0.5)  # a worker may still finish the segment it was given: it writes atomically
    done = {path.name: path.stat().st_mtime_ns for path in segments.glob("*.mp4")}
    assert "0.mp4" in done and len(done) < 5
    assert not (workdir / "results" / "stylized" / "starry" / "clip.mp4").exists()
    assert snakemake(workdir, "--unlock", env=env).returncode == 0
    again = snakemake(workdir, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    return workdir, done


def test_a_run_killed_in_the_middle_ends_with_the_same_videos_redoing_only_segments_in_flight(finished, resumed):
    workdir, done = resumed
    segments = workdir / "results" / "videos" / "clip" / "starry"
    for name, mtime in done.items():  # made before the kill: kept, not made again
        assert (segments / name).stat().st_mtime_ns == mtime, name
    uninterrupted = finished[0] / "results" / "stylized"
    for artwork in ARTWORKS:
        resumed_video = workdir / "results" / "stylized" / artwork / "clip.mp4"
        assert resumed_video.read_bytes() == (uninterrupted / artwork / "clip.mp4").read_bytes()


def test_the_quality_table_has_a_row_per_video_and_artwork_with_its_warping_error(resumed):
    workdir, _ = resumed
    with open(workdir / "results" / "quality.tsv", newline="") as table:
        rows = {row["artwork"]: row for row in csv.DictReader(table, delimiter="\t") if row["photo"] == "clip"}
    assert set(rows) == set(ARTWORKS)
    for artwork, row in rows.items():
        records = sorted((workdir / "results" / "videos" / "clip" / artwork).glob("*.scores.json"))
        frames = [frame for record in records for frame in json.loads(record.read_text())["frames"]]
        assert row["frames"] == "11" == str(len(frames)) and (row["width"], row["height"]) == ("48", "26")
        assert float(row["style"]) == pytest.approx(sum(f["style"] for f in frames) / 11, rel=1e-3)
        warps = [f["warp"] for f in frames if f["warp"] is not None]  # none at the first frame, nor at the cut
        assert len(warps) == 9 and float(row["warping_error"]) == pytest.approx(sum(warps) / 9, rel=1e-3)
        assert 0 < float(row["content"]) < 1 and row["device"] == "cpu" and row["precision"] == "fp32"
    assert rows["scream"]["style_weight"] == "2" and rows["starry"]["style_weight"] == "1"


@needs_a_browser
def test_the_gallerys_page_of_a_video_plays_the_source_and_its_results_in_step(resumed):
    workdir, _ = resumed
    gallery = workdir / "results" / "gallery"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]
        )
        page = browser.new_page()
        errors = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((gallery / "index.html").as_uri(), wait_until="load")
        page.click("text=clip")
        page.wait_for_function("[...document.querySelectorAll('video')].every(v => v.readyState >= 2)", timeout=20000)
        videos = page.evaluate(
            "[...document.querySelectorAll('video')].map(v => [v.currentSrc, v.duration, v.videoWidth, v.videoHeight])"
        )
        shown = page.evaluate("[...document.querySelectorAll('figure[data-artwork]')].map(f => f.dataset.artwork)")
        assert sorted(shown) == sorted(ARTWORKS)
        played = [Path(unquote(urlparse(src).path)).relative_to(workdir / "results") for src, *_ in videos]
        assert [path.as_posix() for path in played] == [
            "gallery/videos/clip.mp4",
            *(f"stylized/{artwork}/clip.mp4" for artwork in shown),
        ]
        assert all((width, height) == (48, 26) for *_, width, height in videos)
        assert max(d for _, d, *_ in videos) - min(d for _, d, *_ in videos) < 0.05
        page.click("#play")
        page.wait_for_function("document.querySelector('video').currentTime > 0.2", timeout=20000)
        assert page.evaluate("[...document.querySelectorAll('video')].every(v => !v.paused)")  # all play
        page.evaluate("document.querySelector('video').pause()")  # the results follow the source
        page.wait_for_function("[...document.querySelectorAll('video')].every(v => v.paused)", timeout=5000)
        lead, *rest = page.evaluate("[...document.querySelectorAll('video')].map(v => v.currentTime)")
        duration = videos[0][1]
        apart = [min(abs(t - lead), duration - abs(t - lead)) for t in rest]  # the clip loops
        assert max(apart) < 0.15, (lead, rest)
        scores = page.evaluate("[...document.querySelectorAll('figure[data-artwork] .scores')].map(s => s.textContent)")
        assert len(scores) == 2 and all("warping error" in text for text in scores), scores
        assert not errors, errors
        browser.close()
