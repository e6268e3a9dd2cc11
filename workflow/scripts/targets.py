# The artwork_targets rule's body (targets.smk): the artwork's targets job as data
# (nst_core/running/job.py), in a job file beside its log (`nst targets --job FILE` runs it again by
# hand), run in this slot's warm worker.
import json
import os
import sys

s = snakemake  # noqa: F821 (given by Snakemake's script directive)
os.environ["OMP_NUM_THREADS"] = str(s.threads)  # the worker's slots and threads follow it

from nst_core import worker  # noqa: E402 (a light client: the standard library only)

job = {"styles": list(s.input.images), "blend": s.params.blend, "settings": s.params.settings, "output": s.output[0]}
with open(s.log.job, "w", encoding="utf-8") as file:
    json.dump(job, file, indent=1)
sys.exit(worker.run(["targets", "--job", s.log.job, "--log", s.log.run]))
