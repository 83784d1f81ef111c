"""Training, shared by every network of the project (loop filters, SR networks).

A ``Task`` says what differs between them: which pairs, which patches, which loss,
which baseline the validation PSNR is compared with. ``train_model`` runs the one
optimisation loop (cnn_filter.fitting.fit) for one model; ``train_per_qp`` trains one
model per QP (highest QP first, each warm-started from the previous one or from an
existing model directory), exports each, writes its metadata and the manifest.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from cnn_filter import zoo
from cnn_filter.data import PairSet
from cnn_filter.export import export_pt2, export_torchscript, write_metadata
from cnn_filter.fitting import fit
from cnn_filter.models import create_model
from cnn_filter.sampling import PatchSampler


@dataclass
class TrainSettings:
    arch: str = "vrcnn"
    steps: int = 2000
    batch: int = 32
    patch: int = 48  # patch side at the network's input
    lr: float = 1e-3
    seed: int = 2017
    device: str = "cpu"
    eval_every: int = 500
    warm_start: bool = True  # each QP starts from the previous (higher) QP's model
    preset: str = "slow"  # x265 preset of the training pairs
    max_images: int | None = None  # cap on training images (quick runs)
    pt2: bool = True  # also export torch.export .pt2
    aoti: bool = False  # also compile an AOTInductor package
    init_from: str | None = None  # a model directory: each QP starts from its nearest-QP model there


@dataclass
class TrainResult:
    qp: int | None
    val_psnr_baseline: float  # mean validation PSNR-Y without the network
    val_psnr_model: float  # ... and with it
    seconds: float
    history: list = field(default_factory=list)

    @property
    def gain(self) -> float:
        return self.val_psnr_model - self.val_psnr_baseline


class Task(ABC):
    """What one kind of network is trained on and judged by."""

    #: what the validation PSNR is compared with, for logs and metadata
    baseline: str = "baseline"

    @abstractmethod
    def pairs(self, qp: int | None) -> tuple[PairSet, PairSet]:
        """(training, validation) pairs for a QP."""

    @abstractmethod
    def sampler(self, train: PairSet, patch: int, seed: int) -> PatchSampler:
        """Random patches of the training pairs; batch() feeds loss()."""

    @abstractmethod
    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The loss of one batch (tensors already on the model's device)."""

    @abstractmethod
    def evaluate(self, model: nn.Module, val: PairSet, device: str) -> tuple[float, float]:
        """Mean validation PSNR-Y (baseline, model)."""


def train_model(task: Task, train: PairSet, val: PairSet, s: TrainSettings, init: dict | None = None,
                checkpoint: Path | None = None, label: str = "") -> tuple[nn.Module, TrainResult]:
    """Trains one model of ``s.arch`` on ``train``; validation on ``val``."""
    torch.manual_seed(s.seed + (train.qp or 0))
    model = create_model(s.arch).to(s.device)
    if init is not None:
        model.load_state_dict(init)
    sampler = task.sampler(train, s.patch, s.seed + 1000 * (train.qp or 0))

    def batch_loss(m):
        return task.loss(m, tuple(t.to(s.device) for t in sampler.batch(s.batch)))

    def evaluate(m):
        before, after = task.evaluate(m, val, s.device)
        return {"val_psnr_baseline": before, "val_psnr_model": after}

    def save(record):
        if checkpoint is not None:
            torch.save({"state_dict": model.state_dict(), "step": record["step"], "settings": asdict(s)}, checkpoint)

    def describe(r):
        return (f"{s.arch} {label} step {r['step']}: loss {r['loss']:.3e}, validation PSNR-Y {task.baseline} "
                f"{r['val_psnr_baseline']:.3f} -> {r['val_psnr_model']:.3f} dB "
                f"({r['val_psnr_model'] - r['val_psnr_baseline']:+.3f})")

    t0 = time.perf_counter()
    history = fit(model, batch_loss, steps=s.steps, lr=s.lr, eval_every=s.eval_every, evaluate=evaluate,
                  describe=describe, desc=f"train {s.arch} {label}", on_eval=save)
    last = history[-1]
    result = TrainResult(train.qp, last["val_psnr_baseline"], last["val_psnr_model"], time.perf_counter() - t0,
                         history)
    return model.cpu().eval(), result


def initial_weights(model_dir: str | Path, qp: int, arch: str) -> dict:
    """The state of the nearest-QP model of a trained directory, to continue training
    from (``--init``); a clear error when it holds another architecture."""
    models = zoo.open_models(model_dir)
    if (models.arch or arch) != arch:
        raise ValueError(f"{model_dir} holds {models.arch} models, not {arch}")
    state = models.load(models.nearest(qp)).state_dict()
    create_model(arch).load_state_dict(state)  # the same architecture, or a clear error here
    return state


def export_model(model: nn.Module, out: Path, name: str, s: TrainSettings, result: TrainResult, task: Task,
                 **meta) -> Path:
    """TorchScript (what the runners load), optionally .pt2 / AOTInductor, and metadata."""
    export_torchscript(model, out / f"{name}.pt")
    if s.pt2:
        export_pt2(model, out / f"{name}.pt2", aoti=s.aoti)
    write_metadata(out / f"{name}.json", arch=s.arch, kind=getattr(model, "kind", None), qp=result.qp,
                   torchscript=f"{name}.pt", pt2=f"{name}.pt2" if s.pt2 else None, baseline=task.baseline,
                   val_psnr_baseline=result.val_psnr_baseline, val_psnr_model=result.val_psnr_model,
                   val_psnr_gain=result.gain, seconds=result.seconds, settings=asdict(s), history=result.history,
                   **meta)
    return out / f"{name}.pt"


def train_per_qp(task: Task, qps: list[int], out: Path, s: TrainSettings, described: str) -> list[TrainResult]:
    """One model per QP into ``out`` (qpNN.pt, .pt2, .json, checkpoints/, manifest.json)."""
    out = Path(out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    results, init, files = [], None, {}
    for qp in sorted(qps, reverse=True):  # high QPs first: the strongest artefacts train fastest
        train, val = task.pairs(qp)
        if s.init_from:
            init = initial_weights(s.init_from, qp, s.arch)
        model, res = train_model(task, train, val, s, init if (s.warm_start or s.init_from) else None,
                                 out / "checkpoints" / f"qp{qp}.pth", label=f"QP {qp}")
        init = model.state_dict()
        name = Path(zoo.model_file_name(qp)).stem
        export_model(model, out, name, s, res, task, training_set=described, train_pictures=len(train),
                     validation_pictures=len(val), init_from=s.init_from)
        files[qp] = f"{name}.pt"
        results.append(res)
    zoo.write_manifest(out, s.arch, getattr(create_model(s.arch), "kind", "loop"), files, training_set=described)
    return sorted(results, key=lambda r: r.qp)
