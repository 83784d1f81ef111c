"""Codec backends behind one interface (the shape of CompressAI's ``Codec``): each one
adds only its own way of running; the results and their metrics (rate from bitstream
bytes without the picture-hash SEI, HM-style per-frame PSNR, encoder reconstruction ==
decoder output) are the same EncodeResult / DecodeResult for all.

    x265   the patched x265 + libde265, in this process (hm_bridge.codec)
    hm     the user's HM build, as processes (hm_bridge.hm)
"""
from __future__ import annotations

from abc import ABC, abstractmethod

from hm_bridge.codec import DecodeResult, EncodeResult, decode, encode
from hm_bridge.video import Video


class Codec(ABC):
    name: str = ""
    #: configs it codes
    configs: tuple[str, ...] = ()

    @abstractmethod
    def encode(self, video: Video, *, config: str, qp: int, loop_filter=None, placement: str = "loop",
               sequence: str | None = None, **options) -> EncodeResult:
        """Codes ``video``; ``sequence`` names a catalogue sequence (HM's per-sequence cfg)."""

    @abstractmethod
    def decode(self, bitstream: bytes, *, loop_filter=None, fps: float = 30.0) -> DecodeResult:
        ...

    @abstractmethod
    def version(self) -> str:
        ...


class X265Codec(Codec):
    name = "x265"
    configs = ("ai", "ra", "ldp")

    def encode(self, video, *, config, qp, loop_filter=None, placement="loop", sequence=None, **options):
        return encode(video, config=config, qp=qp, loop_filter=loop_filter, placement=placement, **options)

    def decode(self, bitstream, *, loop_filter=None, fps=30.0):
        return decode(bitstream, loop_filter=loop_filter, fps=fps)

    def version(self) -> str:
        return "x265 3.5 + libde265 1.0.11, patched"


class HMCodec(Codec):
    name = "hm"
    configs = ("ai", "ra", "ldb", "ldp")

    def __init__(self, root=None):
        from hm_bridge.hm import HMBuild

        self.build = HMBuild.find(root)

    def encode(self, video, *, config, qp, loop_filter=None, placement="loop", sequence=None, preset=None,
               frames=None, verify=True, **ignored):
        from hm_bridge.hm import hm_encode

        # x265-only settings (preset, threads, cascade) do not apply: HM's cfgs say it all
        return hm_encode(video, config=config, qp=qp, hm=self.build, loop_filter=loop_filter, placement=placement,
                         sequence_cfg=sequence, frames=frames, verify=verify)

    def decode(self, bitstream, *, loop_filter=None, fps=30.0):
        from hm_bridge.hm import hm_decode

        return hm_decode(bitstream, self.build, loop_filter, fps)

    def version(self) -> str:
        return self.build.version


CODECS = ("x265", "hm")


def get_codec(name: str, hm_dir=None) -> Codec:
    if name == "x265":
        return X265Codec()
    if name == "hm":
        return HMCodec(hm_dir)
    raise ValueError(f"unknown codec {name!r}; choose one of {', '.join(CODECS)}")
