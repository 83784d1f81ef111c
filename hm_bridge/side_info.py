"""Side-information layout 2, the Python mirror of cpp/include/inloop_side_info.h.

Codecs carry these bytes opaquely in a NAL unit of type 56 (inloop_filter.h); filters
write them on the encoder side and read them on the decoder side. A bit string, most
significant bit first, zero-padded to whole bytes; ue(v) is HEVC's Exp-Golomb code::

    u(1)  luma on ("frame on")
    u(1)  more flags follow; if 1: u(1) Cb filtered, u(1) Cr filtered, u(1) model hash present
    ue(v) model id (0..255), if anything is filtered
    u(16) the model file's 16-bit content hash, if present
    if luma on: u(1) block map present; if 1:
        u(3) log2 block size - 3, u(1) run-coded,
        then one bit per block (raster order, 1 = on), or, run-coded: u(1) the first
        block's bit and ue(v) of each run's length - 1 until every block is covered
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hm_bridge._core import SIDE_INFO_LAYOUT as LAYOUT  # HMCNN_SIDE_INFO_LAYOUT


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


def _ue(v: int) -> str:
    code = bin(v + 1)[2:]
    return "0" * (len(code) - 1) + code


def _runs(bits: np.ndarray) -> list[int]:
    edges = np.flatnonzero(np.diff(bits.astype(np.int8))) + 1
    return np.diff(np.concatenate([[0], edges, [bits.size]])).tolist()


def pack(model_id: int, blocks: np.ndarray, log2_block: int = 6, frame_on: bool | None = None,
         cb_on: bool = False, cr_on: bool = False, model_hash: int | None = None) -> bytes:
    """Side information for a (blocks_y, blocks_x) luma on/off map (luma is on if any
    block is) and the two chroma planes' flags."""
    if not 0 <= model_id <= 255:
        raise ValueError("model_id must be in 0..255")
    if not 3 <= log2_block <= 10:
        raise ValueError("log2_block must be in 3..10")
    blocks = np.asarray(blocks, dtype=bool).reshape(-1)
    if frame_on is None:
        frame_on = bool(blocks.any())
    has_map = frame_on and not bool(blocks.all())
    more = cb_on or cr_on or model_hash is not None
    bits = f"{int(frame_on)}{int(more)}"
    if more:
        bits += f"{int(cb_on)}{int(cr_on)}{int(model_hash is not None)}"
    if frame_on or cb_on or cr_on:
        bits += _ue(model_id)
    if model_hash is not None:
        bits += format(int(model_hash) & 0xFFFF, "016b")
    if frame_on:
        bits += str(int(has_map))
        if has_map:
            bits += format(log2_block - 3, "03b")
            run_code = str(int(blocks[0])) + "".join(_ue(r - 1) for r in _runs(blocks))
            raw = "".join("1" if b else "0" for b in blocks)
            bits += "1" + run_code if len(run_code) < len(raw) else "0" + raw
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


class _Reader:
    def __init__(self, data: bytes):
        self.bits = "".join(format(b, "08b") for b in data)
        self.pos = 0

    def u(self, n: int) -> int:
        if self.pos + n > len(self.bits):
            raise ValueError("side information ends early")
        v = int(self.bits[self.pos:self.pos + n] or "0", 2)
        self.pos += n
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("malformed Exp-Golomb code in side information")
        return (1 << zeros) - 1 + self.u(zeros)


def unpack(data: bytes, width: int, height: int) -> SideInfo:
    """Parses side information of a width x height picture; ValueError if malformed."""
    data = bytes(data)
    if not data:
        raise ValueError("empty side information")
    r = _Reader(data)
    frame_on = bool(r.u(1))
    cb_on = cr_on = has_hash = False
    if r.u(1):
        cb_on, cr_on, has_hash = bool(r.u(1)), bool(r.u(1)), bool(r.u(1))
    model_id = r.ue() if frame_on or cb_on or cr_on else 0
    if model_id > 255:
        raise ValueError(f"side information names model {model_id} (at most 255)")
    model_hash = r.u(16) if has_hash else None
    has_map = bool(r.u(1)) if frame_on else False
    log2_block = r.u(3) + 3 if has_map else 6
    by, bx = block_grid(width, height, log2_block)
    n = by * bx
    if has_map:
        if r.u(1):
            bit, flat = r.u(1), []
            while len(flat) < n:
                run = r.ue() + 1
                if len(flat) + run > n:
                    raise ValueError("side information's block runs overrun the picture")
                flat += [bit] * run
                bit ^= 1
        else:
            flat = [r.u(1) for _ in range(n)]
        blocks = np.array(flat, dtype=bool).reshape(by, bx)
    else:
        blocks = np.ones((by, bx), dtype=bool)
    if len(data) != (r.pos + 7) // 8:
        raise ValueError(f"side information is {len(data)} bytes, expected {(r.pos + 7) // 8}")
    if r.bits[r.pos:].strip("0"):
        raise ValueError("side information's padding is not zero")
    return SideInfo(model_id, frame_on, log2_block, blocks, cb_on, cr_on, model_hash)
