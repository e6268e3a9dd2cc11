# An artwork's Gram targets, made once and used by every photo's job. Its options are only the
# settings that shape targets (and say where to run): changing the others, such as iterations,
# does not remake them.
rule artwork_targets:
    input:
        images=lambda wildcards: ARTWORKS[wildcards.artwork].sources(),
    output:
        f"{RESULTS}/targets/{{artwork}}.pt",
    log:
        f"{RESULTS}/logs/artwork_targets/{{artwork}}.log",
    benchmark:
        f"{RESULTS}/logs/benchmarks/artwork_targets/{{artwork}}.tsv"
    conda:
        "../../envs/nst.yaml"
    threads: config["stylize_threads"]
    resources:
        gpu=1,  # `--resources gpu=N` runs N at once, each on its own GPU (worker slots)
    params:
        blend=lambda wildcards: ARTWORKS[wildcards.artwork].blend_option(),
        options=lambda wildcards: ARTWORKS[wildcards.artwork].options(
            nst_settings.TARGETS, nst_settings.RUN
        ),
        code=NST_CORE_CODE,
    message:
        "targets of {wildcards.artwork}: Gram matrices of its painting, once"
    shell:
        "OMP_NUM_THREADS={threads} python -m nst_core.worker targets {params.blend} {params.options}"
        " --output {output:q} --log {log:q} -- {input.images:q}"
