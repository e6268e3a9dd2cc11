# An artwork's Gram targets, made once and used by every photo's job.
rule artwork_targets:
    input:
        images=get_paintings,
    output:
        f"{RESULTS}/targets/{{artwork}}.pt",
    log:
        run=f"{RESULTS}/logs/artwork_targets/{{artwork}}.log",
        # what it ran, as data (JSON)
        job=f"{RESULTS}/logs/artwork_targets/{{artwork}}.job",
    benchmark:
        f"{RESULTS}/logs/benchmarks/artwork_targets/{{artwork}}.tsv"
    conda:
        "../../envs/nst.yaml"
    threads: config["stylize_threads"]
    resources:
        gpu=1,  # `--resources gpu=N` runs N at once, each on its own GPU (worker slots)
    params:
        settings=get_targets_settings,
        blend=get_blend,
        code=NST_CORE_CODE,
    message:
        "targets of {wildcards.artwork}: Gram matrices of its painting, once"
    script:
        "../scripts/targets.py"
