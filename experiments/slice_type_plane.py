"""Separate intra and inter models, or one model told the slice type? (issue 27, item 2)

Three ways to serve the pictures of one QP bucket, trained from the same start (the intra
model of that QP), on the same pairs, for the same number of steps, and judged on the same
held-out pictures:

  separate  the intra model fine-tuned on I pictures (half the steps) and an inter model
            from it on P and B pictures (the other half): what `models/vrcnn_inter` ships;
  plane     one VRCNN whose first layer also sees two constant planes, "inter" (0 for I,
            1 for P and B) and the temporal layer / 2 (inter_data.LAYER), their weights
            starting at zero (so it starts as the intra model), trained on batches half I,
            half P/B patches;
  mixed     one plain VRCNN trained on batches drawn alike (the slice type unknown to it;
            each arm draws its patches with its own seeds).

The pairs are the camera-motion clips of cnn_filter.inter_data (the 20 validation pictures
of the ``--images`` split held out), optionally as the hook receives them with ``--loop
DIR`` in the loop; the bucket is the pictures whose QP is nearest to ``--qp`` among the
inter models' QPs (27/32/37/42), as the runners choose. Printed: the mean PSNR-Y gain
over the unfiltered input per slice type (I, P, B referenced, b unreferenced) on the
validation clips, each model applied to the whole picture.

    python -m experiments.slice_type_plane --loop runs/vrcnn_inter_snapshot --qp 37 \\
        --base-qps 32 37 --max-clips 96 --steps 600 --out runs/slice_type_plane
"""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnn_filter.models import VRCNN

#: the inter models' QPs, whose nearest defines a picture's bucket (models/vrcnn_inter)
INTER_QPS = (27, 32, 37, 42)
KINDS = ("I", "P", "B", "b")


class SliceTypeVRCNN(VRCNN):
    """VRCNN whose first convolution also sees ``extra`` constant planes (the slice type
    and the temporal layer); from ``init`` (a VRCNN state) with their weights at zero."""

    def __init__(self, extra: int = 2, init: dict | None = None):
        super().__init__()
        if init is not None:
            self.load_state_dict(init)
        w = self.conv1.weight.data
        self.conv1 = nn.Conv2d(1 + extra, 64, 5, padding=2)
        with torch.no_grad():
            self.conv1.weight.zero_()
            self.conv1.weight[:, :1] = w
            self.conv1.bias.copy_(torch.zeros(64) if init is None else init["conv1.bias"])

    def forward(self, x: torch.Tensor, planes: torch.Tensor) -> torch.Tensor:
        return x + self.residual(torch.relu(self.conv1(torch.cat([x, planes.to(x.dtype)], dim=1))))


def _planes(kinds: torch.Tensor, shape) -> torch.Tensor:
    """(n,) slice-kind codes (index in KINDS) -> (n, 2, H, W): inter flag, temporal layer / 2."""
    from cnn_filter.inter_data import LAYER

    inter = (kinds > 0).float()
    layer = torch.tensor([LAYER[k] / 2 for k in KINDS], device=kinds.device)[kinds.long()]
    return torch.stack([inter, layer], dim=1)[:, :, None, None].expand(-1, -1, *shape)


class Pairs:
    """One bucket's pictures: inputs, targets and slice kinds (codes into KINDS)."""

    def __init__(self, sets, qp: int):
        from cnn_filter.zoo import nearest_index

        self.x, self.t, self.kind = [], [], []
        for p in sets:
            for i in range(len(p)):
                if INTER_QPS[nearest_index(list(INTER_QPS), p.picture_qps[i])] == qp:
                    self.x.append(p.inputs[i])
                    self.t.append(p.targets[i])
                    self.kind.append(KINDS.index(p.slice_types[i]))

    def sampler(self, kinds, patch: int, seed: int):
        from cnn_filter.sampling import PatchSampler

        keep = [i for i, k in enumerate(self.kind) if k in kinds]
        return PatchSampler([(self.x[i], self.t[i]) for i in keep], (1, 1), patch, seed,
                            labels=[float(self.kind[i]) for i in keep])


