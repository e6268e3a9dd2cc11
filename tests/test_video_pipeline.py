"""Videos in the pipeline (issue 37), by the real `snakemake`: a clip with a cut and audio, and a
file that is not a video, in two artworks' styles; segments of 3 frames on the default
coarse-to-fine schedule. One uninterrupted run serves several assertions; a second project is
killed (SIGKILL) in the middle and started again."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from conftest import PHOTO, SNAKEMAKE, make_project, snakemake
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


def project(folder: Path, bad: bool) -> Path:
    workdir = make_project(folder, CONFIG)
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


def test_a_run_killed_in_the_middle_ends_with_the_same_videos_redoing_only_segments_in_flight(finished, tmp_path):
    workdir = project(tmp_path, bad=False)
    env = {**os.environ, "NST_WORKER_DIR": str(tmp_path / "workers")}
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
    for name, mtime in done.items():  # made before the kill: kept, not made again
        assert (segments / name).stat().st_mtime_ns == mtime, name
    uninterrupted = finished[0] / "results" / "stylized"
    for artwork in ARTWORKS:
        resumed = workdir / "results" / "stylized" / artwork / "clip.mp4"
        assert resumed.read_bytes() == (uninterrupted / artwork / "clip.mp4").read_bytes()
