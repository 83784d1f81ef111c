"""Network architectures and the registry that names them.

Every model works on (N, 1, H, W) float tensors in [0, 1]. Its ``kind`` says how it is
used:

* ``loop``: a luma loop filter, output = filtered picture, same shape (VRCNN). The
  native runner only sees the exported TorchScript file, so a new loop filter needs no
  C++: register it here, train, export.
* ``loop_yuv``: a loop filter of the three 4:2:0 planes with the slice QP as an input:
  forward(y, u, v, qp) -> (y, u, v), qp a (N,) float tensor. One model serves every QP.
* ``sr_residual``: super-resolution by ``scale`` from the low-resolution picture; the
  output is the residual added to an upsampled picture (the SR coding mode's network).
* ``sr_refine``: super-resolution refining an already upsampled picture (SRCNN, the
  convolutional autoencoder); output = the high-resolution picture.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from cnn_filter.kinds import KINDS, Kind  # noqa: F401 (Kind: the type of ArchSpec.kind)

@dataclass(frozen=True)
class ArchSpec:
    """Everything the rest of the project knows of an architecture, in one place: its
    kind, scale and receptive radius (luma samples of its input an output sample sees; the
    exporter writes it into the manifest, where the C++ runners read it)."""

    name: str
    kind: Kind
    scale: int
    receptive_radius: int

    def input_shape(self, role: str, height: int, width: int) -> tuple[int, ...] | None:
        """(N, C, H, W) of one input for a picture of height x width output luma samples
        (None: the QP, a (N,) tensor)."""
        sizes = {"rec_y": (height, width), "upsampled_y": (height, width), "rec_u": (height // 2, width // 2),
                 "rec_v": (height // 2, width // 2), "lr_y": (height // self.scale, width // self.scale)}
        return None if role == "qp" else (1, 1) + sizes[role]


_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
_SPECS: dict[str, ArchSpec] = {}


def register_model(name: str):
    """Class decorator: makes an architecture available by name (training, export, CLI).
    The class states its ``kind`` (a name of KINDS), ``scale`` and ``receptive_radius``."""

    def wrap(cls):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        missing = [a for a in ("kind", "scale", "receptive_radius") if a not in vars(cls)]
        if missing or cls.kind not in KINDS:
            raise ValueError(f"model {name!r} must state its kind (one of {', '.join(KINDS)}), scale and "
                             f"receptive_radius; missing or wrong: {', '.join(missing) or 'kind'}")
        _REGISTRY[name] = cls
        _SPECS[name] = ArchSpec(name, KINDS[cls.kind], cls.scale, cls.receptive_radius)
        return cls

    return wrap


def create_model(name: str, **kwargs) -> nn.Module:
    return architecture(name)(**kwargs)


def model_names() -> list[str]:
    return sorted(_REGISTRY)


def architecture(name: str) -> type:
    """The registered class, without building it."""
    arch_spec(name)
    return _REGISTRY[name]


def arch_spec(name: str) -> ArchSpec:
    """The facts of a registered architecture (kind, scale, receptive radius)."""
    if name not in _SPECS:
        raise ValueError(f"unknown model {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _SPECS[name]


def example_inputs(name: str, height: int = 64, width: int = 64) -> tuple[torch.Tensor, ...]:
    """Inputs of a registered model for a picture of height x width luma samples."""
    spec = arch_spec(name)
    shapes = [spec.input_shape(role, height, width) for role in spec.kind.inputs]
    return tuple(torch.tensor([32.0]) if s is None else torch.rand(*s) for s in shapes)


def complexity(name: str) -> tuple[int, float]:
    """(parameters, kMAC per output luma sample) of a registered model: multiply-
    accumulates of its convolutions counted on a 64x64 picture."""
    model = create_model(name).eval()
    macs = 0

    def count(module, inputs, output):
        nonlocal macs
        k = module.kernel_size[0] * module.kernel_size[1]
        if isinstance(module, nn.ConvTranspose2d):  # each input sample feeds k outputs per channel
            macs += inputs[0][0].numel() * module.out_channels // module.groups * k
        else:
            macs += output[0].numel() * module.in_channels // module.groups * k

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        model(*example_inputs(name))
    for h in hooks:
        h.remove()
    return sum(p.numel() for p in model.parameters()), macs / (64 * 64) / 1000


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
        return x + self.residual(torch.relu(self.conv1(x)))

    def residual(self, h: torch.Tensor) -> torch.Tensor:
        """The layers after the first, from its activations to the residual."""
        h = torch.relu(torch.cat([self.conv2_5x5(h), self.conv2_3x3(h)], dim=1))
        h = torch.relu(torch.cat([self.conv3_3x3(h), self.conv3_1x1(h)], dim=1))
        return self.conv4(h)

    kind = "loop"
    scale = 1
    #: samples of context each output sample depends on, per side: 5x5, 5x5, 3x3, 3x3.
    #: The runner's tile context must be at least this (load_filter checks it).
    receptive_radius = 2 + 2 + 1 + 1


@register_model("sr_residual")
class SRResidualNet(nn.Module):
    """The seed paper's lightweight residual SR network (x2), luma.

    Feature extraction: seven 3x3 convolutions with 16, 14, 12, 11, 10, 9, 8 outputs,
    each followed by PReLU; the outputs of all seven are concatenated (80 channels).
    Reconstruction: branch A1 (1x1 -> 24) in parallel with B1 (1x1 -> 8) -> B2 (3x3 -> 8),
    both PReLU, concatenated (32); a last 3x3 convolution to 4 channels, rearranged by
    pixel shuffle to one channel at twice the size: the residual added to the upsampled
    decoded picture.

    The seed does not give A1/B1/B2's kernels and widths. Chosen: the network-in-network
    layout of DCSCN (Yamanaka et al. 2017), which this design follows (1x1 A1 and B1,
    3x3 B2), with widths scaled down from DCSCN's 64/32/32 by the same factor (about
    3/8) as the feature layers (DCSCN: 96..32, here 16..8), keeping the network at
    ~12 k parameters: cheap enough to run per picture at any QP.
    """

    kind = "sr_residual"
    scale = 2
    FEATURES = (16, 14, 12, 11, 10, 9, 8)
    #: 3x3 layers: the features, B2, the last; in input (low-resolution) samples
    receptive_radius = len(FEATURES) + 1 + 1

    def __init__(self):
        super().__init__()
        layers, cin = [], 1
        for cout in self.FEATURES:
            layers.append(nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.PReLU(cout)))
            cin = cout
        self.features = nn.ModuleList(layers)
        total = sum(self.FEATURES)
        self.a1 = nn.Sequential(nn.Conv2d(total, 24, 1), nn.PReLU(24))
        self.b1 = nn.Sequential(nn.Conv2d(total, 8, 1), nn.PReLU(8))
        self.b2 = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.PReLU(8))
        self.last = nn.Conv2d(32, 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        nn.init.normal_(self.last.weight, std=1e-3)
        nn.init.zeros_(self.last.bias)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        outs = []
        h = lr
        for layer in self.features:
            h = layer(h)
            outs.append(h)
        cat = torch.cat(outs, dim=1)
        rec = torch.cat([self.a1(cat), self.b2(self.b1(cat))], dim=1)
        return self.shuffle(self.last(rec))


@register_model("srcnn")
class SRCNN(nn.Module):
    """SRCNN 9-1-5 (Dong et al. 2014): 9x9 -> 64, ReLU; 1x1 -> 32, ReLU; 5x5 -> 1, on
    the bicubic-upscaled picture (same-size padding)."""

    kind = "sr_refine"
    scale = 2
    receptive_radius = 4 + 0 + 2  # 9x9, 1x1, 5x5

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 9, padding=4)
        self.conv2 = nn.Conv2d(64, 32, 1)
        self.conv3 = nn.Conv2d(32, 1, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(x)))))


@register_model("sr_autoencoder")
class SRAutoencoder(nn.Module):
    """A convolutional encoder-decoder for x2 SR on the bicubic-upscaled picture:
    encoder 3x3 -> 32, 3x3 stride 2 -> 32, 3x3 -> 64 (ReLU); decoder: 4x4 transposed
    stride 2 -> 32, 3x3 -> 32 (ReLU), 3x3 -> 1. Input sides must be even. ~70 k
    parameters, the same order as SRCNN's 8 k x its 9x9 receptive field."""

    kind = "sr_refine"
    scale = 2
    #: 3x3 (1), 3x3 stride 2 (1), 3x3 at half resolution (2), the 4x4 transposed stride-2
    #: layer (2), two 3x3 (2): an upper bound, in upsampled samples
    receptive_radius = 8

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class _ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.a = nn.Conv2d(channels, channels, 3, padding=1)
        self.b = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(torch.relu(self.a(x)))


