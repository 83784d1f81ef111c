"""The sweep runner: jobs (sequence x config x QP x {anchor, test}) in parallel on a
local process pool (default) or a Ray cluster, results into the durable store, a
progress bar with ETA, resumable, failures recorded without stopping the others.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from tqdm import tqdm

from experiments import catalogue
from experiments.spec import Experiment, dumps
from experiments.store import STORE_NAME, Store
from hm_bridge.paths import git_commit


@dataclass(frozen=True)
class Job:
    key: str
    sequence: str
    cls: str
    config: str
    qp: int
    arm: str  # anchor | test
    filter: str
    frames: int | None
    preset: str
    source: str  # where the frames are (sequence.source(), resolved on the coordinator)
    qp_cascade: str = "hm16.20"
    placement: str = "loop"  # of the filter (the anchor has none)
    codec: str = "x265"
    hm_dir: str | None = None
    hm_cfg: str | None = None  # HM's per-sequence cfg name
    keep_picture: bool = False  # send the middle picture's luma home (the report's crops)
    cpus: int = 1  # the job's threads (Ray: the CPUs it asks for)
    gpus: float = 0.0  # Ray: the GPU share it asks for (0.5: two jobs share one); its CNN runs there


PICTURES = "pictures"


class NoSequencesFound(ValueError):
    """None of an experiment's sequences is where the sweep looked: nothing to run."""

    def __init__(self, exp: Experiment, sequence_dir: Path | None, missing: list):
        where = f"under {sequence_dir} and its subfolders" if sequence_dir else "(no --sequence-dir given)"
        names = ", ".join(s.file or s.name for s in missing[:8]) + (" ..." if len(missing) > 8 else "")
        super().__init__(f"none of the {len(missing)} sequences of experiment {exp.name!r} was found {where}; "
                         f"expected files such as {names} (any case, with or without the frame-rate, '_crop' "
                         "and bit-depth suffixes), or map them in the experiment's sequence_files")


def crop_qp(qps: list[int]) -> int:
    """The QP whose pictures the report shows (the middle one)."""
    return sorted(qps)[len(qps) // 2]


def picture_file(pictures_dir, key: str) -> Path:
    return Path(pictures_dir) / f"{key}.npz"


def plan(exp: Experiment, pictures_dir: Path | None = None) -> tuple[list[Job], list[tuple[str, str]]]:
    """The jobs of an experiment, and (what, why) for everything skipped. Jobs at the
    crop QP keep their middle picture in ``pictures_dir`` (for the report)."""
    from hm_bridge.codec import CODECS, get_codec
    from hm_bridge.configs import UNSUPPORTED

    seq_dir = Path(exp.sequence_dir) if exp.sequence_dir else None
    skipped = []
    configs, codec_name = [], exp.codec
    # the built-in codec's jobs keep their keys; another backend's carry its version (a
    # missing HM build is an error here, before any job runs)
    codec_version = "x265" if codec_name == "x265" else get_codec(codec_name, exp.hm_dir).version()
    for c in exp.configs:
        if c not in CODECS[codec_name].configs:
            skipped.append((f"config {c}", UNSUPPORTED.get(c, f"{codec_name} does not code {c}")))
        else:
            configs.append(c)
    jobs = []
    fingerprints = {arm: exp.filter_fingerprint(spec) for arm, spec in (("anchor", exp.anchor), ("test", exp.test))}
    selected = catalogue.select(exp.classes, exp.sequences)
    missing = []
    for seq in selected:
        why = seq.problem(seq_dir, exp.sequence_files)
        if why:
            skipped.append((f"sequence {seq.name}", why))
            missing.append(seq)
            continue
        source = seq.source(seq_dir, exp.sequence_files)  # resolved here, on the coordinator
        for config in configs:
            if exp.ctc_rules and not catalogue.tested_in(seq.cls, config):
                skipped.append((f"sequence {seq.name} in {config}", f"class {seq.cls} is not tested in {config} "
                                                                    "by the JCT-VC CTC"))
                continue
            for qp in exp.qps:
                for arm, spec in (("anchor", exp.anchor), ("test", exp.test)):
                    placement = exp.placement if arm == "test" else "loop"
                    what = [seq.name, source, exp.frames, config, qp, exp.preset, fingerprints[arm],
                            exp.qp_cascade, placement] + ([codec_version] if codec_name != "x265" else [])
                    key = hashlib.sha256(json.dumps(what).encode()).hexdigest()[:20]
                    keep = pictures_dir is not None and qp == crop_qp(exp.qps)
                    jobs.append(Job(key, seq.name, seq.cls, config, qp, arm, spec, exp.frames, exp.preset,
                                    source, exp.qp_cascade, placement, codec_name, exp.hm_dir,
                                    seq.hm_sequence_cfg, keep))
    if selected and len(missing) == len(selected):
        raise NoSequencesFound(exp, seq_dir, missing)
    return jobs, skipped


# --- executed in the workers ------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _video(name: str, source: str, frames: int | None):
    seq = next(s for seqs in catalogue.load_catalogue().values() for s in seqs if s.name == name)
    return seq.load(source, frames)


@functools.lru_cache(maxsize=4)
def _filter(spec: str, device: str | None = None):
    from cnn_filter.filters import resolve_filter

    return resolve_filter(spec, device)


def _set_threads(n: int) -> None:
    """A job's threads: the CNN runner's (x265 codes one thread, the results never depend on it)."""
    os.environ["OMP_NUM_THREADS"] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


class _PictureMetrics:
    """What a job measures beyond hm_bridge's numbers as pictures pass: luma SSIM per
    frame, and the middle picture's luma for the report's crops (the only picture kept)."""

    def __init__(self, job: Job, frames: int):
        import numpy as np

        self.job, self.middle = job, frames // 2
        self.ssim = np.zeros(frames)
        self.kept: dict = {}

    def __call__(self, i: int, source, recon) -> None:
        from experiments.metrics import ssim_plane

        self.ssim[i] = ssim_plane(source[0], recon[0])
        if self.job.keep_picture and i == self.middle:
            self.kept = {"recon": recon[0].copy(), "index": i}
            if self.job.arm == "anchor":
                self.kept["orig"] = source[0].copy()



def write_picture(pictures_dir: Path, key: str, kept: dict) -> None:
    """The picture a job sent home, where the report looks for it (on the coordinator)."""
    import numpy as np

    Path(pictures_dir).mkdir(parents=True, exist_ok=True)
    arrays = {**kept, "index": np.array(kept["index"])}
    tmp = picture_file(pictures_dir, key).with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, picture_file(pictures_dir, key))


