"""What the pipeline reads of Snakemake that its public API does not offer, in one place, each
with its reason (Snakemake 9.27). Each is guarded: where a Snakemake release moves one, the
pipeline says which with a warning and goes on without it, as far as it can.
"""

import sys


def _missing(what: str, effect: str):
    print(f"Warning: Snakemake has no {what} (workflow/snakemake_internals.py): {effect}", file=sys.stderr)


def configfile_values(workflow):
    """The values of the --configfile files alone, or None without one: a config of one's own
    defines the batch, and Snakemake has already merged the demo's config.yaml under it key by
    key (its artworks would stay in). workflow.config_settings.overwrite_config holds them apart.
    """
    files = getattr(workflow, "overwrite_configfiles", None)
    if not files:
        return None
    try:
        return workflow.config_settings.overwrite_config
    except AttributeError:
        _missing("config_settings.overwrite_config", "config.yaml's artworks and photos stay in the batch")
        return None


def configfiles(workflow) -> list:
    """The --configfile paths given (the last names the batch's results folder)."""
    return list(getattr(workflow, "overwrite_configfiles", None) or [])


def is_main_process(workflow) -> bool:
    """Whether this is the run's planning process, not a job's own parse of the Snakefile:
    checks that cost a moment (decoding paintings) and lines for the user happen once."""
    return getattr(workflow, "is_main_process", True)


def default_storage_prefix(workflow):
    """--default-storage-prefix (results in an object store), or None for local results."""
    settings = getattr(workflow, "storage_settings", None)
    return getattr(settings, "default_storage_prefix", None)


def name_checks():
    """Snakemake's own tests of the names it refuses in a path (a photo's name names its
    results): a {wildcard}, a <path variable>, 20 or more repeats (its periodicity check).
    No public interface asks them. A test that a release has moved passes every name, with a
    warning: Snakemake then refuses such a name when it plans, stopping the run.
    """
    checks = dict.fromkeys(("wildcard", "pathvar", "periodic"), lambda name: False)
    try:
        from snakemake.io import contains_wildcard

        checks["wildcard"] = contains_wildcard
    except ImportError:
        _missing("snakemake.io.contains_wildcard", "photo names with {...} fail at planning")
    try:
        from snakemake.pathvars import PATHVAR_REGEX

        checks["pathvar"] = lambda name: bool(PATHVAR_REGEX.search(name))
    except ImportError:
        _missing("snakemake.pathvars.PATHVAR_REGEX", "photo names with <word> fail at planning")
    try:
        from snakemake.io import PeriodicityDetector

        checks["periodic"] = PeriodicityDetector().is_periodic
    except ImportError:
        _missing("snakemake.io.PeriodicityDetector", "photo names of many repeats fail at planning")
    return checks


def validation_problem(error):
    """jsonschema's ValidationError behind the WorkflowError of snakemake.utils.validate (which
    wraps it, as __context__), to name the key at fault; None where it is not there."""
    problem = error.__context__
    return problem if hasattr(problem, "absolute_path") else None


def jobs_to_run(workflow) -> list | None:
    """The jobs this run will run, each (its rule's name, its wildcards), from the DAG's
    needrun_jobs (Snakemake has no public list), for the progress ledger; None where the DAG no
    longer offers it."""
    try:
        return [(job.rule.name, dict(job.wildcards_dict)) for job in workflow.dag.needrun_jobs()]
    except AttributeError:
        _missing("dag.needrun_jobs()", "image and frame lines give no run-wide progress")
        return None


def jobs_at_once(workflow, threads_per_job: int) -> int:
    """How many jobs run at once: --cores by threads per job here, --jobs on a cluster, and at
    most --resources gpu=N (workflow.cores, local_exec, nodes, global_resources)."""
    try:
        at_once = workflow.cores // threads_per_job if workflow.local_exec else workflow.nodes or 1
        gpus = workflow.global_resources.get("gpu")
    except AttributeError:
        _missing("cores, local_exec, nodes or global_resources", "time left assumes one job at once")
        return 1
    if gpus is not None and isinstance(gpus.value, int):
        at_once = min(at_once, gpus.value)
    return max(1, at_once)
