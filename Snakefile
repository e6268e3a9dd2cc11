# Neural style transfer for many photos x many artworks. Configuration: config.yaml.
from snakemake.utils import min_version

min_version("9.0")

# Fixes of Snakemake and its S3 plugin for batches of thousands (until upstream has them).
sys.path.insert(0, f"{workflow.basedir}/workflow")
import nst_patches

nst_patches.apply()


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/functions.smk"
include: "workflow/rules/targets.smk"
include: "workflow/rules/stylize.smk"
include: "workflow/rules/videos.smk"
include: "workflow/rules/sheets.smk"
include: "workflow/rules/gallery.smk"
include: "workflow/rules/quality.smk"


localrules:
    all,
    video_sheet,


rule all:
    default_target: True
    input:
        # Every image, so that a deleted one is made again (Snakemake remakes a missing file only
        # where a job that needs it runs): 9 s more planning for 10,000 photos x 10 artworks here.
        expand(
            f"{RESULTS}/stylized/{{artwork}}/{{photo}}.png",
            artwork=ARTWORKS,
            photo=PHOTOS,
        ),
        expand(
            f"{RESULTS}/stylized/{{artwork}}/{{video}}.mp4",
            artwork=ARTWORKS,
            video=VIDEOS,
        ),
        expand(f"{RESULTS}/sheets/videos/{{video}}.jpg", video=VIDEOS),
        expand(f"{RESULTS}/gallery/{nst_gallery.video_source('{video}')}", video=VIDEOS),
        expand(
            f"{RESULTS}/sheets/{{artwork}}/{{page}}.jpg", artwork=ARTWORKS, page=PAGES
        ),
        f"{RESULTS}/sheets/overview.jpg",
        # every page, so that a page of a new artwork is made
        rules.gallery.output,
        rules.quality.output,
    message:
        f"all {len(PHOTOS) * len(ARTWORKS)} images ({len(PHOTOS)} photos x {len(ARTWORKS)} artworks) and their sheets and gallery"
