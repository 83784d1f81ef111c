"""encode() and decode(): the patched x265 and libde265, in process, with an in-loop filter."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from hm_bridge import _core
from hm_bridge.bitstream import count_bytes, is_hash_sei, split_nals
from hm_bridge.cascade import DEFAULT_CASCADE, get_cascade
from hm_bridge.configs import (NO_DBF_SAO, TUNE, CodingConfig, check_placement, check_preset, check_qp,
                               ctu_size_for, get_config)
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
    slice_qps: list[int] = field(default_factory=list)  # display order: the QP each picture was coded at
    placement: str = "loop"  # where the filter ran (hm_bridge.configs.PLACEMENTS)
    qp_cascade: str | None = None  # the HM QP cascade forced per picture (None: x265's own QPs)
    intra_period: int | None = None
    encoder: str = ""  # what coded it: "x265 3.5+1-...", "HM-18.0"
    encoder_options: list = field(default_factory=list)  # its settings, as a command line would give them

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


SLICE_TYPE_CODES = {"I": 2, "P": 1, "B": 0, "b": 0}  # HEVC slice_type of x265's frame types


def post_filter(video: Video, loop_filter, qps: list[int], frame_types: list[str] | None = None) -> Video:
    """``loop_filter`` applied to every picture of ``video`` outside any coding loop
    (placement "post": no side information; the filter's default on the whole picture).
    ``qps``: the QP each picture was coded at (the filter may pick its model by it)."""
    if len(qps) != len(video):
        raise ValueError(f"post_filter needs one QP per picture ({len(video)}), got {len(qps)}")
    types = [SLICE_TYPE_CODES.get(t, 2) for t in (frame_types or ["I"] * len(video))]
    out = _core.post_filter(loop_filter, video.to_i420(), len(video), video.width, video.height, list(qps), types)
    return Video.from_i420(out, video.width, video.height, video.fps)


def _select_frames(video: Video, frames: int | None) -> Video:
    if not isinstance(video, Video):
        raise TypeError("video must be an hm_bridge.Video")
    if frames is None:
        return video
    if not isinstance(frames, int) or not 1 <= frames <= len(video):
        raise ValueError(f"frames must be in 1..{len(video)}, got {frames!r}")
    return video[:frames]


def _settings(video: Video, cfg: CodingConfig, qp: int, preset: str, options: list[tuple[str, str]],
              cascade: str | None, threads, frame_threads) -> _core.EncoderSettings:
    s = _core.EncoderSettings()
    s.width, s.height = video.width, video.height
    s.fps_num, s.fps_den = int(round(video.fps * 1000)), 1000
    s.preset, s.tune, s.options = preset, TUNE, options
    s.frame_qp = cfg.frame_qps(qp, len(video), video.fps, cascade) if cascade else []
    s.frame_threads = _threads_arg(frame_threads, "frame_threads")
    s.pool_threads = _threads_arg(threads, "threads")
    return s


def _x265_options(video: Video, cfg: CodingConfig, qp: int, cascade: str, extra) -> list[tuple[str, str]]:
    options = cfg.x265_options(qp, video.fps, cascade) + list(extra or [])
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
        x265_version=out.version, x265_options=options, decode=None, encoder=f"x265 {out.version}",
        encoder_options=[f"--{k}" + (f"={v}" if v else "") for k, v in options])


def _verify(result: EncodeResult, loop_filter) -> None:
    """Decodes the stream with the same filter (in the loop, or after it for a post-
    filter): decoder output must equal the encoder's reconstruction bit for bit, and every
    picture hash must match."""
    post = result.placement == "post"
    result.decode = decode(result.bitstream, loop_filter=None if post else loop_filter, fps=result.fps)
    if post and loop_filter is not None:
        result.decode.video = post_filter(result.decode.video, loop_filter, result.slice_qps, result.frame_types)
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
    qp_cascade: str = DEFAULT_CASCADE,
    verify: bool = True,
    extra_options: list[tuple[str, str]] | None = None,
    placement: str = "loop",
    codec: str = "x265",
    hm_dir=None,
) -> EncodeResult:
    """Encodes ``video`` with x265 under a CTC-like ``config`` ("ai", "ra", "ldp").

    ``loop_filter``: None, a Python callable (gets a Picture, may return side-info bytes)
    or a native filter object. ``placement``: "loop" (default) runs it inside the coding
    loop after deblocking + SAO; "replace" codes with deblocking and SAO off and runs it
    in their place; "post" codes without it and applies it to every reconstructed /
    decoded picture (no side information, nothing predicted from its output).
    ``codec``: "x265" (in process, default) or "hm" (the user's HM build at ``hm_dir`` or
    $HMCNN_HM_DIR; the filter must then be a native plug-in, see hm_bridge.hm).
    ``threads``: x265 worker-pool size; ``frame_threads``: pictures coded concurrently.
    ``hm_qp_offsets``: force HM's per-picture QPs, of the ``qp_cascade`` "hm16.20"
    (HM >= 16.14's cfgs, default) or "l1100" (hm_bridge/cascade.py).
    ``verify``: decode the stream with the same filter and raise ReconMismatchError
    unless the decoder's output equals the encoder's reconstruction bit for bit.
    """
    if codec != "x265":
        from hm_bridge.backends import get_codec

        return get_codec(codec, hm_dir).encode(video, config=config, qp=qp, loop_filter=loop_filter,
                                               placement=placement, frames=frames, verify=verify)
    video = _select_frames(video, frames)
    cfg = get_config(config)
    check_qp(qp)
    check_preset(preset)
    check_placement(placement)
    get_cascade(qp_cascade)
    extra = list(extra_options or []) + (list(NO_DBF_SAO) if placement == "replace" else [])
    options = _x265_options(video, cfg, qp, qp_cascade, extra)
    cascade = qp_cascade if hm_qp_offsets else None
    settings = _settings(video, cfg, qp, preset, options, cascade, threads, frame_threads)
    t0 = time.perf_counter()
    out = _core.encode(settings, video.to_i420(), len(video), None if placement == "post" else loop_filter)
    result = _result(out, video, cfg, qp, options, time.perf_counter() - t0)
    result.placement, result.qp_cascade = placement, cascade
    result.intra_period = cfg.intra_period(video.fps, qp_cascade)
    result.slice_qps = list(settings.frame_qp) or [qp] * len(video)
    if placement == "post" and loop_filter is not None:
        result.recon = post_filter(result.recon, loop_filter, result.slice_qps, result.frame_types)
        result.psnr = video.psnr(result.recon)
        result.seconds = time.perf_counter() - t0
    if verify:
        _verify(result, loop_filter)
    return result
