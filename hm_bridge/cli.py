"""The codec layer's commands of `hmcnn` (encode, decode, demo).

The top-level CLI (hmcnn/cli.py) adds them and hands in ``resolve_filter``, which turns
a --filter text into a filter object: resolving names (a model directory, a plug-in
library, ...) is the business of the layers above, never of the codec layer.
"""
from __future__ import annotations

import argparse
from typing import Callable

FILTER_HELP = "none, noop, smoothing, smoothing:always, LIB.so[:OPTIONS] or a CNN model path"


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 416x240, got {text!r}")


def _cmd_encode(args, resolve_filter) -> int:
    from hm_bridge.codec import encode
    from hm_bridge.video import YuvFile

    w, h = args.size
    video = YuvFile(args.input, w, h, frames=args.frames, fps=args.fps)  # read frame by frame
    # x265's settings go to x265 only: given to another codec they are an error, not dropped
    x265_only = dict(preset=args.preset, threads=args.threads, frame_threads=args.frame_threads)
    result = encode(video, config=args.config, qp=args.qp, loop_filter=resolve_filter(args.filter), recon=args.recon,
                    codec=args.codec, hm_dir=args.hm, **x265_only)
    with open(args.output, "wb") as f:
        f.write(result.bitstream)
    print(f"{args.output}: {len(video)} frames, {result.rate_bytes} bytes ({result.kbps:.2f} kbps at {video.fps:g} fps), "
          f"PSNR Y {result.psnr.y:.3f} U {result.psnr.u:.3f} V {result.psnr.v:.3f} dB, "
          f"side info {result.side_info_bytes} B, encoder recon == decoder output: {result.md5_match}, "
          f"{result.seconds:.2f} s")
    return 0


def _cmd_decode(args, resolve_filter) -> int:
    from hm_bridge.codec import decode

    with open(args.input, "rb") as f:
        data = f.read()
    result = decode(data, loop_filter=resolve_filter(args.filter), threads=args.threads, output=args.output,
                    codec=args.codec, hm_dir=args.hm)
    print(f"{args.output}: {result.frames} frames {result.width}x{result.height} ({result.decoder}), "
          f"picture hashes {'ok' if result.hash_ok else f'{result.hash_mismatches} MISMATCHED'} "
          f"({result.hashed_pictures} hashed), {result.seconds:.3f} s")
    return 0 if result.hash_ok else 3


def _cmd_demo(args, resolve_filter) -> int:
    from hm_bridge.demo import run

    rows = run(resolve_filter, clip=args.clip, frames=args.frames, qp=args.qp, preset=args.preset,
               filter_spec=args.filter)
    return 0 if all(r["md5_match"] for r in rows) else 1


def add_commands(sub, resolve_filter: Callable[[str], object]) -> None:
    """Adds encode / decode / demo; ``resolve_filter(text)`` -> a loop filter or None."""

    def bind(fn):
        return lambda args: fn(args, resolve_filter)

    e = sub.add_parser("encode", help="encode a raw 8-bit 4:2:0 .yuv file")
    e.add_argument("input")
    e.add_argument("-o", "--output", required=True, help="output .hevc (Annex-B)")
    e.add_argument("--size", type=parse_size, required=True, help="WIDTHxHEIGHT")
    e.add_argument("--frames", type=int, default=None)
    e.add_argument("--fps", type=float, default=30.0)
    e.add_argument("--config", default="ra", help="ai, ra or ldp")
    e.add_argument("--qp", type=int, default=32)
    e.add_argument("--preset", default=None, help="x265's preset (default slow); x265 only")
    e.add_argument("--filter", default="none", help=FILTER_HELP)
    e.add_argument("--recon", help="also write the encoder's reconstruction (.yuv)")
    e.add_argument("--threads", type=int, default=None)
    e.add_argument("--frame-threads", type=int, default=None)
    e.add_argument("--codec", default="x265", help="x265 (default) or hm (your HM build: --hm DIR or $HMCNN_HM_DIR)")
    e.add_argument("--hm", default=None, help="your HM build's folder (--codec hm)")
    e.set_defaults(func=bind(_cmd_encode))

    d = sub.add_parser("decode", help="decode an Annex-B HEVC stream to .yuv")
    d.add_argument("input")
    d.add_argument("-o", "--output", required=True)
    d.add_argument("--filter", default="none", help="the filter the stream was coded with")
    d.add_argument("--threads", type=int, default=None, help="libde265's worker threads (x265 codec only)")
    d.add_argument("--codec", default="x265", help="x265 (libde265 decodes, default) or hm (HM's TAppDecoder)")
    d.add_argument("--hm", default=None, help="your HM build's folder (--codec hm)")
    d.set_defaults(func=bind(_cmd_decode))

    m = sub.add_parser("demo", help="encode + decode a built-in clip in every config, with and without a filter")
    m.add_argument("--clip", default="carphone")
    m.add_argument("--frames", type=int, default=17)
    m.add_argument("--qp", type=int, default=32)
    m.add_argument("--preset", default="slow")
    m.add_argument("--filter", default="smoothing:always", help=FILTER_HELP + " (default: smoothing on every "
                   "block, so that the drift without the filter shows)")
    m.set_defaults(func=bind(_cmd_demo))
