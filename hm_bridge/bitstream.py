"""Annex-B HEVC bitstream bookkeeping: NAL units and the rate we report.

Rate is counted from bitstream bytes (start codes and parameter sets included), with
the in-loop filter's side-information NAL units counted and the decoded-picture-hash SEI
left out (it is a conformance aid, not coded data). x265's own kb/s leaves out every
SEI, which would hide a cost.
"""
from __future__ import annotations

from dataclasses import dataclass

PREFIX_SEI = 39
SUFFIX_SEI = 40
SEI_DECODED_PICTURE_HASH = 132


@dataclass(frozen=True)
class Nal:
    offset: int  # of the start code
    size: int  # start code included
    type: int
    payload_type: int | None  # first SEI message's payloadType, for SEI NAL units


def _sei_payload_type(data: bytes, start: int, end: int) -> int | None:
    t, i = 0, start
    while i < end:
        b = data[i]
        t += b
        i += 1
        if b != 0xFF:
            return t
    return None


def split_nals(data: bytes) -> list[Nal]:
    """NAL units of an Annex-B stream, each with its leading start code."""
    data = bytes(data)
    starts = []  # (start-code offset, payload offset)
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        sc = i - 1 if i > 0 and data[i - 1] == 0 else i
        starts.append((sc, i + 3))
        i = data.find(b"\x00\x00\x01", i + 3)
    nals = []
    for k, (sc, p) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(data)
        if p + 2 > end:
            continue
        t = (data[p] >> 1) & 0x3F
        pt = _sei_payload_type(data, p + 2, end) if t in (PREFIX_SEI, SUFFIX_SEI) else None
        nals.append(Nal(sc, end - sc, t, pt))
    return nals


def is_hash_sei(nal: Nal) -> bool:
    return nal.type in (PREFIX_SEI, SUFFIX_SEI) and nal.payload_type == SEI_DECODED_PICTURE_HASH


def is_side_info(nal: Nal) -> bool:
    """The in-loop filter's side-information NAL unit (inloop_filter.h)."""
    from hm_bridge._core import SIDE_INFO_NAL_TYPE
    return nal.type == SIDE_INFO_NAL_TYPE


def side_info_payloads(data: bytes) -> list[bytes]:
    """The filter side information carried in the stream, in stream order: the RBSP of each
    side-information NAL unit without its rbsp_trailing_bits (as the decoder-side filter
    receives it). Parsed here, independently of the decoders; a unit without its stop bit
    is a ValueError."""
    data = bytes(data)
    out = []
    for n in split_nals(data):
        if not is_side_info(n):
            continue
        nal = data[n.offset:n.offset + n.size]
        rbsp = nal[nal.index(b"\x00\x00\x01") + 5:].replace(b"\x00\x00\x03", b"\x00\x00")  # emulation prevention
        rbsp = rbsp.rstrip(b"\x00")
        if not rbsp.endswith(b"\x80"):
            raise ValueError(f"side-information NAL unit at byte {n.offset}: no rbsp_trailing_bits (corrupt)")
        out.append(rbsp[:-1])
    return out


@dataclass(frozen=True)
class ByteCount:
    total: int
    hash_sei: int
    side_info: int

    @property
    def rate(self) -> int:
        """Bytes that count towards the bitrate: everything but the hash SEI."""
        return self.total - self.hash_sei


def count_bytes(data: bytes) -> ByteCount:
    nals = split_nals(data)
    return ByteCount(
        total=len(data),
        hash_sei=sum(n.size for n in nals if is_hash_sei(n)),
        side_info=sum(n.size for n in nals if is_side_info(n)),
    )


def strip_hash_sei(data: bytes) -> bytes:
    """The stream without its picture-hash SEI NAL units (decoders do not need them)."""
    data = bytes(data)
    return b"".join(data[n.offset:n.offset + n.size] for n in split_nals(data) if not is_hash_sei(n))


#: NAL unit types that, between pictures, open the next access unit (H.265 7.4.2.4.4):
#: VPS, SPS, PPS, AUD, prefix SEI, reserved 41..44, unspecified 48..55
_AU_OPENERS = {32, 33, 34, 35, 39, 41, 42, 43, 44} | set(range(48, 56))


def access_units(data: bytes) -> list[bytes]:
    """The stream cut into access units (decoding order): each starts with the parameter
    sets / prefix SEIs before its first slice, and keeps its suffix SEIs. Their bytes add
    up to the stream."""
    data = bytes(data)
    cuts, opener = [], None
    for n in split_nals(data):
        header = data.index(b"\x00\x00\x01", n.offset) + 3
        if n.type < 32:  # VCL
            first_slice = n.size > header - n.offset + 2 and data[header + 2] & 0x80
            if first_slice:
                cuts.append(opener if opener is not None else n.offset)
            opener = None
        elif n.type in _AU_OPENERS and opener is None:
            opener = n.offset
    if not cuts:
        return [data] if data else []
    cuts[0] = 0  # anything before the first picture belongs to it
    return [data[a:b] for a, b in zip(cuts, cuts[1:] + [len(data)])]
