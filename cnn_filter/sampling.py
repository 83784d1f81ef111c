"""Random training patches: aligned crops of several planes of one picture, each at its
own integer scale of a common grid (luma at 2 and chroma at 1 for 4:2:0; input at 1 and
target at 2 for x2 super-resolution), with the same random rotation/flip for all of
them. One sampler for every model trained here.

The planes live as tensors on the training device and a whole batch is cut with one
gather per plane and picture shape, so the sampler keeps up with a GPU.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

#: the 8 rotations/flips of a square patch: (quarter turns, horizontal flip)
TRANSFORMS = [(k, f) for f in (False, True) for k in range(4)]


def _index_maps(size: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(8, size, size) row and column maps: patch[t] = crop[rows[t], cols[t]]."""
    r = np.arange(size)[:, None].repeat(size, 1)
    c = np.arange(size)[None, :].repeat(size, 0)
    rows, cols = [], []
    for k, flip in TRANSFORMS:
        rr, cc = np.rot90(r, k), np.rot90(c, k)
        if flip:
            rr, cc = rr[:, ::-1], cc[:, ::-1]
        rows.append(rr)
        cols.append(cc)
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(np.stack(a))).to(device)
    return as_tensor(rows), as_tensor(cols)


class PatchSampler:
    """``pictures``: tuples of planes of one picture; plane k is ``scales[k]`` times the
    size of the common grid. ``patch``: the patch side on that grid. ``labels``: one
    number per picture (e.g. its QP), returned with every batch. Seeded."""

    def __init__(self, pictures: Sequence[tuple[np.ndarray, ...]], scales: Sequence[int], patch: int, seed: int,
                 device: str = "cpu", labels: Sequence[float] | None = None):
        self.scales, self.patch, self.device = tuple(scales), patch, torch.device(device)
        keep = [i for i, p in enumerate(pictures) if min(p[0].shape[:2]) // self.scales[0] >= patch]
        if not keep:
            raise ValueError(f"no training picture holds a {patch * self.scales[0]}-sample patch")
        groups: dict[tuple[int, int], list[int]] = {}
        for i in keep:
            h, w = pictures[i][0].shape[:2]
            groups.setdefault((h // self.scales[0], w // self.scales[0]), []).append(i)
        self.groups = []  # (grid shape, [plane tensors (n, H, W)], labels)
        for shape, members in groups.items():
            planes = [torch.from_numpy(np.stack([pictures[i][k] for i in members])).to(self.device)
                      for k in range(len(self.scales))]
            lab = torch.tensor([labels[i] for i in members], dtype=torch.float32) if labels is not None else None
            self.groups.append((shape, planes, lab))
        self.sizes = np.array([len(g[1][0]) for g in self.groups])
        self.maps = {s: _index_maps(patch * s, self.device) for s in set(self.scales)}
        self.has_labels = labels is not None
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return int(self.sizes.sum())

    def batch(self, n: int) -> tuple[torch.Tensor, ...]:
        """n patches of every plane as (n, 1, H, W) float tensors in [0, 1] (values of
        float planes divided by 255 too), then the labels (n,) if any."""
        group = self.rng.choice(len(self.groups), size=n, p=self.sizes / self.sizes.sum())
        out = [torch.empty((n, 1, self.patch * s, self.patch * s), device=self.device) for s in self.scales]
        labels = torch.empty(n, device=self.device)
        for g in np.unique(group):
            (gh, gw), planes, lab = self.groups[g]
            pos = np.flatnonzero(group == g)
            m = len(pos)
            pick = torch.from_numpy(self.rng.integers(0, len(planes[0]), m)).to(self.device)
            y0 = torch.from_numpy(self.rng.integers(0, gh - self.patch + 1, m)).to(self.device)
            x0 = torch.from_numpy(self.rng.integers(0, gw - self.patch + 1, m)).to(self.device)
            t = torch.from_numpy(self.rng.integers(0, len(TRANSFORMS), m)).to(self.device)
            where = torch.from_numpy(pos).to(self.device)
            for k, (s, plane) in enumerate(zip(self.scales, planes)):
                rows, cols = self.maps[s]
                r = y0[:, None, None] * s + rows[t]
                c = x0[:, None, None] * s + cols[t]
                out[k][where, 0] = plane[pick[:, None, None], r, c].float()
            if lab is not None:
                labels[where] = lab.to(self.device)[pick]
        out = [o.div_(255.0) for o in out]
        return (*out, labels) if self.has_labels else tuple(out)
