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
STYLIZE_INPUT, STYLIZE_OUTPUT, STYLIZE_PARAMS, STYLIZE_COMMANDS = {}, {}, {}, []
for i, art in enumerate(ARTWORKS.values()):
    image, options = f"image_{i}", f"options_{i}"
    gallery = dict(
        caption="../report/stylized.rst",
        category="Stylized",
        subcategory=art.name,
        labels={"photo": "{photo}", "artwork": art.name},
    )
    STYLIZE_OUTPUT[image] = report(
        f"results/stylized/{art.name}/{{photo}}.png", **gallery
    )
    if not workflow.storage_settings.default_storage_prefix:
        STYLIZE_OUTPUT[image] = update(STYLIZE_OUTPUT[image])
    if art.targets_per_photo:  # the job makes the photo's targets from the images
        styles = {f"style_{i}_{j}": source_file(p) for j, p in enumerate(art.images)}
        style = " ".join(f"--style {{input.{name}:q}}" for name in styles)
        STYLIZE_PARAMS[options] = f"{art.options()} {art.blend_option()}".strip()
    else:
        targets = f"targets_{i}"
        styles = {targets: f"results/targets/{art.name}.pt"}
        style = f"--targets {{input.{targets}:q}}"
        STYLIZE_PARAMS[options] = art.options()
    STYLIZE_INPUT.update(styles)
    # The log gets a line per image: written (size, seconds) or up to date.
    STYLIZE_COMMANDS.append(
        f"python -m nst_core.worker stylize {style} {{params.{options}}}"
        f" --skip-unchanged --output {{output.{image}:q}} -- {{input.photo:q}}"
    )
STYLIZE_OUTPUT["thumbnails"] = directory(
    f"results/gallery/{nst_gallery.THUMBNAILS}/{{photo}}"
)
# Each thumbnail from its image: the photo's, then each artwork's result.
THUMBNAIL_OF = {"input.photo": nst_gallery.PHOTO_THUMBNAIL}
THUMBNAIL_OF.update(
    {
        f"output.image_{i}": nst_gallery.result_thumbnail_name(art)
        for i, art in enumerate(ARTWORKS)
    }
)
THUMBNAIL_PAIRS = " ".join(
    f"{{{image}:q}} {{output.thumbnails:q}}/{name}"
    for image, name in THUMBNAIL_OF.items()
)
STYLIZE_COMMANDS.append(
    f"python -m nst_core.worker thumbnail --side {config['sheets']['cell']} -- {THUMBNAIL_PAIRS}"
)

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
        "logs/stylize/{photo}.log",
    benchmark:
        "logs/benchmarks/stylize/{photo}.tsv"
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
        "export OMP_NUM_THREADS={threads}; ( "
        + " && ".join(STYLIZE_COMMANDS)
        + " ) 2> {log:q} || {{ cat {log:q} >&2; exit 1; }}"
