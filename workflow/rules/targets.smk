rule style_targets:
    input:
        images=style_images,
    output:
        "results/targets/{style}.pt",
    log:
        "logs/style_targets/{style}.log",
    benchmark:
        "logs/benchmarks/style_targets/{style}.tsv"
    conda:
        "../../envs/nst.yaml"
    threads: config["stylize_threads"]
    resources:
        gpu=1,  # `--resources gpu=N` runs N at once, each on its own GPU (worker slots)
    params:
        blend=targets_blend,
        options=targets_options,
        code=NST_CORE_CODE,
    shell:
        "OMP_NUM_THREADS={threads} python -m nst_core.worker targets {input.images:q} {params.blend} {params.options}"
        " --output {output:q} 2> {log:q} || {{ cat {log:q} >&2; exit 1; }}"
