"""The SR coding mode's file: one container holding the content stream (HEVC) and the
model stream (QP + upsampling method).

Layout (all integers big-endian)::

    offset  size  field
    0       4     magic b"HMSR"
    4       1     container version (1)
    5       2     output width  (full size, luma samples)
    7       2     output height
    9       1     model stream length M
    10      4     content stream length C
    14      M     model stream
    14+M    C     content stream: Annex-B HEVC, all-intra, half-size 4:2:0 picture
    14+M+C  4     CRC-32 of every byte before it

Model stream, version 1, two bytes::

    byte 0  model-stream version (1)
    byte 1  QP (6 bits, 0..63) << 2 | upsampling method (2 bits: 00 nearest, 01 bilinear,
            10 bicubic, 11 area)

The QP selects the SR network (the one trained for the nearest QP); the method selects
the upsampler whose output the network's residual is added to (luma) and which
upsamples chroma.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from sr_mode.resample import UPSAMPLERS

MAGIC = b"HMSR"
VERSION = 1
MODEL_STREAM_VERSION = 1
_HEAD = struct.Struct(">4sBHHBI")


class ContainerError(ValueError):
    """The file is not a valid SR container (wrong magic, truncated, corrupt)."""


@dataclass(frozen=True)
class ModelStream:
    qp: int
    method: str

    def encode(self) -> bytes:
        if not 0 <= self.qp <= 63:
            raise ValueError(f"QP {self.qp} does not fit the model stream's 6 bits")
        return bytes([MODEL_STREAM_VERSION, (self.qp << 2) | UPSAMPLERS.index(self.method)])

    @classmethod
    def decode(cls, data: bytes) -> "ModelStream":
        if len(data) != 2 or data[0] != MODEL_STREAM_VERSION:
            raise ContainerError(f"unsupported model stream ({len(data)} bytes, version {data[:1].hex() or '-'})")
        return cls(qp=data[1] >> 2, method=UPSAMPLERS[data[1] & 3])


@dataclass(frozen=True)
class Container:
    width: int
    height: int
    model: ModelStream
    content: bytes

    def pack(self) -> bytes:
        m = self.model.encode()
        body = _HEAD.pack(MAGIC, VERSION, self.width, self.height, len(m), len(self.content)) + m + self.content
        return body + struct.pack(">I", zlib.crc32(body))

    @classmethod
    def unpack(cls, data: bytes) -> "Container":
        data = bytes(data)
        if len(data) < _HEAD.size + 4:
            raise ContainerError(f"truncated SR container ({len(data)} bytes)")
        magic, version, w, h, m, c = _HEAD.unpack_from(data)
        if magic != MAGIC:
            raise ContainerError("not an SR container (bad magic)")
        if version != VERSION:
            raise ContainerError(f"unsupported SR container version {version}")
        end = _HEAD.size + m + c
        if len(data) != end + 4:
            raise ContainerError(f"SR container is {len(data)} bytes, its header says {end + 4} (truncated?)")
        if struct.unpack_from(">I", data, end)[0] != zlib.crc32(data[:end]):
            raise ContainerError("SR container CRC mismatch (corrupt file)")
        if w == 0 or h == 0 or w % 4 or h % 4:
            raise ContainerError(f"bad picture size {w}x{h} in SR container")
        model = ModelStream.decode(data[_HEAD.size:_HEAD.size + m])
        return cls(w, h, model, data[_HEAD.size + m:end])
