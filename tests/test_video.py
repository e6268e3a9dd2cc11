"""Videos (issue 37): files read and written (audio kept, rotation, odd sizes, variable rate,
bad input), the optical flow's warp and mask, and runs of frames in several artworks' styles on
the default coarse-to-fine schedule: continued across a boundary, started afresh at a cut, held
by the temporal loss (CPU, fp32)."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import STYLE, STYLE2, tiny
from nst_core.core.objective import ImageWeights, Predecessor
from nst_core.core.transfer import StyleTransfer
from nst_core.errors import NSTError
from nst_core.files.tensors import SourceImage, pil_to_tensor
from nst_core.video import flow, video_files
from nst_core.video.sequence import Carried, predecessor, stylize_frames

VIDEO = Path(__file__).parent.parent / "demo" / "videos" / "bigbuckbunny.mp4"
# The default coarse-to-fine schedule (32, 45, 64 px) at a few steps; a frame's own steps fewer.
SETTINGS = dict(size=64, min_size=32, iterations=6, coarse_iterations=3, frame_iterations=4, precision="fp32")


def texture(height, width, seed=0) -> np.ndarray:
    """Smooth random RGB texture (the flow needs something to follow)."""
    noise = np.random.default_rng(seed).random((height // 4 + 2, width // 4 + 2, 3))
    big = Image.fromarray((noise * 255).astype(np.uint8)).resize((width + 8, height + 8), Image.Resampling.BICUBIC)
    return np.asarray(big)[4 : 4 + height, 4 : 4 + width].copy()


def write(path, pictures, times=None, rotation=0, codec="libx264", rate=25):
    """A video of these [H, W, 3] uint8 pictures (times: each one's, in seconds)."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = pictures[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        for number, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = round((times[number] if times else number / rate) * 1000)
            frame.time_base = stream.time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return str(path)


def as_tensor(picture) -> torch.Tensor:
    return pil_to_tensor(Image.fromarray(picture) if isinstance(picture, np.ndarray) else picture)


# Files


def test_stylized_frames_are_written_with_the_sources_audio_at_its_times(tmp_path):
    video = video_files.scan(str(VIDEO))
    assert (video.width, video.height, video.frames, video.rate, video.audio) == (1280, 720, 132, 25, True)
    size = video.frame_size(64)
    assert size == (64, 36)
    images = list(video_files.frames(video, size))
    assert len(images) == 132 and images[0].size == size
    output = str(tmp_path / "out.mp4")
    assert video_files.write_video(images, video, output) == 132
    written = video_files.scan(output)
    assert (written.width, written.height, written.frames, written.audio) == (64, 36, 132, True)
    assert written.times == pytest.approx(video.times, abs=1e-3)
    with av.open(str(VIDEO)) as source, av.open(output) as result:
        packets = [[bytes(p) for p in c.demux(audio=0) if p.size] for c in (source, result)]
        assert packets[0] == packets[1]  # the audio copied untouched, not re-encoded
    # a segment's frames start at its own first frame's time
    video_files.write_video(images[100:110], video, output, first=100, audio=False)
    written = video_files.scan(output)
    assert written.frames == 10 and not written.audio
    assert written.times == pytest.approx([t - video.times[100] for t in video.times[100:110]], abs=1e-3)


def test_a_rotated_phone_video_is_read_upright(tmp_path):
    picture = np.zeros((32, 48, 3), np.uint8)
    picture[:, :8] = 255  # a white strip on the left, as stored
    path = write(tmp_path / "phone.mp4", [picture] * 3, rotation=90)
    video = video_files.scan(path)
    assert (video.width, video.height, video.rotation) == (32, 48, 90)
    (first, *_) = video_files.frames(video, (32, 48))
    upright = np.asarray(first).mean(2)
    assert upright[-8:].mean() > 200 and upright[:-8].mean() < 50  # turned 90 degrees anticlockwise: at the bottom


def test_odd_sizes_give_even_frames_and_a_variable_rate_keeps_its_times(tmp_path):
    pictures = [texture(34, 50, seed) for seed in range(4)]
    times = [0.0, 0.04, 0.2, 0.24]  # a pause, as phones record
    path = write(tmp_path / "odd.mp4", pictures, times)
    video = video_files.scan(path)
    assert video.variable_rate and video.times == pytest.approx(times, abs=1e-3)
    assert video.frame_size(25) == (25, 16)  # 25 x 17: the short side even, the long one cropped on writing
    output = str(tmp_path / "out.mp4")
    video_files.write_video(video_files.frames(video, video.frame_size(25)), video, output)
    written = video_files.scan(output)
    assert (written.width, written.height) == (24, 16) and written.times == pytest.approx(times, abs=1e-3)


@pytest.mark.parametrize(
    "kind, problem",
    [
        ("text", "not a video FFmpeg can read"),
        ("empty", "not a video FFmpeg can read"),
        ("image", "is a still image, not a video"),
        ("audio only", "has no video stream"),
        ("damaged", "cannot be decoded"),
        ("tiny", "videos need at least 16 px a side"),
        ("folder", "is a directory"),
        ("missing", "no such file"),
    ],
)
def test_bad_videos_are_one_line_naming_the_file(tmp_path, kind, problem):
    path = tmp_path / f"{kind}.mp4"
    data = VIDEO.read_bytes()
    if kind == "text":
        path.write_text("not a video\n" * 20)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "image":
        path = tmp_path / "still.png"
        Image.fromarray(texture(20, 20)).save(path)
    elif kind == "audio only":
        with av.open(str(VIDEO)) as source, av.open(str(path), "w", format="mp4") as container:
            stream = container.add_stream_from_template(source.streams.audio[0])
            for packet in source.demux(audio=0):
                if packet.dts is not None:
                    packet.stream = stream
                    container.mux(packet)
    elif kind == "damaged":
        path.write_bytes(data[:400_000] + bytes(100_000) + data[500_000:])  # zeros over frames 40-60
    elif kind == "tiny":
        write(path, [texture(12, 40)] * 2)
    elif kind == "folder":
        path.mkdir()
    with pytest.raises(NSTError) as raised:
        video_files.scan(str(path))
    line = str(raised.value)
    assert line.startswith(str(path)) and problem in line and "\n" not in line


# Flow


@pytest.fixture(scope="module")
def shifted():
    """Two frames of one texture, the second moved 3 px to the right."""
    picture = texture(48, 80)
    return Image.fromarray(picture[:, 10:74]), Image.fromarray(picture[:, 7:71])


def test_the_flow_follows_a_known_shift_and_the_warp_undoes_it(shifted):
    before, after = shifted
    forward, backward = flow.flow(before, after), flow.flow(after, before)
    inner = (slice(None), slice(8, -8), slice(8, -8))
    assert forward[inner].mean((1, 2)).tolist() == pytest.approx([3, 0], abs=0.1)
    assert backward[inner].mean((1, 2)).tolist() == pytest.approx([-3, 0], abs=0.1)
    warped = flow.warp(as_tensor(before), backward)
    assert (
        (warped - as_tensor(after))[..., 4:-4, 4:-4].abs().mean()
        < 0.01
        < (as_tensor(before) - as_tensor(after)).abs().mean()
    )
    mask = flow.reliable(forward, backward)[0, 0]
    assert mask[:, :3].sum() == 0  # the columns that came in from outside the frame
    assert mask[4:-4, 6:-4].mean() > 0.95


def test_the_mask_frees_what_a_moving_square_uncovers():
    background = texture(48, 64, seed=1)
    square = texture(16, 16, seed=2)
    before, after = background.copy(), background.copy()
    before[16:32, 16:32] = square
    after[16:32, 22:38] = square  # moved 6 px right: columns 16-21 of the background reappear
    first, second = Image.fromarray(before), Image.fromarray(after)
    mask = flow.reliable(flow.flow(first, second), flow.flow(second, first))[0, 0]
    uncovered = mask[18:30, 16:21]
    assert uncovered.mean() < 0.5
    assert mask[2:12, 40:60].mean() > 0.9 and mask[36:46, 4:60].mean() > 0.9  # still background


# Runs of frames


@pytest.fixture(scope="module")
def clip():
    """Four real frames at 64 px (the motion's peak), the transfer and two artworks' targets."""
    video = video_files.scan(str(VIDEO))
    images = list(video_files.frames(video, video.frame_size(64), 37, 4))
    transfer = StyleTransfer(tiny(**SETTINGS))
    targets = [transfer.make_targets([str(style)]) for style in (STYLE, STYLE2)]
    return list(enumerate(images, start=37)), transfer, targets


def run(clip, frames, **options):
    _, transfer, targets = clip
    weights = ImageWeights.of([transfer.settings] * len(targets))
    made = list(stylize_frames(transfer, frames, targets, weights, "clip", **options))
    for _, results in made:
        assert not any(isinstance(result, NSTError) for result in results)
    return [torch.cat(results) for _, results in made]


@pytest.fixture(scope="module")
def whole(clip):
    return run(clip, clip[0])


@pytest.fixture(scope="module")
def alone(clip):
    """The third frame stylized as a photo."""
    return run(clip, clip[0][2:3])[0]


def test_a_run_continued_across_a_boundary_is_the_uninterrupted_one(clip, whole, alone, images_alone):
    frames = clip[0]
    tail = run(clip, frames[2:], carried=Carried(frames[1][1], whole[1]))
    assert torch.equal(whole[2], tail[0]) and torch.equal(whole[3], tail[1])
    assert not torch.equal(whole[2], alone)  # where it goes on from matters


def test_a_cut_starts_afresh_as_a_photo_would(clip, whole, alone, images_alone):
    frames = clip[0]
    cut = run(clip, frames[2:], cuts={39}, carried=Carried(frames[1][1], whole[1]))
    assert torch.equal(cut[0], alone)
    assert not torch.equal(cut[1], whole[3])  # the next frame goes on from the cut's


def test_the_temporal_loss_holds_a_frame_to_its_warped_predecessor_where_the_mask_trusts_it(clip, whole):
    frames, transfer, targets = clip
    previous = predecessor(Carried(frames[0][1], whole[0]), frames[1][1])
    assert 0.5 < float(previous.mask.mean()) < 1  # some pixels are let go
    frame = SourceImage("clip frame 38", frames[1][1], "")

    def distance(weight, mask):
        settings = transfer.settings.replace(temporal_weight=weight, frame_iterations=20)
        weights = ImageWeights.of([settings] * len(targets))
        made = torch.cat(
            StyleTransfer(settings).next_frame(frame, Predecessor(previous.images, mask), targets, weights)
        )
        return float((previous.mask * (made - previous.images).pow(2)).mean())

    free, held = distance(0.0, previous.mask), distance(1e6, previous.mask)
    assert held < free / 4
    assert distance(1e6, torch.zeros_like(previous.mask)) == pytest.approx(free, rel=1e-6)  # nothing trusted: free


# The command


def test_nst_video_makes_the_video_with_its_audio_and_a_bad_one_is_one_line(tmp_path, cli):
    video = video_files.scan(str(VIDEO))
    clip = str(tmp_path / "clip.mp4")
    video_files.write_video(video_files.frames(video, (64, 36), 40, 4), video, clip, first=40)
    output = tmp_path / "out.mp4"
    settings = ["--size", "48", "--min-size", "32", "--iterations", "4", "--coarse-iterations", "2"]
    settings += ["--frame-iterations", "2", "--segment-frames", "3", "--precision", "fp32", "--device", "cpu"]
    code, _, err = cli("video", clip, "--style", STYLE, "--output", output, *settings)
    assert code == 0, err
    made = video_files.scan(str(output))
    assert (made.width, made.height, made.frames, made.audio) == (48, 26, 4, True)
    assert "wrote" in err and "warping error" in err
    assert "clip.mp4: frame 4 of 4 in its artwork's style" in err  # a line per frame
    (tmp_path / "bad.mp4").write_text("not a video")
    code, _, err = cli("video", tmp_path / "bad.mp4", "--style", STYLE, "--output", tmp_path / "x.mp4", *settings)
    (line,) = err.strip().splitlines()
    problem = "not a video FFmpeg can read (Invalid data found when processing input)"
    assert code == 2 and line.endswith(f"bad.mp4: {problem}")
    assert not (tmp_path / "x.mp4").exists()
