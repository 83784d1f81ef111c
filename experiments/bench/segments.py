"""One long job vs the same job in segments on parallel workers, measured in one run:
wall time of each (pool start-up, encodes, the join's verifying decode, all included)
and whether the joined stream is the whole encode's, byte for byte (stream MD5).

    python -m experiments.bench.segments [--sequence bigbuckbunny] [--frames 64] [--segments 4] [-j 2]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

from experiments.spec import Experiment
from experiments.store import STORE_NAME, Store
from experiments.sweep import execute, plan


def _one(job, jobs_parallel: int) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / STORE_NAME)
        t = time.perf_counter()
        summary = execute([job], Path(d), store, jobs_parallel, progress=False)
        seconds = time.perf_counter() - t
        row = store.rows(status=None)[0]
        store.close()
    if summary["failed"]:
        raise RuntimeError(f"the job failed: {row['error']}")
    return seconds, row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sequence", default="bigbuckbunny")
    ap.add_argument("--config", default="ai")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--segments", type=int, default=4)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--qp", type=int, default=32)
    ap.add_argument("--x265-preset", default="slow")
    ap.add_argument("--test", default="smoothing")
    args = ap.parse_args(argv)
    exp = Experiment(name="segments", sequences=[args.sequence], configs=[args.config], qps=[args.qp, args.qp + 5],
                     frames=args.frames, preset=args.x265_preset, test=args.test)
    exp.validate()
    jobs, _ = plan(exp, segments=args.segments)
    job = next(j for j in jobs if j.qp == args.qp and j.arm == "test")
    job = dataclasses.replace(job, cpus=max(1, (os.cpu_count() or 1) // args.jobs))
    print(f"{args.sequence} {args.config.upper()} QP {args.qp}, {job.length} frames, x265 {args.x265_preset}, filter "
          f"{args.test} in the loop; {os.cpu_count()} cores, -j {args.jobs}")
    whole_s, whole = _one(dataclasses.replace(job, segments=()), args.jobs)
    split_s, split = _one(job, args.jobs)
    same = whole["stream_md5"] == split["stream_md5"] and whole["per_frame"] == split["per_frame"]
    print(f"one job:             {whole_s:7.1f} s wall")
    print(f"{len(job.segments)} segments + join: {split_s:7.1f} s wall   speed-up {whole_s / split_s:.2f}x   "
          f"segments {[b - a for a, b in job.segments]}")
    print(f"joined stream == whole stream: {same} (MD5 {split['stream_md5']}), decoder MD5 match: "
          f"{bool(split['md5_match'])}")


if __name__ == "__main__":
    main()
