# One job per photo makes its image for every artwork: Snakemake's planning costs about half a
# millisecond per job, so with ten artworks that is a tenth of the cost of a job per (photo,
# artwork) pair. Its inputs, outputs and params are static patterns and strings, not functions,
# which Snakemake would call once per job; they are built here in one pass over the artworks,
# so each name (targets_i, style_i_j, image_i, options_i) is written once.
#
# Outputs are update(): when an artwork is added or changed, the photo's job runs again but
# keeps the images made from unchanged inputs, which `nst stylize --skip-unchanged` knows by the
# fingerprint it writes. Not for results in object storage: Snakemake cannot back those up
# before the job (it would need their local copies), so there the job makes all its images again.
#
# The job also writes thumbnails of the photo and of each image (a few ms each, from images it
# has at hand) into one folder per photo, at the sheets' cell size: the gallery shows them and the
# sheets are made of them. A job per thumbnail, or an output per thumbnail, would cost planning as
# much as the images themselves.
#
# It is one command: the photo is read once and its artworks are optimised together, as batches
# of images of as many as fit in memory (config: stylize_batch). An artwork that fails (its
# optimisation diverges) fails only its own image, with a line naming it; the job then fails.
STYLIZE_INPUT, STYLIZE_OUTPUT, STYLIZE_PARAMS, STYLIZE_ARTWORKS = {}, {}, {}, []
KEPT = (  # the outputs a rerun of the job keeps when unchanged (above)
    update
    if not workflow.storage_settings.default_storage_prefix
    else lambda path: path
)
STYLIZE_OUTPUT["thumbnails"] = directory(
    f"{RESULTS}/gallery/{nst_gallery.THUMBNAILS}/{{photo}}"
)
# Each image's scores and measures, for the batch's quality table (quality.smk); an image found
# up to date keeps its entry.
STYLIZE_OUTPUT["record"] = KEPT(f"{RESULTS}/quality/{{photo}}.tsv")
for i, art in enumerate(ARTWORKS.values()):
    image, options = f"image_{i}", f"options_{i}"
    gallery = dict(
        caption="../report/stylized.rst",
        category="Stylized",
        subcategory=art.name,
        labels={"photo": "{photo}", "artwork": art.name},
    )
    stylized = report(f"{RESULTS}/stylized/{art.name}/{{photo}}.png", **gallery)
    STYLIZE_OUTPUT[image] = KEPT(stylized)
    if art.targets_per_photo:  # the job makes the photo's targets from the images
        styles = {f"style_{i}_{j}": source_file(p) for j, p in enumerate(art.images)}
        style = " ".join(f"--style {{input.{name}:q}}" for name in styles)
        blend = art.blend_option()
    else:
        targets = f"targets_{i}"
        styles = {targets: f"{RESULTS}/targets/{art.name}.pt"}
        style = f"--targets {{input.{targets}:q}}"
        blend = ""
    STYLIZE_PARAMS[options] = f"{blend} {art.own_options()}".strip()
    STYLIZE_INPUT.update(styles)
    thumbnail = nst_gallery.result_thumbnail_name(art.name)
    STYLIZE_ARTWORKS.append(
        f" --artwork --name {art.name} {style} {{params.{options}}} --output {{output.{image}:q}}"
        f" --thumbnail {{output.thumbnails:q}}/{thumbnail}"
    )
# The console and the log get a line per image as it is written (photo, artwork, seconds, and the
# run's images done and time left), or found up to date.
STYLIZE_COMMAND = (
    "python -m nst_core.worker stylize {params.options} --skip-unchanged --log {log:q}"
    " --record {output.record:q}"
    f" --batch {config['stylize_batch']} --thumbnail-side {config['sheets']['cell']}"
    f" --photo-thumbnail {{output.thumbnails:q}}/{nst_gallery.PHOTO_THUMBNAIL}"
    f" -- {{input.photo:q}}{''.join(STYLIZE_ARTWORKS)}"
)
STYLIZE_PARAMS["options"] = shlex.join(nst_settings.arguments(config["nst"]))

STYLIZE_WHAT = (
    f"its images in {len(ARTWORKS)} artworks' styles"
    if len(ARTWORKS) > 1
    else f"its image in {art.name}'s style"
)


rule stylize:
    input:
        **STYLIZE_INPUT,
        photo=photo_input(),
    output:
        **STYLIZE_OUTPUT,
    log:
        f"{RESULTS}/logs/stylize/{{photo}}.log",
    benchmark:
        f"{RESULTS}/logs/benchmarks/stylize/{{photo}}.tsv"
    conda:
        "../../envs/nst.yaml"
    threads: config["stylize_threads"]
    resources:
        gpu=1,  # `--resources gpu=N` runs N at once, each on its own GPU (worker slots)
    params:
        **STYLIZE_PARAMS,
        code=NST_CORE_CODE,
    message:
        f"stylize {{wildcards.photo}}: {STYLIZE_WHAT} (log: {{log}})"
    shell:
        f"OMP_NUM_THREADS={{threads}} {STYLIZE_COMMAND}"


# The run's progress, for each image's line on the console: a ledger that this run names (its jobs
# inherit the variable) and starts with the number of images its stylize jobs make. It is local
# working state, beside Snakemake's own (results may be in a bucket). Snakemake has no public
# count of the jobs it will run: its DAG's needrun_jobs is the one that knows.
if workflow.is_main_process:
    os.environ[nst_progress.ENV] = os.path.abspath(
        f".snakemake/nst-progress/{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    )


onstart:
    jobs = sum(job.rule.name == "stylize" for job in workflow.dag.needrun_jobs())
    # jobs at once: --cores by threads per job here (and --resources gpu=N), --jobs on a cluster
    at_once = (
        workflow.cores // config["stylize_threads"]
        if workflow.local_exec
        else workflow.nodes or 1
    )
    gpus = workflow.global_resources.get("gpu")
    if gpus is not None and isinstance(gpus.value, int):
        at_once = min(at_once, gpus.value)
    nst_progress.start(
        os.environ[nst_progress.ENV], jobs * len(ARTWORKS), min(at_once, jobs)
    )
