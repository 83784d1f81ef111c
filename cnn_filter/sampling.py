"""Random training patches: aligned crops of several planes of one picture, each at its
own integer scale (an input at 1, a target at 2 for x2 super-resolution), with the same
random rotation/flip for all of them. One sampler for every model trained here."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


class PatchSampler:
    """``pictures``: tuples of planes of one picture, plane k at ``scales[k]`` times the
    size of the first. ``patch``: the side of a patch at scale 1. Seeded."""

    def __init__(self, pictures: Sequence[tuple[np.ndarray, ...]], scales: Sequence[int], patch: int, seed: int):
        self.scales = tuple(scales)
        self.items = [p for p in pictures if min(p[0].shape[:2]) >= patch]
        if not self.items:
            raise ValueError(f"no training picture is at least {patch}x{patch} (at scale 1)")
        self.patch = patch
        self.rng = np.random.default_rng(seed)

    def _crop(self) -> list[np.ndarray]:
        planes = self.items[self.rng.integers(len(self.items))]
        p = self.patch
        y0 = int(self.rng.integers(0, planes[0].shape[0] - p + 1))
        x0 = int(self.rng.integers(0, planes[0].shape[1] - p + 1))
        crops = [a[s * y0:s * (y0 + p), s * x0:s * (x0 + p)] for a, s in zip(planes, self.scales)]
        k = int(self.rng.integers(4))
        crops = [np.rot90(c, k) for c in crops]
        if self.rng.integers(2):
            crops = [c[:, ::-1] for c in crops]
        return [np.ascontiguousarray(c) for c in crops]

    def batch(self, n: int) -> tuple[torch.Tensor, ...]:
        """n patches of every plane, as (n, 1, H, W) float tensors in [0, 1]."""
        crops = [self._crop() for _ in range(n)]
        return tuple(torch.from_numpy(np.stack([c[k] for c in crops]).astype(np.float32)).div_(255.0)[:, None]
                     for k in range(len(self.scales)))
