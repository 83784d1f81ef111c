"""The model zoo: architecture -> QP -> weights files, with one loader and one
nearest-QP rule for every user (the in-loop runner, the SR coding mode, the studies,
and training's --init).

A model set on disk is one of

* a directory with ``manifest.json``: ``{"arch": ..., "kind": ..., "models": {"22": "qp22.pt", ...}}``,
  or, for an architecture that takes the QP as an input, ``{..., "model": "model.pt",
  "qps": [trained QPs]}``: one file serves every QP; either may add ``"inter_models":
  {"37": "inter_qp37.pt", ...}``: models trained on inter-coded pictures, which then serve
  the P and B pictures (the others serve I pictures); see ``select_index``;
* a directory of ``qpNN.pt`` files (no manifest);
* one TorchScript file, with an optional ``.json`` sidecar naming its ``qp``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from hm_bridge.codec import SLICE_TYPE_CODES
from hm_bridge.configs import QP_MAX, QP_MIN

MANIFEST = "manifest.json"
#: the file name (without .pt) of a model that takes the QP as an input
QP_INPUT_MODEL = "model"
#: the QP a single model file serves when its sidecar names none
DEFAULT_QP = 32


def nearest_index(qps: Sequence[int], qp: int) -> int:
    """Index of the trained QP nearest to ``qp`` in ascending ``qps`` (ties: the lower).

    C++ twin: TorchFilter::select_model (cpp/torch_runner/torch_filter.cpp); a test checks
    that both pick the same model for every QP."""
    if not qps:
        raise ValueError("no trained QPs")
    return min(range(len(qps)), key=lambda i: (abs(qps[i] - qp), qps[i]))


def model_file_name(qp: int, inter: bool = False) -> str:
    return f"{'inter_' if inter else ''}qp{qp}.pt"


SLICE_I = SLICE_TYPE_CODES["I"]  # HEVC slice_type of an I picture


def select_index(qps: Sequence[int], inter: Sequence[bool], qp: int, slice_type: int) -> int:
    """The model for a picture, among runner models of trained QPs ``qps`` (each group
    ascending) where ``inter[i]`` marks a model trained on inter-coded pictures: a P or B
    picture (HEVC ``slice_type`` 0 or 1) gets the nearest-QP inter model if there is any,
    every other picture the nearest-QP other model (ties: the lower QP).

    C++ twin: select_model_index (cpp/filters/block_switched_filter.cpp); a test checks that
    both pick the same model for every QP and slice type."""
    want = slice_type != SLICE_I and any(inter)
    group = [i for i in range(len(qps)) if bool(inter[i]) == want]
    return group[nearest_index([qps[i] for i in group], qp)]


@dataclass(frozen=True)
class ModelSet:
    """Per-QP model files of one architecture (QPs ascending)."""

    path: Path
    qps: tuple[int, ...]  # per-QP models: their QPs; a QP-input model: the QPs it was trained on
    files: tuple[Path, ...]
    meta: dict = field(default_factory=dict)  # the manifest or sidecar
    #: models trained on inter-coded pictures (manifest "inter_models"): they serve P and B pictures
    inter_qps: tuple[int, ...] = ()
    inter_files: tuple[Path, ...] = ()

    @property
    def qp_input(self) -> bool:
        """One model for every QP, which gets the slice QP as an input."""
        return bool(self.meta.get("model"))

    @property
    def arch(self) -> str | None:
        return self.meta.get("arch")

    @property
    def kind(self) -> str | None:
        return self.meta.get("kind")

    @property
    def receptive_radius(self) -> int | None:
        """How far (in luma samples) an output sample sees: written once, by the exporter,
        into the manifest (or a model file's sidecar), and read by every runner, Python
        and C++ (cpp/common/model_zoo.cpp) alike. None where the files do not say."""
        r = self.meta.get("receptive_radius")
        return None if r is None else int(r)

    @property
    def integer(self) -> bool:
        """Integer (.hmq) models, for the integer runner."""
        return self.meta.get("format") == "hmq" or all(f.suffix == ".hmq" for f in self.files)

    def nearest(self, qp: int) -> int:
        return 0 if self.qp_input else nearest_index(self.qps, qp)

    def runner_models(self) -> tuple[list[int], list[str], list[bool]]:
        """What a runner loads: (trained QP, file, inter?) of every model, the intra (or
        all-picture) ones first; a runner picks among them with ``select_index``."""
        qps = list(self.qps[:len(self.files)]) + list(self.inter_qps)
        files = [str(f) for f in self.files + self.inter_files]
        return qps, files, [False] * len(self.files) + [True] * len(self.inter_files)

    def index_for(self, qp: int, slice_type: int = SLICE_I) -> int:
        """The runner's model (an index into ``runner_models``) for a picture."""
        qps, _, inter = self.runner_models()
        return select_index(qps, inter, qp, slice_type)

    def file_for(self, qp: int) -> Path:
        return self.files[self.nearest(qp)]

    def load(self, index: int, device: str = "cpu"):
        """The TorchScript module of model ``index`` in ``runner_models`` order (the intra
        models, then the inter ones); ValueError if it cannot be loaded."""
        import torch

        file = (self.files + self.inter_files)[index]
        try:
            return torch.jit.load(str(file), map_location=device).eval()
        except RuntimeError as e:
            raise ValueError(f"cannot load TorchScript model {file}: {e}") from e

    def load_all(self, device: str = "cpu") -> list:
        """Every model, in ``runner_models`` order."""
        return [self.load(i, device) for i in range(len(self.files) + len(self.inter_files))]


def _from_manifest(path: Path) -> tuple[dict[int, Path], dict, dict[int, Path]]:
    manifest = path / MANIFEST
    meta = json.loads(manifest.read_text())
    try:
        inter = {int(q): path / f for q, f in meta.get("inter_models", {}).items()}
        if meta.get("model"):  # a QP-input model: listed under each QP it was trained on
            return {int(q): path / meta["model"] for q in meta["qps"]}, meta, inter
        return {int(q): path / f for q, f in meta["models"].items()}, meta, inter
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"{manifest} is malformed: expected {{'models': {{'QP': 'file.pt'}}}} "
                         f"(and optionally {{'inter_models': {{'QP': 'file.pt'}}}})") from e


