"""The CNN filter as a plain plug-in (the .so HM or any C codec dlopens) against the same
filter loaded from Python (`cnn_filter.load_filter`): frames per second of each on the same
pictures, as a post-filter on every sample, measured in one run. Both must give the same
pictures (checked); the ratio shows the plug-in costs nothing extra.

    python -m experiments.bench.plugin_throughput [--size 416x240] [--frames 8] [--repeat 3]
"""
from __future__ import annotations

import argparse

import numpy as np

import hm_bridge as hb
from experiments.bench import best_of


def main(argv=None) -> int:
    from cnn_filter import load_filter
    from hm_bridge.clips import load_builtin

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["models/vrcnn", "models/vrcnn-int"])
    ap.add_argument("--clip", default="bikes", help="a built-in clip (carphone, bikes, bigbuckbunny)")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="integer runner threads (both ways)")
    args = ap.parse_args(argv)
    video = load_builtin(args.clip, frames=args.frames)
    qps = [32] * len(video)
    print(f"{args.clip} {video.width}x{video.height}, {len(video)} pictures, post-filter on every sample, "
          f"best of {args.repeat}")
    print(f"{'models':>18} {'loaded as':>22} {'fps':>8} {'vs Python-loaded':>17}")
    for models in args.models:
        python_loaded = load_filter(models, device="cpu", threads=args.threads)
        library, _, options = python_loaded.__hmcnn_plugin__().partition(":")
        plugin = hb.load_native_filter(library, options)
        outputs, seconds = {}, {}
        for name, f in (("load_filter (Python)", python_loaded), ("plug-in (dlopen)", plugin)):
            seconds[name] = best_of(lambda: outputs.__setitem__(name, hb.post_filter(video, f, qps)), args.repeat)
        a, b = outputs.values()
        if not np.array_equal(a.to_i420(), b.to_i420()):
            raise SystemExit(f"{models}: the plug-in's pictures differ from the Python-loaded runner's")
        first = next(iter(seconds.values()))
        for name, s in seconds.items():
            print(f"{models:>18} {name:>22} {len(video) / s:8.2f} {first / s:16.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
