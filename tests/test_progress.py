"""The run's progress ledger: what each image's line says about the run."""

import os

from nst_core.running import progress


def test_each_image_says_how_many_of_the_runs_images_are_done_and_the_time_left(tmp_path, monkeypatch):
    ledger = tmp_path / "ledger"
    monkeypatch.delenv(progress.ENV, raising=False)
    assert progress.image_done(40.0) == "" and not progress.counted()  # not in a counted run
    progress.start(str(ledger), images=16, at_once=2)
    monkeypatch.setenv(progress.ENV, str(ledger))
    # 15 images left at 40 s each, two at once: 300 s
    assert progress.image_done(40.0) == "1 of 16 images, about 5 min left"
    assert progress.image_done(None) == "2 of 16 images"  # an image found up to date: no pace
    assert progress.image_done(2.0) == "3 of 16 images, about 13 s left"
    for _ in range(13):
        progress.image_done(40.0)
    assert progress.image_done(40.0) == "16 of 16 images" == progress.image_done(40.0)
    assert os.path.getsize(ledger) == progress.HEADER + 18  # one byte per image
    progress.start(str(ledger), images=10**9, at_once=10**6, frames=10**9, frames_at_once=10**6)  # headers fit
    assert os.path.getsize(ledger) == os.path.getsize(f"{ledger}{progress.FRAMES}") == progress.HEADER


def test_the_first_job_on_a_machine_says_what_it_runs_on_and_the_others_do_not(tmp_path, monkeypatch):
    ledger = tmp_path / "ledger"
    progress.start(str(ledger), images=4)
    monkeypatch.setenv(progress.ENV, str(ledger))
    assert [progress.first_here() for _ in range(3)] == [True, False, False]


def test_each_frame_says_how_many_of_the_runs_frames_are_done_with_videos_planned_in_the_run(tmp_path, monkeypatch):
    ledger = tmp_path / "ledger"
    monkeypatch.delenv(progress.ENV, raising=False)
    assert progress.frame_done(2.0) == ""
    progress.start(str(ledger), images=2, at_once=4, frames=6, frames_at_once=2)
    monkeypatch.setenv(progress.ENV, str(ledger))
    # 5 frames left at 12 s, two at once (two chains of segments): 30 s
    assert progress.frame_done(12.0) == "1 of 6 frames, about 30 s left"
    progress.frames_planned(4)  # a video planned during the run
    progress.frames_planned(10)
    assert progress.frame_done(12.0) == "2 of 20 frames, about 2 min left"
    assert progress.image_done(None) == "1 of 2 images"  # the images' count is apart
    for _ in range(17):
        progress.frame_done(1.0)
    assert progress.frame_done(1.0) == "20 of 20 frames"
