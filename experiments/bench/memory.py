"""Peak memory of one verified encode as the sequence grows: a job's memory must not
depend on the sequence's length (the codec's own buffers plus a constant number of
frames). Each run is a fresh process that codes a panned picture read frame by frame
from a raw file (hm_bridge.YuvFile), x265 RA, verified by libde265, and reports its
peak RSS (getrusage). Printed in one run: peak RSS per length and the ratio longest /
shortest, with the filter off and with the integer VRCNN in the loop.

    python -m experiments.bench.memory [--frames 32 256] [--sizes 1920x1080 2560x1600]
        [--filters none models/vrcnn-int] [--preset ultrafast] [--qp 37]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import json, resource, sys, time
import hm_bridge as hb
path, w, h, frames, spec, preset, qp = sys.argv[1:8]
f = None
if spec != "none":
    from cnn_filter.filters import resolve_filter
    f = resolve_filter(spec)
video = hb.YuvFile(path, int(w), int(h), frames=int(frames))
t0 = time.perf_counter()
r = hb.encode(video, config="ra", qp=int(qp), preset=preset, loop_filter=f, threads=1, frame_threads=1)
assert r.md5_match and r.decode.hash_ok
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "seconds":
                  time.perf_counter() - t0, "frames": r.frames, "kbps": r.kbps, "psnr_y": r.psnr.y}))
"""


def panned_source(path: Path, width: int, height: int, frames: int) -> None:
    """A picture panned across the frame (2 px right, 1 px down per frame), written as raw
    I420: a Kodak picture when the shared data is here, else a built-in clip's first frame,
    mirrored into a canvas larger than the frame."""
    from hm_bridge.color import load_image_rgb, rgb_to_video

    kodak = Path(os.environ.get("HMCNN_DATA", REPO.parent / "shared" / "data")) / "kodak" / "kodim23.png"
    if kodak.is_file():
        pic = rgb_to_video(load_image_rgb(kodak))
    else:
        from hm_bridge.clips import load_builtin

        pic = load_builtin("bikes", 1)
    reps = lambda n, d: -(-n // d) + 1
    canvas = [np.tile(np.concatenate([p[0], p[0][:, ::-1]], axis=1), (reps(height + frames, p.shape[1]),
                                                                        reps(width + 2 * frames, 2 * p.shape[2])))
              for p in (pic.y, pic.u, pic.v)]
    with open(path, "wb") as f:
        for i in range(frames):
            x, y = 2 * i, i
            f.write(canvas[0][y:y + height, x:x + width].tobytes())
            for c in canvas[1:]:
                f.write(c[y // 2:y // 2 + height // 2, x // 2:x // 2 + width // 2].tobytes())


def measure(path: Path, width: int, height: int, frames: int, spec: str, preset: str, qp: int) -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD, str(path), str(width), str(height), str(frames), spec, preset,
                        str(qp)], capture_output=True, text=True, cwd=REPO)
    if r.returncode != 0:
        raise RuntimeError(f"the measured encode failed: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, nargs="+", default=[32, 256])
    ap.add_argument("--sizes", nargs="+", default=["1920x1080", "2560x1600"])
    ap.add_argument("--filters", nargs="+", default=["none", str(REPO / "models" / "vrcnn-int")])
    ap.add_argument("--preset", default="ultrafast")
    ap.add_argument("--qp", type=int, default=37)
    ap.add_argument("--dir", default=None, help="where the raw sources go (default: a temporary folder)")
    args = ap.parse_args(argv)
    print(f"peak RSS of one verified x265 RA encode (preset {args.preset}, QP {args.qp}, one thread), "
          f"source read frame by frame; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'size':>10} {'filter':>16} " + " ".join(f"{n:>6} fr MB" for n in args.frames) + "   ratio   seconds")
    worst = 0.0
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        for size in args.sizes:
            width, height = (int(x) for x in size.split("x"))
            src = Path(d) / f"pan_{size}.yuv"
            panned_source(src, width, height, max(args.frames))
            for spec in args.filters:
                runs = [measure(src, width, height, n, spec, args.preset, args.qp) for n in args.frames]
                ratio = runs[-1]["peak_mb"] / runs[0]["peak_mb"]
                worst = max(worst, ratio)
                name = "off" if spec == "none" else Path(spec).name
                print(f"{size:>10} {name:>16} " + " ".join(f"{r['peak_mb']:12.0f}" for r in runs)
                      + f"   {ratio:5.2f}x  " + " / ".join(f"{r['seconds']:.0f}" for r in runs), flush=True)
            src.unlink()
    print(f"largest ratio {max(args.frames)} / {min(args.frames)} frames: {worst:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
