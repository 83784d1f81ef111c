"""Training throughput: samples (patches) per second of the training step (patch
sampling, forward, backward, Adam) of each architecture, on the given device, measured
in one run on synthetic 480x320 pictures (the size of BSDS500's), so that a recipe's
cost is known before it runs.

    python -m experiments.bench.train_throughput [--archs vrcnn yuv_resnet] [--device cuda]
    python -m experiments.bench.train_throughput --together vrcnn:8 yuv_resnet:1

``--together`` runs several trainings at once (one process each, as ``hmcnn train
--jobs`` does) and reports each one's rate while they share the device.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def synthetic_pairs(n: int, qp: int, seed: int = 0):
    from cnn_filter.data import PairSet

    rng = np.random.default_rng(seed)
    y = lambda: rng.integers(0, 256, (320, 480), dtype=np.uint8)
    uv = lambda: rng.integers(0, 256, (2, 160, 240), dtype=np.uint8)
    return PairSet(qp, [f"p{i}" for i in range(n)], [y() for _ in range(n)], [y() for _ in range(n)],
                   [uv() for _ in range(n)], [uv() for _ in range(n)])


def measure(arch: str, device: str, batch: int, patch: int, seconds: float) -> float:
    """Training steps per second of ``arch`` (after a warm-up)."""
    import torch

    from cnn_filter.models import create_model
    from cnn_filter.train import LoopFilterTask

    task = LoopFilterTask(arch, [], [], None, "slow")
    sampler = task.sampler([synthetic_pairs(32, 32)], patch, 0, device)
    model = create_model(arch).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        loss = task.loss(model, sampler.batch(batch))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for _ in range(10):
        step()
    sync()
    t0, steps = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        step()
        steps += 1
        if steps % 20 == 0:
            sync()
    sync()
    return steps / (time.perf_counter() - t0)


def _measure_in_worker(args) -> float:
    import torch

    torch.set_num_threads(1)
    return measure(*args)


def together(specs: list[str], device: str, batch: int, patch: int, seconds: float) -> None:
    """Every ARCH:N of ``specs`` as N processes, all training at the same time."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    jobs = [(arch, device, batch, patch, seconds) for spec in specs for arch in [spec.split(":")[0]]
            for _ in range(int(spec.split(":")[1]) if ":" in spec else 1)]
    with ProcessPoolExecutor(len(jobs), mp_context=get_context("spawn")) as pool:
        rates = list(pool.map(_measure_in_worker, jobs))
    print(f"{len(jobs)} trainings at once:")
    for (arch, *_), rate in zip(jobs, rates):
        print(f"  {arch:>12} {rate:9.1f} steps/s {rate * batch:10.0f} samples/s")


def main(argv=None) -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", nargs="+", default=["vrcnn", "yuv_resnet"])
    ap.add_argument("--together", nargs="+", metavar="ARCH:N", help="N trainings of ARCH at once (and so on)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--patch", type=int, default=64, help="luma patch side")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args(argv)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(f"device {args.device} ({name}), torch {torch.__version__}, batch {args.batch}, luma patch {args.patch}")
    if args.together:
        together(args.together, args.device, args.batch, args.patch, args.seconds)
        return
    print(f"{'arch':>12} {'steps/s':>9} {'samples/s':>10} {'Mpixel/s':>9} {'vs first':>9}")
    first = None
    for arch in args.archs:
        rate = measure(arch, args.device, args.batch, args.patch, args.seconds)
        first = first or rate
        px = rate * args.batch * args.patch ** 2 / 1e6
        print(f"{arch:>12} {rate:9.1f} {rate * args.batch:10.0f} {px:9.1f} {rate / first:8.2f}x")


if __name__ == "__main__":
    main()
