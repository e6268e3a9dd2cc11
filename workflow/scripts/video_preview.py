# The video_preview rule's body (videos.smk): the source video as the gallery's page plays it.
from nst_core.video.plan import load_plan
from nst_core.video.video_files import write_preview

s = snakemake  # noqa: F821 (given by Snakemake's script directive)
video = load_plan(s.input.plan, s.input.video)[0]  # read where this job reads it
count = write_preview(video, s.params.size, s.output[0])
with open(s.log[0], "w", encoding="utf-8") as log:
    print(f"{s.output[0]}: {count} frames", file=log)
