"""Integer runner vs libtorch fp32, on the same pictures, measured in one run: frames per
second of the VRCNN filter at 416x240 and 1920x1080 with 1 and 2 threads (best of N), the
integer runner with every layer direct and with its exact Winograd path.

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
    direct = "avx2-direct" if it.kernel == "avx2" else it.kernel
    print(f"VRCNN, QP {args.qp}; float: libtorch {torch.__version__} fp32 on the CPU (tile 256); integer: "
          f"{direct} (every layer direct) and {it.kernel} (exact Winograd F(2x2,3x3) on "
          f"{', '.join(it.winograd_layers(args.qp)) or 'no layer'}), one stripe per thread")
    print(f"{'size':>10} {'threads':>7} {'fp32 fps':>9} {'direct fps':>11} {'wino fps':>9} {'direct/fp32':>12} "
          f"{'wino/fp32':>10} {'wino/direct':>12}")
    for w, h in ((416, 240), (1920, 1080)):
        y = rng.integers(16, 235, (h, w), dtype=np.uint8)
        for threads in (1, 2):
            torch.set_num_threads(threads)
            t_float = best_of(lambda: fl.filter_plane(args.qp, y), args.repeat)
            t_direct = best_of(lambda: it.filter_plane(args.qp, y, direct, threads), args.repeat)
            t_int = best_of(lambda: it.filter_plane(args.qp, y, it.kernel, threads), args.repeat)
            print(f"{f'{w}x{h}':>10} {threads:>7} {1 / t_float:9.2f} {1 / t_direct:11.2f} {1 / t_int:9.2f} "
                  f"{t_float / t_direct:11.2f}x {t_float / t_int:9.2f}x {t_direct / t_int:11.2f}x")
            if w == 1920:
                int_fps[threads] = (1 / t_direct, 1 / t_int)
    # The ceiling of direct int16 arithmetic: the AVX2 inner step alone (vpmaddwd + vpaddd),
    # measured now, on this CPU. Winograd needs fewer products per pixel, so it can pass it.
    kmac = complexity("vrcnn")[1]
    print(f"direct int16 multiply-accumulate ceiling here (the AVX2 inner step alone), VRCNN {kmac:.1f} kMAC/pixel:")
    for threads in (1, 2):
        gmacs = int16_mac_peak(threads, 2.0)
        if not gmacs:
            print("  no AVX2 on this CPU")
            break
        ceiling = gmacs * 1e9 / (kmac * 1e3 * 1920 * 1080)
        d, wn = int_fps[threads]
        print(f"  {threads} thread(s): {gmacs:6.1f} GMAC/s -> direct at most {ceiling:.2f} fps at 1920x1080; "
              f"direct reaches {d / ceiling:.0%} of it, Winograd {wn / ceiling:.0%}")


if __name__ == "__main__":
    main()
