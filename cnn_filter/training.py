"""Training, shared by every network of the project (loop filters, SR networks).

A ``Task`` says what differs between them: which pairs, which patches, which loss,
which baseline the validation PSNR is compared with. ``train_model`` runs the one
optimisation loop (cnn_filter.fitting.fit) for one model. ``train_per_qp`` trains one
model per QP (highest QP first, each warm-started from the previous one or from an
existing model directory; or, with ``jobs`` > 1, the QPs side by side in worker
processes, each from scratch); an architecture whose kind takes the QP as an input is trained once on the
pairs of every QP. Each model is exported with its metadata, and the manifest written.
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
from cnn_filter.models import arch_spec, create_model
from cnn_filter.sampling import PatchSampler


@dataclass
class TrainSettings:
    arch: str = "vrcnn"
    steps: int = 2000
    batch: int = 32
    patch: int = 48  # patch side at the network's (luma) input
    lr: float = 1e-3
    warmup: int = 0  # steps of linear learning-rate warm-up before the cosine decay
    seed: int = 2017
    device: str = "cpu"
    eval_every: int = 500
    warm_start: bool = True  # each QP starts from the previous (higher) QP's model
    jobs: int = 1  # QPs trained side by side (each from scratch)
    preset: str = "slow"  # x265 preset of the training pairs
    max_images: int | None = None  # cap on training images (quick runs)
    pt2: bool = True  # also export torch.export .pt2
    aoti: bool = False  # also compile an AOTInductor package
    init_from: str | None = None  # a model directory: each QP starts from its nearest-QP model there
    time_limit: float | None = None  # seconds per model: the schedule decays by the clock too, then stops
    qp_balanced: bool = False  # a QP-input model: each QP's loss over its unfiltered MSE (equal in dB)


@dataclass
class TrainResult:
    qp: int | None  # None: one model for every QP
    val_psnr_baseline: float  # mean validation PSNR-Y without the network
    val_psnr_model: float  # ... and with it
    seconds: float
    history: list = field(default_factory=list)

    @property
    def gain(self) -> float:
        return self.val_psnr_model - self.val_psnr_baseline


class Task(ABC):
    """What one kind of network is trained on and judged by. Training and validation
    data come as lists of PairSets (one per QP; one list item for a per-QP model)."""

    #: what the validation PSNR is compared with, for logs and metadata
    baseline: str = "baseline"

    @abstractmethod
    def pairs(self, qp: int | None) -> tuple[PairSet, PairSet]:
        """(training, validation) pairs for a QP."""

    @abstractmethod
    def sampler(self, train: list[PairSet], patch: int, seed: int, device: str) -> PatchSampler:
        """Random patches of the training pairs; batch() feeds loss()."""

    @abstractmethod
    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The loss of one batch (tensors on the model's device)."""

    @abstractmethod
    def evaluate(self, model: nn.Module, val: list[PairSet], device: str) -> dict:
        """Validation: {"val_psnr_baseline": mean PSNR-Y without the network,
        "val_psnr_model": with it, ...anything else worth logging}."""


def train_model(task: Task, train: list[PairSet], val: list[PairSet], s: TrainSettings, init: dict | None = None,
                checkpoint: Path | None = None, label: str = "") -> tuple[nn.Module, TrainResult]:
    """Trains one model of ``s.arch`` on ``train``; validation on ``val``."""
    qp = train[0].qp if len(train) == 1 else None
    torch.manual_seed(s.seed + (qp or 0))
    torch.backends.cudnn.benchmark = True  # fixed patch shapes: let cuDNN pick its fastest kernels
    model = create_model(s.arch).to(s.device)
    if init is not None:
        model.load_state_dict(init)
    sampler = task.sampler(train, s.patch, s.seed + 1000 * (qp or 0), s.device)

    def save(record):
        if checkpoint is not None:
            torch.save({"state_dict": model.state_dict(), "step": record["step"], "settings": asdict(s),
                        "qp": qp, "qps": sorted(p.qp for p in train), "record": record}, checkpoint)

    def describe(r):
        return (f"{s.arch} {label} step {r['step']}: loss {r['loss']:.3e}, validation PSNR-Y {task.baseline} "
                f"{r['val_psnr_baseline']:.3f} -> {r['val_psnr_model']:.3f} dB "
                f"({r['val_psnr_model'] - r['val_psnr_baseline']:+.3f})")

    t0 = time.perf_counter()
    history = fit(model, lambda m: task.loss(m, sampler.batch(s.batch)), steps=s.steps, lr=s.lr,
                  eval_every=s.eval_every, evaluate=lambda m: task.evaluate(m, val, s.device), describe=describe,
                  desc=f"train {s.arch} {label}", on_eval=save, warmup=s.warmup,
                  time_limit=s.time_limit)
    last = history[-1]
    result = TrainResult(qp, last["val_psnr_baseline"], last["val_psnr_model"], time.perf_counter() - t0, history)
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
        export_pt2(model, out / f"{name}.pt2", s.arch, aoti=s.aoti)
    write_metadata(out / f"{name}.json", arch=s.arch, kind=arch_spec(s.arch).kind.name, qp=result.qp,
                   receptive_radius=arch_spec(s.arch).receptive_radius,
                   torchscript=f"{name}.pt", pt2=f"{name}.pt2" if s.pt2 else None, baseline=task.baseline,
                   val_psnr_baseline=result.val_psnr_baseline, val_psnr_model=result.val_psnr_model,
                   val_psnr_gain=result.gain, seconds=result.seconds, settings=asdict(s), history=result.history,
                   **meta)
    return out / f"{name}.pt"


