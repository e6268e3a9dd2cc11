# The stylize_segment rule's body (videos.smk): the segment's job as data (nst_core/running/job.py,
# SegmentJob), in a job file beside its log (`nst video --job FILE` runs it again by hand), run in
# this slot's warm worker.
import json
import os
import sys

s = snakemake  # noqa: F821 (given by Snakemake's script directive)
os.environ["OMP_NUM_THREADS"] = str(s.threads)  # the worker's slots and threads follow it

from nst_core import worker  # noqa: E402 (a light client: the standard library only)

artworks = [
    {"name": name, "targets": targets, "output": output, "settings": overrides}
    for (name, overrides), targets, output in zip(s.params.artworks.items(), s.input.targets, s.output.frames)
]
previous = [path for path in s.input.previous if path.endswith(".mp4")]
job = {
    "video": s.input.video,
    "plan": s.input.plan,
    "segment": int(s.wildcards.segment),
    "settings": s.params.settings,
    "artworks": artworks,
    "previous": previous,
}
with open(s.log.job, "w", encoding="utf-8") as file:
    json.dump(job, file, indent=1)
sys.exit(worker.run(["video", "--job", s.log.job, "--log", s.log.run]))
