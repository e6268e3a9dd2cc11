import pytest
import torch

from nst_core.core.losses import content_loss, gram, style_loss, style_sums, tv_loss


def test_gram_against_hand_computation():
    # one image, 2 channels, 1x2 pixels: F = [[1, 2], [3, 4]]
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    # F F^T = [[1+4, 3+8], [3+8, 9+16]] = [[5, 11], [11, 25]], divided by M = 2
    assert torch.equal(gram(features), torch.tensor([[[2.5, 5.5], [5.5, 12.5]]]))


def test_gram_is_fp32_even_for_bf16_features():
    features = torch.rand(1, 4, 3, 3).bfloat16()
    assert gram(features).dtype == torch.float32


def test_content_loss_normalisations():
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    p = torch.tensor([[[[0.0, 2.0]], [[3.0, 6.0]]]])
    # squared differences: 1, 0, 0, 4
    assert content_loss(f, p, "paper").item() == 0.5 * 5  # 1/2 sum, as in the paper
    assert content_loss(f, p, "mean").item() == 5 / 4


def test_style_loss_paper_matches_the_papers_formula():
    torch.manual_seed(0)
    features = torch.rand(1, 3, 4, 5)
    style = torch.rand(1, 3, 4, 5)
    n, m = 3, 20
    f, s = features.reshape(n, m), style.reshape(n, m)
    g_raw, a_raw = f @ f.T, s @ s.T  # unnormalised Grams, as printed in the paper
    expected = ((g_raw - a_raw) ** 2).sum() / (4 * n**2 * m**2)
    target = gram(style)[0]
    torch.testing.assert_close(style_loss(features, target, "paper")[0], expected)
    # "mean": MSE of the M-normalised Grams (the authors' code)
    torch.testing.assert_close(style_loss(features, target, "mean")[0], ((g_raw / m - a_raw / m) ** 2).mean())


def test_tv_loss_against_hand_computation():
    image = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    # vertical diffs: 2, 3 -> mean sq 6.5; horizontal diffs: 1, 2 -> mean sq 2.5
    assert tv_loss(image).item() == 6.5 + 2.5
    assert tv_loss(torch.ones(1, 3, 5, 5)).item() == 0


def test_scaled_normalisation_is_sum_of_squares_over_sum_of_abs():
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    p = torch.tensor([[[[0.0, 2.0]], [[3.0, 6.0]]]])
    # content: diffs 1, 0, 0, -2 over (sum |d| + sum |P|): (1 + 4) / (1 + 2 + 11)
    torch.testing.assert_close(content_loss(f, p, "scaled"), torch.tensor([5 / 14]))
    # quadratic near the photo (no kink at d = 0): half the difference, a quarter of the loss
    near = p + 1e-3
    torch.testing.assert_close(
        content_loss(p + 5e-4, p, "scaled") * 4, content_loss(near, p, "scaled"), rtol=1e-3, atol=0
    )
    target = torch.zeros(2, 2)
    g = gram(f)[0]
    torch.testing.assert_close(style_loss(f, target, "scaled")[0], g.pow(2).sum() / g.abs().sum())
    # linear, not quadratic, in the activation scale: x10 features -> x100 Grams -> x100 loss
    torch.testing.assert_close(style_loss(10 * f, target, "scaled"), 100 * style_loss(f, target, "scaled"))
    torch.testing.assert_close(style_loss(10 * f, target, "mean"), 10**4 * style_loss(f, target, "mean"))


def test_every_loss_is_each_images_own_in_a_batch():
    # A sum or mean over the batch would couple the images (scaled) or scale them by 1/B (mean).
    torch.manual_seed(0)
    images, photo = torch.rand(3, 4, 5, 6), torch.rand(1, 4, 5, 6)
    targets = gram(torch.rand(3, 4, 5, 6))
    for normalisation in ("paper", "mean", "scaled"):
        together = style_loss(images, targets, normalisation)
        content = content_loss(images, photo, normalisation)
        assert together.shape == content.shape == (3,)
        for b in range(3):
            torch.testing.assert_close(together[b], style_loss(images[b : b + 1], targets[b], normalisation)[0])
            torch.testing.assert_close(content[b], content_loss(images[b : b + 1], photo, normalisation)[0])
    torch.testing.assert_close(tv_loss(images)[1], tv_loss(images[1:2])[0])


@pytest.mark.parametrize("layout", ["channels_first", "channels_last", "part_of_channels_last"])
def test_style_sums_gradient_is_autograds_in_every_layout_the_network_gives(layout):
    # style_sums computes dL/dF itself, as one product in F's layout (the network runs channels
    # last; a tile's inner region is a part of such a tensor): the same as autograd's derivative
    torch.manual_seed(0)
    features = torch.randn(2, 5, 7, 6, dtype=torch.float64)
    if layout != "channels_first":
        features = features.contiguous(memory_format=torch.channels_last)
    if layout == "part_of_channels_last":
        features = features[..., 1:6, 2:5]
    weights = torch.randn(2, 5, 5, dtype=torch.float64)
    ours = features.detach().requires_grad_(True)
    (style_sums(ours) * weights).sum().backward()
    plain = features.detach().requires_grad_(True)
    flat = plain.reshape(2, 5, -1)
    ((flat @ flat.transpose(1, 2)) * weights).sum().backward()
    torch.testing.assert_close(ours.grad, plain.grad)
    assert ours.grad.shape == features.shape
    assert torch.autograd.gradcheck(style_sums, (features.detach().requires_grad_(True),))


def test_style_sums_of_bf16_features_are_fp32_and_their_gradient_bf16():
    features = torch.randn(1, 8, 4, 4).bfloat16().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    sums = style_sums(features)
    sums.sum().backward()
    exact = features.detach().double().reshape(1, 8, 16)
    assert sums.dtype == torch.float32 and features.grad.dtype == torch.bfloat16
    torch.testing.assert_close(sums.double(), exact @ exact.transpose(1, 2), rtol=1e-6, atol=1e-6)
