# Videos: each is scanned once and cut into segments (its plan: a checkpoint, as the segments are
# known only then); one job per segment makes its frames in every artwork's style (batched, as a
# photo's job is), going on from the previous segment's last frames where no cut separates them;
# one job per video and artwork joins its segments and the source's audio.


checkpoint video_plan:
    input:
        video=get_video,
    output:
        f"{RESULTS}/videos/{{video}}/plan.json",
    log:
        f"{RESULTS}/logs/videos/{{video}}/plan.log",
    conda:
        "../../envs/nst.yaml"
    params:
        segment_frames=get_segment_frames,
        chains=SEGMENT_CHAINS,
        code=NST_CORE_CODE,
    message:
        "plan of {wildcards.video}: its frames, cuts and segments"
    script:
        "../scripts/video_plan.py"


# A job per segment: its frames in every artwork's style, batched (video_jobs: together), or a job
# per segment and artwork, each artwork's frames a chain of its own (video_jobs: by_artwork).
if config["video_jobs"] == "together":

    rule stylize_segment:
        input:
            video=get_video,
            plan=f"{RESULTS}/videos/{{video}}/plan.json",
            targets=[f"{RESULTS}/targets/{art}.pt" for art in ARTWORKS],
            previous=get_previous_segment,
        output:
            frames=[
                f"{RESULTS}/videos/{{video}}/{art}/{{segment}}.mp4" for art in ARTWORKS
            ],
            last=[
                nst_video_plan.last_frame(
                    f"{RESULTS}/videos/{{video}}/{art}/{{segment}}.mp4"
                )
                for art in ARTWORKS
            ],
            scores=[
                nst_video_plan.scores_record(
                    f"{RESULTS}/videos/{{video}}/{art}/{{segment}}.mp4"
                )
                for art in ARTWORKS
            ],
        log:
            run=f"{RESULTS}/logs/videos/{{video}}/{{segment}}.log",
            job=f"{RESULTS}/logs/videos/{{video}}/{{segment}}.job",
        benchmark:
            f"{RESULTS}/logs/benchmarks/videos/{{video}}/{{segment}}.tsv"
        conda:
            "../../envs/nst.yaml"
        threads: config["stylize_threads"]
        resources:
            gpu=1,
        params:
            settings=config["nst"],
            artworks={art.name: art.overrides for art in ARTWORKS.values()},
            code=NST_CORE_CODE,
        message:
            "stylize {wildcards.video}, segment {wildcards.segment}: its frames in every artwork's style (log: {log.run})"
        script:
            "../scripts/stylize_segment.py"

else:

    rule stylize_segment_by_artwork:
        input:
            video=get_video,
            plan=f"{RESULTS}/videos/{{video}}/plan.json",
            targets=[f"{RESULTS}/targets/{{artwork}}.pt"],
            previous=get_previous_segment,
        output:
            frames=[f"{RESULTS}/videos/{{video}}/{{artwork}}/{{segment}}.mp4"],
            last=[
                nst_video_plan.last_frame(
                    f"{RESULTS}/videos/{{video}}/{{artwork}}/{{segment}}.mp4"
                )
            ],
            scores=[
                nst_video_plan.scores_record(
                    f"{RESULTS}/videos/{{video}}/{{artwork}}/{{segment}}.mp4"
                )
            ],
        log:
            run=f"{RESULTS}/logs/videos/{{video}}/{{artwork}}/{{segment}}.log",
            job=f"{RESULTS}/logs/videos/{{video}}/{{artwork}}/{{segment}}.job",
        benchmark:
            f"{RESULTS}/logs/benchmarks/videos/{{video}}/{{artwork}}/{{segment}}.tsv"
        conda:
            "../../envs/nst.yaml"
        threads: config["stylize_threads"]
        resources:
            gpu=1,
        params:
            settings=config["nst"],
            artworks=get_segment_artworks,
            code=NST_CORE_CODE,
        message:
            "stylize {wildcards.video}, segment {wildcards.segment}, in {wildcards.artwork}'s style (log: {log.run})"
        script:
            "../scripts/stylize_segment.py"


rule join_video:
    input:
        video=get_video,  # its audio
        plan=f"{RESULTS}/videos/{{video}}/plan.json",
        segments=get_video_segments,
    output:
        video=f"{RESULTS}/stylized/{{artwork}}/{{video}}.mp4",
        record=f"{RESULTS}/quality/videos/{{video}}/{{artwork}}.tsv",  # its row of quality.tsv
    log:
        f"{RESULTS}/logs/videos/{{video}}/join-{{artwork}}.log",
    conda:
        "../../envs/nst.yaml"
    params:
        code=NST_CORE_CODE,
    message:
        "join {wildcards.video} in {wildcards.artwork}: its segments and its audio"
    script:
        "../scripts/join_video.py"


# The source as the gallery's page of the video plays it beside its results (H.264 at their
# size): a browser may not play the user's own file.
rule video_preview:
    input:
        video=get_video,
        plan=f"{RESULTS}/videos/{{video}}/plan.json",
    output:
        f"{RESULTS}/gallery/{nst_gallery.video_source('{video}')}",
    log:
        f"{RESULTS}/logs/videos/{{video}}/preview.log",
    conda:
        "../../envs/nst.yaml"
    params:
        size=get_video_size,
        code=NST_CORE_CODE,
    message:
        "preview of {wildcards.video} for the gallery"
    script:
        "../scripts/video_preview.py"


# A row of the video's frames, then the same frames in each artwork's style.
rule video_sheet:
    input:
        video=get_video,
        plan=f"{RESULTS}/videos/{{video}}/plan.json",
        videos=[f"{RESULTS}/stylized/{art}/{{video}}.mp4" for art in ARTWORKS],
    output:
        f"{RESULTS}/sheets/videos/{{video}}.jpg",
    log:
        f"{RESULTS}/logs/videos/{{video}}/sheet.log",
    conda:
        "../../envs/nst.yaml"
    params:
        artworks=list(ARTWORKS),
        cell=config["sheets"]["cell"],
        code=NST_CORE_CODE,
    message:
        "sheet of {wildcards.video}: its frames in every artwork's style"
    run:
        nst_video_sheet.write_frame_sheet(
            input.video,
            input.plan,
            dict(zip(params.artworks, input.videos)),
            output[0],
            cell=params.cell,
        )
