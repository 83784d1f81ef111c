"""A long sequence coded as segments (each its own encode, anywhere), then joined into one
stream and one result, as if it had been coded whole.

A segment starts at a random-access point the backend names (``Codec.segment_starts``:
x265 AI at any picture, x265 RA at each closed-GOP IDR): pictures before it are never
referenced after it, so the segment's encode is the whole encode's pictures from there.
Joining keeps the first segment's stream as it is and drops, from each later one, the
stream header the encoder writes once per stream (x265: the parameter sets before the
first picture, which each IDR's access unit repeats anyway); the
result's per-picture numbers are the segments' one after another, the rate that of the
joined stream. Whether the joined stream equals the unsplit encode byte for byte is a
property of the backend (tests/test_segments.py checks it for x265 AI and RA).
"""
from __future__ import annotations

import math

import numpy as np

from hm_bridge.bitstream import count_bytes
from hm_bridge.results import EncodeResult
from hm_bridge.video import PsnrReport

def plan_segments(frames: int, starts: list[int], count: int | str) -> list[tuple[int, int]]:
    """[first, end) frame ranges: ``count`` segments (or "auto": one per random-access
    period, AI: about 32 pictures each) cut only at ``starts`` (allowed first pictures,
    0 among them), as even as they allow. Fewer when there are not enough cut points."""
    starts = sorted({s for s in starts if 0 <= s < frames} | {0})
    if count == "auto":
        step = 32 if len(starts) == frames else 1  # every picture a RAP (AI): ~32 per segment
        cuts = starts[::step] if step > 1 else starts
    else:
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"segments must be 'auto' or a positive integer, got {count!r}")
        if count >= len(starts):
            cuts = starts
        else:  # for each ideal cut, the nearest allowed start (no two the same)
            cuts = sorted({min(starts, key=lambda s: (abs(s - k * frames / count), s)) for k in range(count)})
    return [(a, b) for a, b in zip(cuts, cuts[1:] + [frames])]


def join_streams(streams: list[bytes], header_bytes: list[int]) -> tuple[bytes, list[int]]:
    """The segments' streams as one: each later stream without its stream header (its
    first ``header_bytes``: what the encoder writes once per stream), when it equals the
    first stream's. Returns the stream and the bytes dropped from each segment."""
    if not streams or len(streams) != len(header_bytes):
        raise ValueError("one stream and one header length per segment")
    head = streams[0][:header_bytes[0]]
    parts, dropped = [streams[0]], [0]
    for s, h in zip(streams[1:], header_bytes[1:]):
        cut = h if h and s[:h] == head else 0  # a header of other settings stays (a decoder takes it)
        parts.append(s[cut:])
        dropped.append(cut)
    return b"".join(parts), dropped


def join_results(parts: list[EncodeResult], firsts: list[int]) -> EncodeResult:
    """One result from the segments' (``firsts``: each one's first frame in the sequence,
    increasing, contiguous): their pictures in order, the joined stream and its rate.
    Parameter sets dropped from a segment come off its first picture's bits."""
    if not parts or len(parts) != len(firsts):
        raise ValueError("one first frame per segment")
    for (a, r), b in zip(zip(firsts, parts), firsts[1:] + [firsts[-1] + parts[-1].frames]):
        if b - a != r.frames:
            raise ValueError(f"segments are not contiguous: the one at frame {a} has {r.frames} pictures, "
                             f"the next starts at {b}")
    head = parts[0]
    for r in parts[1:]:
        same = (r.config, r.qp, r.fps, r.encoder, r.placement, r.qp_cascade, r.intra_period)
        if same != (head.config, head.qp, head.fps, head.encoder, head.placement, head.qp_cascade, head.intra_period):
            raise ValueError("segments coded with different settings cannot be joined")
    stream, dropped = join_streams([r.bitstream for r in parts], [r.stream_header_bytes for r in parts])
    bits = []
    for r, d in zip(parts, dropped):
        b = r.bits_per_frame.copy()
        b[0] -= 8 * d  # the segment's first picture (its IDR: first in decoding and display order)
        bits.append(b)
    bits = np.concatenate(bits)
    rate = count_bytes(stream).rate
    if int(bits.sum()) != 8 * rate:
        raise RuntimeError(f"joined segments: {int(bits.sum()) // 8} bytes by picture, {rate} in the stream")
    return EncodeResult(
        bitstream=stream,
        psnr=PsnrReport(np.concatenate([r.psnr.per_frame for r in parts]),
                        np.concatenate([r.psnr.mse_per_frame for r in parts]), head.psnr.peak),
        bits_per_frame=bits,
        frame_types=[t for r in parts for t in r.frame_types],
        slice_qps=[q for r in parts for q in r.slice_qps],
        recon_md5s=[m for r in parts for m in r.recon_md5s],
        rate_bytes=rate,
        side_info_bytes=sum(r.side_info_bytes for r in parts),
        seconds=math.fsum(r.seconds for r in parts),  # encoder time spent, not wall time
        config=head.config, qp=head.qp, fps=head.fps, encoder=head.encoder, encoder_options=head.encoder_options,
        placement=head.placement, qp_cascade=head.qp_cascade, intra_period=head.intra_period, stream_header_bytes=head.stream_header_bytes)
