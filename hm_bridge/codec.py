"""encode() and decode(): the patched x265 and libde265, in process, with an in-loop filter."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from hm_bridge import _core
from hm_bridge.bitstream import count_bytes, is_hash_sei, split_nals
from hm_bridge.configs import TUNE, CodingConfig, check_preset, check_qp, ctu_size_for, get_config
from hm_bridge.video import PsnrReport, Video


class ReconMismatchError(RuntimeError):
    """The decoder's output differs from the encoder's reconstruction: the filter is not
    deterministic, or not applied identically on both sides. Never a number in a table."""


@dataclass
class DecodeResult:
    video: Video
    seconds: float
    hash_mismatches: int  # pictures whose MD5 picture-hash SEI did not match
    hashed_pictures: int  # pictures that carried a picture-hash SEI
    warnings: list[str] = field(default_factory=list)

    @property
    def hash_ok(self) -> bool:
        """Every picture hash in the stream matched (vacuously true if it has none)."""
        return self.hash_mismatches == 0


@dataclass
class EncodeResult:
    bitstream: bytes
    recon: Video
    psnr: PsnrReport  # recon vs source, HM style
    bits_per_frame: np.ndarray  # display order; rate bytes x 8 of each access unit
    frame_types: list[str]  # display order: I, P, B (referenced), b
    frame_qps: list[float]  # display order, as x265 reports
    header_bytes: int  # VPS/SPS/PPS (counted in the rate, not in bits_per_frame)
    rate_bytes: int  # all bytes but the picture-hash SEI
    side_info_bytes: int  # bytes of the filter's side-information SEI NAL units
    seconds: float  # encode wall time
    config: str
    qp: int
    fps: float
    x265_version: str
    x265_options: list[tuple[str, str]]
    decode: DecodeResult | None  # the verifying decode (verify=True)

    @property
    def kbps(self) -> float:
        return self.rate_bytes * 8 * self.fps / len(self.recon) / 1000.0

    @property
    def md5_match(self) -> bool | None:
        return None if self.decode is None else self.decode.video.md5() == self.recon.md5()


def _threads_arg(value, name: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    return value


def decode(bitstream: bytes, *, loop_filter=None, threads: int | None = None, fps: float = 30.0) -> DecodeResult:
    """Decodes an Annex-B HEVC stream with libde265 (patched: in-loop filter hook, hash
    mismatches reported). ``loop_filter`` must be the filter the stream was coded with.

    Raises ValueError on an empty input and RuntimeError on a corrupt/unsupported stream.
    """
    if not isinstance(bitstream, (bytes, bytearray, memoryview)):
        raise TypeError("bitstream must be bytes")
    bitstream = bytes(bitstream)
    if not bitstream:
        raise ValueError("empty bitstream")
    t0 = time.perf_counter()
    out = _core.decode(bitstream, loop_filter, _threads_arg(threads, "threads"))
    seconds = time.perf_counter() - t0
    if out.frames == 0:
        raise RuntimeError("the bitstream holds no decodable picture")
    video = Video.from_i420(out.pictures, out.width, out.height, fps)
    hashed = sum(1 for n in split_nals(bitstream) if is_hash_sei(n))
    return DecodeResult(video, seconds, out.hash_mismatches, hashed, list(out.warnings))


def _select_frames(video: Video, frames: int | None) -> Video:
    if not isinstance(video, Video):
        raise TypeError("video must be an hm_bridge.Video")
    if frames is None:
        return video
    if not isinstance(frames, int) or not 1 <= frames <= len(video):
        raise ValueError(f"frames must be in 1..{len(video)}, got {frames!r}")
    return video[:frames]


def _settings(video: Video, cfg: CodingConfig, qp: int, preset: str, options: list[tuple[str, str]],
              hm_qp_offsets: bool, threads, frame_threads) -> _core.EncoderSettings:
    s = _core.EncoderSettings()
    s.width, s.height = video.width, video.height
    s.fps_num, s.fps_den = int(round(video.fps * 1000)), 1000
    s.preset, s.tune, s.options = preset, TUNE, options
    s.frame_qp = cfg.frame_qps(qp, len(video), video.fps) if hm_qp_offsets else []
    s.frame_threads = _threads_arg(frame_threads, "frame_threads")
    s.pool_threads = _threads_arg(threads, "threads")
    return s


def _x265_options(video: Video, cfg: CodingConfig, qp: int, extra) -> list[tuple[str, str]]:
    options = cfg.x265_options(qp, video.fps) + list(extra or [])
    ctu = ctu_size_for(video.width, video.height)
    if ctu != 64 and not any(k == "ctu" for k, _ in options):
        options.append(("ctu", str(ctu)))
    return options


def _result(out, video: Video, cfg: CodingConfig, qp: int, options, seconds: float) -> EncodeResult:
    """Puts x265's access units (decoding order) into display order and counts the rate."""
    n = len(video)
    bitstream = out.headers + b"".join(u.data for u in out.units)
    bits = np.zeros(n, dtype=np.int64)
    types, qps = ["?"] * n, [0.0] * n
    for unit in out.units:
        bits[unit.poc] = count_bytes(unit.data).rate * 8
        types[unit.poc], qps[unit.poc] = unit.slice_type, unit.qp
    counted = count_bytes(bitstream)
    recon = Video.from_i420(out.recon, video.width, video.height, video.fps)
    return EncodeResult(
        bitstream=bitstream, recon=recon, psnr=video.psnr(recon), bits_per_frame=bits, frame_types=types,
        frame_qps=qps, header_bytes=len(out.headers), rate_bytes=counted.rate,
        side_info_bytes=counted.side_info_sei, seconds=seconds, config=cfg.name, qp=qp, fps=video.fps,
        x265_version=out.version, x265_options=options, decode=None)


