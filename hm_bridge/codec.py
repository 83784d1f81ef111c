"""encode() and decode(): any codec backend, pictures streamed one at a time through the
one measuring layer (hm_bridge.results), verified by decoding.

The backends, by name; adding one is one module and one line here:
    x265   the patched x265 + libde265, in this process (hm_bridge.x265)
    hm     the user's HM build, as processes (hm_bridge.hm)
"""
from __future__ import annotations

import time

from hm_bridge import _core
from hm_bridge.backend import Codec, DecodeStats, EncodeFacts, EncodeRequest
from hm_bridge.configs import check_placement, check_qp
from hm_bridge.hm import HMCodec
from hm_bridge.segments import join_results
from hm_bridge.results import (DecodeMeter, DecodeResult, EncodeMeter, EncodeResult, PictureObserver,
                               ReconMismatchError, check_decoded, check_reported_psnr)
from hm_bridge.video import Video, YuvFile, i420_bytes, split_i420
from hm_bridge.x265 import X265Codec

#: codec name -> backend class (constructed with the HM build's folder, which only HM uses)
CODECS: dict[str, type[Codec]] = {"x265": X265Codec, "hm": HMCodec}

__all__ = ["CODECS", "DecodeResult", "EncodeResult", "ReconMismatchError", "decode", "encode", "get_codec",
           "join_segments", "post_filter"]


def get_codec(name: str, hm_dir=None) -> Codec:
    if name not in CODECS:
        raise ValueError(f"unknown codec {name!r}; choose one of {', '.join(CODECS)}")
    return CODECS[name](hm_dir) if name == "hm" else CODECS[name]()


SLICE_TYPE_CODES = {"I": 2, "P": 1, "B": 0, "b": 0}  # HEVC slice_type of our frame types


def _post_filter_planes(planes, loop_filter, qp: int, frame_type: str) -> tuple:
    """One picture through ``loop_filter`` outside any loop (placement "post")."""
    h, w = planes[0].shape
    out = _core.post_filter(loop_filter, i420_bytes(planes), 1, w, h, [int(qp)], [SLICE_TYPE_CODES.get(frame_type, 2)])
    return split_i420(out, w, h)


def post_filter(video: Video, loop_filter, qps: list[int], frame_types: list[str] | None = None) -> Video:
    """``loop_filter`` applied to every picture of ``video`` outside any coding loop
    (placement "post": no side information; the filter's default on the whole picture).
    ``qps``: the QP each picture was coded at (the filter may pick its model by it)."""
    if len(qps) != len(video):
        raise ValueError(f"post_filter needs one QP per picture ({len(video)}), got {len(qps)}")
    types = [SLICE_TYPE_CODES.get(t, 2) for t in (frame_types or ["I"] * len(video))]
    out = _core.post_filter(loop_filter, video.to_i420(), len(video), video.width, video.height, list(qps), types)
    return Video.from_i420(out, video.width, video.height, video.fps)


def _select_frames(video, frames: int | None):
    if not isinstance(video, (Video, YuvFile)):
        raise TypeError("video must be an hm_bridge.Video or hm_bridge.YuvFile")
    if frames is None:
        return video
    if not isinstance(frames, int) or isinstance(frames, bool) or not 1 <= frames <= len(video):
        raise ValueError(f"frames must be in 1..{len(video)}, got {frames!r}")
    return video[:frames]


def encode(
    video,
    *,
    config: str = "ra",
    qp: int = 32,
    frames: int | None = None,
    loop_filter=None,
    placement: str = "loop",
    verify: bool = True,
    recon=None,
    on_picture: PictureObserver | None = None,
    codec: str = "x265",
    hm_dir=None,
    sequence: str | None = None,
    preset: str | None = None,
    threads: int | None = None,
    frame_threads: int | None = None,
    hm_qp_offsets: bool | None = None,
    qp_cascade: str | None = None,
    extra_options: list[tuple[str, str]] | None = None,
    decoder_threads: int | None = None,
    first_frame: int | None = None,
    bit_depth: int | None = None,
) -> EncodeResult:
    """Encodes ``video`` (a Video in memory, or a YuvFile read frame by frame) under a
    CTC-like ``config`` ("ai", "ra", "ldp"; "ldb" with HM), one picture at a time: memory
    does not grow with the sequence's length.

    ``loop_filter``: None, a Python callable (gets a Picture, may return side-info bytes)
    or a native filter object. ``placement``: "loop" (default) runs it inside the coding
    loop after deblocking + SAO; "replace" codes with deblocking and SAO off and runs it
    in their place; "post" codes without it and applies it to every reconstructed /
    decoded picture (no side information, nothing predicted from its output).
    ``verify``: decode the stream with the same filter and raise ReconMismatchError
    unless the decoder's output equals the encoder's reconstruction bit for bit.
    ``recon``: keep the reconstruction: None (default: only its per-frame MD5s),
    "memory" (``result.recon`` is a Video) or a YUV file path. ``on_picture(i, source,
    recon)``: called as each picture is measured (display index, (y, u, v) planes).
    ``codec``: "x265" (in process, default) or "hm" (the user's HM build at ``hm_dir`` or
    $HMCNN_HM_DIR; the filter must then be a native plug-in, see hm_bridge.hm);
    ``sequence``: the catalogue sequence's name (HM adds its per-sequence cfg).
    ``bit_depth``: the coding (internal) bit depth, default the source's (``video.bit_depth``);
    an 8-bit source coded at 10 bits is shifted up as HM does (PSNR against it, peak 1020).

    x265 only (another backend raises ValueError when given one): ``preset`` (default
    "slow"), ``threads`` (worker pool), ``frame_threads``, ``hm_qp_offsets`` and
    ``qp_cascade`` (force HM's per-picture QPs of the cascade "hm16.20", default, or
    "l1100"; hm_bridge/cascade.py), ``extra_options`` (x265 (name, value) pairs),
    ``decoder_threads`` (libde265's, for the verifying decode), ``first_frame`` (``video``
    is a segment of a sequence starting at that picture, to be joined by join_segments).
    """
    source = _select_frames(video, frames)
    if bit_depth is not None and bit_depth != source.bit_depth:
        source = source.at_depth(bit_depth)
    check_qp(qp)
    check_placement(placement)
    backend = get_codec(codec, hm_dir)
    backend.check_bit_depth(source.bit_depth)
    backend.check_config(config)
    options = backend.check_options(dict(preset=preset, threads=threads, frame_threads=frame_threads,
                                         hm_qp_offsets=hm_qp_offsets, qp_cascade=qp_cascade,
                                         extra_options=extra_options, decoder_threads=decoder_threads,
                                         first_frame=first_frame))
    request = EncodeRequest(config, qp, placement, sequence, options)
    post = loop_filter if placement == "post" else None
    meter = EncodeMeter(source, recon, on_picture)
    facts = EncodeFacts()
    seconds = 0.0
    pictures = backend.encode_pictures(source, request, None if post is not None else loop_filter, facts)
    while True:
        t0 = time.perf_counter()
        pic = next(pictures, None)
        if pic is not None and post is not None:
            pic.planes = _post_filter_planes(pic.planes, post, pic.qp, pic.slice_type)
        seconds += time.perf_counter() - t0
        if pic is None:
            break
        meter.add(pic)
    result = meter.result(seconds=seconds, config=config, qp=qp, encoder=facts.encoder,
                          encoder_options=facts.encoder_options, placement=placement, qp_cascade=facts.qp_cascade,
                          intra_period=facts.intra_period, stream_header_bytes=facts.stream_header_bytes)
    if facts.reported_psnr_y is not None and post is None:
        check_reported_psnr(result, facts.reported_psnr_y)
    if verify:
        _verify(result, backend, loop_filter, options, (source.width, source.height))
    return result


