"""libde265 (patched: the in-loop filter hook, hash mismatches reported), in process,
one output picture at a time."""
from __future__ import annotations

from typing import Iterator

from hm_bridge import _core
from hm_bridge.backend import DecodeStats
from hm_bridge.bitstream import is_hash_sei, split_nals
from hm_bridge.video import split_i420

NAME = f"libde265 {_core.LIBDE265_VERSION}"


def check_threads(value, name: str = "threads") -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    return value


def decode_pictures(bitstream: bytes, loop_filter, stats: DecodeStats, threads: int | None = None) -> Iterator[tuple]:
    """(y, u, v) of every output picture of ``bitstream``, decoded with ``loop_filter``.
    RuntimeError on a corrupt or unsupported stream (libde265's message)."""
    stats.decoder = NAME
    stats.hashed_pictures = sum(1 for n in split_nals(bitstream) if is_hash_sei(n))
    dec = _core.De265Decoder(loop_filter, check_threads(threads))
    dec.push(bytes(bitstream))
    dec.end()
    while (pic := dec.pull()) is not None:
        width, height, data, depth = pic
        stats.hash_mismatches, stats.bit_depth = dec.hash_mismatches, depth
        yield split_i420(data if depth == 8 else data.view("<u2"), width, height)
    stats.hash_mismatches = dec.hash_mismatches
    stats.warnings = list(dec.warnings)


def stream_format(bitstream: bytes) -> tuple[int, int, int]:
    """The output pictures' width, height and bit depth (the first picture, decoded without
    a filter)."""
    stats = DecodeStats()
    for y, _, _ in decode_pictures(bitstream, None, stats):
        return y.shape[1], y.shape[0], stats.bit_depth
    raise RuntimeError("the bitstream holds no decodable picture")
