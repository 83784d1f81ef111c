"""load_filter(): a trained model (or a directory of per-QP models) as a native in-loop
filter for hm_bridge.encode/decode. Inference runs in C++ (libtorch), never through
the Python interpreter."""
from __future__ import annotations

import json
import re
from pathlib import Path


def resolve_model_files(path: Path) -> tuple[list[int], list[str], dict]:
    """(trained QPs ascending, their TorchScript files, metadata) of a model file or a
    directory of per-QP models; FileNotFoundError / ValueError with the reason."""
    if path.is_dir():
        manifest = path / "manifest.json"
        if manifest.exists():
            meta = json.loads(manifest.read_text())
            try:
                models = {int(q): path / f for q, f in meta["models"].items()}
            except (KeyError, ValueError, TypeError, AttributeError) as e:
                raise ValueError(f"{manifest} is malformed: expected {{'models': {{'QP': 'file.pt'}}}}") from e
        else:
            models = {int(m.group(1)): p for p in path.glob("qp*.pt") if (m := re.fullmatch(r"qp(\d+)\.pt", p.name))}
            meta = {}
        if not models:
            raise FileNotFoundError(f"{path} holds no models (manifest.json or qpNN.pt files)")
    elif path.is_file():
        sidecar = path.with_suffix(".json")
        meta = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        models = {int(meta.get("qp", 32)): path}
    else:
        raise FileNotFoundError(f"no model file or directory at {path}")
    for qp, file in models.items():
        if not 0 <= qp <= 51:
            raise ValueError(f"model {file} claims QP {qp}, outside 0..51")
        if not Path(file).is_file():
            raise FileNotFoundError(f"model file {file} (QP {qp}) is missing")
    qps = sorted(models)
    return qps, [str(models[q]) for q in qps], meta


class CnnFilter:
    """A libtorch in-loop filter: per-QP TorchScript models, nearest-QP selection (the
    model id travels in the side information), per-block on/off by rate-distortion.
    Pass it as ``loop_filter=`` to hm_bridge.encode/decode."""

    def __init__(self, runner, path: Path, meta: dict):
        self._runner = runner
        self.path = path
        self.meta = meta

    def __hmcnn_filter__(self):
        return self._runner.__hmcnn_filter__()

    @property
    def qps(self) -> list[int]:
        return list(self._runner.qps)

    @property
    def device(self) -> str:
        return self._runner.device

    def select_model(self, qp: int) -> int:
        return self._runner.select_model(qp)

    def filter_plane(self, qp: int, y):
        """Runs the model chosen for ``qp`` on a uint8 luma plane exactly as in the loop;
        returns (uint8 output, float output in 0..255 before rounding)."""
        return self._runner.filter_plane(self._runner.select_model(qp), y)

    def __repr__(self) -> str:
        return f"CnnFilter({str(self.path)!r}, qps={self.qps}, device={self.device!r})"


def load_filter(path, device: str | None = None, *, half: bool = False, tile: int = 256, context: int = 16,
                rdo: bool = True, log2_block: int = 6) -> CnnFilter:
    """A model file (``qpNN.pt`` + optional ``qpNN.json``) or a directory of per-QP models
    (``manifest.json``) as a native loop filter. ``device``: None = CUDA if available,
    else CPU. Raises FileNotFoundError / ValueError with the reason, never crashes."""
    import torch  # loads libtorch before the runner extension

    from cnn_filter._runner import TorchRunner

    path = Path(path)
    qps, files, meta = resolve_model_files(path)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    runner = TorchRunner(qps, files, device=device, half=half, tile=tile, context=context,
                         log2_block=log2_block, rdo=rdo)
    return CnnFilter(runner, path, meta)
