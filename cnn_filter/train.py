"""Per-QP training of a loop-filter model on (reconstruction -> original) luma patches.

    hmcnn train --qps 22 27 32 37 --out models/vrcnn [--steps N] [--quick] [--device cuda]

MSE, Adam, random patches with the 8 flips/rotations, a held-out validation set (PSNR
gain over the unfiltered reconstruction), checkpoints, deterministic seeds. One model
per QP; each QP's training starts from the previous QP's weights when ``--warm-start``.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnn_filter.data import PairSet, make_pairs, training_sources
from cnn_filter.export import export_pt2, export_torchscript, write_metadata
from cnn_filter.fitting import fit
from cnn_filter.models import create_model
from hm_bridge.video import plane_psnr


@dataclass
class TrainSettings:
    arch: str = "vrcnn"
    steps: int = 2000
    batch: int = 32
    patch: int = 48
    lr: float = 1e-3
    seed: int = 2017
    device: str = "cpu"
    eval_every: int = 500
    warm_start: bool = True
    preset: str = "slow"
    max_images: int | None = None  # cap on training images (quick runs)
    pt2: bool = True
    aoti: bool = False
    init_from: str | None = None  # a model directory: each QP starts from its nearest-QP model there


@dataclass
class QpResult:
    qp: int
    val_psnr_recon: float
    val_psnr_filtered: float
    seconds: float
    history: list = field(default_factory=list)

    @property
    def gain(self) -> float:
        return self.val_psnr_filtered - self.val_psnr_recon


@torch.no_grad()
def apply_model(model: nn.Module, plane: np.ndarray, device: str = "cpu") -> np.ndarray:
    """A whole luma plane through the model, rounded back to uint8 (as the loop does)."""
    x = torch.from_numpy(plane).float().div(255.0)[None, None].to(device)
    y = model(x)[0, 0].mul(255.0).round().clamp(0, 255)
    return y.to(torch.uint8).cpu().numpy()


def evaluate(model: nn.Module, pairs: PairSet, device: str) -> tuple[float, float]:
    """Mean PSNR-Y of the reconstructions and of the filtered reconstructions."""
    model.eval()
    before = [plane_psnr(o, r) for o, r in zip(pairs.orig, pairs.recon)]
    after = [plane_psnr(o, apply_model(model, r, device)) for o, r in zip(pairs.orig, pairs.recon)]
    return float(np.mean(before)), float(np.mean(after))


class PatchSampler:
    """Random aligned (recon, orig) patches with random flips/rotations, seeded."""

    def __init__(self, pairs: PairSet, patch: int, seed: int):
        self.pairs = [(r, o) for r, o in zip(pairs.recon, pairs.orig) if min(r.shape) >= patch]
        if not self.pairs:
            raise ValueError(f"no training image is at least {patch}x{patch}")
        self.patch = patch
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        p = self.patch
        for _ in range(n):
            r, o = self.pairs[self.rng.integers(len(self.pairs))]
            y0 = self.rng.integers(0, r.shape[0] - p + 1)
            x0 = self.rng.integers(0, r.shape[1] - p + 1)
            a, b = r[y0:y0 + p, x0:x0 + p], o[y0:y0 + p, x0:x0 + p]
            k = int(self.rng.integers(4))
            a, b = np.rot90(a, k), np.rot90(b, k)
            if self.rng.integers(2):
                a, b = a[:, ::-1], b[:, ::-1]
            xs.append(np.ascontiguousarray(a))
            ys.append(np.ascontiguousarray(b))
        x = torch.from_numpy(np.stack(xs)).float().div_(255.0)[:, None]
        y = torch.from_numpy(np.stack(ys)).float().div_(255.0)[:, None]
        return x, y


def train_one(train: PairSet, val: PairSet, s: TrainSettings, init: dict | None = None,
              checkpoint: Path | None = None) -> tuple[nn.Module, QpResult]:
    torch.manual_seed(s.seed + train.qp)
    model = create_model(s.arch).to(s.device)
    if init is not None:
        model.load_state_dict(init)
    sampler = PatchSampler(train, s.patch, s.seed + 1000 * train.qp)
    loss_fn = nn.MSELoss()

    def batch_loss(m):
        x, y = sampler.batch(s.batch)
        return loss_fn(m(x.to(s.device)), y.to(s.device))

    def evaluate_val(m):
        before, after = evaluate(m, val, s.device)
        return {"val_psnr_recon": before, "val_psnr_filtered": after}

    def save(record):
        if checkpoint is not None:
            torch.save({"state_dict": model.state_dict(), "step": record["step"], "settings": s.__dict__}, checkpoint)

    t0 = time.perf_counter()
    history = fit(model, batch_loss, steps=s.steps, lr=s.lr, eval_every=s.eval_every, evaluate=evaluate_val,
                  desc=f"train {s.arch} QP {train.qp}", on_eval=save,
                  describe=lambda r: (f"QP {train.qp} step {r['step']}: loss {r['loss']:.3e}, validation PSNR-Y "
                                      f"{r['val_psnr_recon']:.3f} -> {r['val_psnr_filtered']:.3f} dB "
                                      f"({r['val_psnr_filtered'] - r['val_psnr_recon']:+.3f})"))
    before, after = history[-1]["val_psnr_recon"], history[-1]["val_psnr_filtered"]
    return model.cpu().eval(), QpResult(train.qp, before, after, time.perf_counter() - t0, history)


def initial_weights(model_dir: str | Path, qp: int, arch: str) -> dict:
    """The state of the nearest-QP model of a trained directory (its TorchScript files),
    to continue training from: ``hmcnn train --init models/vrcnn``."""
    from cnn_filter.runner import resolve_model_files

    qps, files, meta = resolve_model_files(Path(model_dir))
    if meta.get("arch", arch) != arch:
        raise ValueError(f"{model_dir} holds {meta['arch']} models, not {arch}")
    nearest = min(range(len(qps)), key=lambda i: (abs(qps[i] - qp), qps[i]))
    state = torch.jit.load(files[nearest], map_location="cpu").state_dict()
    create_model(arch).load_state_dict(state)  # the same architecture, or a clear error here
    return state


def train_models(qps: list[int], out: Path, s: TrainSettings, cache_dir: Path | None = None) -> list[QpResult]:
    """Makes the codec pairs, trains one model per QP, exports each, writes manifest.json."""
    out = Path(out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    cache_dir = Path(cache_dir) if cache_dir else out / "pairs"
    train_src, val_src, described = training_sources()
    if s.max_images:
        train_src, val_src = train_src[: s.max_images], val_src[: max(2, s.max_images // 4)]
    print(f"training set: {described}: {len(train_src)} train / {len(val_src)} validation pictures")
    results, init = [], None
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if manifest.get("arch") != s.arch:
        manifest = {"arch": s.arch, "models": {}}
    manifest["training_set"] = described
    # high QPs first: the strongest artefacts train fastest, then warm-start the rest
    for qp in sorted(qps, reverse=True):
        train = make_pairs(train_src, qp, cache_dir, s.preset, "train")
        val = make_pairs(val_src, qp, cache_dir, s.preset, "validation")
        if s.init_from:
            init = initial_weights(s.init_from, qp, s.arch)
        model, res = train_one(train, val, s, init if (s.warm_start or s.init_from) else None,
                               out / "checkpoints" / f"qp{qp}.pth")
        init = model.state_dict()
        name = f"qp{qp}"
        export_torchscript(model, out / f"{name}.pt")
        if s.pt2:
            export_pt2(model, out / f"{name}.pt2", aoti=s.aoti)
        write_metadata(out / f"{name}.json", arch=s.arch, qp=qp, torchscript=f"{name}.pt",
                       pt2=f"{name}.pt2" if s.pt2 else None, training_set=described,
                       train_pictures=len(train), validation_pictures=len(val),
                       val_psnr_recon=res.val_psnr_recon, val_psnr_filtered=res.val_psnr_filtered,
                       val_psnr_gain=res.gain, steps=s.steps, batch=s.batch, patch=s.patch, lr=s.lr,
                       seed=s.seed, device=s.device, preset=s.preset, seconds=res.seconds, init_from=s.init_from,
                       history=res.history)
        manifest["models"][str(qp)] = f"{name}.pt"
        results.append(res)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return sorted(results, key=lambda r: r.qp)
