"""Integer models: post-training quantization (and quantization-aware fine-tuning) of a
loop filter into a fixed-point network that every machine runs to the same bits.

Arithmetic (no float anywhere in the integer path; the C++ runner, cpp/int_runner/,
implements exactly this, and ``run_integer`` here is its reference):

* tensors are int16 values with a power-of-two scale: a tensor with ``frac`` fractional
  bits holds round(x * 2^frac); the input tensor is the 8-bit samples themselves (frac 0)
  and the network's float input scaling (1/255) is folded into the first layer;
* a convolution multiplies int16 weights (``w_frac`` fractional bits) by int16
  activations and sums into int32 with an int32 bias (``frac_in + w_frac`` bits);
* requantization is a rounding shift, ``(acc + 2^(s-1)) >> s`` (arithmetic shift, s =
  frac_in + w_frac - frac_out), then ReLU and a clamp to the tensor's ``[0, 2^bits - 1]``;
* the last layer's accumulator is shifted to whole samples and added to the input
  samples, clipped to 0..255 (VRCNN's output = input + residual).

Overflow is impossible by construction: ``prove_bounds`` computes, for every output
channel of every layer, the accumulator's extreme values over all inputs the clamps allow
(``bias + A * sum of positive weights``, ``bias + A * sum of negative weights``, plus the
rounding half) and ``quantize`` refuses a model whose bound reaches 2^31, naming the layer.

The file format (``.hmq``, little-endian) is documented in docs/integer-models.md; its
16-bit content hash (FNV-1a 64 folded) travels in the side information of I pictures so
that a decoder holding another model refuses the stream instead of drifting.
"""
from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"HMCQ"
VERSION = 1
INT32_MAX = 2**31 - 1
#: default precision: activations clamp to 12 bits after ReLU, weights use up to 12 bits (int16
#: storage; VRCNN with 16-bit weights could overflow its int32 accumulators and is refused)
ACTIVATION_BITS = 12
WEIGHT_BITS = 12
#: calibration maxima are taken with this much headroom before choosing a tensor's scale
HEADROOM = 1.25


class OverflowRefused(ValueError):
    """A layer's int32 accumulator could overflow: the model is not exported."""


@dataclass
class IntConv:
    """One convolution of the integer graph (stride 1, zero 'same' padding)."""

    name: str
    src: int  # input tensor index
    dst: int  # output tensor index (-1: the residual output)
    dst_offset: int  # first output channel within dst
    k: int
    weight: np.ndarray  # (cout, cin, k, k) int16
    bias: np.ndarray  # (cout,) int32
    shift: int  # requantization right shift (to dst's scale, or to whole samples for the output)
    relu: bool

    @property
    def cout(self) -> int:
        return self.weight.shape[0]

    @property
    def cin(self) -> int:
        return self.weight.shape[1]


