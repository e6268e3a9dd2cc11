"""An artwork's style_target: an image short of it is pushed on, its own style weight raised in
rounds, within bounds; the batch's other images are untouched (CPU, fp32)."""

import pytest
import torch

from conftest import PHOTO, STYLE, STYLE2, tiny
from nst_core.files.tensors import load_image
from nst_core.outputs import quality
from nst_core.running.jobs import Artwork, stylize_photo
from nst_core.running.push import CONTENT_BOUND, PUSH_FACTOR, PUSH_ROUNDS

# The default coarse-to-fine schedule (32 then 48 px; too small for a reflected margin, which
# tests/test_gpu_path.py's push has).
SETTINGS = dict(size=48, min_size=32, iterations=20, coarse_iterations=4, precision="fp32")
ROUND = SETTINGS["iterations"] // PUSH_ROUNDS  # steps of each push round


def made(folder, targets):
    """One photo job of three artworks (targets: each one's style_target) and its record."""
    s = tiny(**SETTINGS)
    styles = (STYLE, STYLE2, STYLE)
    artworks = [
        Artwork(str(folder / f"{n}.png"), s.replace(style_target=t), (str(style),), name=f"a{n}")
        for n, (style, t) in enumerate(zip(styles, targets))
    ]
    record = folder / "record.tsv"
    stylized = stylize_photo(str(PHOTO), artworks, record=str(record))
    assert not any(image.error for image in stylized), [str(image.error) for image in stylized]
    return stylized, {row["artwork"]: row for row in quality.rows({"photo": str(record)}, quality.Thresholds())}


@pytest.fixture(scope="module")
def unpushed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unpushed")
    return folder, *made(folder, (None, None, None))


def test_images_are_pushed_to_their_target_or_flagged_short_and_the_others_stay_their_own(
    unpushed, tmp_path, images_alone
):
    before, plain, rows = unpushed
    ratios = [rows[f"a{n}"]["style_ratio"] for n in range(3)]
    # a1's target a little above where it ends unpushed: one round reaches it; a2's out of reach
    targets = (None, ratios[1] * 1.05, 1000.0)
    pushed, pushed_rows = made(tmp_path, targets)
    a0, a1, a2 = (pushed_rows[f"a{n}"] for n in range(3))
    # No target: untouched, to the bit, beside the pushed images of its batch
    assert torch.equal(load_image(pushed[0].output), load_image(plain[0].output))
    assert (a0["style_weight"], a0["steps"], a0["style_target"]) == (1.0, 20, None)
    assert "short_of_target" not in a0["flags"]
    # Reached in one round: twice the weight, a round's steps more, not flagged
    assert a1["style_ratio"] >= targets[1] and a1["style_weight"] == PUSH_FACTOR
    assert a1["steps"] == 20 + ROUND and "short_of_target" not in a1["flags"]
    # Out of reach: every round taken, the best kept within the content bound, flagged
    assert a2["steps"] == 20 + PUSH_ROUNDS * ROUND and a2["style_target"] == 1000.0
    assert a2["style_weight"] > 1 and a2["style_ratio"] > ratios[2]
    assert a2["content"] <= CONTENT_BOUND * rows["a2"]["content"]
    assert "short_of_target" in a2["flags"] and "lost_layout" not in a2["flags"]
    assert pushed[2].style_weight == a2["style_weight"]  # the record says what the job made
    table = quality.table_bytes(list(pushed_rows.values())).decode().splitlines()
    assert {"style_weight", "style_ratio"} <= set(table[0].split("\t"))


def test_a_style_target_at_or_below_one_is_refused_naming_it(cli, tmp_path):
    code, _, err = cli("stylize", PHOTO, "--style", STYLE, "-o", tmp_path / "out.png", "--style-target", "1")
    assert code == 2 and "style_target must be greater than 1" in err