def _train_one_qp(task: Task, qp: int, out: Path, s: TrainSettings, described: str, init: dict | None):
    train, val = task.pairs(qp)
    if s.init_from:
        init = initial_weights(s.init_from, qp, s.arch)
    model, res = train_model(task, [train], [val], s, init, out / "checkpoints" / f"qp{qp}.pth", label=f"QP {qp}")
    name = Path(zoo.model_file_name(qp)).stem
    export_model(model, out, name, s, res, task, training_set=described, train_pictures=len(train),
                 validation_pictures=len(val), init_from=s.init_from)
    return model, res


def _train_qp_in_worker(args) -> TrainResult:
    task, qp, out, s, described = args
    torch.set_num_threads(1)
    return _train_one_qp(task, qp, out, s, described, None)[1]


def _train_joint(task: Task, qps: list[int], out: Path, s: TrainSettings, described: str) -> TrainResult:
    """One model on the pairs of every QP (an architecture with the QP as an input)."""
    sets = [task.pairs(qp) for qp in sorted(qps)]
    init = zoo.open_models(s.init_from).load(0).state_dict() if s.init_from else None
    model, res = train_model(task, [t for t, _ in sets], [v for _, v in sets], s, init,
                             out / "checkpoints" / "model.pth", label=f"QP {min(qps)}..{max(qps)}")
    export_model(model, out, zoo.QP_INPUT_MODEL, s, res, task, training_set=described, trained_qps=sorted(qps),
                 train_pictures=len(sets[0][0]), validation_pictures=len(sets[0][1]), init_from=s.init_from)
    zoo.write_qp_input_manifest(out, s.arch, arch_spec(s.arch).kind.name, f"{zoo.QP_INPUT_MODEL}.pt", sorted(qps),
                                receptive_radius=arch_spec(s.arch).receptive_radius, training_set=described)
    return res


def export_checkpoints(directory: Path, out: Path, described: str = "", task: Task | None = None) -> list[Path]:
    """The models of an interrupted training (``directory/checkpoints/*.pth``, each
    written at a validation step) exported as a model directory, manifest included."""
    directory, out = Path(directory), Path(out)
    files = sorted((directory / "checkpoints").glob("*.pth"))
    if not files:
        raise FileNotFoundError(f"no checkpoints in {directory / 'checkpoints'}")
    out.mkdir(parents=True, exist_ok=True)
    exported, per_qp = [], ({}, {})  # intra, inter (inter_qpNN.pth, hmcnn train --inter)
    for f in files:
        ck = torch.load(f, map_location="cpu", weights_only=False)
        s = TrainSettings(**{**ck["settings"], "pt2": False, "aoti": False})
        model = create_model(s.arch)
        model.load_state_dict(ck["state_dict"])
        record = ck.get("record") or {}
        inter = f.stem.startswith("inter_")
        qp = ck.get("qp", int(f.stem.removeprefix("inter_")[2:]) if "qp" in f.stem else None)
        result = TrainResult(qp, record.get("val_psnr_baseline", float("nan")),
                             record.get("val_psnr_model", float("nan")), float("nan"), [record] if record else [])
        name = f.stem if qp is None else Path(zoo.model_file_name(qp, inter)).stem
        exported.append(export_model(model.eval(), out, name, s, result, task or _Described(),
                                     training_set=described, checkpoint=str(f), checkpoint_step=ck["step"]))
        if qp is None:
            zoo.write_qp_input_manifest(out, s.arch, arch_spec(s.arch).kind.name, f"{name}.pt",
                                        ck.get("qps") or [], receptive_radius=arch_spec(s.arch).receptive_radius,
                                        training_set=described)
        else:
            per_qp[inter][qp] = f"{name}.pt"
            zoo.write_manifest(out, s.arch, arch_spec(s.arch).kind.name, per_qp[0], inter_models=per_qp[1],
                               receptive_radius=arch_spec(s.arch).receptive_radius, training_set=described)
    return exported


class _Described(Task):
    """Metadata only: the baseline name of an exported checkpoint."""

    baseline = "unfiltered"

    def pairs(self, qp):
        raise NotImplementedError

    def sampler(self, train, patch, seed, device):
        raise NotImplementedError

    def loss(self, model, batch):
        raise NotImplementedError

    def evaluate(self, model, val, device):
        raise NotImplementedError


def train_per_qp(task: Task, qps: list[int], out: Path, s: TrainSettings, described: str) -> list[TrainResult]:
    """The models of ``qps`` into ``out`` (.pt, .pt2, .json, checkpoints/, manifest.json)."""
    out = Path(out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    if arch_spec(s.arch).kind.qp_input:
        return [_train_joint(task, qps, out, s, described)]
    order = sorted(qps, reverse=True)  # high QPs first: the strongest artefacts train fastest
    if s.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        for qp in order:
            task.pairs(qp)  # make (and cache) the pairs first, with every core
        with ProcessPoolExecutor(min(s.jobs, len(order)), mp_context=get_context("spawn")) as pool:
            results = list(pool.map(_train_qp_in_worker, [(task, qp, out, s, described) for qp in order]))
    else:
        results, init = [], None
        for qp in order:
            model, res = _train_one_qp(task, qp, out, s, described, init if s.warm_start else None)
            init = model.state_dict()
            results.append(res)
    zoo.write_manifest(out, s.arch, arch_spec(s.arch).kind.name, {qp: zoo.model_file_name(qp) for qp in qps},
                       receptive_radius=arch_spec(s.arch).receptive_radius, training_set=described)
    return sorted(results, key=lambda r: r.qp)