@register_model("yuv_resnet")
class YUVResNet(nn.Module):
    """Our stronger loop filter: Y, U, V and the QP in, Y, U, V out; 4:2:0-aware.

    Luma is pixel-unshuffled (2x2 -> 4 channels) to the chroma grid and stacked with U,
    V and a constant plane (QP - 32) / 10: 7 channels at half resolution. A 3x3 head
    (7 -> 64), five residual blocks (two 3x3 64 -> 64 convolutions, ReLU between, identity
    skip), a 3x3 tail (64 -> 6): 4 luma residuals (pixel-shuffled back) and one residual
    each for U and V, added to the inputs. Working at half resolution makes 11 layers of
    64 channels cost 94 kMAC per luma sample (VRCNN: 54.5), 376,838 parameters; one model
    serves every QP (trained on the pairs of several QPs at once).
    """

    kind = "loop_yuv"
    scale = 1
    CHANNELS, BLOCKS = 64, 5
    #: half-resolution 3x3 layers: 1 + 2 * BLOCKS + 1, each 2 luma samples of context
    receptive_radius = 2 * (2 + 2 * BLOCKS)

    def __init__(self):
        super().__init__()
        c = self.CHANNELS
        self.head = nn.Conv2d(7, c, 3, padding=1)
        self.body = nn.Sequential(*[_ResBlock(c) for _ in range(self.BLOCKS)])
        self.tail = nn.Conv2d(c, 6, 3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        for block in self.body:  # residual branches start small: the net starts near the identity
            nn.init.normal_(block.b.weight, std=1e-3)
        nn.init.normal_(self.tail.weight, std=1e-3)

    def forward(self, y: torch.Tensor, u: torch.Tensor, v: torch.Tensor,
                qp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, _, h, w = u.shape
        q = ((qp.to(u.dtype) - 32.0) / 10.0).view(-1, 1, 1, 1).expand(n, 1, h, w)
        x = torch.cat([F.pixel_unshuffle(y, 2), u, v, q], dim=1)
        r = self.tail(torch.relu(self.body(torch.relu(self.head(x)))))
        return y + F.pixel_shuffle(r[:, :4], 2), u + r[:, 4:5], v + r[:, 5:6]
