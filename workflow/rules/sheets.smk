import shlex


# Contact sheets are cheap: on a cluster they run on the submitting machine.
localrules:
    artwork_sheets,
    overview_sheet,


# Pages of about `sheets.page_size` photos, cut where a photo's name says so (nst_core/outputs/pages.py):
# a new photo remakes at most two pages per artwork, and a broken photo only its own page.
PAGES = nst_pages.pages(PHOTOS, config["sheets"]["page_size"])


# One job makes a page of every artwork's sheets (workflow/scripts/artwork_sheets.py).
rule artwork_sheets:
    input:
        get_page_thumbnails,
    output:
        [artwork_sheet(art) for art in ARTWORKS],
    log:
        f"{RESULTS}/logs/sheets/{{page}}.log",
    conda:
        "../../envs/nst.yaml"
    params:
        artworks=list(ARTWORKS),  # the outputs' artworks, in order
        photos=get_page_photos,
        columns=config["sheets"]["columns"],
        cell=config["sheets"]["cell"],
        code=NST_CORE_CODE,
    message:
        f"sheets, page {{wildcards.page}} of {len(ARTWORKS)} artworks: {RESULTS}/sheets/*/{{wildcards.page}}.jpg"
    script:
        "../scripts/artwork_sheets.py"


# Photos as rows, artworks as columns: an empty corner ("-"), the paintings along the first row,
# then each photo followed by its stylized images; each cell's label given in that order.
OVERVIEW_PHOTOS = list(PHOTOS)[: config["sheets"]["overview_photos"]]


rule overview_sheet:
    input:
        paintings=[source_file(art.images[0]) for art in ARTWORKS.values()],
        rows=[
            path
            for photo in OVERVIEW_PHOTOS
            for path in [
                source_file(PHOTOS[photo]),
                # not expand(): a photo's name may hold a brace
                *[f"{RESULTS}/stylized/{artwork}/{photo}.png" for artwork in ARTWORKS],
            ]
        ],
    output:
        report(
            f"{RESULTS}/sheets/overview.jpg",
            caption="../report/overview.rst",
            category="Contact sheets",
            labels={"artwork": "all", "page": "overview"},
        ),
    log:
        f"{RESULTS}/logs/sheets/overview.log",
    conda:
        "../../envs/nst.yaml"
    params:
        cells=get_overview_cells,
        labels=shlex.join(
            f"--label={label}"
            for label in ["", *ARTWORKS]
            + [
                name
                for photo in OVERVIEW_PHOTOS
                for name in [photo, *[""] * len(ARTWORKS)]
            ]
        ),
        columns=len(ARTWORKS) + 1,
        cell=config["sheets"]["cell"],
        code=NST_CORE_CODE,
    message:
        "overview sheet: {output}"
    shell:
        "python -m nst_core.worker sheet {params.labels} --columns {params.columns} --cell {params.cell}"
        " --output {output:q} --log {log:q} -- {params.cells}"
