"""How x265's later pictures react to a better reference picture.

An "oracle" hook pulls the first (intra) picture's reconstruction towards the source,
``rec + round(alpha * (orig - rec))``: a strictly better reference. Nothing else changes.
The stream cannot be decoded with it (a decoder has no source), so this is an encoder-only
diagnostic (``verify=False``); rate and PSNR are the encoder's.

    python -m experiments.reference_sensitivity --clip bikes --config ldp --qp 32

It shows why a loop filter's marginal gains lose in RA/LD with x265: the later pictures'
mode decisions change and their PSNR moves by more than the reference gained
(docs/results.md).
"""
from __future__ import annotations

import argparse

import numpy as np

import hm_bridge as hb
from hm_bridge.clips import load_builtin


def pull_intra_towards_source(alpha: float):
    def hook(pic):
        if pic.is_encoder and pic.slice_type == 2:
            rec = pic.y
            d = pic.orig[0].astype(np.int32) - rec.astype(np.int32)
            rec[...] = np.clip(rec + np.round(alpha * d), 0, 255).astype(np.uint8)
        return None
    return hook


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default="bikes", help="a built-in clip")
    ap.add_argument("--config", default="ldp", choices=["ra", "ldp"])
    ap.add_argument("--qp", type=int, default=32)
    ap.add_argument("--frames", type=int, default=9)
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--alpha", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    args = ap.parse_args(argv)
    video = load_builtin(args.clip, frames=args.frames)
    print(f"{args.clip} {args.config} QP {args.qp}, {args.frames} frames, x265 {args.preset}: "
          "PSNR-Y of each picture (dB), mean, bytes")
    base = None
    for alpha in [0.0] + args.alpha:
        hook = pull_intra_towards_source(alpha) if alpha else None
        r = hb.encode(video, config=args.config, qp=args.qp, preset=args.preset, loop_filter=hook, verify=False)
        psnr = [p[0] for p in r.psnr.per_frame]
        base = base or psnr
        later = np.mean(np.subtract(psnr[1:], base[1:]))
        print(f"alpha {alpha:4.2f}: " + " ".join(f"{p:5.2f}" for p in psnr)
              + f" | mean {r.psnr.y:.3f} | {r.rate_bytes} B | intra {psnr[0] - base[0]:+.2f} dB, "
              f"later pictures {later:+.3f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
