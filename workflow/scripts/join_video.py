# The join_video rule's body (videos.smk): an artwork's video of its segments' frames (copied as
# they are) and the source's audio, and its measures over every frame, in its log.
import sys

s = snakemake  # noqa: F821 (given by Snakemake's script directive)

from nst_core.errors import NSTError  # noqa: E402
from nst_core.running.video_join import JoinJob, run_join  # noqa: E402

segments = tuple(path for path in s.input.segments if path.endswith(".mp4"))
with open(s.log[0], "w", encoding="utf-8") as log:
    try:
        measures = run_join(JoinJob(s.input.video, s.input.plan, segments, s.output.video, s.output.record))
    except NSTError as error:
        for out in (log, sys.stderr):
            print(f"nst video: error: {error}", file=out)
        sys.exit(2)
    print(
        f"{s.output.video}: {measures['frames']} frames; style {measures['style']:.4f}, content "
        f"{measures['content']:.4f}, warping error {measures['warping_error']:.5f}, "
        f"{measures['seconds_per_frame']} s a frame",
        file=log,
    )
