"""Side-information layout v1, the Python mirror of cpp/include/inloop_side_info.h.

Codecs carry these bytes opaquely in a NAL unit of type 56 (inloop_filter.h); filters
write them on the encoder side and read them on the decoder side::

    byte 0   layout version (1)
    byte 1   model id (0..255)
    byte 2   flags: bit 0 luma on ("frame on"), bit 1 block map present (else every block
             is on), bit 2 Cb filtered, bit 3 Cr filtered (whole planes), bit 4 model hash
    byte 3   log2 block size (6 = 64x64)
    2 bytes  only with bit 4: the model file's 16-bit content hash, big-endian
    then     block map (only with bit 1): one bit per block, raster order, MSB first
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VERSION = 1
_FRAME_ON = 1
_HAS_MAP = 2
_CB_ON = 4
_CR_ON = 8
_HAS_HASH = 16


@dataclass(frozen=True)
class SideInfo:
    model_id: int
    frame_on: bool
    log2_block: int
    blocks: np.ndarray  # (blocks_y, blocks_x) bool; all True when no map was sent
    cb_on: bool = False
    cr_on: bool = False
    model_hash: int | None = None

    @property
    def block_size(self) -> int:
        return 1 << self.log2_block


def block_grid(width: int, height: int, log2_block: int) -> tuple[int, int]:
    """(blocks_y, blocks_x) covering a width x height picture."""
    s = 1 << log2_block
    return (height + s - 1) // s, (width + s - 1) // s


def pack(model_id: int, blocks: np.ndarray, log2_block: int = 6, frame_on: bool | None = None,
         cb_on: bool = False, cr_on: bool = False, model_hash: int | None = None) -> bytes:
    """Side information for a (blocks_y, blocks_x) luma on/off map (luma is on if any
    block is) and the two chroma planes' flags."""
    if not 0 <= model_id <= 255:
        raise ValueError("model_id must be in 0..255")
    if not 3 <= log2_block <= 8:
        raise ValueError("log2_block must be in 3..8")
    blocks = np.asarray(blocks, dtype=bool)
    if frame_on is None:
        frame_on = bool(blocks.any())
    has_map = frame_on and not bool(blocks.all())
    flags = (_FRAME_ON if frame_on else 0) | (_HAS_MAP if has_map else 0) | (_CB_ON if cb_on else 0) | (
        _CR_ON if cr_on else 0) | (_HAS_HASH if model_hash is not None else 0)
    head = bytes([VERSION, model_id, flags, log2_block])
    if model_hash is not None:
        head += int(model_hash).to_bytes(2, "big")
    return head + (np.packbits(blocks.reshape(-1)).tobytes() if has_map else b"")


def unpack(data: bytes, width: int, height: int) -> SideInfo:
    """Parses side information of a width x height picture; ValueError if malformed."""
    data = bytes(data)
    if len(data) < 4 or data[0] != VERSION or not 3 <= data[3] <= 8:
        raise ValueError(f"malformed side information ({len(data)} bytes)")
    model_id, flags, log2_block = data[1], data[2], data[3]
    by, bx = block_grid(width, height, log2_block)
    has_map = bool(flags & _HAS_MAP)
    map_at = 4 + (2 if flags & _HAS_HASH else 0)
    expected = map_at + ((by * bx + 7) // 8 if has_map else 0)
    if len(data) != expected:
        raise ValueError(f"side information is {len(data)} bytes, expected {expected}")
    model_hash = int.from_bytes(data[4:6], "big") if flags & _HAS_HASH else None
    if has_map:
        bits = np.unpackbits(np.frombuffer(data, np.uint8, offset=map_at))[: by * bx]
        blocks = bits.astype(bool).reshape(by, bx)
    else:
        blocks = np.ones((by, bx), dtype=bool)
    return SideInfo(model_id, bool(flags & _FRAME_ON), log2_block, blocks, bool(flags & _CB_ON), bool(flags & _CR_ON),
                    model_hash)
