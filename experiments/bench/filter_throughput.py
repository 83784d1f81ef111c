"""CNN loop-filter throughput of the native runner (libtorch, the path the codec loop
takes): frames per second at 416x240 and 1920x1080, fp32 on the CPU, and fp32/fp16 on
CUDA when a GPU is present, measured in one run.

    python -m experiments.bench.filter_throughput [--models models/vrcnn] [--repeat 5]
"""
from __future__ import annotations

import argparse

import numpy as np

from experiments.bench import best_of


def main(argv=None) -> None:
    import torch

    from cnn_filter import load_filter
    from experiments.spec import SHIPPED_VRCNN

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=str(SHIPPED_VRCNN))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--tile", type=int, default=256)
    args = ap.parse_args(argv)
    variants = [("cpu", False)]
    if torch.cuda.is_available():
        variants += [("cuda", False), ("cuda", True)]
    rng = np.random.default_rng(0)
    print(f"models {args.models}, tile {args.tile}, torch {torch.__version__}, CPU threads {torch.get_num_threads()}"
          + (f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"))
    print(f"{'size':>10} {'device':>6} {'dtype':>5} {'fps':>8} {'ms/frame':>9} {'vs CPU fp32':>11}")
    for w, h in ((416, 240), (1920, 1080)):
        y = rng.integers(16, 235, (h, w), dtype=np.uint8)
        cpu_seconds = None
        for device, half in variants:
            f = load_filter(args.models, device=device, half=half, tile=args.tile)
            best = best_of(lambda: f.filter_plane(32, y), args.repeat)
            cpu_seconds = cpu_seconds or best  # the first variant is the CPU's
            print(f"{f'{w}x{h}':>10} {device:>6} {'fp16' if half else 'fp32':>5} {1 / best:8.2f} {best * 1000:9.1f} "
                  f"{cpu_seconds / best:10.1f}x")


if __name__ == "__main__":
    main()
