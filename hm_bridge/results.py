"""What every codec backend's pictures become, computed once, above all backends, as the
pictures stream past: the rate (bitstream bytes, picture-hash SEI excluded, side
information counted), bits per access unit, HM-style PSNR per frame, per-frame MD5 of
the reconstruction, and the check that a decoder's output equals it. Pictures are not
kept once measured, unless asked for (``recon="memory"`` or a file path).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hm_bridge.bitstream import count_bytes
from hm_bridge.video import PsnrReport, Video, YuvFile, _psnr_from_mse, frame_mse, i420_bytes, peak, sample_type


class ReconMismatchError(RuntimeError):
    """The decoder's output differs from the encoder's reconstruction: the filter is not
    deterministic, or not applied identically on both sides. Never a number in a table."""


@dataclass
class CodedPicture:
    """One picture as a backend hands it over, in decoding order."""

    poc: int  # display index within the coded sequence
    slice_type: str  # I, P, B (referenced), b
    qp: int  # the slice QP it was coded at
    data: bytes  # its access unit (Annex B): parameter sets before it, its SEIs, its slices
    planes: tuple  # its reconstruction (y, u, v), uint8 (uint16 above 8 bits)


#: what a caller may ask for the reconstruction: not kept (None), "memory", or a file path
def check_recon_target(recon) -> None:
    if recon is not None and recon != "memory" and not isinstance(recon, (str, os.PathLike)):
        raise ValueError(f"recon must be None, 'memory' or a file path, got {recon!r}")


def frame_md5(planes) -> str:
    return hashlib.md5(i420_bytes(planes).tobytes()).hexdigest()


@dataclass
class DecodeResult:
    md5s: list[str]  # per output picture, MD5 of its I420 bytes
    width: int
    height: int
    seconds: float
    hash_mismatches: int  # pictures whose MD5 picture-hash SEI did not match
    hashed_pictures: int  # pictures that carried a picture-hash SEI
    warnings: list[str] = field(default_factory=list)
    decoder: str = ""
    video: Video | None = None  # the pictures, when kept (decode(..., output="memory"))

    @property
    def frames(self) -> int:
        return len(self.md5s)

    @property
    def hash_ok(self) -> bool:
        """Every picture hash in the stream matched (vacuously true if it has none)."""
        return self.hash_mismatches == 0


_NOT_KEPT = ("the reconstruction was not kept: pass recon='memory' (or recon=PATH for a file) to encode() "
             "to keep it; its per-frame MD5s are in recon_md5s")


@dataclass
class EncodeResult:
    bitstream: bytes
    psnr: PsnrReport  # reconstruction vs source, HM style
    bits_per_frame: np.ndarray  # display order: rate bytes x 8 of each access unit (parameter sets in the first)
    frame_types: list[str]  # display order: I, P, B (referenced), b
    slice_qps: list[int]  # display order: the QP each picture was coded at
    recon_md5s: list[str]  # display order: MD5 of each reconstructed picture's I420 bytes
    rate_bytes: int  # all bytes but the picture-hash SEI (= bits_per_frame.sum() / 8)
    side_info_bytes: int  # bytes of the filter's side-information NAL units
    seconds: float  # encode wall time (the codec's, measurements excluded)
    config: str
    qp: int
    fps: float
    encoder: str  # what coded it: "x265 3.5+1-...", "HM-18.0"
    encoder_options: list[str]  # its settings, as a command line would give them
    placement: str = "loop"  # where the filter ran (hm_bridge.configs.PLACEMENTS)
    qp_cascade: str | None = None  # whose per-picture QPs: a cascade name, HM's cfg, or None (the encoder's own)
    intra_period: int | None = None
    stream_header_bytes: int = 0  # the stream's first bytes, written once per stream (joining segments drops them)
    decode: DecodeResult | None = None  # the verifying decode (verify=True)
    kept_recon: Video | YuvFile | None = None

    @property
    def frames(self) -> int:
        return len(self.recon_md5s)

    @property
    def recon(self) -> Video | YuvFile:
        """The reconstruction, when encode() was asked to keep it."""
        if self.kept_recon is None:
            raise ValueError(_NOT_KEPT)
        return self.kept_recon

    @property
    def kbps(self) -> float:
        return self.rate_bytes * 8 * self.fps / self.frames / 1000.0

    @property
    def md5_match(self) -> bool | None:
        return None if self.decode is None else self.decode.md5s == self.recon_md5s


class ReconSink:
    """Where reconstructed pictures go once measured: nowhere, memory, or a YUV file
    (pictures arrive in decoding order and are put in display order)."""

    def __init__(self, target, count: int, width: int, height: int, fps: float, bit_depth: int = 8):
        check_recon_target(target)
        self.target, self.count, self.width, self.height, self.fps = target, count, width, height, fps
        self.bit_depth, kind = bit_depth, sample_type(bit_depth)
        self.frame_size = width * height * 3 // 2 * np.dtype(kind).itemsize  # bytes
        self._planes = None
        if target == "memory":
            self._planes = (np.empty((count, height, width), kind), np.empty((count, height // 2, width // 2), kind),
                            np.empty((count, height // 2, width // 2), kind))
        elif target is not None:
            self._file = open(os.fspath(target), "wb")
            self._file.truncate(count * self.frame_size)

    def put(self, poc: int, planes) -> None:
        if self._planes is not None:
            for store, p in zip(self._planes, planes):
                store[poc] = p
        elif self.target is not None:
            self._file.seek(poc * self.frame_size)
            self._file.write(i420_bytes(planes).tobytes())

    def close(self):
        if self._planes is not None:
            return Video(*self._planes, self.fps, self.bit_depth)
        if self.target is not None:
            self._file.close()
            return YuvFile(self.target, self.width, self.height, fps=self.fps, bit_depth=self.bit_depth,
                           depth=self.bit_depth)
        return None


#: called with (display index, source planes, reconstructed planes) as each picture passes
PictureObserver = Callable[[int, tuple, tuple], None]


class EncodeMeter:
    """Takes a backend's coded pictures as they come and keeps only their numbers."""

    def __init__(self, source, recon=None, on_picture: PictureObserver | None = None):
        n = len(source)
        self.source, self.on_picture = source, on_picture
        self.mse = np.zeros((n, 3))
        self.bits = np.zeros(n, dtype=np.int64)
        self.types, self.qps, self.md5s = ["?"] * n, [0] * n, [""] * n
        self.units: list[bytes] = []
        self.side_info = 0
        self.sink = ReconSink(recon, n, source.width, source.height, source.fps, source.bit_depth)

    def add(self, pic: CodedPicture) -> None:
        n = len(self.source)
        if not 0 <= pic.poc < n or self.md5s[pic.poc]:
            raise RuntimeError(f"the encoder returned picture {pic.poc} twice or out of range (0..{n - 1})")
        counted = count_bytes(pic.data)
        self.units.append(pic.data)
        self.side_info += counted.side_info
        self.bits[pic.poc] = counted.rate * 8
        self.types[pic.poc], self.qps[pic.poc] = pic.slice_type, int(pic.qp)
        src = self.source.frame(pic.poc)
        self.mse[pic.poc] = frame_mse(src, pic.planes)
        self.md5s[pic.poc] = frame_md5(pic.planes)
        self.sink.put(pic.poc, pic.planes)
        if self.on_picture is not None:
            self.on_picture(pic.poc, src, pic.planes)

    def result(self, **facts) -> EncodeResult:
        missing = [i for i, m in enumerate(self.md5s) if not m]
        if missing:
            raise RuntimeError(f"the encoder returned no picture for frames {missing[:8]}")
        # each access unit starts with a start code, so the stream's rate bytes are their sum
        top = peak(self.source.bit_depth)
        return EncodeResult(bitstream=b"".join(self.units),
                            psnr=PsnrReport(_psnr_from_mse(self.mse, top), self.mse, top),
                            bits_per_frame=self.bits, frame_types=self.types, slice_qps=self.qps,
                            recon_md5s=self.md5s, rate_bytes=int(self.bits.sum()) // 8, side_info_bytes=self.side_info,
                            fps=self.source.fps, kept_recon=self.sink.close(), **facts)


