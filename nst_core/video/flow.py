"""Optical flow between two frames, an image warped by it, and where the warp can be trusted.

Flow: OpenCV's DIS (Kroeger et al., ECCV 2016, "Fast Optical Flow using Dense Inverse Search"),
from `opencv-python-headless`: a few milliseconds a frame at 256 px on a CPU, deterministic, and
no weights to download (RAFT's would be, at run time, which air-gapped nodes cannot). Warps and
masks are torch, on the images' device, for a whole batch of artworks at once.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# Ruder, Dosovitskiy & Brox 2016, eq. 1 and 2: where forward and backward flow disagree by more
# than this (disocclusion), or the flow's gradient is this large (motion boundary), the warped
# previous frame is not trusted.
DISAGREE_SHARE, DISAGREE_PX2 = 0.01, 0.5
BOUNDARY_SHARE, BOUNDARY_PX2 = 0.01, 0.002


def flow(start: Image.Image, end: Image.Image) -> torch.Tensor:
    """[2, H, W] float32: for each pixel of `start`, how far (dx, dy, in px) it moved in `end`."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    gray = [np.asarray(image.convert("L")) for image in (start, end)]
    return torch.from_numpy(dis.calc(gray[0], gray[1], None)).permute(2, 0, 1).contiguous()


def _grid(displacement: torch.Tensor) -> torch.Tensor:
    """[1, H, W, 2] sampling grid (grid_sample's [-1, 1], pixel centres) of x + displacement."""
    _, height, width = displacement.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij"
    )
    x = (xs.to(displacement.device) + displacement[0]) * 2 / max(width - 1, 1) - 1
    y = (ys.to(displacement.device) + displacement[1]) * 2 / max(height - 1, 1) - 1
    return torch.stack([x, y], dim=-1)[None]


def warp(images: torch.Tensor, backward: torch.Tensor) -> torch.Tensor:
    """Images of the previous frame ([B, C, H, W]) moved into the current one: each pixel of
    the current frame takes the previous frame's at where it came from (backward: the flow
    from the current frame to the previous). Bilinear; outside the frame, its nearest edge."""
    grid = _grid(backward.to(images.device)).expand(images.shape[0], -1, -1, -1)
    return F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="border", align_corners=True)


def reliable(forward: torch.Tensor, backward: torch.Tensor) -> torch.Tensor:
    """[1, 1, H, W]: 1 where the current frame's pixel was visible in the previous frame, came
    from inside it and is not on a motion boundary; 0 elsewhere (there the temporal loss lets
    the image go). forward: previous -> current; backward: current -> previous."""
    there = warp(forward[None], backward)[0]  # w~(x) = w(x + w^(x))
    round_trip = (there + backward).pow(2).sum(0)
    disoccluded = round_trip > DISAGREE_SHARE * (there.pow(2).sum(0) + backward.pow(2).sum(0)) + DISAGREE_PX2
    dy = torch.zeros_like(backward)
    dx = torch.zeros_like(backward)
    dy[:, 1:] = backward[:, 1:] - backward[:, :-1]
    dx[:, :, 1:] = backward[:, :, 1:] - backward[:, :, :-1]
    gradient = dx.pow(2).sum(0) + dy.pow(2).sum(0)
    boundary = gradient > BOUNDARY_SHARE * backward.pow(2).sum(0) + BOUNDARY_PX2
    grid = _grid(backward)[0]
    inside = (grid.abs() <= 1).all(-1)  # came from inside the previous frame
    return (inside & ~disoccluded & ~boundary).float()[None, None]
