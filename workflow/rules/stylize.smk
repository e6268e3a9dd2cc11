import time

# One job per photo makes its image for every artwork, optimised together in batches
# (stylize_batch): a job per (photo, artwork) pair would cost planning ten times as much.
# Local results are update() (KEPT): a rerun after an artwork changes keeps the images that
# `--skip-unchanged` finds up to date; Snakemake cannot back up a bucket's, so there all are made.


rule stylize:
    input:
        photo=photo_input(),
        targets=[
            f"{RESULTS}/targets/{art.name}.pt"
            for art in ARTWORKS.values()
            if not art.targets_per_photo
        ],
        paintings=[
            source_file(path)
            for art in ARTWORKS.values()
            if art.targets_per_photo
            for path in art.images
        ],
    output:
        images=[stylized_image(art) for art in ARTWORKS.values()],
        # the photo's and its images' thumbnails at the sheets' cell size (the gallery shows them,
        # the sheets are made of them): an output per thumbnail would cost planning as much as
        # the images themselves
        thumbnails=directory(f"{RESULTS}/gallery/{nst_gallery.THUMBNAILS}/{{photo}}"),
        # each image's scores, for the quality table; an image found up to date keeps its entry
        record=KEPT(f"{RESULTS}/quality/{{photo}}.tsv"),
    log:
        run=f"{RESULTS}/logs/stylize/{{photo}}.log",
        # what it ran, as data (JSON; .job, as long as .log: a photo name may be as long as a file name can be)
        job=f"{RESULTS}/logs/stylize/{{photo}}.job",
    benchmark:
        f"{RESULTS}/logs/benchmarks/stylize/{{photo}}.tsv"
    conda:
        "../../envs/nst.yaml"
    threads: config["stylize_threads"]
    resources:
        gpu=1,  # `--resources gpu=N` runs N at once, each on its own GPU (worker slots)
    params:
        settings=config["nst"],
        # each artwork's own settings and style, in ARTWORKS' order: a change reruns the jobs
        artworks=STYLIZE_ARTWORKS,
        batch=config["stylize_batch"],
        side=config["sheets"]["cell"],
        photo_thumbnail=nst_gallery.PHOTO_THUMBNAIL,
        code=NST_CORE_CODE,
    message:
        f"stylize {{wildcards.photo}}: {what_stylize_makes()} (log: {{log.run}})"
    script:
        "../scripts/stylize.py"


# The run's progress, for each image's line: a ledger that this run names (its jobs inherit the
# variable), started with the number of images its stylize jobs make. Local working state, beside
# Snakemake's own; Snakemake has no public count of the jobs it will run (the DAG's needrun_jobs).
if internals.is_main_process(workflow):
    os.environ[nst_progress.ENV] = os.path.abspath(
        f".snakemake/nst-progress/{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    )


onstart:
    jobs = internals.jobs_to_run(workflow)
    if jobs is not None:
        photos = sum(name == "stylize" for name, _ in jobs)
        frames, chains = frames_to_run(jobs)
        at_once = internals.jobs_at_once(workflow, config["stylize_threads"])
        nst_progress.start(
            os.environ[nst_progress.ENV],
            photos * len(ARTWORKS),
            min(at_once, max(photos, 1)),
            frames,
            min(at_once, max(chains, 1)),
        )
