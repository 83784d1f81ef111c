"""`hmcnn doctor`: what a user needs to know before a sweep, and whether it can run.

Required (a non-zero exit status with the reason when one is missing): the codec bridge
(patched x265 + libde265) and the models of the default test filter (``--models``).
Reported: versions, x265's assembly, torch and CUDA, every model directory under models/
with its QPs, the integer runner's kernel, HM (``HMCNN_HM_DIR``) and whether it carries
our in-loop calls, the shared data folders.
"""
from __future__ import annotations

import importlib.metadata
import platform
from dataclasses import dataclass
from pathlib import Path

from hm_bridge.paths import REPO, data_root

DATA_FOLDERS = ("kodak", "bsds500", "set5", "set14", "yuv")


@dataclass
class Line:
    what: str
    value: str
    ok: bool = True
    required: bool = False


def _codecs() -> list[Line]:
    try:
        from hm_bridge import _core
    except ImportError as e:
        return [Line("codec bridge", f"hm_bridge._core does not import ({e}): run bash tools/setup.sh", False, True)]
    return [Line("x265", f"{_core.X265_VERSION} {_core.X265_BUILD}".strip()),
            Line("x265 assembly", "yes (nasm)" if _core.X265_ASSEMBLY else
                 "no: encoding 2.5-5x slower, same bitstreams (install nasm, rebuild)", True),
            Line("libde265", _core.LIBDE265_VERSION),
            Line("filter ABI", f"version {_core.FILTER_ABI_VERSION}")]


def _torch() -> list[Line]:
    try:
        import torch
    except ImportError:
        return [Line("torch", "not importable: CNN filters and training unavailable", False)]
    cuda = torch.cuda.is_available()
    return [Line("torch", torch.__version__),
            Line("CUDA", f"yes: {torch.cuda.get_device_name()}" if cuda else "no (CPU inference and training)")]


def _models(default: Path) -> list[Line]:
    from cnn_filter import zoo

    lines = []
    folders = sorted({p.parent for p in (REPO / "models").glob("*/manifest.json")} | {Path(default)})
    for folder in folders:
        required = Path(folder).resolve() == Path(default).resolve()
        try:
            m = zoo.open_models(folder)
            what = f"{m.arch or '?'} ({m.kind or 'loop'}{', integer' if m.integer else ''}), " + (
                f"one model for QP {min(m.qps)}..{max(m.qps)}" if m.qp_input else f"QP {', '.join(map(str, m.qps))}") + (
                f"; P and B pictures: inter models QP {', '.join(map(str, m.inter_qps))}" if m.inter_qps else "")
            lines.append(Line(f"models {folder}", what, True, required))
        except (FileNotFoundError, ValueError) as e:
            lines.append(Line(f"models {folder}", str(e), False, required))
    try:
        from cnn_filter import _int_runner

        lines.append(Line("integer runner", f"kernel {_int_runner.best_kernel()}"))
    except ImportError as e:
        lines.append(Line("integer runner", f"not built ({e})", False))
    return lines


def _hm() -> list[Line]:
    from hm_bridge.hm import HMBuild

    try:
        hm = HMBuild.find()
    except FileNotFoundError as e:
        return [Line("HM", f"not found ({e}); optional: the x265 backend needs none", ok=False)]
    return [Line("HM", f"{hm.version} at {hm.root} ({hm.encoder.name}, {hm.decoder.name})"),
            Line("HM in-loop calls", "present" if hm.integrated else
                 f"absent: hmcnn hm integrate --hm-src {hm.root}, then rebuild")]


def _data() -> list[Line]:
    root = data_root()
    found = [f for f in DATA_FOLDERS if (root / f).is_dir()]
    missing = [f for f in DATA_FOLDERS if f not in found]
    return [Line("shared data", f"{root}: " + (", ".join(found) or "none") +
                 (f" (absent: {', '.join(missing)}; the built-in default needs none)" if missing else ""))]


def diagnose(models: Path) -> list[Line]:
    try:
        version = importlib.metadata.version("hm-cnn-loop")
    except importlib.metadata.PackageNotFoundError:
        version = "not installed (running from the checkout)"
    lines = [Line("hm-cnn-loop", f"{version}, Python {platform.python_version()}, {platform.machine()}")]
    return lines + _codecs() + _torch() + _models(models) + _hm() + _data()


def report(models: Path) -> int:
    lines = diagnose(models)
    width = max(len(l.what) for l in lines)
    for l in lines:
        mark = "ok " if l.ok else ("ERR" if l.required else "-- ")
        print(f"[{mark}] {l.what:<{width}}  {l.value}")
    failed = [l for l in lines if l.required and not l.ok]
    for l in failed:
        print(f"hmcnn doctor: required: {l.what}: {l.value}")
    return 1 if failed else 0
