"""hmcnn: command line of hm-cnn-loop."""
from __future__ import annotations

import argparse
import sys


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 416x240, got {text!r}")


def _cmd_encode(args) -> int:
    from hm_bridge.codec import encode
    from hm_bridge.filters import resolve_filter
    from hm_bridge.video import Video

    w, h = args.size
    video = Video.from_yuv(args.input, w, h, frames=args.frames, fps=args.fps)
    result = encode(video, config=args.config, qp=args.qp, preset=args.preset,
                    loop_filter=resolve_filter(args.filter), threads=args.threads,
                    frame_threads=args.frame_threads)
    with open(args.output, "wb") as f:
        f.write(result.bitstream)
    if args.recon:
        result.recon.to_yuv(args.recon)
    print(f"{args.output}: {len(video)} frames, {result.rate_bytes} bytes ({result.kbps:.2f} kbps at {video.fps:g} fps), "
          f"PSNR Y {result.psnr.y:.3f} U {result.psnr.u:.3f} V {result.psnr.v:.3f} dB, "
          f"side info {result.side_info_bytes} B, encoder recon == decoder output: {result.md5_match}, "
          f"{result.seconds:.2f} s")
    return 0


def _cmd_decode(args) -> int:
    from hm_bridge.codec import decode
    from hm_bridge.filters import resolve_filter

    with open(args.input, "rb") as f:
        data = f.read()
    result = decode(data, loop_filter=resolve_filter(args.filter), threads=args.threads)
    result.video.to_yuv(args.output)
    print(f"{args.output}: {len(result.video)} frames {result.video.width}x{result.video.height}, "
          f"picture hashes {'ok' if result.hash_ok else f'{result.hash_mismatches} MISMATCHED'} "
          f"({result.hashed_pictures} hashed), MD5 {result.video.md5()}, {result.seconds:.3f} s")
    return 0 if result.hash_ok else 3


def _cmd_demo(args) -> int:
    from hm_bridge.demo import run

    rows = run(clip=args.clip, frames=args.frames, qp=args.qp, preset=args.preset, filter_spec=args.filter)
    return 0 if all(r["md5_match"] for r in rows) else 1


def _cmd_sr_encode(args) -> int:
    from hm_bridge.color import load_image_rgb
    from hm_bridge.sr_mode import SRModels, sr_encode

    models = SRModels(args.models)
    data, d = sr_encode(load_image_rgb(args.image), args.qp, models, criterion=args.criterion, preset=args.preset)
    with open(args.output, "wb") as f:
        f.write(data)
    px = d.lr_size[0] * d.lr_size[1] * 4
    print(f"{args.output}: {d.total_bytes} bytes ({d.total_bytes * 8 / px:.4f} bpp), content stream "
          f"{d.content_bytes} B at {d.lr_size[0]}x{d.lr_size[1]}, QP {args.qp}, upsampler {d.method} "
          f"(by {args.criterion}: " + ", ".join(f"{m} {v:.0f}" for m, v in d.distortions.items()) + ")")
    return 0


def _cmd_sr_decode(args) -> int:
    from PIL import Image

    from hm_bridge.sr_mode import SRModels, sr_decode

    with open(args.input, "rb") as f:
        data = f.read()
    video, rgb, model = sr_decode(data, SRModels(args.models))
    Image.fromarray(rgb).save(args.output)
    print(f"{args.output}: {video.width}x{video.height}, QP {model.qp}, upsampler {model.method}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hmcnn", description="CNN in-loop filtering inside x265/libde265")
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("encode", help="encode a raw 8-bit 4:2:0 .yuv file")
    e.add_argument("input")
    e.add_argument("-o", "--output", required=True, help="output .hevc (Annex-B)")
    e.add_argument("--size", type=_size, required=True, help="WIDTHxHEIGHT")
    e.add_argument("--frames", type=int, default=None)
    e.add_argument("--fps", type=float, default=30.0)
    e.add_argument("--config", default="ra", help="ai, ra or ldp")
    e.add_argument("--qp", type=int, default=32)
    e.add_argument("--preset", default="slow")
    e.add_argument("--filter", default="none", help="none, smoothing, or a CNN model path")
    e.add_argument("--recon", help="also write the encoder's reconstruction (.yuv)")
    e.add_argument("--threads", type=int, default=None)
    e.add_argument("--frame-threads", type=int, default=None)
    e.set_defaults(func=_cmd_encode)

    d = sub.add_parser("decode", help="decode an Annex-B HEVC stream to .yuv")
    d.add_argument("input")
    d.add_argument("-o", "--output", required=True)
    d.add_argument("--filter", default="none", help="the filter the stream was coded with")
    d.add_argument("--threads", type=int, default=None)
    d.set_defaults(func=_cmd_decode)

    m = sub.add_parser("demo", help="encode + decode a built-in clip in every config, with and without a filter")
    m.add_argument("--clip", default="carphone")
    m.add_argument("--frames", type=int, default=17)
    m.add_argument("--qp", type=int, default=32)
    m.add_argument("--preset", default="slow")
    m.add_argument("--filter", default="smoothing")
    m.set_defaults(func=_cmd_demo)

    from hm_bridge.sr_mode import CRITERIA

    se = sub.add_parser("sr-encode", help="super-resolution coding mode: encode an image")
    se.add_argument("image")
    se.add_argument("--qp", type=int, required=True)
    se.add_argument("-o", "--output", required=True)
    se.add_argument("--models", default="models/sr", help="per-QP SR networks (manifest.json)")
    se.add_argument("--criterion", default="sse_y", choices=CRITERIA, help="what the upsampler RDO minimises")
    se.add_argument("--preset", default="slow")
    se.set_defaults(func=_cmd_sr_encode)
    sd = sub.add_parser("sr-decode", help="super-resolution coding mode: decode to an image (PNG)")
    sd.add_argument("input")
    sd.add_argument("-o", "--output", required=True)
    sd.add_argument("--models", default="models/sr")
    sd.set_defaults(func=_cmd_sr_decode)

    # commands of the other packages of the project (training, sweeps, SR mode)
    import importlib.util

    for module in ("cnn_filter.cli", "experiments.cli"):
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module).add_commands(sub)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, NotImplementedError, RuntimeError) as e:
        print(f"hmcnn {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
