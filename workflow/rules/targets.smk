# An artwork's Gram targets, made once and used by every photo's job.
rule artwork_targets:
    input:
        images=get_paintings,
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
        options=get_targets_options,
        code=NST_CORE_CODE,
    message:
        "targets of {wildcards.artwork}: Gram matrices of its painting, once"
    shell:
        "OMP_NUM_THREADS={threads} python -m nst_core.worker targets {params.options}"
        " --output {output:q} --log {log:q} -- {input.images:q}"
