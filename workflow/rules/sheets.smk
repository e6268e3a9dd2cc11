# Contact sheets are cheap: on a cluster they run on the submitting machine.
localrules:
    artwork_sheet,
    overview_sheet,


# Every photo in one artwork's style, on pages of about `sheets.page_size` photos: pages are cut
# where a photo's name says so (nst_core/pages.py), so a new photo remakes at most two pages per
# artwork, and a broken photo costs only its own page.
PAGES = nst_pages.pages(PHOTOS, config["sheets"]["page_size"])


rule artwork_sheet:
    input:
        lambda wildcards: [
            f"results/stylized/{wildcards.artwork}/{photo}.png"
            for photo in PAGES[wildcards.page]
        ],
    output:
        report(
            "results/sheets/{artwork}/{page}.jpg",
            caption="../report/artwork_sheet.rst",
            category="Contact sheets",
            labels={"artwork": "{artwork}", "page": "{page}"},
        ),
    log:
        "logs/sheets/{artwork}/{page}.log",
    conda:
        "../../envs/nst.yaml"
    params:
        columns=config["sheets"]["columns"],
        cell=config["sheets"]["cell"],
        code=NST_CORE_CODE,
    message:
        "sheet of {wildcards.artwork}: {output}"
    shell:
        "python -m nst_core.worker sheet --columns {params.columns} --cell {params.cell}"
        " --output {output:q} -- {input:q} 2> {log:q} || {{ cat {log:q} >&2; exit 1; }}"


# Photos as rows, artworks as columns: an empty corner ("-"), the paintings along the first row,
# then each photo followed by its stylized images; each cell's label given in that order.
OVERVIEW_PHOTOS = list(PHOTOS)[: config["sheets"]["overview_photos"]]
OVERVIEW_LABELS = ["", *ARTWORKS] + [
    label for photo in OVERVIEW_PHOTOS for label in [photo] + [""] * len(ARTWORKS)
]


rule overview_sheet:
    input:
        [source_file(art.images[0]) for art in ARTWORKS.values()],
        [
            path
            for photo in OVERVIEW_PHOTOS
            for path in [source_file(PHOTOS[photo])]
            + [f"results/stylized/{artwork}/{photo}.png" for artwork in ARTWORKS]
        ],
    output:
        report(
            "results/sheets/overview.jpg",
            caption="../report/overview.rst",
            category="Contact sheets",
            labels={"artwork": "all", "page": "overview"},
        ),
    log:
        "logs/sheets/overview.log",
    conda:
        "../../envs/nst.yaml"
    params:
        cells=lambda wildcards, input: shlex.join(["-", *input]),
        labels=shlex.join(f"--label={label}" for label in OVERVIEW_LABELS),
        columns=len(ARTWORKS) + 1,
        cell=config["sheets"]["cell"],
        code=NST_CORE_CODE,
    message:
        "overview sheet: {output}"
    shell:
        "python -m nst_core.worker sheet {params.labels} --columns {params.columns} --cell {params.cell}"
        " --output {output:q} -- {params.cells} 2> {log:q} || {{ cat {log:q} >&2; exit 1; }}"
