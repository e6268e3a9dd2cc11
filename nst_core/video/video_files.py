"""Video files: what a video holds (scan), its frames as upright RGB Pillow images at the output
size (frames), and stylized frames written as H.264 in MP4 with the source's audio (write_video).
PyAV (`av`) ships FFmpeg in its wheels, libx264 and AAC included: nothing to install or download.
No torch here: the pipeline reads this module while planning.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from PIL import Image

from ..errors import NSTError
from ..files.image_files import MIN_SOURCE_SIDE, fit_long_side
from ..files.storage import streamed, write_atomic

# A frame-to-frame gap this far from the median gap makes the rate variable (phones).
VARIABLE_RATE = 0.1  # a share of the median gap
# A cut: consecutive frames whose hue, saturation and value differ by more than this on average
# (0-255, at CUT_SIDE px), as PySceneDetect's content detector judges (its default: 27). Within
# the demo's shot the largest is 4.4, at its fastest motion; across a cut to a photo, 64.
CUT_SCORE, CUT_SIDE = 30.0, 64
TIME_BASE = Fraction(1, 90000)  # of the frames written: MPEG's clock, exact for 24, 25, 30000/1001 fps
CRF = 18  # libx264's constant rate factor: visually lossless for stylized frames
# No B-frames: each packet is decoded when shown (dts = pts), so segments encoded apart join
# one after another with their times moved on, in order (B-frames shift the decoding times back).


@dataclass(frozen=True)
class Video:
    """What a video holds, as stylizing it needs: its upright frame size (rotation applied),
    the time of each frame (seconds from the first), its average rate, rotation (degrees
    counter-clockwise, as the display matrix says), whether it has audio, and the frames that
    begin a new shot (cuts: the first frame's index after each cut)."""

    path: str
    width: int
    height: int
    times: tuple[float, ...]
    rate: Fraction
    rotation: int
    audio: bool
    cuts: tuple[int, ...] = ()
    start: float = 0.0  # the first frame's time in the file (the times are from it)

    @property
    def frames(self) -> int:
        return len(self.times)

    @property
    def variable_rate(self) -> bool:
        gaps = np.diff(self.times)
        if len(gaps) < 2:
            return False
        median = float(np.median(gaps))
        return bool(np.abs(gaps - median).max() > VARIABLE_RATE * median)

    def frame_size(self, long_side: int) -> tuple[int, int]:
        """(width, height) of its frames stylized at this long side: the long side as it is (an
        artwork's Gram targets are made for it), the short one even, aspect kept to within a
        pixel. write_video crops an odd long side by one pixel (H.264's 4:2:0 needs even sides)."""
        width, height = fit_long_side((self.width, self.height), long_side)
        if width >= height:
            return width, max(2, height - height % 2)
        return max(2, width - width % 2), height


@contextlib.contextmanager
def _opened(path: str):
    """The container, from a local file or any fsspec URL (read as it goes, not whole)."""
    with streamed(path) as source, contextlib.ExitStack() as stack:
        try:
            container = stack.enter_context(av.open(source, metadata_errors="ignore"))
        except av.error.FFmpegError as error:
            raise NSTError(f"not a video FFmpeg can read ({error.strerror})", path=path) from None
        if container.format.name == "image2" or container.format.name.endswith("_pipe"):
            raise NSTError("is a still image, not a video (photos go under photos:)", path=path)
        if not container.streams.video:
            raise NSTError("has no video stream", path=path)
        yield container


def _upright(frame: av.VideoFrame) -> np.ndarray:
    """The frame as [H, W, 3] RGB, turned as its display matrix says."""
    pixels = frame.to_ndarray(format="rgb24")
    turns = round((frame.rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels


def _decoded(container, path: str):
    """Each frame of the first video stream; a frame that cannot be decoded is an NSTError."""
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    count = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for frame in container.decode(stream):
                count += 1
                yield frame
    except av.error.FFmpegError as error:
        raise NSTError(f"frame {count + 1} cannot be decoded ({error.strerror})", path=path) from None


def scan(path: str) -> Video:
    """Decode every frame once: what the video holds, or an NSTError naming the file (not a
    video, no video stream, a frame that cannot be decoded, fewer frames than it says it has,
    frames too small to stylize)."""
    with _opened(path) as container:
        stream = container.streams.video[0]
        declared = stream.frames
        times, rotation, size, cuts, last = [], 0, None, [], None
        for frame in _decoded(container, path):
            if frame.time is None:
                continue  # no timestamp: not shown
            small = _hsv(frame)
            if last is not None and np.abs(small - last).mean() > CUT_SCORE:
                cuts.append(len(times))
            times.append(float(frame.time))
            rotation, size, last = frame.rotation or 0, (frame.width, frame.height), small
        audio = bool(container.streams.audio)
    if not times:
        raise NSTError("has no frames that decode", path=path)
    if declared and len(times) < declared:
        raise NSTError(f"only {len(times)} of its {declared} frames decode", path=path)
    width, height = size if rotation % 180 == 0 else size[::-1]
    if min(width, height) < MIN_SOURCE_SIDE:
        raise NSTError(f"frames are {width}x{height} px; videos need at least {MIN_SOURCE_SIDE} px a side", path=path)
    start = times[0]
    times = tuple(t - start for t in times)
    span = times[-1] if len(times) > 1 else 0.0
    rate = Fraction(len(times) - 1, 1) / Fraction(span).limit_denominator(1 << 20) if span else Fraction(25)
    rate = rate.limit_denominator(1001)
    return Video(str(path), width, height, times, rate, rotation % 360, audio, tuple(cuts), start)


def _hsv(frame: av.VideoFrame) -> np.ndarray:
    """The frame, small, in hue, saturation and value (what a cut is judged on)."""
    width, height = fit_long_side((frame.width, frame.height), CUT_SIDE)
    small = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
    return np.asarray(Image.fromarray(small).convert("HSV"), dtype=np.int16)


def frames(video: Video, size: tuple[int, int], first: int = 0, count: int | None = None):
    """Frames first, first + 1, ... (at most count) of the video as upright RGB images of this
    (width, height), in order. Decoding starts at the keyframe before the first, not at the
    video's start: a segment late in a long video costs no more than one early."""
    count = video.frames - first if count is None else min(count, video.frames - first)
    if count <= 0:
        return
    wanted = video.start + video.times[first]
    half_gap = min((b - a for a, b in zip(video.times, video.times[1:])), default=1.0) / 2
    with _opened(video.path) as container:
        stream = container.streams.video[0]
        if first:
            container.seek(max(0, int(wanted / stream.time_base)), stream=stream, backward=True, any_frame=False)
        made = 0
        for frame in _decoded(container, video.path):
            if frame.time is None or frame.time < wanted - half_gap:
                continue
            image = Image.fromarray(_upright(frame))
            yield image.resize(size, Image.Resampling.LANCZOS) if image.size != size else image
            made += 1
            if made == count:
                return
    raise NSTError(f"frames {first + made + 1}-{first + count} did not decode as the scan found them", path=video.path)


def write_video(images, video: Video, output: str, first: int = 0, audio: bool = True) -> int:
    """Encode images (upright RGB Pillow images of one even size), shown at the times of the
    video's frames first, first + 1, ..., as H.264 (yuv420p) in MP4, with the video's audio
    copied untouched (audio=True and the video has audio); written atomically. Returns the
    number of frames written."""
    images = (_even(image) for image in images)
    image = next(images, None)
    if image is None:
        raise NSTError("no frames to write", path=output)
    buffer, count = io.BytesIO(), 0
    with av.open(buffer, "w", format="mp4") as container, contextlib.ExitStack() as stack:
        stream = container.add_stream("libx264", rate=video.rate, options={"crf": str(CRF), "bf": "0"})
        stream.width, stream.height, stream.pix_fmt = *image.size, "yuv420p"
        stream.time_base = stream.codec_context.time_base = TIME_BASE  # not 1 / rate: times kept as they are
        source = None
        if audio and video.audio:  # every stream before the first packet: the header holds them
            source = stack.enter_context(_opened(video.path))
            sound = container.add_stream_from_template(source.streams.audio[0])
        while image is not None:
            frame = av.VideoFrame.from_ndarray(np.asarray(image.convert("RGB")), format="rgb24")
            frame.pts = round((video.times[first + count] - video.times[first]) / TIME_BASE)
            frame.time_base = TIME_BASE
            container.mux(stream.encode(frame))
            count, image = count + 1, next(images, None)
        container.mux(stream.encode())
        if source is not None:
            for packet in source.demux(source.streams.audio[0]):
                if packet.dts is None:  # the demuxer's flush packet
                    continue
                packet.stream = sound
                container.mux(packet)
    write_atomic(output, buffer.getvalue())
    return count


def write_preview(video: Video, long_side: int, output: str) -> int:
    """The video as browsers play it (H.264 in MP4 with its audio, its frames upright at the
    size its results have), beside them in the gallery; returns the number of frames."""
    return write_video(frames(video, video.frame_size(long_side)), video, output)


def _even(image: Image.Image) -> Image.Image:
    """The image with an odd side cropped by its last pixel (H.264's 4:2:0 needs even sides)."""
    width, height = image.size
    return image if width % 2 == 0 and height % 2 == 0 else image.crop((0, 0, width - width % 2, height - height % 2))


def join(segments, video: Video, output: str, audio: bool = True) -> None:
    """One video of its segments' files (each made by write_video, in order, as (path, its
    first frame's index)), their H.264 packets copied as they are (no second encoding: the
    frames are the segments' to the bit), each at its first frame's time, with the video's
    audio (audio=True and it has audio); written atomically."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container, contextlib.ExitStack() as stack:
        opened = [(stack.enter_context(_opened(path)), first) for path, first in segments]
        if not opened:
            raise NSTError("no segments to join", path=output)
        stream = container.add_stream_from_template(opened[0][0].streams.video[0])
        source = stack.enter_context(_opened(video.path)) if audio and video.audio else None
        sound = container.add_stream_from_template(source.streams.audio[0]) if source else None
        for part, first in opened:
            own = part.streams.video[0]
            offset = round(video.times[first] / own.time_base)
            for packet in part.demux(own):
                if packet.dts is None:
                    continue
                packet.pts, packet.dts, packet.stream = packet.pts + offset, packet.dts + offset, stream
                container.mux(packet)
        if source is not None:
            for packet in source.demux(source.streams.audio[0]):
                if packet.dts is not None:
                    packet.stream = sound
                    container.mux(packet)
    write_atomic(output, buffer.getvalue())
