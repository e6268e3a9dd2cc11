# The stylize rule's body (stylize.smk): the photo's job as data (nst_core/running/job.py), in a job file
# beside its log (`nst stylize --job FILE` runs it again by hand), run in this slot's warm worker.
import json
import os
import sys

s = snakemake  # noqa: F821 (given by Snakemake's script directive)
os.environ["OMP_NUM_THREADS"] = str(s.threads)  # the worker's slots and threads follow it

from nst_core import worker  # noqa: E402 (a light client: the standard library only)

targets, paintings = iter(s.input.targets), iter(s.input.paintings)
artworks = []
for (name, artwork), image in zip(s.params.artworks.items(), s.output.images):
    entry = {"name": name, "output": image, "settings": artwork["settings"]}
    entry["thumbnail"] = f"{s.output.thumbnails}/{artwork['thumbnail']}"
    if artwork["targets_per_photo"]:  # its paintings: the targets depend on the photo
        entry["styles"] = [next(paintings) for _ in range(artwork["paintings"])]
        entry["blend"] = artwork["blend"]
    else:
        entry["targets"] = next(targets)
    artworks.append(entry)
job = {
    "photo": s.input.photo,
    "settings": s.params.settings,
    "artworks": artworks,
    "batch": s.params.batch,
    "skip_unchanged": True,
    "record": s.output.record,
    "photo_thumbnail": f"{s.output.thumbnails}/{s.params.photo_thumbnail}",
    "thumbnail_side": s.params.side,
}
with open(s.log.job, "w", encoding="utf-8") as file:
    json.dump(job, file, indent=1)
sys.exit(worker.run(["stylize", "--job", s.log.job, "--log", s.log.run]))
