# One job per photo makes its image for every artwork (see stylize_images).
rule stylize:
    input:
        **stylize_styles(),
        photo=photo_input(),
    output:
        **stylize_images(),
    log:
        "logs/stylize/{content}.log",
    benchmark:
        "logs/benchmarks/stylize/{content}.tsv"
    conda:
        "../../envs/nst.yaml"
    threads: config["stylize_threads"]
    resources:
        gpu=1,  # `--resources gpu=N` runs N at once, each on its own GPU (worker slots)
    params:
        **stylize_options(),
        code=NST_CORE_CODE,
    shell:
        stylize_shell()