@dataclass
class IntModel:
    tensors: list[tuple[int, int, int]]  # per tensor: (channels, fractional bits, clamp bits); tensor 0 = input
    layers: list[IntConv]
    meta: dict = field(default_factory=dict)

    @property
    def receptive_radius(self) -> int:
        """Samples of context an output depends on, per side (the layers form a chain of
        tensors; branches between the same two tensors count their widest kernel)."""
        per_step = {}
        for layer in self.layers:
            per_step[layer.src] = max(per_step.get(layer.src, 0), layer.k // 2)
        return sum(per_step.values())


# --- exact integer arithmetic (the reference of the C++ runner) -----------------------------
def _conv_exact(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    """int32-exact convolution via float64 (all values are integers below 2^53):
    x (cin, H, W), w (cout, cin, k, k), b (cout,) -> (cout, H, W) int64."""
    import torch

    t = torch.from_numpy(x.astype(np.float64))[None]
    out = torch.nn.functional.conv2d(t, torch.from_numpy(w.astype(np.float64)), torch.from_numpy(b.astype(np.float64)),
                                     padding=w.shape[-1] // 2)
    return out[0].numpy().astype(np.int64)


def rounding_shift(acc: np.ndarray, s: int) -> np.ndarray:
    return acc if s == 0 else (acc + (1 << (s - 1))) >> s


def run_integer(model: IntModel, samples: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """The integer network on a luma plane -> the filtered plane (bit-exact reference):
    uint8 for 8 bits; for ``bit_depth`` 9..12 (uint16 samples) the layers that read the
    samples take them 2^(depth-8) times larger, their biases scaled alike and their shifts
    larger by depth - 8, and the residual comes out in units of the depth (its shift
    smaller by depth - 8): C++ twin IntModel::at_depth."""
    d = bit_depth - 8
    tensors: dict[int, np.ndarray] = {0: samples.astype(np.int64)[None]}
    h, w = samples.shape
    out = None
    for layer in model.layers:
        bias, shift = np.asarray(layer.bias, np.int64), layer.shift
        if layer.src == 0:
            bias, shift = bias << d, shift + d
        if layer.dst < 0:
            shift -= d
        acc = _conv_exact(tensors[layer.src], layer.weight, bias)
        assert np.abs(acc).max(initial=0) <= INT32_MAX, f"{layer.name}: accumulator outside int32"
        y = rounding_shift(acc, shift)
        if layer.dst < 0:
            top = (1 << bit_depth) - 1
            out = np.clip(samples.astype(np.int64) + y[0], 0, top).astype(np.uint8 if d == 0 else np.uint16)
            continue
        channels, _, bits = model.tensors[layer.dst]
        if layer.relu:
            y = np.clip(y, 0, (1 << bits) - 1)
        dst = tensors.setdefault(layer.dst, np.zeros((channels, h, w), dtype=np.int64))
        dst[layer.dst_offset:layer.dst_offset + layer.cout] = y
    return out


# --- from a float model --------------------------------------------------------------------
@dataclass
class FloatConv:
    name: str
    src: int
    dst: int
    dst_offset: int
    weight: np.ndarray  # float, effective (input/output scaling folded in)
    bias: np.ndarray
    relu: bool


def lower_vrcnn(model) -> tuple[list[int], list[FloatConv]]:
    """VRCNN as a graph of convolutions between tensors: 0 input samples (1), 1 (64),
    2 (16 | 32), 3 (16 | 32), then the residual; input scale 1/255 and output x255 folded."""
    w = lambda conv: conv.weight.detach().double().numpy()
    b = lambda conv: conv.bias.detach().double().numpy()
    return [1, 64, 48, 48], [
        FloatConv("conv1", 0, 1, 0, w(model.conv1) / 255.0, b(model.conv1), True),
        FloatConv("conv2_5x5", 1, 2, 0, w(model.conv2_5x5), b(model.conv2_5x5), True),
        FloatConv("conv2_3x3", 1, 2, 16, w(model.conv2_3x3), b(model.conv2_3x3), True),
        FloatConv("conv3_3x3", 2, 3, 0, w(model.conv3_3x3), b(model.conv3_3x3), True),
        FloatConv("conv3_1x1", 2, 3, 16, w(model.conv3_1x1), b(model.conv3_1x1), True),
        FloatConv("conv4", 3, -1, 0, w(model.conv4) * 255.0, b(model.conv4) * 255.0, False),
    ]


LOWERINGS = {"vrcnn": lower_vrcnn}


def _run_float(channels: list[int], convs: list[FloatConv], samples: np.ndarray) -> dict[int, np.ndarray]:
    """The lowered float graph on a plane: every tensor (for calibration)."""
    tensors = {0: samples.astype(np.float64)[None]}
    h, w = samples.shape
    for c in convs:
        y = _conv_exact_float(tensors[c.src], c.weight, c.bias)
        if c.relu:
            y = np.maximum(y, 0)
        if c.dst >= 0:
            tensors.setdefault(c.dst, np.zeros((channels[c.dst], h, w)))[c.dst_offset:c.dst_offset + len(c.bias)] = y
        else:
            tensors[-1] = y
    return tensors


def _conv_exact_float(x, w, b):
    import torch

    t = torch.from_numpy(x.astype(np.float32))[None]
    return torch.nn.functional.conv2d(t, torch.from_numpy(w.astype(np.float32)), torch.from_numpy(b.astype(np.float32)),
                                      padding=w.shape[-1] // 2)[0].numpy().astype(np.float64)


def calibrate(channels: list[int], convs: list[FloatConv], planes: list[np.ndarray]) -> dict[int, float]:
    """Largest value of every tensor over the calibration pictures."""
    peak = {t: 0.0 for t in range(len(channels))}
    for plane in planes:
        for t, v in _run_float(channels, convs, plane).items():
            if t >= 0:
                peak[t] = max(peak[t], float(np.abs(v).max()))
    return peak


def _accumulator_bound(w: np.ndarray, b: np.ndarray, a_max: int, shift: int) -> np.ndarray:
    """Per output channel: the largest |acc + rounding half| over every input in [0, a_max]."""
    flat = w.reshape(w.shape[0], -1).astype(np.int64)
    pos, neg = np.where(flat > 0, flat, 0).sum(1), np.where(flat < 0, flat, 0).sum(1)
    half = (1 << (shift - 1)) if shift > 0 else 0
    return np.maximum(np.abs(b + a_max * pos + half), np.abs(b + a_max * neg))


def prove_bounds(model: IntModel) -> dict[str, int]:
    """Each layer's worst-case |accumulator| (int64); OverflowRefused if one reaches 2^31."""
    bounds = {}
    for layer in model.layers:
        _, _, bits = model.tensors[layer.src]
        a_max = (1 << bits) - 1
        worst = int(_accumulator_bound(layer.weight, layer.bias.astype(np.int64), a_max, layer.shift).max())
        bounds[layer.name] = worst
        if worst > INT32_MAX:
            raise OverflowRefused(
                f"layer {layer.name}: the int32 accumulator could reach {worst} (> 2^31 - 1) with inputs up to "
                f"{a_max}: not exported; lower the weight or activation bits")
    return bounds


def quantize(model, arch: str, calibration: list[np.ndarray], activation_bits: int = ACTIVATION_BITS,
             weight_bits: int = WEIGHT_BITS, peaks: dict[int, float] | None = None) -> IntModel:
    """A float model -> the integer model (OverflowRefused if any layer could overflow)."""
    if arch not in LOWERINGS:
        raise ValueError(f"no integer lowering for {arch!r} (have: {', '.join(LOWERINGS)})")
    channels, convs = LOWERINGS[arch](model)
    peaks = peaks or calibrate(channels, convs, calibration)
    a_max = (1 << activation_bits) - 1
    tensors = [(channels[0], 0, 8)]  # the input: whole samples, 0..255
    for t in range(1, len(channels)):
        frac = math.floor(math.log2(a_max / max(peaks[t] * HEADROOM, 1e-9)))
        tensors.append((channels[t], frac, activation_bits))
    layers = []
    w_max = (1 << (weight_bits - 1)) - 1
    for c in convs:
        frac_in = tensors[c.src][1]
        frac_out = tensors[c.dst][1] if c.dst >= 0 else 0
        largest = max(float(np.abs(c.weight).max()), 1e-12)
        w_frac = math.floor(math.log2(w_max / largest))
        w_frac = max(w_frac, frac_out - frac_in)  # the requantization shift is never negative
        weight = np.round(c.weight * 2.0**w_frac)
        if np.abs(weight).max() > w_max:
            raise OverflowRefused(f"layer {c.name}: weights do not fit {weight_bits} bits at the scale its "
                                  "output needs")
        bias = np.round(c.bias * 2.0 ** (frac_in + w_frac))
        if np.abs(bias).max() > INT32_MAX:
            raise OverflowRefused(f"layer {c.name}: the bias does not fit int32")
        layers.append(IntConv(c.name, c.src, c.dst, c.dst_offset, c.weight.shape[-1], weight.astype(np.int16),
                              bias.astype(np.int32), frac_in + w_frac - frac_out, c.relu))
    out = IntModel(tensors, layers, {"arch": arch, "activation_bits": activation_bits, "weight_bits": weight_bits,
                                     "peaks": {str(k): v for k, v in peaks.items()}})
    out.meta["accumulator_bounds"] = prove_bounds(out)
    return out


# --- the .hmq file ----------------------------------------------------------------------------
_HEAD = struct.Struct("<4sHHH")  # magic, version, tensors, layers
_TENSOR = struct.Struct("<HbB")  # channels, fractional bits, clamp bits
_LAYER = struct.Struct("<hhHHHHBbB")  # src, dst, dst_offset, cin, cout, k, relu, shift, reserved


def save(model: IntModel, path: Path) -> bytes:
    """Writes the model; returns its bytes (whose hash names it in the side information)."""
    parts = [_HEAD.pack(MAGIC, VERSION, len(model.tensors), len(model.layers))]
    parts += [_TENSOR.pack(c, f, b) for c, f, b in model.tensors]
    for layer in model.layers:
        parts.append(_LAYER.pack(layer.src, layer.dst, layer.dst_offset, layer.cin, layer.cout, layer.k,
                                 int(layer.relu), layer.shift, 0))
        name = layer.name.encode()
        parts.append(struct.pack("<B", len(name)) + name)
        parts.append(layer.weight.astype("<i2").tobytes())  # (cout, cin, k, k)
        parts.append(layer.bias.astype("<i4").tobytes())
    data = b"".join(parts)
    Path(path).write_bytes(data)
    return data


def load(path: Path) -> IntModel:
    data = Path(path).read_bytes()
    magic, version, nt, nl = _HEAD.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise ValueError(f"{path} is not an hm-cnn-loop integer model (version {VERSION})")
    at = _HEAD.size
    tensors = []
    for _ in range(nt):
        tensors.append(_TENSOR.unpack_from(data, at))
        at += _TENSOR.size
    layers = []
    for _ in range(nl):
        src, dst, off, cin, cout, k, relu, shift, _ = _LAYER.unpack_from(data, at)
        at += _LAYER.size
        n = data[at]
        name = data[at + 1:at + 1 + n].decode()
        at += 1 + n
        w = np.frombuffer(data, "<i2", cout * cin * k * k, at).reshape(cout, cin, k, k).astype(np.int16)
        at += w.nbytes
        b = np.frombuffer(data, "<i4", cout, at).astype(np.int32)
        at += b.nbytes
        layers.append(IntConv(name, src, dst, off, k, w, b, shift, bool(relu)))
    return IntModel(tensors, layers)


def content_hash(data: bytes) -> int:
    """16-bit content hash of a model file: FNV-1a 64, folded (C++ twin: int_runner/model.cpp)."""
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    h ^= h >> 32
    h ^= h >> 16
    return h & 0xFFFF


def write_metadata(path: Path, model: IntModel, **extra) -> None:
    Path(path).write_text(json.dumps({**model.meta, **extra}, indent=1, sort_keys=True))


# --- quantization-aware fine-tuning ----------------------------------------------------------
def _ste_round(x):
    """round() whose gradient is the identity (straight-through)."""
    return x + (x.round() - x).detach()


def fake_quantized_forward(model, arch: str, ref: IntModel, samples):
    """The float model as the integer network computes it (weights, biases and activations
    rounded to the integer model's scales, clamps included), differentiable through the
    roundings: samples (N, 1, H, W) in 0..255 -> output samples."""
    import torch

    _, convs = LOWERINGS_TORCH[arch](model)
    tensors = {0: samples}
    out = None
    for c, layer in zip(convs, ref.layers):
        frac_in = ref.tensors[c["src"]][1]
        frac_out = ref.tensors[c["dst"]][1] if c["dst"] >= 0 else 0
        w_frac = layer.shift + frac_out - frac_in
        w = _ste_round(c["weight"] * 2.0**w_frac) / 2.0**w_frac
        b = _ste_round(c["bias"] * 2.0 ** (frac_in + w_frac)) / 2.0 ** (frac_in + w_frac)
        y = torch.nn.functional.conv2d(tensors[c["src"]], w, b, padding=w.shape[-1] // 2)
        if c["dst"] < 0:
            out = (samples + _ste_round(y)).clamp(0, 255)
            continue
        bits = ref.tensors[c["dst"]][2]
        y = (_ste_round(y * 2.0**frac_out).clamp(0, (1 << bits) - 1)) / 2.0**frac_out
        if c["dst"] in tensors:
            tensors[c["dst"]] = torch.cat([tensors[c["dst"]], y], dim=1)
        else:
            tensors[c["dst"]] = y
    return out


def _lower_vrcnn_torch(model):
    """lower_vrcnn on the model's live parameters (for fine-tuning)."""
    spec = [("conv1", 0, 1, 1 / 255.0), ("conv2_5x5", 1, 2, 1.0), ("conv2_3x3", 1, 2, 1.0), ("conv3_3x3", 2, 3, 1.0),
            ("conv3_1x1", 2, 3, 1.0), ("conv4", 3, -1, 255.0)]
    convs = []
    for name, src, dst, scale in spec:
        conv = getattr(model, name)
        bias_scale = 255.0 if name == "conv4" else 1.0
        convs.append({"src": src, "dst": dst, "weight": conv.weight * scale, "bias": conv.bias * bias_scale})
    return None, convs


LOWERINGS_TORCH = {"vrcnn": _lower_vrcnn_torch}


def qat_finetune(model, arch: str, ref: IntModel, inputs: list[np.ndarray], targets: list[np.ndarray], steps: int,
                 lr: float = 2e-5, batch: int = 8, patch: int = 64, seed: int = 7):
    """Fine-tunes ``model`` through fake_quantized_forward on (input, target) planes."""
    import torch

    from cnn_filter.sampling import PatchSampler

    sampler = PatchSampler(list(zip(inputs, targets)), (1, 1), patch, seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        x, y = sampler.batch(batch)
        out = fake_quantized_forward(model, arch, ref, (x * 255.0).round())
        loss = torch.nn.functional.mse_loss(out / 255.0, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


# --- model directories ---------------------------------------------------------------------------
HMQ = ".hmq"


def quantize_directory(src, out, calibration: int = 16, activation_bits: int = ACTIVATION_BITS,
                       weight_bits: int = WEIGHT_BITS, qat_steps: int = 0, cache_dir=None, preset: str = "slow",
                       progress=print) -> list[dict]:
    """Every model of a trained directory -> integer models in ``out`` (qpNN.hmq, qpNN.json,
    its inter models as inter_qpNN.*, manifest.json). Calibration (and fine-tuning) on
    (all-intra) codec pairs of the training set's first ``calibration`` pictures at each
    model's QP."""
    from cnn_filter import zoo
    from cnn_filter.data import make_pairs, training_sources
    from cnn_filter.models import create_model

    models = zoo.open_models(src)
    arch = models.arch or "vrcnn"
    if arch not in LOWERINGS or models.kind not in (None, "loop"):
        raise ValueError(f"{src} holds {arch} models: integer export knows {', '.join(LOWERINGS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train_src, _, described = training_sources()
    train_src = train_src[:calibration]
    results, files = [], ({}, {})
    for index, (qp, path, inter) in enumerate(zip(*models.runner_models())):
        pairs = make_pairs(train_src, qp, Path(cache_dir or out / "pairs"), preset, "calibration")
        model = create_model(arch)
        model.load_state_dict(models.load(index).state_dict())
        model.eval()
        q = quantize(model, arch, pairs.inputs, activation_bits, weight_bits)
        if qat_steps:
            model = qat_finetune(model, arch, q, pairs.inputs, pairs.targets, qat_steps)
            q = quantize(model, arch, pairs.inputs, activation_bits, weight_bits,
                         peaks={int(k): v for k, v in q.meta["peaks"].items()})
        name = Path(zoo.model_file_name(qp, inter)).with_suffix(HMQ).name
        data = save(q, out / name)
        info = {"qp": qp, "file": name, "bytes": len(data), "hash": f"{content_hash(data):04x}", "from": str(path),
                "calibration": f"{described}, first {len(train_src)} pictures coded at QP {qp}",
                "qat_steps": qat_steps}
        write_metadata(out / Path(name).with_suffix(".json"), q, arch=arch, kind="loop", format="hmq", inter=inter,
                       **info)
        files[inter][qp] = name
        results.append(info)
        progress(f"QP {qp}: {name} ({len(data)} bytes, hash {info['hash']}), accumulator bounds "
                 f"{max(q.meta['accumulator_bounds'].values())} < 2^31")
    zoo.write_manifest(out, arch, "loop", files[0], inter_models=files[1], format="hmq",
                       activation_bits=activation_bits, weight_bits=weight_bits,
                       receptive_radius=load(out / files[0][models.qps[0]]).receptive_radius)
    return results
