"""Colour preservation (Gatys et al., "Preserving Color in Neural Artistic Style Transfer", 2016).

- luminance: stylize the luminance channel only, then recombine it with the photo's chroma (YIQ).
- histogram: recolour the style image so its colour mean and covariance match the photo's,
  before its Grams are computed (the symmetric "image analogies" transform).
"""

from __future__ import annotations

import torch

_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _apply(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return _apply(_RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return _apply(_YIQ_TO_RGB, image)


def luminance_rgb(image: torch.Tensor) -> torch.Tensor:
    """The luminance as a grey 3-channel image, the form VGG expects."""
    return rgb_to_yiq(image)[:, :1].expand(-1, 3, -1, -1).contiguous()


def recombine_luminance(stylized: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """Each stylized image's luminance ([B, 3, H, W]) with the photo's chroma ([1, 3, H, W])."""
    chroma = rgb_to_yiq(photo)[:, 1:].expand(stylized.shape[0], -1, -1, -1)
    yiq = torch.cat([rgb_to_yiq(stylized)[:, :1], chroma], dim=1)
    return yiq_to_rgb(yiq).clamp(0, 1)


def _mean_cov(image: torch.Tensor):
    pixels = image.double().reshape(3, -1)
    mean = pixels.mean(1, keepdim=True)
    centred = pixels - mean
    cov = centred @ centred.T / pixels.shape[1] + 1e-5 * torch.eye(3, dtype=torch.double, device=pixels.device)
    return mean, cov


def _sqrtm(matrix: torch.Tensor, power: float) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp_min(1e-10) ** power) @ vectors.T


def match_color(source: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Affinely recolour source ([1, 3, H, W]) to the reference's colour mean and covariance."""
    mean_s, cov_s = _mean_cov(source[0])
    mean_r, cov_r = _mean_cov(reference[0])
    transform = _sqrtm(cov_r, 0.5) @ _sqrtm(cov_s, -0.5)
    pixels = source[0].double().reshape(3, -1)
    matched = transform @ (pixels - mean_s) + mean_r
    return matched.reshape(source.shape).to(source.dtype).clamp(0, 1)
