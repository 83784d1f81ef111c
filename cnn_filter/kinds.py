"""Model kinds: how a model is used (its inputs by role, what its output means). The
manifests and the C++ runners name a model's kind by these names. No torch here: the
codec-side readers (the zoo, the SR mode's container) use it too."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """How a model is used: its inputs by role, and what its output means."""

    name: str
    inputs: tuple[str, ...]  # rec_y / rec_u / rec_v: the reconstruction's planes; qp: the slice QP;
    #                          lr_y: the low-resolution luma; upsampled_y: the luma upsampled by `scale`
    chroma: bool  # it filters U and V too
    qp_input: bool  # the slice QP is an input: one model serves every QP
    super_resolution: bool


#: the kinds, by the name the manifests and the C++ runner use
KINDS = {k.name: k for k in (
    Kind("loop", ("rec_y",), chroma=False, qp_input=False, super_resolution=False),
    Kind("loop_yuv", ("rec_y", "rec_u", "rec_v", "qp"), chroma=True, qp_input=True, super_resolution=False),
    Kind("sr_residual", ("lr_y",), chroma=False, qp_input=False, super_resolution=True),
    Kind("sr_refine", ("upsampled_y",), chroma=False, qp_input=False, super_resolution=True),
)}
