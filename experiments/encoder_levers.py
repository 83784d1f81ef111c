"""Upper bounds of two encoder-side levers for a loop filter, before any bitstream change.

On the training's held-out validation pictures (the last 20 BSDS500 pictures, coded
all-intra by x265 with the filter off, as `hmcnn train` makes them), per QP, the mean
PSNR-Y gain over the unfiltered reconstruction of:

* ``--models`` alone, and ``--other`` alone (each as the loop runs it, every block on);
* **QP-offset search** (a QP-input model only): the encoder runs the model with its QP
  plane at slice QP + d for every ``--offsets`` d and keeps, per picture, the best;
  a decoder would run the one d signalled;
* **model choice**: per picture, and per 64x64 block, the better of the two filters (per
  block with "off" as a third choice); a decoder would run the one signalled.

The choices are oracles (the source decides) and their side information is not counted:
a lever whose bound is small is not worth a side-information field.

    python -m experiments.encoder_levers --models models/yuv_resnet --other models/vrcnn
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

BLOCK = 64  # the side information's default block (log2_block 6)


def block_sse(a: np.ndarray, b: np.ndarray, size: int = BLOCK) -> np.ndarray:
    """Per size x size block (raster order, edge blocks cropped): the SSE of a against b."""
    d = (a.astype(np.float64) - b) ** 2
    return np.array([d[y:y + size, x:x + size].sum() for y in range(0, d.shape[0], size)
                     for x in range(0, d.shape[1], size)])


def gain_db(unfiltered: np.ndarray, filtered: np.ndarray) -> float:
    """PSNR gain of one picture from its total SSEs (unfiltered, filtered)."""
    return float(10 * np.log10(unfiltered.sum() / max(filtered.sum(), 1e-9)))


def run_filter(filt, qp: int, y: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """The filter's luma for a picture at slice QP ``qp``, as the loop computes it."""
    if filt.kind == "loop_yuv":
        return filt.filter_picture(qp, y, uv[0], uv[1])[0]
    return filt.filter_plane(qp, y)[0]


def picture_levers(filt, other, qp: int, y, uv, target, offsets) -> dict[str, float]:
    """The gains (dB) of one picture, by lever."""
    e0 = block_sse(y, target)
    ea = {d: block_sse(run_filter(filt, qp + d, y, uv), target) for d in offsets}
    eb = block_sse(run_filter(other, qp, y, uv), target)
    g = {"model": gain_db(e0, ea[0]), "other": gain_db(e0, eb)}
    if len(offsets) > 1:
        g["QP-offset search"] = max(gain_db(e0, e) for e in ea.values())
    g["model choice per picture"] = max(g["model"], g["other"])
    g["model choice per block"] = gain_db(e0, np.minimum(ea[0], eb))
    g["model choice per block, or off"] = gain_db(e0, np.minimum(np.minimum(ea[0], eb), e0))
    return g


def main(argv=None) -> int:
    from cnn_filter import load_filter
    from cnn_filter.data import make_pairs, training_sources

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="models/yuv_resnet", help="the filter under study")
    ap.add_argument("--other", default="models/vrcnn", help="the second filter of the model choice")
    ap.add_argument("--qps", type=int, nargs="+", default=[22, 27, 32, 37])
    ap.add_argument("--offsets", type=int, nargs="+", default=[-6, -3, 0, 3, 6],
                    help="QP-plane offsets tried (a QP-input --models only; 0 is always tried)")
    ap.add_argument("--cache", default="runs/pairs", help="the training pairs' cache (made if missing)")
    ap.add_argument("--preset", default="slow", help="x265 preset of the pairs (as hmcnn train)")
    args = ap.parse_args(argv)
    filt, other = load_filter(args.models, device="cpu"), load_filter(args.other, device="cpu")
    offsets = sorted(set(args.offsets) | {0}) if filt.kind == "loop_yuv" else [0]
    _, val, described = training_sources(splits="all")
    print(f"{len(val)} validation pictures ({described}), all-intra x265 {args.preset}, filter off; "
          f"models {args.models}, other {args.other}, offsets {offsets}; oracle choices, no side information")
    rows = []
    for qp in args.qps:
        pairs = make_pairs(val, qp, Path(args.cache), args.preset, "validation")
        gains = [picture_levers(filt, other, qp, pairs.inputs[i], pairs.inputs_uv[i], pairs.targets[i], offsets)
                 for i in tqdm(range(len(pairs)), desc=f"QP {qp}", leave=False)]
        rows.append((qp, {k: float(np.mean([g[k] for g in gains])) for k in gains[0]}))
    names = list(rows[0][1])
    print(f"{'mean PSNR-Y gain, dB':32}" + "".join(f"{'QP ' + str(qp):>9}" for qp, _ in rows))
    for k in names:
        print(f"{k:32}" + "".join(f"{r[k]:+9.4f}" for _, r in rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
