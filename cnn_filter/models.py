"""Loop-filter architectures and the registry that names them.

A registered model maps a (N, 1, H, W) float tensor of luma in [0, 1] to the filtered
luma, same shape. The native runner only sees the exported TorchScript/pt2 file, so a
new architecture needs no C++: register it here, train, export.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str):
    """Class decorator: makes an architecture available by name (training, export, CLI)."""

    def wrap(cls):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = cls
        cls.registry_name = name
        return cls

    return wrap


def create_model(name: str, **kwargs) -> nn.Module:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**kwargs)


def model_names() -> list[str]:
    return sorted(_REGISTRY)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(weights, biases) of a model's convolutions."""
    weights = sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))
    biases = sum(p.numel() for n, p in model.named_parameters() if n.endswith("bias"))
    return weights, biases


@register_model("vrcnn")
class VRCNN(nn.Module):
    """Variable-filter-size Residue-learning CNN (Dai, Liu, Wu, MMM 2017), luma.

    conv 5x5 -> 64, ReLU; [5x5 -> 16 | 3x3 -> 32] concatenated (48), ReLU;
    [3x3 -> 16 | 1x1 -> 32] concatenated (48), ReLU; 3x3 -> 1; output = input + residual.
    54,512 weights and 161 biases.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 5, padding=2)
        self.conv2_5x5 = nn.Conv2d(64, 16, 5, padding=2)
        self.conv2_3x3 = nn.Conv2d(64, 32, 3, padding=1)
        self.conv3_3x3 = nn.Conv2d(48, 16, 3, padding=1)
        self.conv3_1x1 = nn.Conv2d(48, 32, 1)
        self.conv4 = nn.Conv2d(48, 1, 3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.conv4.weight, std=1e-3)  # start near the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv1(x))
        h = torch.relu(torch.cat([self.conv2_5x5(h), self.conv2_3x3(h)], dim=1))
        h = torch.relu(torch.cat([self.conv3_3x3(h), self.conv3_1x1(h)], dim=1))
        return x + self.conv4(h)

    #: pixels of context each output sample depends on, per side (tiling overlap)
    receptive_radius = 2 + 2 + 1 + 1
