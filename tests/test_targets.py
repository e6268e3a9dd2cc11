import pickle

import pytest
import torch
from PIL import Image

from conftest import DEVICE, STYLE, STYLE2, tiny
from nst_core import GramTargets, NSTError, StyleTransfer
from nst_core.core.losses import gram
from nst_core.files.image_files import fit_long_side
from nst_core.files.tensors import pil_to_tensor
from nst_core.settings import TARGETS


@pytest.fixture(scope="module")
def transfer():
    return StyleTransfer(tiny(precision="fp32"))  # exact comparisons with fp32 Grams


def test_targets_round_trip(transfer, tmp_path):
    targets = transfer.make_targets([STYLE])
    path = tmp_path / "starry.targets.pt"
    targets.save(str(path))
    loaded = transfer.load_targets(str(path))
    assert loaded.meta == targets.meta
    assert loaded.meta["made_for"]["style_layers"] == ",".join(transfer.settings.style_layers)
    assert loaded.meta["made_for"]["size"] == "48" and loaded.meta["styles"][0]["sha256"]
    # every setting the table marks as shaping targets is recorded, the weights by content
    assert set(loaded.meta["made_for"]) == set(transfer.settings.affecting(TARGETS))
    assert loaded.meta["made_for"]["weights"] == transfer.extractor.weights_fingerprint
    for layer, matrix in targets.grams[48].items():
        assert torch.equal(loaded.grams[48][layer], matrix)
        assert matrix.shape == (matrix.shape[0], matrix.shape[0])


def test_targets_are_the_style_images_grams(transfer):
    targets = transfer.make_targets([STYLE])
    style = Image.open(STYLE).convert("RGB")
    image = pil_to_tensor(style.resize(fit_long_side(style.size, 48), Image.LANCZOS))
    expected = gram(transfer.extractor(image.to(DEVICE))["relu3_1"])[0]
    torch.testing.assert_close(targets.grams[48]["relu3_1"].to(DEVICE), expected)


def test_blended_targets_are_weighted_sums(transfer):
    one, two = transfer.make_targets([STYLE]), transfer.make_targets([STYLE2])
    blend = transfer.make_targets([STYLE, STYLE2], [0.7, 0.3])
    expected = 0.7 * one.grams[48]["relu2_1"] + 0.3 * two.grams[48]["relu2_1"]
    torch.testing.assert_close(blend.grams[48]["relu2_1"], expected)
    assert [s["weight"] for s in blend.meta["styles"]] == pytest.approx([0.7, 0.3])


def test_targets_for_every_scale_of_the_schedule():
    transfer = StyleTransfer(tiny(size=64, min_size=32, style_scale=1.5, precision="fp32"))
    targets = transfer.make_targets([STYLE])
    assert sorted(targets.grams) == [32, 45, 64] == transfer.settings.scales()
    style = Image.open(STYLE).convert("RGB")  # at 64 px the painting is used at 1.5 x 64 = 96 px
    image = pil_to_tensor(style.resize(fit_long_side(style.size, 96), Image.LANCZOS))
    expected = gram(transfer.extractor(image.to(DEVICE))["relu2_1"])[0]
    torch.testing.assert_close(targets.grams[64]["relu2_1"].to(DEVICE), expected)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(pooling="avg"), "made for pooling max, this run uses avg"),
        (dict(style_layers=("relu1_1", "relu4_3")), "made for style_layers relu1_1,.* this run uses relu1_1,relu4_3"),
        (dict(size=64), "made for size 48, this run uses 64"),
        (dict(padding="zeros"), "made for padding replicate"),
        (dict(preserve_color="luminance"), "made for preserve_color none"),
        (dict(style_scale=2.0), "made for style_scale 1.0"),
        (dict(precision="bf16"), "made for precision fp32, this run uses bf16"),
        (dict(min_size=32), "made for min_size none, this run uses 32"),
    ],
)
def test_targets_mismatch_is_a_clear_error(transfer, tmp_path, change, message):
    path = tmp_path / "t.pt"
    transfer.make_targets([STYLE]).save(str(path))
    other = StyleTransfer(tiny(**{"precision": "fp32", **change}))
    with pytest.raises(NSTError, match=f"t.pt: targets were {message}"):
        other.load_targets(str(path))


def test_targets_for_other_network_weights_is_a_clear_error(transfer, tmp_path):
    from nst_core import load_weights, to_torchvision_layout

    weights_path = tmp_path / "tv.pth"
    torch.save(to_torchvision_layout(load_weights()), weights_path)
    path = tmp_path / "t.pt"
    transfer.make_targets([STYLE]).save(str(path))
    with pytest.raises(NSTError, match="made for weights sha256:"):
        StyleTransfer(tiny(weights=str(weights_path), precision="fp32")).load_targets(str(path))


def test_targets_for_other_style_images_is_a_clear_error(transfer, tmp_path):
    path = tmp_path / "t.pt"
    transfer.make_targets([STYLE]).save(str(path))
    other = transfer.make_targets([STYLE2])
    with pytest.raises(NSTError, match="made for other style images"):
        transfer.load_targets(str(path), style_hashes=[s["sha256"] for s in other.meta["styles"]])


class Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # the foreign pickles are the point
@pytest.mark.parametrize(
    "content",
    [b"", b"garbage bytes", pickle.dumps(Exploit()), pickle.dumps({"meta": "{}", "grams": {}})],
    ids=["empty", "garbage", "pickle-exploit", "foreign-dict"],
)
def test_corrupt_targets_file_is_a_clear_error(transfer, tmp_path, capsys, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(NSTError, match="bad.pt: (not a valid Gram targets file|empty)"):
        GramTargets.load(str(path))
    assert "must never run" not in capsys.readouterr().out


def test_targets_of_a_newer_format_version_is_a_clear_error(transfer, tmp_path):
    targets = transfer.make_targets([STYLE])
    targets.meta["format_version"] = 99
    path = tmp_path / "new.pt"
    targets.save(str(path))
    with pytest.raises(NSTError, match="targets format version 99"):
        GramTargets.load(str(path))
