# The functions the rules call: their inputs, outputs and options, from the photo and artwork
# model (common.smk). Here, not beside the rules, as Snakemake's lint asks.
import shlex

# What a rerun of a stylize job keeps when unchanged: update() where results are local.
KEPT = update if not internals.default_storage_prefix(workflow) else lambda path: path


def get_paintings(wildcards):
    return ARTWORKS[wildcards.artwork].sources()


def get_targets_settings(wildcards):
    """Only the artwork's settings that shape targets (and say where to run): changing the
    others, such as iterations, does not remake them."""
    settings = ARTWORKS[wildcards.artwork].settings
    return nst_settings.mapping_affecting(
        settings, nst_settings.TARGETS, nst_settings.RUN
    )


def get_blend(wildcards):
    return list(ARTWORKS[wildcards.artwork].blend)


def stylized_image(art):
    """An artwork's image of the job's photo, in Snakemake's report under its artwork."""
    image = report(
        f"{RESULTS}/stylized/{art.name}/{{photo}}.png",
        caption="../report/stylized.rst",
        category="Stylized",
        subcategory=art.name,
        labels={"photo": "{photo}", "artwork": art.name},
    )
    return KEPT(image)


# What a photo's job needs of each artwork (workflow/scripts/stylize.py): its own settings, how
# its style is given, its thumbnail's name. Made once: every job's params hold it.
STYLIZE_ARTWORKS = {
    art.name: {
        "settings": art.overrides,
        "targets_per_photo": art.targets_per_photo,
        "paintings": len(art.images),
        "blend": list(art.blend),
        "thumbnail": nst_gallery.result_thumbnail_name(art.name),
    }
    for art in ARTWORKS.values()
}


def what_stylize_makes():
    if len(ARTWORKS) > 1:
        return f"its images in {len(ARTWORKS)} artworks' styles"
    return f"its image in {next(iter(ARTWORKS))}'s style"


def artwork_sheet(art):
    return report(
        f"{RESULTS}/sheets/{art}/{{page}}.jpg",
        caption="../report/artwork_sheet.rst",
        category="Contact sheets",
        labels={"artwork": art, "page": "{page}"},
    )


def get_page_thumbnails(wildcards):
    """The thumbnail folders of the page's photos (written by their stylize jobs): one input per
    photo, where an input per image made planning 10,000 photos x 10 artworks 25 s slower.
    """
    return expand(
        f"{RESULTS}/gallery/{nst_gallery.THUMBNAILS}/{{photo}}",
        photo=PAGES[wildcards.page],
    )


def get_page_photos(wildcards):
    return PAGES[wildcards.page]


def get_overview_cells(wildcards, input):
    return shlex.join(["-", *input])


def get_video(wildcards):
    return source_file(VIDEOS[wildcards.video])


def get_segment_frames(wildcards):
    return nst_settings.from_mapping(config["nst"]).segment_frames


def get_video_size(wildcards):
    return nst_settings.from_mapping(config["nst"]).size


def video_segments(video):
    """The video's segments, from its plan (a checkpoint: known once it is made)."""
    plan = checkpoints.video_plan.get(video=video).output[0]
    return nst_video_plan.load_plan(plan)[1]


def frames_to_run(jobs):
    """The frames that the run's segment jobs make, of the videos already planned (a video
    planned in the run adds its own, from its plan job), and how many chains of segments
    (each after the one before) the run makes side by side.
    """
    replanned = {wildcards["video"] for name, wildcards in jobs if name == "video_plan"}
    frames = 0
    for name, wildcards in jobs:
        if name.startswith("stylize_segment") and wildcards["video"] not in replanned:
            try:
                plan = f"{RESULTS}/videos/{wildcards['video']}/plan.json"
                parts = nst_video_plan.load_plan(plan)[1]
                frames += parts[int(wildcards["segment"])].count
            except (NSTError, OSError, IndexError, ValueError):
                pass  # a plan not at hand here (in an object store): its frames uncounted
    videos = {
        wildcards["video"]
        for name, wildcards in jobs
        if name == "video_plan" or name.startswith("stylize_segment")
    }
    return frames, len(videos) * SEGMENT_CHAINS


def get_segment_artworks(wildcards):
    """A by-artwork segment job's artwork and its settings (video_jobs: by_artwork)."""
    return {wildcards.artwork: ARTWORKS[wildcards.artwork].overrides}


def get_previous_segment(wildcards):
    """Where the segment goes on from: the previous segment's frames (and last frames) of its
    artworks (all, or its own with video_jobs: by_artwork), if no cut separates them."""
    part = video_segments(wildcards.video)[int(wildcards.segment)]
    if not part.continues:
        return []
    folder = f"{RESULTS}/videos/{wildcards.video}"
    chain = [wildcards.artwork] if hasattr(wildcards, "artwork") else ARTWORKS
    outputs = [f"{folder}/{art}/{part.number - 1}.mp4" for art in chain]
    return outputs + [nst_video_plan.last_frame(output) for output in outputs]


def get_video_segments(wildcards):
    """An artwork's frames of each segment of the video, and their scores."""
    folder = f"{RESULTS}/videos/{wildcards.video}/{wildcards.artwork}"
    outputs = [
        f"{folder}/{part.number}.mp4" for part in video_segments(wildcards.video)
    ]
    return outputs + [nst_video_plan.scores_record(output) for output in outputs]