def run_job(job: Job) -> dict:
    """Codes one sequence at one QP with one filter; never raises (failures are rows)."""
    import hm_bridge as hb
    from experiments.metrics import cs_psnr

    row = {"key": job.key, "sequence": job.sequence, "class": job.cls, "config": job.config, "qp": job.qp,
           "arm": job.arm, "filter": job.filter}
    try:
        if job.gpus > 0 and not os.environ.get("CUDA_VISIBLE_DEVICES"):
            raise RuntimeError(f"the job asked for {job.gpus:g} GPU and was given none (CUDA_VISIBLE_DEVICES "
                               f"{os.environ.get('CUDA_VISIBLE_DEVICES')!r}): not run on the CPU instead")
        _set_threads(job.cpus)
        video = _video(job.sequence, job.source, job.frames)
        metrics = _PictureMetrics(job, len(video))
        # the experiment's encoder settings go to the backends that take them (x265's preset
        # and cascade; HM's cfgs say it all): encode() would refuse them elsewhere
        settings = dict(preset=job.preset, threads=1, frame_threads=1, qp_cascade=job.qp_cascade)
        honoured = hb.CODECS[job.codec].option_defaults
        r = hb.encode(video, config=job.config, qp=job.qp, loop_filter=_filter(job.filter, "cuda" if job.gpus else None),
                      placement=job.placement,
                      codec=job.codec, hm_dir=job.hm_dir, sequence=job.hm_cfg, on_picture=metrics,
                      **{k: v for k, v in settings.items() if k in honoured})
        # verify=True: a recon/decoder mismatch raises
        versions = {"encoder": r.encoder, "hm-cnn-loop": git_commit(short=True)}
        if job.gpus:
            versions["cuda_visible_devices"] = os.environ["CUDA_VISIBLE_DEVICES"]
        if job.keep_picture:
            row["picture"] = metrics.kept  # written by the coordinator, wherever the job ran
        if "torch" in sys.modules:
            versions["torch"] = sys.modules["torch"].__version__
        row.update(
            status="done", frames=len(video), fps=video.fps, rate_bytes=r.rate_bytes, kbps=r.kbps,
            psnr_y=r.psnr.y, psnr_u=r.psnr.u, psnr_v=r.psnr.v, psnr_yuv=r.psnr.yuv, mse_psnr_y=r.psnr.mse_y,
            ssim_y=float(metrics.ssim.mean()), cs_psnr=cs_psnr(r.psnr), enc_seconds=r.seconds,
            dec_seconds=r.decode.seconds, md5_match=int(bool(r.md5_match)), side_info_bytes=r.side_info_bytes,
            per_frame={"psnr": r.psnr.per_frame.round(4).tolist(), "bits": r.bits_per_frame.tolist(),
                       "types": r.frame_types, "qps": r.slice_qps},
            intra_period=r.intra_period,
            versions=versions)
    except Exception as e:  # recorded, reported, retried on the next run
        row.update(status="failed", error=f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")
    return row


# --- coordination --------------------------------------------------------------------------
def run(exp: Experiment, out: Path, jobs_parallel: int = 1, backend: str = "local", address: str | None = None,
        progress: bool = True, cpus_per_job: int | None = None, gpus_per_job: float = 0.0) -> dict:
    """Runs every job of ``exp`` not already done in ``out``/results.sqlite. Each job's
    threads: ``cpus_per_job`` (Ray asks for that many CPUs; default 1), or on the local
    pool the machine's CPUs shared by the ``jobs_parallel`` jobs. ``gpus_per_job`` (Ray
    only): the GPU share each job asks for; its CNN filter runs on the GPU Ray assigns."""
    out = Path(out)
    if gpus_per_job and backend != "ray":
        raise ValueError("--gpus-per-job asks Ray for GPUs: it needs --backend ray")
    if gpus_per_job < 0 or (cpus_per_job is not None and cpus_per_job < 1):
        raise ValueError("--cpus-per-job must be a positive integer and --gpus-per-job non-negative")
    store = Store(out / STORE_NAME)
    previous = store.meta("experiment")
    if previous is not None and previous != json.loads(dumps(exp)):
        store.close()
        raise ValueError(f"{out} holds results of another experiment; use a new --out folder")
    store.set_meta("experiment", json.loads(dumps(exp)))
    jobs, skipped = plan(exp, out / PICTURES)
    store.set_meta("skipped", skipped)
    # what the report covers: rows of earlier plans (e.g. another version of the filter's
    # files under the same path) stay in the store but are not this experiment's numbers
    store.set_meta("planned_keys", [j.key for j in jobs])
    done = store.done_keys()
    threads = cpus_per_job or (1 if backend == "ray" else max(1, (os.cpu_count() or 1) // max(1, jobs_parallel)))
    todo = [dataclasses.replace(j, cpus=threads, gpus=gpus_per_job) for j in jobs if j.key not in done]
    summary = {"jobs": len(jobs), "already_done": len(jobs) - len(todo), "ran": 0, "failed": 0,
               "elsewhere": 0, "skipped": skipped}
    for what, why in skipped:
        print(f"skipped {what}: {why}", file=sys.stderr)
    if not todo:
        store.close()
        return summary
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=f"ctc {exp.name}", unit="job",
               disable=not progress, smoothing=0.1)
    t0 = time.perf_counter()
    claims = _Claims(out / STORE_NAME)
    try:
        queue = todo
        while queue:
            elsewhere: list[Job] = []  # jobs another coordinator on this folder holds
            if backend == "ray":
                mine = []
                for j in queue:
                    (mine if claims.take(j) else elsewhere).append(j)
                results = _run_ray(mine, address, threads, gpus_per_job) if mine else iter(())
            else:
                results = _run_local(queue, jobs_parallel, claims.take, elsewhere)
            for row in results:
                if "picture" in row:  # sent home by the job, wherever it ran
                    write_picture(out / PICTURES, row["key"], row.pop("picture"))
                store.record(row)
                summary["ran"] += 1
                if row["status"] != "done":
                    summary["failed"] += 1
                    bar.write(f"FAILED {row['sequence']} {row['config']} QP {row['qp']} {row['arm']}: "
                              f"{row['error'].splitlines()[0]}")
                bar.update(1)
            queue = claims.wait_for(elsewhere, bar, summary)  # theirs finish, or a dead one's are taken over
    finally:
        claims.close()
        bar.close()
        store.set_meta("last_run_seconds", time.perf_counter() - t0)
        store.close()
    return summary


def _dead_here(owner: str) -> bool:
    """Whether a claim's owner (host:pid:...) is a coordinator of this host that has
    exited (its claims need not wait for the lease); another host's: unknown, False."""
    import socket

    host, pid = owner.split(":")[:2]
    if host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


class _Claims:
    """This coordinator's claims on jobs in the store, with a lease a thread renews while
    it lives: a second coordinator on the same folder codes the jobs nobody holds and
    waits for the others; the claims of a coordinator that died expire and are taken over."""

    LEASE = 60.0  # seconds; renewed every LEASE / 4

    def __init__(self, path: Path, lease: float | None = None):
        import socket
        import threading
        import uuid

        self.path, self.lease = path, lease or float(os.environ.get("HMCNN_CLAIM_LEASE", self.LEASE))
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.since = time.time()  # rows recorded from now on are this sweep's
        self.store = Store(path)
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew, daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        store = Store(self.path)  # a connection of this thread's own
        try:
            while not self._stop.wait(self.lease / 4):
                store.renew(self.owner, self.lease)
        finally:
            store.close()

    def take(self, job: Job) -> bool:
        return self.store.claim(job.key, self.owner, self.lease, self.since, _dead_here)

    def wait_for(self, theirs: list[Job], bar, summary: dict) -> list[Job]:
        """Waits until every job of ``theirs`` has a row; returns those whose claim expired
        meanwhile (now ours, to run)."""
        while theirs:
            finished = self.store.finished_since([j.key for j in theirs], self.since)
            if finished:
                summary["elsewhere"] += len(finished)
                bar.update(len(finished))
                theirs = [j for j in theirs if j.key not in finished]
            if any(self.take(j) for j in theirs):
                return theirs  # a coordinator died: run them (those still held go round again)
            if theirs:
                time.sleep(1.0)
        return []

    def close(self) -> None:
        self._stop.set()
        self._renewer.join()
        self.store.close()


def _crashed_row(job: Job) -> dict:
    return {"key": job.key, "sequence": job.sequence, "class": job.cls, "config": job.config, "qp": job.qp,
            "arm": job.arm, "filter": job.filter, "status": "failed",
            "error": "the worker process died running this job (a crash in the codec or a native filter)"}


def _run_in_pool(queue: list[Job], n: int, in_flight_at_crash: list[Job], take, elsewhere: list[Job]):
    """Runs the jobs popped from ``queue`` in one pool of ``n`` worker processes until
    the queue is empty or a worker dies; then the jobs still in flight (which one
    crashed is unknown) go to ``in_flight_at_crash``. A job is claimed (``take``) just
    before it is submitted; one that another coordinator holds goes to ``elsewhere``."""
    with ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn")) as pool:  # run_job sets its threads
        pending = {}

        def feed():  # keep the pool fed without queueing everything up front
            while queue and len(pending) < 2 * n:
                if not take(queue[-1]):
                    elsewhere.append(queue.pop())
                    continue
                pending[pool.submit(run_job, queue[-1])] = queue[-1]
                queue.pop()  # only once submitted: a broken pool loses no job

        try:
            feed()
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    row = f.result()
                    del pending[f]
                    yield row
                feed()
        except BrokenProcessPool:
            in_flight_at_crash.extend(pending.values())


def _run_local(todo: list[Job], n: int, take=lambda job: True, elsewhere: list[Job] | None = None):
    """Jobs in worker processes, so that a job that kills its process (a segfault in a
    native filter, say) becomes a failed row instead of ending the sweep: after a
    crash, each job that was in flight is rerun alone to find the one that crashes,
    and the sweep goes on in a fresh pool."""
    n = max(1, n)
    queue = list(reversed(todo))  # pop() takes the jobs in their planned order
    elsewhere = [] if elsewhere is None else elsewhere
    while queue:
        suspects: list[Job] = []
        yield from _run_in_pool(queue, n, suspects, take, elsewhere)
        for job in suspects:
            crashed: list[Job] = []
            yield from _run_in_pool([job], 1, crashed, take, elsewhere)
            if crashed:
                yield _crashed_row(job)


def _run_ray(todo: list[Job], address: str | None, cpus: int, gpus: float):
    try:
        import ray
    except ImportError as e:
        raise RuntimeError("--backend ray needs Ray: pip install 'ray[default]'") from e
    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    have = ray.cluster_resources()
    if gpus and have.get("GPU", 0) < gpus:  # Ray would wait for one forever
        raise ValueError(f"--gpus-per-job {gpus:g}, but the Ray cluster has {have.get('GPU', 0):g} GPU")
    if have.get("CPU", 0) < cpus:
        raise ValueError(f"--cpus-per-job {cpus}, but the Ray cluster has {have.get('CPU', 0):g} CPUs")
    # Ray sets CUDA_VISIBLE_DEVICES for a task that asks for GPUs, and isolates them
    remote = ray.remote(num_cpus=cpus, num_gpus=gpus)(run_job)
    pending = [remote.remote(j) for j in todo]
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for ref in ready:
            yield ray.get(ref)