def _verify(result: EncodeResult, backend: Codec, loop_filter, options: dict, size) -> None:
    """Every verifying decoder of ``backend`` decodes ``result.bitstream`` to its
    reconstruction (ReconMismatchError otherwise); ``result.decode``: the last one's."""
    post = loop_filter if result.placement == "post" else None
    for decoder in backend.verifying_decoders(None if post is not None else loop_filter, options):
        result.decode = _decode_with(decoder, result.bitstream, result.fps, size, post=post, qps=result.slice_qps,
                                     types=result.frame_types)
        check_decoded(result, result.decode)


def join_segments(parts: list[EncodeResult], firsts: list[int], *, loop_filter=None, codec: str = "x265",
                  hm_dir=None, size=None, verify: bool = True, **options) -> EncodeResult:
    """The encodes of a sequence's segments (``firsts``: each one's first frame; see
    ``hm_bridge.segments``) as one result: the joined stream, the pictures in order;
    ``verify``: the joined stream decoded with ``loop_filter`` must give the joined
    reconstruction (ReconMismatchError otherwise). ``options``: the backend settings the
    segments were coded with (the verifying decoders may use them)."""
    backend = get_codec(codec, hm_dir)
    result = join_results(parts, firsts)
    if verify:
        _verify(result, backend, loop_filter, backend.check_options(options), size)
    return result


def _decode_with(decoder, bitstream: bytes, fps: float, size=None, output=None, post=None, qps=None,
                 types=None) -> DecodeResult:
    """Runs one decoder (a callable (bitstream, stats, size) -> pictures) over the stream,
    measuring as pictures pass; ``post``: a post-filter applied to each output picture."""
    stats, meter = DecodeStats(), DecodeMeter(output, fps)
    seconds = 0.0
    pictures = decoder(bitstream, stats, size)
    i = 0
    while True:
        t0 = time.perf_counter()
        planes = next(pictures, None)
        if planes is not None and post is not None:
            if i >= len(qps):
                raise ReconMismatchError(f"{stats.decoder} output more pictures than were coded")
            planes = _post_filter_planes(planes, post, qps[i], types[i])
        seconds += time.perf_counter() - t0
        if planes is None:
            break
        meter.add(planes)
        i += 1
    if not meter.md5s:
        raise RuntimeError("the bitstream holds no decodable picture")
    meter.bit_depth = stats.bit_depth
    return DecodeResult(meter.md5s, meter.width, meter.height, seconds, stats.hash_mismatches,
                        stats.hashed_pictures, stats.warnings, stats.decoder, meter.video())


def decode(bitstream: bytes, *, loop_filter=None, threads: int | None = None, fps: float = 30.0,
           output="memory", codec: str = "x265", hm_dir=None) -> DecodeResult:
    """Decodes an Annex-B HEVC stream: libde265 (codec "x265", patched: in-loop filter
    hook, hash mismatches reported) or the user's HM decoder (codec "hm").
    ``loop_filter`` must be the filter the stream was coded with. ``output``: keep the
    pictures in memory ("memory", default: ``result.video``), write them to a YUV file
    path, or None (only their MD5s).

    Raises ValueError on an empty input and RuntimeError on a corrupt/unsupported stream.
    """
    if not isinstance(bitstream, (bytes, bytearray, memoryview)):
        raise TypeError("bitstream must be bytes")
    bitstream = bytes(bitstream)
    if not bitstream:
        raise ValueError("empty bitstream")
    backend = get_codec(codec, hm_dir)
    return _decode_with(lambda b, stats, size: backend.decode_pictures(b, loop_filter, stats, size, threads),
                        bitstream, fps, output=output)

