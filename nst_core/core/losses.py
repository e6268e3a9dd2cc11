"""Gram matrices and the losses of Gatys et al.; all reductions in fp32.

Three normalisations, chosen by the preset:
- "paper": L_content = 1/2 sum (F - P)^2 and E_l = 1/(4 N^2 M^2) sum (G - A)^2 with G = F F^T
  (N channels, M = H*W), as printed in the paper.
- "mean": mean squared errors of the features and of Grams divided by M, as in the authors'
  own PyTorch code (used with per-layer weights 1e3 / N^2 on their normalised VGG).
- "scaled": sum d^2 / sum |d| (crowsonkb's ScaledMSELoss): linear, not quadratic, in a layer's
  activation scale, so the raw Oxford network's shallow layers do not drown the deep ones. Its
  content term, sum d^2 / (sum |d| + sum |P|), is quadratic near the photo, where runs start:
  plain |d| has a kink there that no step with a low style weight got past.
Gram targets are stored divided by M: the paper's E_l is sum((G/M - A/M)^2) / (4 N^2), so one
targets file serves every normalisation.

Every loss reduces per image, to [B]: a sum or mean over the batch would couple the images of a
batch (scaled) or scale them by 1/B (mean).
"""

from __future__ import annotations

import torch

_EPS = 1e-8


def _per_image(values: torch.Tensor) -> torch.Tensor:
    """[B, ...] -> [B]: the sum over each image's elements."""
    return values.flatten(1).sum(1)


def _scaled_mse(diff: torch.Tensor) -> torch.Tensor:
    return _per_image(diff.pow(2)) / (_per_image(diff.abs()) + _EPS)


def _positions(features: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """[B, C, H, W] -> its values as [B, H*W, C] where channels are last in memory (the network
    runs so: network.py), else as [B, C, H*W]; and whether positions come first. A view where
    the layout allows: a copy would cost as much as the product."""
    b, c, h, w = features.shape
    if features.stride(1) == 1 and features.stride(3) != 1:  # channels last, or a part of such
        return features.permute(0, 2, 3, 1).reshape(b, h * w, c), True
    return features.reshape(b, c, h * w), False


class _StyleSums(torch.autograd.Function):
    """sum over positions of F F^T in fp32, with its gradient as one product in F's own dtype and
    layout: dL/dF = (S' + S'^T) F for S' = dL/dS. Autograd's own is two products in fp32 added in
    mismatched layouts, which took half of a bf16 evaluation on a CPU with AMX (docs/benchmarks.md)."""

    @staticmethod
    def forward(ctx, features):
        values, positions_first = _positions(features)
        ctx.save_for_backward(values)
        ctx.shape, ctx.positions_first = features.shape, positions_first
        values = values.to(torch.promote_types(values.dtype, torch.float32))  # bf16 -> fp32
        return values.transpose(1, 2) @ values if positions_first else values @ values.transpose(1, 2)

    @staticmethod
    def backward(ctx, grad):
        (values,) = ctx.saved_tensors
        b, c, h, w = ctx.shape
        both = (grad + grad.transpose(1, 2)).to(values.dtype)
        if ctx.positions_first:
            return (values @ both).reshape(b, h, w, c).permute(0, 3, 1, 2)
        return (both @ values).reshape(b, c, h, w)


def style_sums(features: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, C, C]: sum over positions of F F^T, in fp32. Sums add up over the
    parts of an image, which is what makes tiles exact (objective.py)."""
    return _StyleSums.apply(features)


def gram(features: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] -> [B, C, C] Gram matrices divided by H*W, computed in fp32."""
    return style_sums(features) / (features.shape[-2] * features.shape[-1])


def style_loss_of(sums: torch.Tensor, positions: int, target_gram: torch.Tensor, normalisation: str) -> torch.Tensor:
    """One layer's style loss per image ([B]) from its style_sums ([B, C, C]) over `positions`
    feature positions; target_gram is [C, C] or one per image, [B, C, C]."""
    diff = sums / positions - target_gram
    if normalisation == "paper":
        channels = sums.shape[-1]
        return _per_image(diff.pow(2)) / (4 * channels**2)
    if normalisation == "scaled":
        return _scaled_mse(diff)
    return diff.pow(2).flatten(1).mean(1)


def style_loss(features: torch.Tensor, target_gram: torch.Tensor, normalisation: str) -> torch.Tensor:
    """One layer's style loss per image ([B]); target_gram is [C, C] or [B, C, C], divided by H*W."""
    return style_loss_of(style_sums(features), features.shape[-2] * features.shape[-1], target_gram, normalisation)


def content_sums(features: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum d^2, sum |d|) per image ([B] each) of d = F - P, in fp32: all a content loss needs of
    the image. P is one photo's features, [1, C, H, W], for every image of the batch."""
    diff = features.float() - target.float()
    return _per_image(diff.pow(2)), _per_image(diff.abs())


def content_loss_of(squares, absolute, target: torch.Tensor, normalisation: str) -> torch.Tensor:
    """A content loss from content_sums over the whole of `target` (P)."""
    if normalisation == "paper":
        return 0.5 * squares
    if normalisation == "scaled":
        return squares / (absolute + target.float().abs().sum() + _EPS)
    return squares / target.numel()


def content_loss(features: torch.Tensor, target: torch.Tensor, normalisation: str) -> torch.Tensor:
    return content_loss_of(*content_sums(features, target), target, normalisation)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation per image ([B]): mean squared difference of neighbouring pixels."""
    image = image.float()
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.pow(2).flatten(1).mean(1) + dx.pow(2).flatten(1).mean(1)


def temporal_loss(image: torch.Tensor, previous: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Ruder et al.'s short-term temporal loss per image ([B]): (1/D) sum c (x - w)^2 over the
    D values of the image, w the previous frame's result warped into this one ([B, 3, H, W]),
    c the mask ([1, 1, H, W]) of where w can be trusted."""
    image = image.float()
    return (mask * (image - previous).pow(2)).flatten(1).sum(1) / image[0].numel()
