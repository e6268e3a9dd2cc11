"""The settings table: every setting declared once, and everything derived from it agrees."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from nst_core import NSTError
from nst_core.cli import _settings as cli_settings
from nst_core.cli import build_parser
from nst_core.settings import (
    DEEP_FACTOR,
    IMAGE,
    PER_IMAGE,
    PRESET_OPTION,
    PRESETS,
    RUN,
    SETTINGS,
    TARGETS,
    from_mapping,
)

PACKAGE = Path(__file__).resolve().parent.parent / "nst_core"


def test_every_row_is_complete_and_options_are_unique():
    options = [row.option for row in SETTINGS.values()]
    assert len(set(options)) == len(options)
    for row in SETTINGS.values():
        assert row.help and row.affects in (TARGETS, IMAGE, RUN), row.name
        assert row.option.startswith("--")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_command_line_text_reads_back_as_the_same_value(name):
    for row in SETTINGS.values():
        value = getattr(PRESETS[name], row.name)
        assert row.check(row.parse(row.format(value))) == value, row.name


def arguments(values: dict) -> list[str]:
    """The `nst` options a person would type for a mapping of setting names (and "preset")."""
    argv = []
    for name, value in sorted(values.items()):
        option = PRESET_OPTION if name == "preset" else SETTINGS[name].option
        argv += [option, value if name == "preset" else SETTINGS[name].format(value)]
    return argv


def test_command_line_options_parse_into_the_same_settings_as_the_config_values():
    # a value other than the default for every setting, as a config file would give them
    values = {
        "preset": "paper",
        "size": 256,
        "iterations": 7,
        "coarse_iterations": 3,
        "min_size": 64,
        "content_layers": ["relu4_2", "relu3_2"],
        "content_weight": 2,
        "style_layers": "relu1_1,relu2_1",
        "layer_weighting": "channels",
        "style_layer_weights": [0.5, 0.25],
        "style_weight": 0.5,
        "tv_weight": 0.01,
        "normalisation": "mean",
        "pooling": "max",
        "padding": "replicate",
        "margin": 0.05,
        "optimizer": "adam",
        "learning_rate": 0.05,
        "lbfgs_history": 10,
        "stop_tolerance": 0.005,
        "style_target": 4.0,
        "temporal_weight": 300.0,
        "frame_iterations": 12,
        "segment_frames": 24,
        "tile_size": 512,
        "max_memory": 2.5,
        "init": "noise",
        "style_scale": 1.5,
        "precision": "fp32",
        "seed": 3,
        "device": "cpu",
        "weights": "my weights.pth",
        "preserve_color": "luminance",
    }
    assert set(values) == set(SETTINGS) | {"preset"}, "a new setting: add it here"
    expected = from_mapping(values)
    args = build_parser().parse_args(["stylize", "photo.jpg", "-o", "out.png", *arguments(values)])
    assert cli_settings(args) == expected
    assert expected.content_weight == 2.0 and expected.style_layers == ("relu1_1", "relu2_1")


def test_none_on_the_command_line_overrides_a_presets_value():
    args = build_parser().parse_args(["stylize", "photo.jpg", "-o", "out.png", "--min-size", "none"])
    assert PRESETS["default"].min_size is not None and cli_settings(args).min_size is None
    assert cli_settings(build_parser().parse_args(["stylize", "photo.jpg", "-o", "out.png"])) == PRESETS["default"]


def test_the_default_weighs_block_5_more_than_the_authors_code_and_channels_keeps_theirs():
    default = PRESETS["default"].replace(style_layers=("relu1_1", "relu4_1", "relu5_1", "conv5_2"))
    deep, authors = default.layer_weights(), default.replace(layer_weighting="channels").layer_weights()
    assert authors == {
        "relu1_1": 1e3 / 64**2,
        "relu4_1": 1e3 / 512**2,
        "relu5_1": 1e3 / 512**2,
        "conv5_2": 1e3 / 512**2,
    }
    assert deep == {**authors, "relu5_1": DEEP_FACTOR * authors["relu5_1"], "conv5_2": DEEP_FACTOR * authors["conv5_2"]}
    assert DEEP_FACTOR > 1


def test_each_command_takes_the_settings_that_affect_what_it_makes():
    parser = build_parser()
    stylize_help = subprocess.run(
        [sys.executable, "-m", "nst_core", "stylize", "--help"], capture_output=True, text=True
    ).stdout
    targets_help = subprocess.run(
        [sys.executable, "-m", "nst_core", "targets", "--help"], capture_output=True, text=True
    ).stdout
    for row in SETTINGS.values():
        assert row.option in stylize_help, row.name
        assert (row.option in targets_help) == (row.affects in (TARGETS, RUN)), row.name
    with pytest.raises(SystemExit):
        parser.parse_args(["targets", "art.jpg", "-o", "t.pt", "--iterations", "3"])


@pytest.mark.parametrize(
    "values, message",
    [
        ({"size": "big"}, "size must be an integer, not 'big'"),
        ({"size": True}, "size must be an integer, not True"),
        ({"size": 256.0}, "size must be an integer, not 256.0"),
        ({"style_weight": "strong"}, "style_weight must be a number, not 'strong'"),
        ({"style_weight": 0}, "style_weight must be greater than 0, not 0"),
        ({"preserve_color": "luminence"}, "preserve_color 'luminence' is not one of none, luminance, histogram"),
        ({"style_layers": ["relu1_1", "relu9_9"]}, "unknown VGG-19 layer 'relu9_9'"),
        ({"style_layers": 5}, "style_layers must be a list, not 5"),
        ({"device": "tpu"}, "device 'tpu' is not valid"),
        ({"size": None}, "size must be set"),
        ({"sizee": 64}, "unknown setting 'sizee'"),
        ({"preset": "fancy"}, "unknown preset 'fancy'"),
    ],
)
def test_bad_values_are_one_line_naming_the_setting(values, message):
    with pytest.raises(NSTError, match=message):
        from_mapping(values)


def test_settings_module_and_the_workers_client_do_not_import_torch():
    code = (
        "import sys, nst_core.settings, nst_core.files.fingerprints, nst_core.worker, nst_core.files.storage;"
        "assert 'torch' not in sys.modules, 'torch was imported';"
        # the contact sheets' script and every `nst` command's parser (its --help, --version)
        "import nst_core.outputs.sheet, nst_core.cli; nst_core.cli.build_parser();"
        "assert 'torch' not in sys.modules, 'torch was imported by the sheets or the parser'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _imports(path: Path) -> set:
    """nst_core modules a module imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names |= {node.module} if node.module else {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nst_core."):
            names.add(node.module.split(".")[1])
    return names


def test_no_import_cycle_in_nst_core():
    graph = {path.stem: _imports(path) for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    visiting, done = set(), set()

    def visit(module, chain):
        if module in visiting:
            pytest.fail("import cycle: " + " -> ".join([*chain, module]))
        if module in done or module not in graph:
            return
        visiting.add(module)
        for imported in sorted(graph[module]):
            visit(imported, [*chain, module])
        visiting.discard(module)
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_each_per_image_loss_weight_has_its_place_in_image_weights():
    # The images of a batch may differ in these; ImageWeights (core/objective.py) carries the loss
    # weights among them, one field a term: a new weight declared per_image needs its field there.
    from dataclasses import fields

    from nst_core.core.objective import TERMS, ImageWeights

    weights = {name for name in PER_IMAGE if name.endswith("_weight")}
    terms = {f"{field.name}_weight" for field in fields(ImageWeights) if field.name != "style_tilt"}  # a push's
    assert weights == terms == {f"{t}_weight" for t in TERMS}
    assert "style_scale" in PER_IMAGE and "size" not in PER_IMAGE
