"""x265 (encoder) + libde265 (decoder), patched, in this process: the built-in backend."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from hm_bridge import _core, libde265
from hm_bridge.backend import Codec, DecodeStats, EncodeFacts, EncodeRequest
from hm_bridge.cascade import DEFAULT_CASCADE, get_cascade
from hm_bridge.configs import CONFIGS, NO_DBF_SAO, TUNE, check_preset, ctu_size_for, get_config
from hm_bridge.results import CodedPicture
from hm_bridge.video import i420_bytes, split_i420


class X265Codec(Codec):
    name = "x265"
    configs = tuple(CONFIGS)
    bit_depths = (8, 10)  # Main, and Main10 with the 10-bit x265 linked in (its multilib build)
    option_defaults = {
        "preset": "slow",  # x265's --preset
        "threads": None,  # x265 worker-pool size (None: x265's default)
        "frame_threads": None,  # pictures coded concurrently (None: x265's default)
        "hm_qp_offsets": True,  # force HM's per-picture QPs ...
        "qp_cascade": DEFAULT_CASCADE,  # ... of this cascade (hm_bridge/cascade.py)
        "extra_options": (),  # more x265 (name, value) options
        "decoder_threads": None,  # libde265 worker threads of the verifying decode
        "first_frame": 0,  # a segment's first picture's index in its sequence (hm_bridge.segments)
    }

    def check_config(self, config: str) -> None:
        get_config(config)  # NotImplementedError for ldb, with the reason

    def _settings(self, source, request: EncodeRequest, opts: dict, facts: EncodeFacts) -> _core.EncoderSettings:
        cfg = get_config(request.config)
        check_preset(opts["preset"])
        cascade_name = opts["qp_cascade"]
        get_cascade(cascade_name)
        extra = list(opts["extra_options"] or []) + (list(NO_DBF_SAO) if request.placement == "replace" else [])
        options = cfg.x265_options(request.qp, source.fps, cascade_name) + extra
        ctu = ctu_size_for(source.width, source.height)
        if ctu != 64 and not any(k == "ctu" for k, _ in options):
            options.append(("ctu", str(ctu)))
        forced = opts["hm_qp_offsets"]
        s = _core.EncoderSettings()
        s.width, s.height = source.width, source.height
        s.fps_num, s.fps_den = int(round(source.fps * 1000)), 1000
        s.preset, s.tune, s.options = opts["preset"], TUNE, options
        s.forced_qp = cfg.slice_qps(request.qp, len(source), source.fps, cascade_name) if forced else []
        s.frame_threads = libde265.check_threads(opts["frame_threads"], "frame_threads")
        s.pool_threads = libde265.check_threads(opts["threads"], "threads")
        first = opts["first_frame"]
        if not isinstance(first, int) or isinstance(first, bool) or first < 0:
            raise ValueError(f"first_frame must be a non-negative integer, got {first!r}")
        s.first_poc = first
        s.bit_depth = source.bit_depth
        facts.encoder = f"x265 {_core.X265_VERSION}"
        facts.encoder_options = [f"--preset={opts['preset']}", f"--tune={TUNE}"] + \
            [f"--{k}" + (f"={v}" if v else "") for k, v in options]
        facts.qp_cascade = cascade_name if forced else None
        facts.intra_period = cfg.intra_period(source.fps, cascade_name)
        return s

    def encode_pictures(self, source, request, loop_filter, facts) -> Iterator[CodedPicture]:
        opts = request.options
        settings = self._settings(source, request, opts, facts)
        forced = list(settings.forced_qp)
        deep = source.bit_depth > 8  # samples of two little-endian bytes, in and out
        encoder = _core.X265Encoder(settings, len(source), loop_filter)
        headers = encoder.headers  # the first access unit (decoding order) carries them
        facts.stream_header_bytes = len(headers)  # (each IDR's access unit repeats the parameter sets too)
        w, h = source.width, source.height

        def picture(p) -> CodedPicture:
            nonlocal headers
            data, headers = headers + p.data, b""
            qp = round(p.qp)  # constant QP, no AQ: every CU at the slice QP
            if forced and qp != forced[p.poc]:
                raise RuntimeError(f"x265 coded picture {p.poc} at QP {p.qp:g}, {forced[p.poc]} was forced")
            return CodedPicture(p.poc, p.slice_type, qp, data, split_i420(p.recon.view("<u2") if deep else p.recon, w, h))

        for i in range(len(source)):
            p = encoder.push(i420_bytes(source.frame(i)).view(np.uint8))
            if p is not None:
                yield picture(p)
        while (p := encoder.flush()) is not None:
            yield picture(p)

    @classmethod
    def segment_starts(cls, config, frames, fps, options):
        if config == "ai":
            return list(range(frames)), ""  # every picture an IDR
        if config == "ra":  # closed GOPs: each IDR period stands alone
            period = get_config(config).intra_period(fps, options.get("qp_cascade") or DEFAULT_CASCADE)
            return list(range(0, frames, period)), f"RA is cut only at its IDRs (every {period} pictures)"
        return [0], f"{config.upper()} has one IDR, at the start: no later picture is a random-access point"

    def decode_pictures(self, bitstream, loop_filter, stats: DecodeStats, size=None, threads=None):
        return libde265.decode_pictures(bitstream, loop_filter, stats, threads)

    def verifying_decoders(self, loop_filter, options: dict) -> list:
        threads = options.get("decoder_threads")
        return [lambda bitstream, stats, size: libde265.decode_pictures(bitstream, loop_filter, stats, threads)]

    def version(self) -> str:
        return f"x265 {_core.X265_VERSION} + {libde265.NAME}, patched"
