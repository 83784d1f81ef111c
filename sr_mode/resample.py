"""Resampling of 8-bit planes by a factor of 2 (torch, deterministic on the CPU).

Upsampling methods carry the SR coding mode's 2-bit codes: 0 nearest, 1 bilinear,
2 bicubic, 3 area. For integer enlargement, area interpolation gives each output sample
the one input sample it lies in, i.e. it coincides with nearest (OpenCV documents its
INTER_AREA the same way); the code exists because the format has it.
"""
from __future__ import annotations

import numpy as np

UPSAMPLERS = ("nearest", "bilinear", "bicubic", "area")


def _tensor(plane: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(plane)).float()[None, None]


def upsample2(plane: np.ndarray, method: str):
    """(H, W) uint8/float -> (2H, 2W) float32 torch tensor (unrounded)."""
    import torch.nn.functional as F

    if method not in UPSAMPLERS:
        raise ValueError(f"unknown upsampling method {method!r}; choose one of {', '.join(UPSAMPLERS)}")
    x = _tensor(plane)
    if method == "area":
        method = "nearest"  # see the module docstring
    kw = {} if method == "nearest" else {"align_corners": False}
    return F.interpolate(x, scale_factor=2, mode=method, **kw)[0, 0]


def downsample2(plane: np.ndarray) -> np.ndarray:
    """(H, W) -> (H/2, W/2) uint8, bicubic with antialiasing (H, W even)."""
    import torch.nn.functional as F

    h, w = plane.shape
    if h % 2 or w % 2:
        raise ValueError(f"plane {w}x{h} cannot be halved")
    y = F.interpolate(_tensor(plane), size=(h // 2, w // 2), mode="bicubic", antialias=True, align_corners=False)
    return to_uint8(y[0, 0])


def to_uint8(t) -> np.ndarray:
    """A float tensor (0..255 scale) rounded and clipped to uint8."""
    import torch

    return t.round().clamp(0, 255).to(dtype=torch.uint8).numpy()


def half_size(video):
    """Every plane of every frame halved (bicubic, antialiased): the SR mode's downscaler."""
    import hm_bridge as hb

    return hb.Video(*(np.stack([downsample2(p) for p in plane]) for plane in (video.y, video.u, video.v)),
                    video.fps)
