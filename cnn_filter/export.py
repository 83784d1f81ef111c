"""Exports: TorchScript (what the native runner loads), torch.export .pt2, and optionally
an AOTInductor package; plus a JSON metadata sidecar."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from hm_bridge.paths import git_commit


def export_torchscript(model: nn.Module, path: Path) -> Path:
    model = model.eval().cpu()
    scripted = torch.jit.script(model)
    scripted.save(str(path))
    return Path(path)


def export_pt2(model: nn.Module, path: Path, arch: str = "vrcnn", aoti: bool = False) -> Path:
    """torch.export with dynamic height/width; with ``aoti`` also an AOTInductor package
    (compiles C++, takes a minute)."""
    from cnn_filter.models import arch_spec, example_inputs

    model = model.eval().cpu()
    example = example_inputs(arch, 64, 96)
    half_h, half_w = torch.export.Dim("half_height", min=4, max=4096), torch.export.Dim("half_width", min=4, max=4096)
    half, full = {2: half_h, 3: half_w}, {2: 2 * half_h, 3: 2 * half_w}  # 4:2:0 pictures have even sizes
    spec = arch_spec(arch)
    by_role = {"rec_y": full, "upsampled_y": full, "rec_u": half, "rec_v": half, "qp": None,
               "lr_y": half if spec.scale == 2 else full}
    dims = tuple(by_role[role] for role in spec.kind.inputs)
    program = torch.export.export(model, example, dynamic_shapes=dims)
    torch.export.save(program, str(path))
    if aoti:
        torch._inductor.aoti_compile_and_package(program, package_path=str(Path(path).with_suffix(".aoti.pt2")))
    return Path(path)


def write_metadata(path: Path, **fields) -> None:
    fields.setdefault("commit", git_commit())
    fields.setdefault("torch", torch.__version__)
    Path(path).write_text(json.dumps(fields, indent=1, sort_keys=True))
