"""How steady a stylized video is: the warping error of Lai et al. (ECCV 2018, "Learning Blind
Video Temporal Consistency"): over consecutive frame pairs, the mean over the pixels visible in
both (flow.reliable) of the squared RGB difference ([0, 1] units, summed over the channels)
between a stylized frame and its predecessor warped into it by the source frames' flow. The flow
here is Farneback's (OpenCV), not the DIS flow the frames were made to follow, so a video is not
graded by its own flow. Lower is steadier; frames stylized one by one score about 10 times higher.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from PIL import Image

from .flow import reliable, warp


def farneback(start: Image.Image, end: Image.Image) -> torch.Tensor:
    """[2, H, W]: the flow from start to end, by Farneback's method (OpenCV's sample settings)."""
    gray = [np.asarray(image.convert("L")) for image in (start, end)]
    flow = cv2.calcOpticalFlowFarneback(gray[0], gray[1], None, 0.5, 3, 15, 3, 5, 1.2, 0)
    return torch.from_numpy(flow).permute(2, 0, 1).contiguous()


def visible(before: Image.Image, after: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
    """Of a pair of source frames: the backward flow (after -> before) and the mask of the pixels
    of `after` visible in `before`; one pair's, for all its artworks."""
    forward, backward = farneback(before, after), farneback(after, before)
    return backward, reliable(forward, backward)


def error(pair: tuple, stylized_before, stylized_after) -> float:
    """The warping error of one artwork's stylized frames ([1, 3, H, W] each) of a pair of
    source frames (visible's)."""
    backward, mask = pair
    difference = (stylized_after.float() - warp(stylized_before, backward)).pow(2).sum(1, keepdim=True)
    return float((mask * difference).sum() / mask.sum().clamp(min=1))


def warping_error(frames: list, stylized: list) -> float:
    """The mean warping error over a run of source frames and one artwork's stylized frames."""
    errors = [error(visible(*frames[t - 1 : t + 1]), *stylized[t - 1 : t + 1]) for t in range(1, len(frames))]
    return sum(errors) / len(errors)
