# A static HTML gallery (nst_core/outputs/gallery.py): pages that depend only on the batch's names, so they
# are made even when a photo fails, and the paintings' thumbnails. The photos' and results'
# thumbnails come from the stylize jobs. Plain files: results/gallery/index.html opens from disk.
localrules:
    gallery,


rule gallery:
    input:
        **{art.name: source_file(art.images[0]) for art in ARTWORKS.values()},
    output:
        [
            f"{RESULTS}/gallery/{page}"
            for page in nst_gallery.pages(PHOTOS, ARTWORKS, VIDEOS)
        ],
        [
            f"{RESULTS}/gallery/{nst_gallery.painting_thumbnail(name)}"
            for name in ARTWORKS
        ],
    log:
        f"{RESULTS}/logs/gallery.log",
    params:
        # the batch's names, which the pages show: a hash, as params are stored with every output
        batch=nst_gallery.batch_hash(PHOTOS, ARTWORKS, VIDEOS),
        side=config["sheets"]["cell"],
        code=NST_CORE_CODE,
    message:
        f"gallery: {RESULTS}/gallery/index.html"
    run:
        # PHOTOS is the batch's photo model (common.smk): no script could get it from params
        nst_gallery.write_gallery(
            output[0], PHOTOS, input, params.side, log[0], VIDEOS
        )