class DecodeMeter:
    """Takes a decoder's output pictures (output order) and keeps their MD5s (and the
    pictures themselves only when asked: ``output`` None, "memory" or a file path)."""

    def __init__(self, output=None, fps: float = 30.0):
        check_recon_target(output)
        self.output, self.fps = output, fps
        self.md5s: list[str] = []
        self.width = self.height = 0
        self.bit_depth = 8  # the decoder's (set before video() for 9..16-bit pictures)
        self._frames: list = []
        self._file = None

    def add(self, planes) -> None:
        h, w = planes[0].shape
        if not self.md5s:
            self.width, self.height = w, h
            if self.output not in (None, "memory"):
                self._file = open(os.fspath(self.output), "wb")
        elif (w, h) != (self.width, self.height):
            raise RuntimeError("picture size changes within the stream")
        self.md5s.append(frame_md5(planes))
        if self.output == "memory":
            self._frames.append(i420_bytes(planes))
        elif self._file is not None:
            self._file.write(i420_bytes(planes).tobytes())

    def video(self):
        if self._file is not None:
            self._file.close()
            return YuvFile(self.output, self.width, self.height, fps=self.fps, bit_depth=self.bit_depth,
                           depth=self.bit_depth) if self.md5s else None
        if self.output == "memory" and self._frames:
            return Video.from_i420(np.concatenate(self._frames), self.width, self.height, self.fps, self.bit_depth)
        return None


#: our PSNR vs an encoder's printed one (HM prints 4 decimals)
REPORTED_PSNR_TOLERANCE = 0.01


def check_reported_psnr(result: EncodeResult, reported: dict) -> None:
    """The encoder's own per-picture PSNR-Y against ours; RuntimeError if they differ."""
    ours = np.minimum(result.psnr.per_frame[:, 0], 99.99)  # encoders print 99.99 (or 999.99) for lossless
    theirs = np.array([reported[i] for i in range(result.frames)])
    worst = float(np.max(np.abs(ours - np.minimum(theirs, 99.99))))
    if worst > REPORTED_PSNR_TOLERANCE:
        raise RuntimeError(f"{result.encoder}'s log and our measurement of PSNR-Y differ by {worst:.4f} dB")


def check_decoded(result: EncodeResult, decoded: DecodeResult) -> None:
    """Decoder output must equal the encoder's reconstruction bit for bit, and every
    picture hash must match; else ReconMismatchError naming the first differing picture."""
    if decoded.md5s != result.recon_md5s:
        if len(decoded.md5s) != len(result.recon_md5s):
            where = f"{len(decoded.md5s)} pictures decoded, {len(result.recon_md5s)} coded"
        else:
            first = next(i for i, (a, b) in enumerate(zip(decoded.md5s, result.recon_md5s)) if a != b)
            where = f"first differing picture: {first} (display order)"
        raise ReconMismatchError(
            f"encoder reconstruction != {decoded.decoder or 'decoder'} output for config={result.config} "
            f"qp={result.qp} ({where}): the loop filter is not applied identically on both sides")
    if not decoded.hash_ok:
        raise ReconMismatchError(f"{decoded.hash_mismatches} picture-hash mismatches in {decoded.decoder or 'the decoder'}")
