"""The super-resolution coding mode: downscale by 2, code with HEVC intra, upscale with a
per-QP residual SR network on top of an upsampler the encoder picks by RDO.

    sr_encode(rgb, qp, models) -> (container bytes, details)
    sr_decode(container bytes, models) -> YCbCr Video + RGB picture

Encoder: RGB -> YCbCr 4:2:0 (BT.601, cropped to a multiple of 4) -> bicubic
(antialiased) downscale of every plane by 2 -> HEVC all-intra at QP (content stream).
For each upsampling method, the decoded half-size luma is upsampled and the SR
network's residual added; the method of least distortion against the source is
signalled. All methods cost the same two bits, so the rate term cancels and
distortion decides: ``criterion`` "sse_y" (luma SSE, default) or "sse_yuv" (6:1:1
weighted Y, Cb, Cr SSE). Ties go to the lower method code. Chroma is upsampled with
the chosen method (the networks are luma only, as in the seed).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import hm_bridge as hb
from cnn_filter import zoo
from cnn_filter.kinds import KINDS
from hm_bridge.bitstream import strip_hash_sei
from hm_bridge.color import rgb_to_video, video_frame_to_rgb
from hm_bridge.configs import check_qp
from sr_mode.container import Container, ModelStream
from sr_mode.resample import UPSAMPLERS, half_size, to_uint8, upsample2

CRITERIA = ("sse_y", "sse_yuv")
#: the QPs the mode's networks are trained for (the seed lists QP 52, beyond HEVC's 8-bit
#: range 0..51: its last point is QP 51 here)
SR_QPS = (28, 32, 36, 40, 44, 48, 51)
#: network kinds (cnn_filter.models.KINDS) that super-resolve
SR_KINDS = tuple(k.name for k in KINDS.values() if k.super_resolution)


def super_resolve(model, kind: str, lr_y: np.ndarray, method: str = "bicubic"):
    """x2 luma from a half-size luma plane: ``sr_residual`` networks add their residual to
    the upsampled plane, ``sr_refine`` networks map the upsampled plane to the output.
    Returns an unrounded float tensor (0..255 scale)."""
    import torch

    up = upsample2(lr_y, method)
    with torch.no_grad():
        if kind == "sr_residual":
            x = torch.from_numpy(np.ascontiguousarray(lr_y)).float().div(255.0)[None, None]
            return up + model(x)[0, 0] * 255.0
        if kind == "sr_refine":
            return model(up.div(255.0)[None, None])[0, 0] * 255.0
    raise ValueError(f"not a super-resolution model kind: {kind!r}")


class SRModels:
    """The mode's per-QP SR networks (a cnn_filter model set); the network of the nearest
    trained QP serves a QP."""

    def __init__(self, path):
        self.set = zoo.open_models(path)
        self.kind = self.set.kind or "sr_residual"
        if self.kind not in SR_KINDS:
            raise ValueError(f"{path} holds {self.kind} models, not super-resolution networks")
        self.models = self.set.load_all()

    @property
    def path(self) -> Path:
        return self.set.path

    @property
    def qps(self) -> list[int]:
        return list(self.set.qps)

    def for_qp(self, qp: int):
        return self.models[self.set.nearest(qp)]

    def super_resolve(self, lr_y: np.ndarray, qp: int, method: str):
        """The full-size luma (float tensor, unrounded) for a method."""
        return super_resolve(self.for_qp(qp), self.kind, lr_y, method)


@dataclass
class SREncodeDetails:
    method: str
    distortions: dict  # method -> criterion value
    content_bytes: int
    total_bytes: int
    lr_size: tuple[int, int]


def _distortions(models: SRModels, qp: int, full: hb.Video, decoded: hb.Video, criterion: str) -> dict:
    """Each upsampling method's distortion against the full-size source."""
    y, u, v = full.y[0], full.u[0], full.v[0]
    dy, du, dv = decoded.y[0], decoded.u[0], decoded.v[0]
    out = {}
    for method in UPSAMPLERS:
        sr_y = to_uint8(models.super_resolve(dy, qp, method)).astype(np.int64)
        d = float(((sr_y - y) ** 2).sum())
        if criterion == "sse_yuv":
            for lr_c, full_c in ((du, u), (dv, v)):
                d += float(((to_uint8(upsample2(lr_c, method)).astype(np.int64) - full_c) ** 2).sum()) / 6.0
        out[method] = d
    return out


def sr_encode(rgb: np.ndarray, qp: int, models: SRModels, *, criterion: str = "sse_y",
              preset: str = "slow") -> tuple[bytes, SREncodeDetails]:
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; choose {' or '.join(CRITERIA)}")
    check_qp(qp)
    full = rgb_to_video(rgb, multiple=4)
    lr = half_size(full)
    coded = hb.encode(lr, config="ai", qp=qp, preset=preset, recon="memory")  # verify=True: bit-exact content stream
    distortions = _distortions(models, qp, full, coded.recon, criterion)
    best = min(UPSAMPLERS, key=lambda m: (distortions[m], UPSAMPLERS.index(m)))
    content = strip_hash_sei(coded.bitstream)
    data = Container(full.width, full.height, ModelStream(qp, best), content).pack()
    return data, SREncodeDetails(best, distortions, len(content), len(data), (lr.width, lr.height))


def sr_decode(data: bytes, models: SRModels) -> tuple[hb.Video, np.ndarray, ModelStream]:
    """Decodes a container: (full-size 4:2:0 Video, RGB picture, the model stream)."""
    c = Container.unpack(data)
    dec = hb.decode(c.content)
    if (dec.video.width * 2, dec.video.height * 2) != (c.width, c.height):
        raise ValueError(f"content stream is {dec.video.width}x{dec.video.height}, container says "
                         f"{c.width}x{c.height} / 2")
    dy, du, dv = dec.video.y[0], dec.video.u[0], dec.video.v[0]
    m = c.model.method
    y = to_uint8(models.super_resolve(dy, c.model.qp, m))
    video = hb.Video(y[None], to_uint8(upsample2(du, m))[None], to_uint8(upsample2(dv, m))[None])
    return video, video_frame_to_rgb(video), c.model
