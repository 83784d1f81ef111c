"""PSNR-Y gain of a loop filter on held-out images (Kodak by default), all-intra, per QP:

* ``model only``: the model applied to every sample of the anchor's reconstruction (what
  the network itself achieves, no switching);
* ``in loop``: the filter inside x265's loop with its per-block RD switching: PSNR-Y and
  rate change against the anchor (x265, filter off).

    python -m experiments.filter_gain [--models models/vrcnn] [--images DIR] [--qps 22 27 32 37]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

import hm_bridge as hb
from hm_bridge.color import load_image_rgb, rgb_to_video
from hm_bridge.paths import data_root
from hm_bridge.video import plane_psnr


def main(argv=None) -> None:
    from cnn_filter import load_filter
    from experiments.spec import SHIPPED_VRCNN

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=str(SHIPPED_VRCNN))
    ap.add_argument("--images", default=str(data_root() / "kodak"))
    ap.add_argument("--qps", type=int, nargs="+", default=[22, 27, 32, 37])
    ap.add_argument("--preset", default="slow")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    paths = sorted(Path(args.images).glob("*.png"))[: args.limit]
    if not paths:
        raise SystemExit(f"no images in {args.images}")
    filt = load_filter(args.models, device="cpu")
    print(f"{len(paths)} images from {args.images}, all-intra, x265 preset {args.preset}; anchor = x265 filter off")
    print(f"{'QP':>3} {'anchor dB':>10} {'model only':>11} {'in loop':>9} {'rate change':>12}")
    for qp in args.qps:
        anchor_p, model_p, loop_p, rate_a, rate_t = [], [], [], 0, 0
        for p in tqdm(paths, desc=f"QP {qp}", leave=False):
            video = rgb_to_video(load_image_rgb(p))
            a = hb.encode(video, config="ai", qp=qp, preset=args.preset, recon="memory")
            q, _ = filt.filter_plane(qp, a.recon.y[0])
            t = hb.encode(video, config="ai", qp=qp, preset=args.preset, loop_filter=filt)
            anchor_p.append(a.psnr.y)
            model_p.append(plane_psnr(video.y[0], q))
            loop_p.append(t.psnr.y)
            rate_a += a.rate_bytes
            rate_t += t.rate_bytes
        print(f"{qp:3d} {np.mean(anchor_p):10.3f} {np.mean(model_p) - np.mean(anchor_p):+11.3f} "
              f"{np.mean(loop_p) - np.mean(anchor_p):+9.3f} {100 * (rate_t / rate_a - 1):+11.2f}%")


if __name__ == "__main__":
    main()
