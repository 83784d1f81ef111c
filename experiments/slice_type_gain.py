"""A loop filter's PSNR-Y gain per QP and per slice type on inter-coded validation pictures:
the held-out validation pictures of the training set (never trained on) as camera-motion
clips (cnn_filter.inter_data), coded RA and LDP by x265 with HM's cascade; the model
applied to every sample of each picture's reconstruction (the model of the picture's own
QP and slice type, as in the loop: a set with inter models filters P and B pictures with
them), its gain over the unfiltered reconstruction averaged per slice type.

    python -m experiments.slice_type_gain [--models models/vrcnn] [--qps 22 27 32 37]
        [--configs ra ldp] [--frames 9] [--workers 2] [--images all]

``--images`` names the training set whose validation pictures are used (``all``, as the
shipped models were trained: the last 20 of BSDS500 test). ``--loop DIR``: the clips coded
with DIR in the loop, each picture as the hook receives it (its references filtered:
inter_data.HookInputs), which is what a filter meets in the loop.
"""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from hm_bridge.video import plane_psnr


def main(argv=None) -> None:
    from cnn_filter import load_filter
    from cnn_filter.data import training_sources
    from cnn_filter.inter_data import make_inter_pairs
    from experiments.spec import SHIPPED_VRCNN
    from hm_bridge.codec import SLICE_TYPE_CODES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=str(SHIPPED_VRCNN))
    ap.add_argument("--qps", type=int, nargs="+", default=[22, 27, 32, 37])
    ap.add_argument("--configs", nargs="+", default=["ra", "ldp"])
    ap.add_argument("--frames", type=int, default=9)
    ap.add_argument("--preset", default="slow")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--cache", default="runs/inter_pairs")
    ap.add_argument("--images", choices=["trainval", "all"], default="all")
    ap.add_argument("--loop", default=None, metavar="DIR", help="code the clips with DIR in the loop")
    args = ap.parse_args(argv)
    _, val, described = training_sources(splits=args.images)
    f = load_filter(args.models, device="cpu")
    print(f"{args.models} on {len(val)} held-out validation pictures of {described} as {args.frames}-picture "
          f"camera-motion clips, x265 {args.preset}" + (f", {args.loop} in the loop" if args.loop else "") +
          "; model-only PSNR-Y gain (dB) over the " + ("hook's input" if args.loop else "reconstruction"))
    print(f"{'config':>6} {'QP':>3} " + " ".join(f"{t:>16}" for t in ("I", "P", "B (ref)", "b (non-ref)")) +
          f" {'all':>8}")
    for config in args.configs:
        for qp in args.qps:
            pairs = make_inter_pairs(val, qp, config, Path(args.cache), args.frames, args.preset, args.workers,
                                     args.loop)
            gains = defaultdict(list)
            for x, t, kind, pq in zip(pairs.inputs, pairs.targets, pairs.slice_types, pairs.picture_qps):
                out = f.filter_plane(pq, x, slice_type=SLICE_TYPE_CODES[kind])
                y = out[0] if isinstance(out, tuple) else out  # (uint8, float) from the libtorch runner
                gains[kind].append(plane_psnr(t, y) - plane_psnr(t, x))
            cells = [f"{np.mean(gains[k]):+8.3f} ({len(gains[k]):4d})" if gains[k] else f"{'-':>16}"
                     for k in ("I", "P", "B", "b")]
            every = [g for v in gains.values() for g in v]
            print(f"{config:>6} {qp:3d} " + " ".join(cells) + f" {np.mean(every):+8.3f}")


if __name__ == "__main__":
    main()
