"""RGB <-> YCbCr 4:2:0, ITU-R BT.601 studio range (the conversion of MATLAB's rgb2ycbcr,
which the super-resolution and loop-filter literature reports PSNR-Y with)."""
from __future__ import annotations

import numpy as np

from hm_bridge.video import Video

_TO_YCC = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]]) / 255.0
_OFFSET = np.array([16.0, 128.0, 128.0])
_FROM_YCC = np.linalg.inv(_TO_YCC)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W, 3) float64 Y, Cb, Cr (studio range, unrounded)."""
    return rgb.astype(np.float64) @ _TO_YCC.T + _OFFSET


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """(H, W, 3) Y, Cb, Cr -> (H, W, 3) uint8 RGB (rounded, clipped)."""
    return np.clip(np.round((ycc - _OFFSET) @ _FROM_YCC.T), 0, 255).astype(np.uint8)


def crop_to_multiple(rgb: np.ndarray, multiple: int) -> np.ndarray:
    h, w = rgb.shape[0] // multiple * multiple, rgb.shape[1] // multiple * multiple
    if h == 0 or w == 0:
        raise ValueError(f"image {rgb.shape[1]}x{rgb.shape[0]} is smaller than {multiple}x{multiple}")
    return rgb[:h, :w]


def rgb_to_video(rgb: np.ndarray, multiple: int = 8) -> Video:
    """One RGB image as a one-frame 4:2:0 Video (cropped to a multiple of ``multiple``;
    chroma subsampled by 2x2 averaging)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {rgb.shape}")
    ycc = rgb_to_ycbcr(crop_to_multiple(rgb, multiple))
    y = np.clip(np.round(ycc[..., 0]), 0, 255).astype(np.uint8)
    h, w = y.shape
    c = ycc[..., 1:].reshape(h // 2, 2, w // 2, 2, 2).mean(axis=(1, 3))
    c = np.clip(np.round(c), 0, 255).astype(np.uint8)
    return Video(y[None], c[None, ..., 0], c[None, ..., 1])


def video_frame_to_rgb(video: Video, index: int = 0) -> np.ndarray:
    """A 4:2:0 frame back to RGB, chroma upsampled by pixel repetition."""
    y = video.y[index].astype(np.float64)
    cb = np.repeat(np.repeat(video.u[index], 2, 0), 2, 1).astype(np.float64)
    cr = np.repeat(np.repeat(video.v[index], 2, 0), 2, 1).astype(np.float64)
    return ycbcr_to_rgb(np.stack([y, cb, cr], axis=-1))


def load_image_rgb(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))
