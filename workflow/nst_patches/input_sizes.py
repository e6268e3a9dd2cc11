"""The scheduler sizes each input of a ready job once, not in every round (Snakemake 9.27).

Before each round of job selection, Snakemake's scheduler asks the size of every input of every
ready job, and whether it exists, again. A round follows each finished job, so a batch of N photos
costs about N*N/2 checks; in S3, two requests each: 149,090 requests for the first 73 of 1,000
photos, measured here. The sizes only rank ready jobs (temporary inputs first), and an input of a
ready job exists, so a size known from an earlier round serves.
"""

import asyncio
import hashlib
import inspect
import sys

WRITTEN_FOR = "3d3d19efdbbe3267"  # sha256 of JobScheduler.update_input_sizes in Snakemake 9.27


def apply():
    from snakemake.scheduling.job_scheduler import JobScheduler

    if getattr(JobScheduler, "nst_input_sizes", False):
        return  # patched already in this process
    source = inspect.getsource(JobScheduler.update_input_sizes)
    if hashlib.sha256(source.encode()).hexdigest()[:16] != WRITTEN_FOR:
        print(
            "Warning: Snakemake's JobScheduler.update_input_sizes is not the one workflow/nst_patches/input_sizes.py"
            " replaces: each round of job selection may check every ready job's inputs again",
            file=sys.stderr,
        )
        return

    async def update_input_sizes(self, jobs):
        """Snakemake's method, sizing only paths it has no size of."""

        async def get_size(path):
            return path, await path.size() if await path.exists() else None

        paths = {path for job in jobs for path in job.input}
        unknown = [path for path in paths if self._input_sizes.get(path) is None]
        if unknown:
            self._input_sizes.update(await asyncio.gather(*map(get_size, unknown)))
        if len(self._input_sizes) > 10000:
            for path in [path for path in self._input_sizes if path not in paths]:
                del self._input_sizes[path]

    JobScheduler.update_input_sizes = update_input_sizes
    JobScheduler.nst_input_sizes = True
