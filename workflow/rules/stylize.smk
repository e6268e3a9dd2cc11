rule stylize:
    input:
        photo=photo_input(),
        targets=targets_input(),
    output:
        report(
            "results/stylized/{style}/{content}.png",
            caption="../report/stylized.rst",
            category="Stylized",
            subcategory="{style}",
            labels={"photo": "{content}", "artwork": "{style}"},
        ),
    log:
        "logs/stylize/{style}/{content}.log",
    benchmark:
        "logs/benchmarks/stylize/{style}/{content}.tsv"
    conda:
        "../../envs/nst.yaml"
    threads: config["stylize_threads"]
    resources:
        gpu=1,  # `--resources gpu=N` runs N at once, each on its own GPU (worker slots)
    params:
        options=stylize_options(),
        code=NST_CORE_CODE,
    shell:
        "OMP_NUM_THREADS={threads} python -m nst_core.worker stylize {input.photo:q} --targets {input.targets:q}"
        " {params.options} --quiet --output {output:q} 2> {log:q} || {{ cat {log:q} >&2; exit 1; }}"
