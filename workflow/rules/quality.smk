# The batch's quality table, results/quality.tsv (a row per image, with its flags), and the
# gallery's views of it (nst_core/gallery_quality.py), from the records the stylize jobs write: one
# input per photo. Flags that compare an image with the batch are judged here, so a change of
# thresholds (config: quality) makes only this again.
localrules:
    quality,


rule quality:
    input:
        expand(f"{RESULTS}/quality/{{photo}}.tsv", photo=PHOTOS),
    output:
        table=f"{RESULTS}/quality.tsv",
        views=[
            f"{RESULTS}/gallery/{path}"
            for path in nst_gallery_quality.outputs(PHOTOS, ARTWORKS)
        ],
    log:
        f"{RESULTS}/logs/quality.log",
    conda:
        "../../envs/nst.yaml"
    params:
        photos=list(PHOTOS),  # the records' photos, in order
        artworks=list(ARTWORKS),
        limits=vars(QUALITY),  # other thresholds make the table again
        code=NST_CORE_CODE,
    message:
        f"quality: {RESULTS}/quality.tsv and {RESULTS}/gallery/{nst_gallery.NEEDS_A_LOOK}"
    script:
        "../scripts/quality.py"