def _batch(samplers, n: int):
    """n patches, an equal share from each sampler: (x, target, kind codes)."""
    parts = [s.batch(n // len(samplers)) for s in samplers]
    return tuple(torch.cat([p[k] for p in parts]) for k in range(3))


def _apply(model, x: np.ndarray, kind: int, plane: bool) -> np.ndarray:
    from cnn_filter.train import apply_model

    told = lambda t: model(t, _planes(torch.tensor([kind]), t.shape[2:]))  # noqa: E731
    return apply_model(told if plane else model, x)


def gains(val: Pairs, pick) -> dict:
    """Mean PSNR-Y gain per slice kind; ``pick(kind) -> (model, takes the planes)``."""
    from hm_bridge.video import plane_psnr

    out = defaultdict(list)
    for x, t, k in zip(val.x, val.t, val.kind):
        model, plane = pick(k)
        out[KINDS[k]].append(plane_psnr(t, _apply(model, x, k, plane)) - plane_psnr(t, x))
    table = {k: float(np.mean(v)) for k, v in out.items()}
    table["P+B+b"] = float(np.mean([g for k, v in out.items() if k != "I" for g in v]))
    table["count"] = {k: len(v) for k, v in out.items()}
    return table


def _train(model, samplers, steps: int, args, plane: bool, label: str) -> float:
    from cnn_filter.fitting import fit

    torch.manual_seed(args.seed)

    def loss(m):
        x, y, k = _batch(samplers, args.batch)
        return nn.functional.mse_loss(m(x, _planes(k, x.shape[2:])) if plane else m(x), y)

    t0 = time.perf_counter()
    fit(model, loss, steps=steps, lr=args.lr, eval_every=steps + 1, evaluate=lambda m: {},
        describe=lambda r: "", desc=f"{label} ({steps} steps)", warmup=min(50, steps // 10))
    return time.perf_counter() - t0


def main(argv=None) -> None:
    from cnn_filter import zoo
    from cnn_filter.data import training_sources
    from cnn_filter.inter_data import make_inter_pairs
    from cnn_filter.zoo import SLICE_TYPE_CODES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", default="models/vrcnn", help="the intra models every arm starts from")
    ap.add_argument("--qp", type=int, default=37, choices=INTER_QPS, help="the bucket")
    ap.add_argument("--base-qps", type=int, nargs="+", default=[32, 37])
    ap.add_argument("--configs", nargs="+", default=["ra", "ldp"])
    ap.add_argument("--loop", default=None, metavar="DIR", help="pairs as the hook receives them, DIR in the loop")
    ap.add_argument("--cache", default="runs/inter_pairs")
    ap.add_argument("--images", choices=["trainval", "all"], default="all")
    ap.add_argument("--max-clips", type=int, default=96)
    ap.add_argument("--frames", type=int, default=9)
    ap.add_argument("--preset", default="slow")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--steps", type=int, default=600, help="per arm (the separate arm: half per model)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=96)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--seed", type=int, default=2017)
    ap.add_argument("--compare", default="models/vrcnn_inter", help="a shipped set, evaluated for reference")
    ap.add_argument("--out", default="runs/slice_type_plane")
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)

    train_src, val_src, described = training_sources(splits=args.images)
    train_src = train_src[: args.max_clips]
    load = lambda sources: Pairs([make_inter_pairs(sources, q, c, Path(args.cache), args.frames, args.preset,
                                                   args.workers, args.loop)
                                  for c in args.configs for q in args.base_qps], args.qp)
    train, val = load(train_src), load(val_src)
    count = lambda p: {k: sum(1 for x in p.kind if KINDS[x] == k) for k in KINDS}
    print(f"{described}: {len(train_src)} training / {len(val_src)} validation clips, "
          f"{'/'.join(c.upper() for c in args.configs)} at base QPs {args.base_qps}"
          + (f", {args.loop} in the loop" if args.loop else "") + f"; bucket QP {args.qp}: "
          f"training {count(train)}, validation {count(val)}")

    init_set = zoo.open_models(args.init)
    start = init_set.load(init_set.nearest(args.qp)).state_dict()
    seeds = iter(range(args.seed, args.seed + 100))
    intra_only = lambda: train.sampler({0}, args.patch, next(seeds))
    inter_only = lambda: train.sampler({1, 2, 3}, args.patch, next(seeds))

    def vrcnn():
        m = VRCNN()
        m.load_state_dict(start)
        return m

    results, seconds = {}, {}
    before = vrcnn().eval()
    results["intra model (start)"] = gains(val, lambda k: (before, False))
    if args.compare:
        ref = zoo.open_models(args.compare)
        shipped = {k: ref.load(ref.index_for(args.qp, SLICE_TYPE_CODES[KINDS[k]])).eval() for k in range(4)}
        results[f"{args.compare} (shipped)"] = gains(val, lambda k: (shipped[k], False))

    intra, inter = vrcnn(), vrcnn()
    seconds["separate"] = _train(intra, [intra_only()], args.steps // 2, args, False, "separate: intra") + \
        _train(inter, [inter_only()], args.steps - args.steps // 2, args, False, "separate: inter")
    results["separate (intra + inter model)"] = gains(val, lambda k: (intra if k == 0 else inter, False))

    plane = SliceTypeVRCNN(2, start)
    seconds["plane"] = _train(plane, [intra_only(), inter_only()], args.steps, args, True, "plane")
    results["one model + slice-type planes"] = gains(val, lambda k: (plane, True))

    mixed = vrcnn()
    seconds["mixed"] = _train(mixed, [intra_only(), inter_only()], args.steps, args, False, "mixed")
    results["one model, slice type unknown"] = gains(val, lambda k: (mixed, False))

    print(f"\nPSNR-Y gain (dB) over the unfiltered input, validation, bucket QP {args.qp}, {args.steps} steps "
          f"per arm (batch {args.batch}, patch {args.patch}):")
    print(f"{'':34} " + " ".join(f"{k:>8}" for k in (*KINDS, "P+B+b")))
    for name, r in results.items():
        print(f"{name:34} " + " ".join(f"{r.get(k, float('nan')):+8.3f}" for k in (*KINDS, "P+B+b")))
    print("seconds per arm: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"qp{args.qp}.json").write_text(json.dumps({"args": vars(args), "results": results, "seconds": seconds,
                                                         "training": count(train), "validation": count(val)},
                                                        indent=1))


if __name__ == "__main__":
    main()
