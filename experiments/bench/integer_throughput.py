"""Integer runner vs libtorch fp32, on the same pictures, measured in one run: frames per
second of the VRCNN filter at 416x240 and 1920x1080 with 1 and 2 threads (best of N).

    python -m experiments.bench.integer_throughput [--float models/vrcnn] [--integer models/vrcnn-int]
"""
from __future__ import annotations

import argparse

import numpy as np

from experiments.bench import best_of


def main(argv=None) -> None:
    import torch

    from cnn_filter._int_runner import int16_mac_peak
    from cnn_filter.loader import load_filter, load_integer_filter
    from cnn_filter.models import complexity
    from experiments.spec import SHIPPED_VRCNN

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--float", dest="float_models", default=str(SHIPPED_VRCNN))
    ap.add_argument("--integer", default=str(SHIPPED_VRCNN.parent / "vrcnn-int"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--qp", type=int, default=37)
    args = ap.parse_args(argv)
    fl = load_filter(args.float_models, device="cpu")
    it = load_integer_filter(args.integer)
    rng = np.random.default_rng(0)
    int_fps = {}
    print(f"VRCNN, QP {args.qp}; float: libtorch {torch.__version__} fp32 on the CPU (tile 256); "
          f"integer: {it.kernel} kernel, stripes of 128 rows")
    print(f"{'size':>10} {'threads':>7} {'fp32 fps':>9} {'int fps':>8} {'int/fp32':>9}")
    for w, h in ((416, 240), (1920, 1080)):
        y = rng.integers(16, 235, (h, w), dtype=np.uint8)
        for threads in (1, 2):
            torch.set_num_threads(threads)
            t_float = best_of(lambda: fl.filter_plane(args.qp, y), args.repeat)
            t_int = best_of(lambda: it.filter_plane(args.qp, y, "", threads, 128), args.repeat)
            print(f"{f'{w}x{h}':>10} {threads:>7} {1 / t_float:9.2f} {1 / t_int:8.2f} {t_float / t_int:8.2f}x")
            if w == 1920:
                int_fps[threads] = 1 / t_int
    # The ceiling: the AVX2 inner step alone (vpmaddwd + vpaddd), measured now, on this CPU.
    kmac = complexity("vrcnn")[1]
    print(f"int16 multiply-accumulate ceiling here (the AVX2 inner step alone), VRCNN {kmac:.1f} kMAC/pixel:")
    for threads in (1, 2):
        gmacs = int16_mac_peak(threads, 2.0)
        if not gmacs:
            print("  no AVX2 on this CPU")
            break
        ceiling = gmacs * 1e9 / (kmac * 1e3 * 1920 * 1080)
        print(f"  {threads} thread(s): {gmacs:6.1f} GMAC/s -> at most {ceiling:.2f} fps at 1920x1080; "
              f"the runner reaches {int_fps[threads] / ceiling:.0%} of it")


if __name__ == "__main__":
    main()
