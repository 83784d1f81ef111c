"""Per-QP training of a loop-filter model on (reconstruction -> original) luma patches.

    hmcnn train --qps 22 27 32 37 --out models/vrcnn [--steps N] [--quick] [--device cuda]

MSE, Adam, random patches with the 8 flips/rotations, a held-out validation set (PSNR
gain over the unfiltered reconstruction), checkpoints, deterministic seeds.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnn_filter.data import PairSet, make_pairs, training_sources
from cnn_filter.sampling import PatchSampler
from cnn_filter.training import Task, TrainResult, TrainSettings, train_per_qp
from hm_bridge.video import plane_psnr


@torch.no_grad()
def apply_model(model: nn.Module, plane: np.ndarray, device: str = "cpu") -> np.ndarray:
    """A whole luma plane through the model, rounded back to uint8 (as the loop does)."""
    x = torch.from_numpy(plane).float().div(255.0)[None, None].to(device)
    y = model(x)[0, 0].mul(255.0).round().clamp(0, 255)
    return y.to(torch.uint8).cpu().numpy()


class LoopFilterTask(Task):
    """Reconstruction after deblocking + SAO -> original, same size."""

    baseline = "unfiltered"

    def __init__(self, train_sources, val_sources, cache_dir: Path, preset: str):
        self.train_sources, self.val_sources = train_sources, val_sources
        self.cache_dir, self.preset = cache_dir, preset

    def pairs(self, qp):
        return (make_pairs(self.train_sources, qp, self.cache_dir, self.preset, "train"),
                make_pairs(self.val_sources, qp, self.cache_dir, self.preset, "validation"))

    def sampler(self, train: PairSet, patch: int, seed: int) -> PatchSampler:
        return PatchSampler(list(zip(train.inputs, train.targets)), (1, 1), patch, seed)

    def loss(self, model, batch):
        x, y = batch
        return nn.functional.mse_loss(model(x), y)

    def evaluate(self, model, val: PairSet, device: str) -> tuple[float, float]:
        model.eval()
        before = [plane_psnr(t, r) for t, r in zip(val.targets, val.inputs)]
        after = [plane_psnr(t, apply_model(model, r, device)) for t, r in zip(val.targets, val.inputs)]
        return float(np.mean(before)), float(np.mean(after))


def train_models(qps: list[int], out: Path, s: TrainSettings, cache_dir: Path | None = None) -> list[TrainResult]:
    """Makes the codec pairs, trains one model per QP, exports each, writes manifest.json."""
    out = Path(out)
    train_src, val_src, described = training_sources()
    if s.max_images:
        train_src, val_src = train_src[: s.max_images], val_src[: max(2, s.max_images // 4)]
    print(f"training set: {described}: {len(train_src)} train / {len(val_src)} validation pictures")
    task = LoopFilterTask(train_src, val_src, Path(cache_dir) if cache_dir else out / "pairs", s.preset)
    return train_per_qp(task, qps, out, s, described)
