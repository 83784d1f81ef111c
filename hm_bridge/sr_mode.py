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

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import hm_bridge as hb
from hm_bridge.bitstream import strip_hash_sei
from hm_bridge.color import rgb_to_video, video_frame_to_rgb
from hm_bridge.configs import check_qp
from hm_bridge.resample import UPSAMPLERS, downsample2, to_uint8, upsample2
from hm_bridge.sr_container import Container, ModelStream

CRITERIA = ("sse_y", "sse_yuv")


class SRModels:
    """Per-QP SR networks (TorchScript files listed in a manifest.json); the network of
    the nearest trained QP serves a QP. ``kind`` is the registry kind of the networks."""

    def __init__(self, path):
        import torch

        path = Path(path)
        manifest = path / "manifest.json"
        if not manifest.exists():
            raise FileNotFoundError(f"no SR models at {path} (manifest.json missing)")
        meta = json.loads(manifest.read_text())
        self.kind = meta.get("kind", "sr_residual")
        self.path = path
        self.models = {}
        for qp, file in meta["models"].items():
            f = path / file
            if not f.is_file():
                raise FileNotFoundError(f"SR model {f} (QP {qp}) is missing")
            try:
                self.models[int(qp)] = torch.jit.load(str(f)).eval()
            except RuntimeError as e:
                raise ValueError(f"cannot load SR model {f}: {e}") from e

    @property
    def qps(self) -> list[int]:
        return sorted(self.models)

    def for_qp(self, qp: int):
        return self.models[min(self.qps, key=lambda q: (abs(q - qp), q))]

    def super_resolve(self, lr_y: np.ndarray, qp: int, method: str):
        """The full-size luma (float tensor, unrounded) for a method."""
        return super_resolve(self.for_qp(qp), self.kind, lr_y, method)


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


@dataclass
class SREncodeDetails:
    method: str
    distortions: dict  # method -> criterion value
    content_bytes: int
    total_bytes: int
    lr_size: tuple[int, int]


def _split_420(video: hb.Video):
    return video.y[0], video.u[0], video.v[0]


def sr_encode(rgb: np.ndarray, qp: int, models: SRModels, *, criterion: str = "sse_y",
              preset: str = "slow") -> tuple[bytes, SREncodeDetails]:
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; choose {' or '.join(CRITERIA)}")
    check_qp(qp)
    full = rgb_to_video(rgb, multiple=4)
    y, u, v = _split_420(full)
    lr = hb.Video(downsample2(y)[None], downsample2(u)[None], downsample2(v)[None])
    coded = hb.encode(lr, config="ai", qp=qp, preset=preset)  # verify=True: bit-exact content stream
    dy, du, dv = _split_420(coded.recon)
    distortions = {}
    for method in UPSAMPLERS:
        sr_y = to_uint8(models.super_resolve(dy, qp, method)).astype(np.int64)
        d = float(((sr_y - y) ** 2).sum())
        if criterion == "sse_yuv":
            for lr_c, full_c in ((du, u), (dv, v)):
                d += float(((to_uint8(upsample2(lr_c, method)).astype(np.int64) - full_c) ** 2).sum()) / 6.0
        distortions[method] = d
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
    dy, du, dv = _split_420(dec.video)
    m = c.model.method
    y = to_uint8(models.super_resolve(dy, c.model.qp, m))
    video = hb.Video(y[None], to_uint8(upsample2(du, m))[None], to_uint8(upsample2(dv, m))[None])
    return video, video_frame_to_rgb(video), c.model
