# Contact sheets are cheap: on a cluster they run on the submitting machine.
localrules:
    artwork_sheets,
    overview_sheet,


# Every photo in each artwork's style, on pages of about `sheets.page_size` photos: pages are cut
# where a photo's name says so (nst_core/pages.py), so a new photo remakes at most two pages per
# artwork, and a broken photo costs only its own page.
PAGES = nst_pages.pages(PHOTOS, config["sheets"]["page_size"])


# One job makes a page of every artwork's sheets from the thumbnails of the page's photos (a
# folder per photo, written by its stylize job at the cell size): one input per photo, where a
# job per artwork's page with an input per image made planning 10,000 photos x 10 artworks 25 s
# slower. Each artwork's sheet is one call, named sheet_i as stylize.smk names image_i.
SHEET_OUTPUT, SHEET_CELLS, SHEET_COMMANDS = {}, {}, []
for i, art in enumerate(ARTWORKS):
    sheet, cells = f"sheet_{i}", f"cells_{i}"
    SHEET_OUTPUT[sheet] = report(
        f"{RESULTS}/sheets/{art}/{{page}}.jpg",
        caption="../report/artwork_sheet.rst",
        category="Contact sheets",
        labels={"artwork": art, "page": "{page}"},
    )
    # This artwork's thumbnail in each of the job's photo folders (name=name binds this
    # artwork's: a closure would see the loop's last)
    name = nst_gallery.result_thumbnail_name(art)
    SHEET_CELLS[cells] = lambda wildcards, input, name=name: shlex.join(
        f"{folder}/{name}" for folder in input
    )
    SHEET_COMMANDS.append(
        "python -m nst_core.worker sheet {params.labels} --columns {params.columns}"
        f" --cell {{params.cell}} --output {{output.{sheet}:q}} -- {{params.{cells}}}"
    )


rule artwork_sheets:
    input:
        lambda wildcards: [
            f"{RESULTS}/gallery/{nst_gallery.THUMBNAILS}/{photo}"
            for photo in PAGES[wildcards.page]
        ],
    output:
        **SHEET_OUTPUT,
    log:
        f"{RESULTS}/logs/sheets/{{page}}.log",
    conda:
        "../../envs/nst.yaml"
    params:
        **SHEET_CELLS,
        labels=lambda wildcards: shlex.join(
            f"--label={photo}" for photo in PAGES[wildcards.page]
        ),
        columns=config["sheets"]["columns"],
        cell=config["sheets"]["cell"],
        code=NST_CORE_CODE,
    message:
        f"sheets, page {{wildcards.page}} of {len(ARTWORKS)} artworks: {RESULTS}/sheets/*/{{wildcards.page}}.jpg"
    shell:
        "( "
        + " && ".join(SHEET_COMMANDS)
        + " ) 2> {log:q} || {{ cat {log:q} >&2; exit 1; }}"


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
            + [f"{RESULTS}/stylized/{artwork}/{photo}.png" for artwork in ARTWORKS]
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
