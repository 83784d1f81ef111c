"""Sweep wall time with -j 1 vs -j 2 (and more) on this machine, measured in one run.

    python -m experiments.bench.sweep_scaling [--frames N] [--jobs 1 2]

The quick experiment (the README's main job) as it is, 9 frames per sequence, by default.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time

from experiments.sweep import plan, run
from experiments.spec import built_in_experiment


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=None, help="default: the quick experiment's (9)")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--test", default="smoothing")
    ap.add_argument("--x265-preset", default="medium")
    args = ap.parse_args(argv)
    quick = built_in_experiment("quick")
    exp = dataclasses.replace(quick, frames=args.frames or quick.frames, test=args.test, preset=args.x265_preset)
    n = len(plan(exp)[0])
    print(f"sweep: preset quick, {n} jobs, {exp.frames} frames, x265 {args.x265_preset}, test filter "
          f"{args.test}; {os.cpu_count()} cores")
    times = {}
    for j in args.jobs:
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            run(exp, d, jobs_parallel=j, progress=False)
            times[j] = time.perf_counter() - t
        print(f"-j {j}: {times[j]:7.1f} s wall   speed-up vs -j {args.jobs[0]}: "
              f"{times[args.jobs[0]] / times[j]:.2f}x")


if __name__ == "__main__":
    main()
