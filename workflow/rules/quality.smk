# The batch's quality table, results/quality.tsv, and the gallery's views of it, from the records
# the stylize jobs write; flags that compare an image with the batch are judged here, so new
# thresholds (config: quality) remake only this.
localrules:
    quality,


rule quality:
    input:
        photos=expand(f"{RESULTS}/quality/{{photo}}.tsv", photo=PHOTOS),
        videos=expand(
            f"{RESULTS}/quality/videos/{{video}}/{{artwork}}.tsv",
            video=VIDEOS,
            artwork=ARTWORKS,
        ),
    output:
        table=f"{RESULTS}/quality.tsv",
        views=directory(f"{RESULTS}/gallery/{nst_gallery.QUALITY_VIEWS}"),
    log:
        f"{RESULTS}/logs/quality.log",
    conda:
        "../../envs/nst.yaml"
    params:
        artworks=list(ARTWORKS),
        limits=vars(QUALITY),  # other thresholds make the table again
        code=NST_CORE_CODE,
    message:
        f"quality: {RESULTS}/quality.tsv and {RESULTS}/gallery/{nst_gallery.NEEDS_A_LOOK}"
    script:
        "../scripts/quality.py"