def _verify(result: EncodeResult, loop_filter) -> None:
    """Decodes the stream with the same filter: decoder output must equal the encoder's
    reconstruction bit for bit, and every picture hash must match."""
    result.decode = decode(result.bitstream, loop_filter=loop_filter, fps=result.fps)
    enc_md5, dec_md5 = result.recon.md5(), result.decode.video.md5()
    if enc_md5 != dec_md5 or len(result.decode.video) != len(result.recon):
        raise ReconMismatchError(
            f"encoder reconstruction (MD5 {enc_md5}) != decoder output (MD5 {dec_md5}) for "
            f"config={result.config} qp={result.qp}: the loop filter is not applied identically on both sides")
    if not result.decode.hash_ok:
        raise ReconMismatchError(f"{result.decode.hash_mismatches} picture-hash mismatches in the decoder")


def encode(
    video: Video,
    *,
    config: str = "ra",
    qp: int = 32,
    preset: str = "slow",
    frames: int | None = None,
    loop_filter=None,
    threads: int | None = None,
    frame_threads: int | None = None,
    hm_qp_offsets: bool = True,
    verify: bool = True,
    extra_options: list[tuple[str, str]] | None = None,
) -> EncodeResult:
    """Encodes ``video`` with x265 under a CTC-like ``config`` ("ai", "ra", "ldp").

    ``loop_filter``: None, a Python callable (gets a Picture, may return side-info bytes)
    or a native filter object; it runs inside the coding loop, after deblocking + SAO.
    ``threads``: x265 worker-pool size; ``frame_threads``: pictures coded concurrently.
    ``hm_qp_offsets``: apply HM's per-picture QP offsets of the config.
    ``verify``: decode the stream with the same filter and raise ReconMismatchError
    unless the decoder's output equals the encoder's reconstruction bit for bit.
    """
    video = _select_frames(video, frames)
    cfg = get_config(config)
    check_qp(qp)
    check_preset(preset)
    options = _x265_options(video, cfg, qp, extra_options)
    settings = _settings(video, cfg, qp, preset, options, hm_qp_offsets, threads, frame_threads)
    t0 = time.perf_counter()
    out = _core.encode(settings, video.to_i420(), len(video), loop_filter)
    result = _result(out, video, cfg, qp, options, time.perf_counter() - t0)
    if verify:
        _verify(result, loop_filter)
    return result
