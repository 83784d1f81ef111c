"""CNN loop-filter throughput of the native runners (the path the codec loop takes), measured
in one run against the device's own limits:

* the device's ceilings, measured here: a large matrix product's FLOP/s (fp32 on the
  CPU; fp32 and fp16 on a GPU) and a large copy's GB/s;
* each model's work per 1080p frame: FLOPs (2 x its MACs) and the bytes its layers read
  and write (every convolution's input and output tensors at the dtype: the traffic of
  an unfused run), hence its arithmetic intensity and the roofline's bound,
  min(peak FLOP/s, intensity x bandwidth);
* frames per second of the libtorch runner (fp32 CPU; fp32 and fp16 on CUDA) and of the
  integer models (the integer runner on the CPU, against its int16 multiply-accumulate
  step's peak; the exact float64 path on CUDA, against fp64), and the fraction of the
  roofline each reaches.

    python -m experiments.bench.filter_throughput [--models models/vrcnn models/yuv_resnet]
        [--integer models/vrcnn-int] [--repeat 5] [--sizes 416x240 1920x1080]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from experiments.bench import best_of


def matmul_flops(device: str, dtype, n: int = 2048, seconds: float = 1.0) -> float:
    """FLOP/s of n x n matrix products on ``device`` (best of a second of them)."""
    import torch

    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end or best == float("inf"):
        sync()
        t = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def copy_bandwidth(device: str, mbytes: int = 256, seconds: float = 1.0) -> float:
    """Bytes/s of copying a large tensor on ``device`` (read + write counted)."""
    import torch

    src = torch.empty(mbytes << 20, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end or best == float("inf"):
        sync()
        t = time.perf_counter()
        dst.copy_(src)
        sync()
        best = min(best, time.perf_counter() - t)
    return 2 * src.numel() / best


def work_per_sample(arch: str) -> tuple[float, float]:
    """(MACs, activation elements read + written) per output luma sample, counted over
    the model's convolutions on a 64x64 picture."""
    import torch
    from torch import nn

    from cnn_filter.models import create_model, example_inputs

    model = create_model(arch).eval()
    macs = elements = 0

    def count(module, inputs, output):
        nonlocal macs, elements
        k = module.kernel_size[0] * module.kernel_size[1]
        macs += output[0].numel() * module.in_channels // module.groups * k
        elements += inputs[0][0].numel() + output[0].numel()

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(*example_inputs(arch))
    for h in hooks:
        h.remove()
    return macs / 4096, elements / 4096


def _run(f, yuv: bool, planes, qp: int = 32):
    if yuv:
        return lambda: f.filter_picture(qp, *planes)
    return lambda: f.filter_plane(qp, planes[0])


def main(argv=None) -> None:
    import torch

    from cnn_filter import load_filter, zoo
    from experiments.spec import SHIPPED_VRCNN

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=[str(SHIPPED_VRCNN), str(SHIPPED_VRCNN.parent / "yuv_resnet")])
    ap.add_argument("--integer", nargs="*", default=[str(SHIPPED_VRCNN.parent / "vrcnn-int")])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--sizes", nargs="+", default=["416x240", "1920x1080"])
    args = ap.parse_args(argv)
    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}"
          + (f", GPU {torch.cuda.get_device_name()}" if cuda else ", no GPU") + f"; tile {args.tile}")

    # the device's ceilings, measured now
    ceilings = {("cpu", "fp32"): matmul_flops("cpu", torch.float32)}
    bandwidth = {"cpu": copy_bandwidth("cpu", 128)}
    if cuda:
        ceilings[("cuda", "fp32")] = matmul_flops("cuda", torch.float32, 8192)
        ceilings[("cuda", "fp16")] = matmul_flops("cuda", torch.float16, 8192)
        ceilings[("cuda", "fp64")] = matmul_flops("cuda", torch.float64, 4096)
        bandwidth["cuda"] = copy_bandwidth("cuda", 1024)
    from cnn_filter import _int_runner

    # the integer runner's ceiling: its AVX2 int16 multiply-accumulate step alone, as many threads
    ceilings[("cpu", "int")] = 2e9 * _int_runner.int16_mac_peak(threads=torch.get_num_threads(), seconds=1.0)
    if cuda:
        ceilings[("cuda", "int")] = ceilings[("cuda", "fp64")]  # the exact path sums in float64
    print("ceilings: " + ", ".join(f"{d} {t} matmul {v / 1e12:.3f} TFLOP/s" for (d, t), v in ceilings.items()
                                   if t != "int") + f"; cpu int16 MAC step {ceilings[('cpu', 'int')] / 1e12:.3f} TOP/s; " +
          ", ".join(f"{d} copy {v / 1e9:.1f} GB/s" for d, v in bandwidth.items()))

    rows = []  # (model path, arch, yuv, device, dtype name, loader kwargs, element bytes)
    for path in args.models:
        m = zoo.open_models(path)
        rows.append((path, m.arch, m.kind == "loop_yuv", "cpu", "fp32", dict(device="cpu"), 4))
        if cuda:
            rows.append((path, m.arch, m.kind == "loop_yuv", "cuda", "fp32", dict(device="cuda"), 4))
            rows.append((path, m.arch, m.kind == "loop_yuv", "cuda", "fp16", dict(device="cuda", half=True), 2))
    for path in args.integer:
        m = zoo.open_models(path)
        rows.append((path, m.arch, False, "cpu", "int", dict(integer=True), 2))
        if cuda:
            rows.append((path, m.arch, False, "cuda", "int", dict(device="cuda", integer=True), 8))

    rng = np.random.default_rng(0)
    print(f"{'model':>14} {'size':>10} {'device':>6} {'dtype':>5} {'fps':>9} {'ms/frame':>9} {'GFLOP/frame':>11} "
          f"{'MB/frame':>9} {'GFLOP/s':>9} {'roofline':>9} {'of it':>6}")
    for w, h in (tuple(int(v) for v in s.split("x")) for s in args.sizes):
        planes = (rng.integers(16, 235, (h, w), dtype=np.uint8), rng.integers(16, 235, (h // 2, w // 2), dtype=np.uint8),
                  rng.integers(16, 235, (h // 2, w // 2), dtype=np.uint8))
        for path, arch, yuv, device, dtype, kwargs, size in rows:
            f = load_filter(path, tile=args.tile, **kwargs) if dtype != "int" else load_filter(path, **kwargs)
            seconds = best_of(_run(f, yuv, planes), args.repeat)
            macs, elements = work_per_sample(arch)
            flops, traffic = 2 * macs * w * h, elements * size * w * h
            bound = min(ceilings[(device, dtype if dtype != "fp16" or device == "cuda" else "fp32")],
                        flops / traffic * bandwidth[device])
            achieved = flops / seconds
            print(f"{arch:>14} {f'{w}x{h}':>10} {device:>6} {dtype:>5} {1 / seconds:9.2f} {seconds * 1000:9.1f} "
                  f"{flops / 1e9:11.2f} {traffic / 1e6:9.1f} {achieved / 1e9:9.1f} {bound / 1e9:9.1f} "
                  f"{achieved / bound:6.1%}")


if __name__ == "__main__":
    main()
