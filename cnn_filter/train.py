"""Training of loop filters on (reconstruction -> original) pairs made by our own codec.

    hmcnn train --qps 22 27 32 37 --out models/vrcnn [--steps N] [--device cuda] [--jobs 4]
    hmcnn train --arch yuv_resnet --qps 17 22 27 32 37 42 --out models/yuv_resnet

MSE, Adam with warm-up and cosine decay, random patches with the 8 flips/rotations, a
held-out validation set (PSNR gain over the unfiltered reconstruction), checkpoints,
deterministic seeds. ``inter``: models for the P and B pictures, trained on inter-coded
pairs (cnn_filter.inter_data), each on the pictures it will be chosen for (the inter
pictures whose QP is nearest to its QP); they join the intra models of ``--init`` in one
model directory (zoo: "inter_models"). A luma filter (kind "loop") gets one model per QP; a YUV filter
with the QP as an input (kind "loop_yuv") one model for all QPs, its loss weighting
Y, U, V 6:1:1 as the YUV PSNR does, and, ``qp_balanced``, each QP's patches divided by
that QP's unfiltered MSE, so every QP counts alike in dB (plain MSE is ruled by the
highest QPs: QP 37's unfiltered MSE is about 17x QP 22's). ``replace_dbf_sao``: pairs
coded with x265's deblocking and SAO off, for a filter that takes their place.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnn_filter.data import NO_DBF_SAO, PairSet, make_pairs, training_sources
from cnn_filter.models import arch_spec
from cnn_filter.sampling import PatchSampler
from cnn_filter.training import Task, TrainResult, TrainSettings, train_per_qp
from hm_bridge.video import plane_psnr

#: weights of Y, U, V in the YUV loss (as PSNR-YUV = (6Y + U + V) / 8)
YUV_WEIGHTS = (6.0, 1.0, 1.0)


def _tensor(plane: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(plane)).float().div(255.0)[None, None].to(device)


def _uint8(t: torch.Tensor) -> np.ndarray:
    return t[0, 0].mul(255.0).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


@torch.no_grad()
def apply_model(model: nn.Module, plane: np.ndarray, device: str = "cpu") -> np.ndarray:
    """A whole luma plane through a luma model, rounded back to uint8 (as the loop does)."""
    return _uint8(model(_tensor(plane, device)))


@torch.no_grad()
def apply_yuv_model(model: nn.Module, y: np.ndarray, uv: np.ndarray, qp: int, device: str = "cpu"):
    """A whole picture through a YUV model with the QP input: (Y, (U, V)) as uint8."""
    out = model(_tensor(y, device), _tensor(uv[0], device), _tensor(uv[1], device),
                torch.tensor([float(qp)], device=device))
    return _uint8(out[0]), np.stack([_uint8(out[1]), _uint8(out[2])])


class LoopFilterTask(Task):
    """Reconstruction after the codec's loop filters -> original, same size."""

    baseline = "unfiltered"

    def __init__(self, arch: str, train_sources, val_sources, cache_dir: Path, preset: str, options=(),
                 workers: int = 1, qp_balanced: bool = False):
        self.yuv = arch_spec(arch).kind.chroma
        self.qp_balanced, self.qp_weights = qp_balanced, None
        self.train_sources, self.val_sources = train_sources, val_sources
        self.cache_dir, self.preset, self.options, self.workers = cache_dir, preset, tuple(options), workers

    def pairs(self, qp):
        kw = dict(options=self.options, workers=self.workers)
        return (make_pairs(self.train_sources, qp, self.cache_dir, self.preset, "train", **kw),
                make_pairs(self.val_sources, qp, self.cache_dir, self.preset, "validation", **kw))

    def sampler(self, train: list[PairSet], patch: int, seed: int, device: str) -> PatchSampler:
        labels = [float(p.qp) for p in train for _ in range(len(p))]
        if self.qp_balanced:
            self.qp_weights = qp_balancing_weights(train, device)
            print("QP-balanced loss: " + ", ".join(f"QP {q:g} x{w:.2f}" for q, w in self.qp_weights.items()))
        if self.yuv:  # on the chroma grid: luma at 2, chroma at 1
            pictures = [(x, xuv[0], xuv[1], t, tuv[0], tuv[1]) for p in train
                        for x, xuv, t, tuv in zip(p.inputs, p.inputs_uv, p.targets, p.targets_uv)]
            return PatchSampler(pictures, (2, 1, 1, 2, 1, 1), patch // 2, seed, device, labels)
        pictures = [(x, t) for p in train for x, t in zip(p.inputs, p.targets)]
        return PatchSampler(pictures, (1, 1), patch, seed, device, labels)

    def loss(self, model, batch):
        if not self.yuv:
            x, y, _ = batch
            return nn.functional.mse_loss(model(x), y)
        y, u, v, ty, tu, tv, qp = batch
        out = model(y, u, v, qp)
        if self.qp_weights is None:
            losses = [nn.functional.mse_loss(o, t) for o, t in zip(out, (ty, tu, tv))]
            return sum(w * l for w, l in zip(YUV_WEIGHTS, losses)) / sum(YUV_WEIGHTS)
        per_patch = [(o - t).square().mean(dim=(1, 2, 3)) for o, t in zip(out, (ty, tu, tv))]
        mixed = sum(w * l for w, l in zip(YUV_WEIGHTS, per_patch)) / sum(YUV_WEIGHTS)
        weights = torch.stack([self.qp_weights[float(q)] for q in qp.tolist()]).to(mixed.device)
        return (weights * mixed).mean()

    def evaluate(self, model, val: list[PairSet], device: str) -> dict:
        model.eval()
        before, after, per_qp, chroma = [], [], {}, []
        for p in val:
            for i in range(len(p)):
                b = plane_psnr(p.targets[i], p.inputs[i])
                if self.yuv:
                    y, uv = apply_yuv_model(model, p.inputs[i], p.inputs_uv[i], p.qp, device)
                    chroma.append([plane_psnr(p.targets_uv[i][c], uv[c]) - plane_psnr(p.targets_uv[i][c],
                                                                                     p.inputs_uv[i][c])
                                   for c in (0, 1)])
                else:
                    y = apply_model(model, p.inputs[i], device)
                before.append(b)
                after.append(plane_psnr(p.targets[i], y))
            per_qp[str(p.qp)] = float(np.mean(after[-len(p):]) - np.mean(before[-len(p):]))
        record = {"val_psnr_baseline": float(np.mean(before)), "val_psnr_model": float(np.mean(after))}
        if len(val) > 1:
            record["val_gain_per_qp"] = per_qp
        if chroma:
            record["val_gain_u"], record["val_gain_v"] = (float(g) for g in np.mean(chroma, axis=0))
        return record


class InterLoopFilterTask(LoopFilterTask):
    """The P and B pictures of camera-motion clips coded RA / LDP at the base QPs
    ``base_qps``; the model of QP ``q`` among ``qps`` gets the pictures whose own QP
    (HM's cascade raises it up to +9) is nearest to ``q``: what the runners' selection
    (zoo.select_index) will give it in the loop."""

    def __init__(self, arch: str, train_sources, val_sources, cache_dir: Path, preset: str, *, configs, qps,
                 base_qps, frames: int, workers: int = 1, loop: str | None = None):
        super().__init__(arch, train_sources, val_sources, cache_dir, preset, (), workers)
        if self.yuv:
            raise ValueError(f"inter models are trained for per-QP luma architectures (vrcnn); {arch} is not one")
        self.configs, self.qps, self.base_qps, self.frames = tuple(configs), sorted(qps), tuple(base_qps), frames
        self.loop = loop  # a model directory in the loop while the clips are coded (inter_data.HookInputs)
        self._loaded: dict[str, list[PairSet]] = {}

    def _coded(self, which: str) -> list[PairSet]:
        from cnn_filter.inter_data import make_inter_pairs

        if which not in self._loaded:
            sources = self.train_sources if which == "train" else self.val_sources
            self._loaded[which] = [make_inter_pairs(sources, q, c, self.cache_dir, self.frames, self.preset,
                                                    self.workers, self.loop)
                                   for c in self.configs for q in self.base_qps]
        return self._loaded[which]

    def _bucket(self, which: str, qp: int) -> PairSet:
        from cnn_filter.zoo import nearest_index

        keep = [(p, i) for p in self._coded(which) for i in range(len(p)) if p.slice_types[i] != "I"
                and self.qps[nearest_index(self.qps, p.picture_qps[i])] == qp]
        if not keep:
            raise ValueError(f"no inter-coded {which} picture has a QP nearest to {qp} (base QPs {self.base_qps})")
        pick = lambda f: [getattr(p, f)[i] for p, i in keep]
        return PairSet(qp, pick("names"), pick("inputs"), pick("targets"), pick("inputs_uv"), pick("targets_uv"),
                       pick("slice_types"), pick("layers"), pick("picture_qps"))

    def pairs(self, qp):
        return self._bucket("train", qp), self._bucket("validation", qp)


def train_inter_models(qps: list[int], out: Path, s: TrainSettings, cache_dir: Path | None = None, *,
                       configs: tuple[str, ...] = ("ra", "ldp"), base_qps: tuple[int, ...] = (22, 27, 32, 37),
                       frames: int = 9, splits: str = "trainval", workers: int = 1,
                       loop: str | None = None) -> list[TrainResult]:
    """Inter models of ``qps`` (``inter_qpNN.pt``), each from the model ``s.init_from``
    gives a P/B picture of that QP (its nearest inter model, or its nearest model when it has
    none); its other models (copied into ``out`` if it is another directory) stay the intra
    ones: one model directory that knows the slice type. ``loop``: the clips coded with that
    model directory in the loop, the inputs what its hook receives."""
    import shutil

    from cnn_filter import zoo
    from cnn_filter.training import export_model, train_model

    if not s.init_from:
        raise ValueError("inter models start from a trained model directory (--init), whose models serve the I pictures")
    init = zoo.open_models(s.init_from)
    if init.arch != s.arch or init.qp_input:
        raise ValueError(f"{s.init_from} holds {init.arch} models; inter models here are per-QP {s.arch}")
    out = Path(out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    intra = {}
    for qp, f in zip(init.qps, init.files):
        if f.resolve() != (out / f.name).resolve():
            shutil.copy2(f, out / f.name)
            if f.with_suffix(".json").exists():
                shutil.copy2(f.with_suffix(".json"), out / f.with_suffix(".json").name)
        intra[qp] = f.name
    train_src, val_src, described = training_sources(splits=splits)
    if s.max_images:
        train_src, val_src = train_src[: s.max_images], val_src[: max(2, s.max_images // 4)]
    described += f", camera-motion clips of {frames} pictures coded {'/'.join(c.upper() for c in configs)} " \
                 f"at base QPs {'/'.join(map(str, base_qps))}" + (f" with {loop} in the loop" if loop else "") + \
                 ", P and B pictures"
    print(f"training set: {described}: {len(train_src)} train / {len(val_src)} validation clips")
    task = InterLoopFilterTask(s.arch, train_src, val_src, Path(cache_dir) if cache_dir else out / "pairs", s.preset,
                               configs=configs, qps=qps, base_qps=base_qps, frames=frames, workers=workers, loop=loop)
    spec, results = arch_spec(s.arch), []
    for qp in sorted(qps, reverse=True):
        train, val = task.pairs(qp)
        print(f"inter QP {qp}: {len(train)} training / {len(val)} validation pictures "
              f"(picture QPs {min(train.picture_qps)}..{max(train.picture_qps)})")
        start = init.load(init.index_for(qp, zoo.SLICE_TYPE_CODES["B"])).state_dict()
        model, res = train_model(task, [train], [val], s, start, out / "checkpoints" / f"inter_qp{qp}.pth",
                                 label=f"inter QP {qp}")
        name = Path(zoo.model_file_name(qp, inter=True)).stem
        export_model(model, out, name, s, res, task, training_set=described, train_pictures=len(train),
                     validation_pictures=len(val), init_from=s.init_from, slice_types="P, B")
        results.append(res)
        zoo.write_manifest(out, s.arch, spec.kind.name, intra, receptive_radius=spec.receptive_radius,
                           inter_models={qp: f"{name}.pt"}, training_set=init.meta.get("training_set", ""),
                           inter_training_set=described)
    return sorted(results, key=lambda r: r.qp)


def qp_balancing_weights(train: list[PairSet], device: str = "cpu") -> dict[float, torch.Tensor]:
    """Per QP, a loss weight inversely proportional to its unfiltered luma MSE (the mean over
    the QPs is 1): a relative MSE change is a dB change, so each QP then counts alike."""
    inverse = {}
    for p in train:
        mse = np.mean([np.mean((x.astype(np.float64) - t) ** 2) for x, t in zip(p.inputs, p.targets)])
        inverse[float(p.qp)] = 1.0 / max(mse, 1e-6)
    mean = float(np.mean(list(inverse.values())))
    return {q: torch.tensor(v / mean, dtype=torch.float32, device=device) for q, v in inverse.items()}


def _task(out: Path, s: TrainSettings, cache_dir, splits: str, replace_dbf_sao: bool, workers: int):
    out = Path(out)
    train_src, val_src, described = training_sources(splits=splits)
    if s.max_images:
        train_src, val_src = train_src[: s.max_images], val_src[: max(2, s.max_images // 4)]
    if replace_dbf_sao:
        described += ", coded with deblocking and SAO off"
    print(f"training set: {described}: {len(train_src)} train / {len(val_src)} validation pictures")
    task = LoopFilterTask(s.arch, train_src, val_src, Path(cache_dir) if cache_dir else out / "pairs", s.preset,
                          NO_DBF_SAO if replace_dbf_sao else (), workers, s.qp_balanced)
    return task, described


def make_training_pairs(qps: list[int], out: Path, s: TrainSettings, cache_dir: Path | None = None, *,
                        splits: str = "trainval", replace_dbf_sao: bool = False, workers: int = 1,
                        inter: tuple[str, ...] = (), inter_frames: int = 9, inter_loop: str | None = None) -> dict:
    """Only the codec pairs of every QP, cached (e.g. made on a CPU machine before a GPU
    session); ``inter`` ("ra", "ldp"): also the inter-coded pairs of the training and
    validation pictures as camera-motion clips (cnn_filter.inter_data). Returns, per
    (config, QP), the inter pairs' count by slice type."""
    from cnn_filter.inter_data import make_inter_pairs

    task, _ = _task(out, s, cache_dir, splits, replace_dbf_sao, workers)
    counts = {}
    for qp in qps:
        task.pairs(qp)
        for config in inter:
            for sources in (task.train_sources, task.val_sources):
                p = make_inter_pairs(sources, qp, config, task.cache_dir, inter_frames, s.preset, workers, inter_loop)
                for t in p.slice_types:
                    counts.setdefault((config, qp), {}).setdefault(t, 0)
                    counts[(config, qp)][t] += 1
    return counts


def train_models(qps: list[int], out: Path, s: TrainSettings, cache_dir: Path | None = None, *,
                 splits: str = "trainval", replace_dbf_sao: bool = False, workers: int = 1) -> list[TrainResult]:
    """Makes the codec pairs, trains the models, exports each, writes manifest.json."""
    task, described = _task(out, s, cache_dir, splits, replace_dbf_sao, workers)
    return train_per_qp(task, qps, Path(out), s, described)