def _from_qp_files(path: Path) -> dict[int, Path]:
    """qpNN.pt TorchScript files, else qpNN.hmq integer models."""
    for ext in (".pt", ".hmq"):
        found = {int(m.group(1)): p for p in path.glob(f"qp*{ext}") if (m := re.fullmatch(rf"qp(\d+)\{ext}", p.name))}
        if found:
            return found
    return {}


def open_models(path) -> ModelSet:
    """The model set at ``path``; FileNotFoundError / ValueError with the reason."""
    path = Path(path)
    inter = {}
    if path.is_dir():
        if (path / MANIFEST).exists():
            models, meta, inter = _from_manifest(path)
        else:
            models, meta = _from_qp_files(path), {}
        if not models:
            raise FileNotFoundError(f"{path} holds no models ({MANIFEST} or qpNN.pt files)")
    elif path.is_file():
        sidecar = path.with_suffix(".json")
        meta = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        models = {int(meta.get("qp") or DEFAULT_QP): path}
    else:
        raise FileNotFoundError(f"no model file or directory at {path}")
    if (path / MANIFEST).exists() and path.is_dir() and meta.get("receptive_radius") is None:
        raise ValueError(f"{path / MANIFEST} does not say the model's receptive_radius: re-export the models "
                         "(hmcnn train / quantize write it), or add it (the architecture's, in luma samples)")
    for qp, file in [*models.items(), *inter.items()]:
        if not QP_MIN <= qp <= QP_MAX:
            raise ValueError(f"model {file} claims QP {qp}, outside {QP_MIN}..{QP_MAX}")
        if not Path(file).is_file():
            raise FileNotFoundError(f"model file {file} (QP {qp}) is missing")
    qps, inter_qps = tuple(sorted(models)), tuple(sorted(inter))
    files = (Path(models[qps[0]]),) if meta.get("model") else tuple(Path(models[q]) for q in qps)
    return ModelSet(path, qps, files, meta, inter_qps, tuple(Path(inter[q]) for q in inter_qps))


def _check_radius(receptive_radius) -> int:
    if not isinstance(receptive_radius, int) or isinstance(receptive_radius, bool) or receptive_radius < 0:
        raise ValueError(f"a manifest needs the model's receptive radius (a non-negative integer), "
                         f"got {receptive_radius!r}")
    return receptive_radius


def write_manifest(directory: Path, arch: str, kind: str, models: dict[int, str], *, receptive_radius: int,
                   inter_models: dict[int, str] | None = None, **extra) -> Path:
    """(Re)writes a directory's manifest, keeping the QPs (and inter models) it already lists
    for ``arch``."""
    path = Path(directory) / MANIFEST
    old = json.loads(path.read_text()) if path.exists() else {}
    same = old.get("arch") == arch
    listed = old.get("models", {}) if same else {}
    listed.update({str(q): f for q, f in models.items()})
    inter = old.get("inter_models", {}) if same else {}
    inter.update({str(q): f for q, f in (inter_models or {}).items()})
    path.write_text(json.dumps({**extra, "arch": arch, "kind": kind, "receptive_radius": _check_radius(receptive_radius),
                                "models": listed, **({"inter_models": inter} if inter else {})},
                               indent=1, sort_keys=True))
    return path


def write_qp_input_manifest(directory: Path, arch: str, kind: str, file: str, qps: list[int], *,
                            receptive_radius: int, **extra) -> Path:
    """The manifest of a directory holding one model that serves every QP."""
    path = Path(directory) / MANIFEST
    path.write_text(json.dumps({**extra, "arch": arch, "kind": kind, "receptive_radius": _check_radius(receptive_radius),
                                "model": file, "qps": sorted(qps)}, indent=1, sort_keys=True))
    return path
