# Contact sheets are cheap: on a cluster they run on the submitting machine.
localrules:
    style_sheet,
    overview_sheet,


rule style_sheet:
    input:
        lambda wildcards: stylized(
            wildcards.style, sheet_photos(config["sheets"]["max_photos"])
        ),
    output:
        report(
            "results/sheets/{style}.jpg",
            caption="../report/style_sheet.rst",
            category="Contact sheets",
            labels={"sheet": "{style}"},
        ),
    log:
        "logs/sheets/{style}.log",
    conda:
        "../../envs/nst.yaml"
    params:
        columns=config["sheets"]["columns"],
        cell=config["sheets"]["cell"],
        code=NST_CORE_CODE,
    shell:
        "python -m nst_core.worker sheet {input:q} --columns {params.columns} --cell {params.cell}"
        " --output {output:q} 2> {log:q} || {{ cat {log:q} >&2; exit 1; }}"


rule overview_sheet:
    input:
        [cell for cell, label in overview_cells() if cell is not None],
    output:
        report(
            "results/sheets/overview.jpg",
            caption="../report/overview.rst",
            category="Contact sheets",
            labels={"sheet": "overview"},
        ),
    log:
        "logs/sheets/overview.log",
    conda:
        "../../envs/nst.yaml"
    params:
        cells=overview_arguments,
        columns=len(STYLES) + 1,
        cell=config["sheets"]["cell"],
        code=NST_CORE_CODE,
    shell:
        "python -m nst_core.worker sheet {params.cells} --columns {params.columns} --cell {params.cell}"
        " --output {output:q} 2> {log:q} || {{ cat {log:q} >&2; exit 1; }}"
