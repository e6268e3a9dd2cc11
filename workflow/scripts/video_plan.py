# The video_plan rule's body (videos.smk): scan the video once (every frame decoded: a video that
# cannot be stylized fails here, one line naming it, before any segment), cut it into segments.
import sys

s = snakemake  # noqa: F821 (given by Snakemake's script directive)

from nst_core.errors import NSTError  # noqa: E402
from nst_core.running import progress  # noqa: E402
from nst_core.running.video_join import make_plan  # noqa: E402

with open(s.log[0], "w", encoding="utf-8") as log:
    try:
        video, parts = make_plan(s.input.video, s.output[0], s.params.segment_frames)
    except NSTError as error:
        for out in (log, sys.stderr):
            print(f"nst video: error: {error}", file=out)
        sys.exit(2)
    progress.frames_planned(video.frames * s.params.chains)  # its frames, for the run's lines
    cuts = f", cuts before frames {', '.join(str(c + 1) for c in video.cuts)}" if video.cuts else ""
    notes = [f"rotated {video.rotation} degrees: stylized upright"] if video.rotation else []
    notes += ["variable frame rate: each frame kept at its own time"] if video.variable_rate else []
    line = f"{s.input.video}: {video.frames} frames, {video.width}x{video.height}, {float(video.rate):g} fps{cuts}"
    line += f"; {len(parts)} segments" + "".join(f"; {note}" for note in notes)
    print(line, file=log)
