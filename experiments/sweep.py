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
from hm_bridge.segments import plan_segments


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
    length: int = 0  # pictures it codes
    pixels: int = 0  # per picture (length x pixels: the job's cost, for the time left)
    segments: tuple = ()  # ((first, end), ...): coded as these segments, then joined; () = whole
    segment: tuple | None = None  # a segment job: the (first, end) it codes of the sequence
    parts: tuple = dataclasses.field(default=(), repr=False)  # a join job: its segments' records
    sequence_dir: str | None = None  # the coordinator's --sequence-dir (a node may mount it elsewhere)
    model: tuple | None = None  # Ray: (digest, files) of the filter's model files, sent with the job
    bit_depth: int = 8  # the coding depth

    @property
    def run_key(self) -> str:
        """The key this run of the job is claimed under (a segment's own)."""
        return self.key if self.segment is None else f"{self.key}@{self.segment[0]}-{self.segment[1]}"

    def cost(self) -> int:
        a, b = self.segment or (0, self.length)
        return 0 if self.parts else (b - a) * self.pixels


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


def plan(exp: Experiment, pictures_dir: Path | None = None,
         segments: int | str | None = None) -> tuple[list[Job], list[tuple[str, str]]]:
    """The jobs of an experiment, and (what, why) for everything skipped. Jobs at the
    crop QP keep their middle picture in ``pictures_dir`` (for the report). ``segments``
    ("auto" or N): each job is coded as segments where its codec and config allow a cut
    (hm_bridge.segments; the joined stream is the whole encode's, so keys are unchanged)."""
    from hm_bridge.codec import CODECS, get_codec
    from cnn_filter.filters import NO_FILTER
    from hm_bridge._core import SIDE_INFO_LAYOUT, SIDE_INFO_NAL_TYPE
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
    # how a filter's side information travels and is laid out (either changes the rates)
    carriage = f"side-info NAL {SIDE_INFO_NAL_TYPE} layout {SIDE_INFO_LAYOUT}"
    selected = catalogue.select(exp.classes, exp.sequences)
    missing = []
    for seq in selected:
        why = seq.problem(seq_dir, exp.sequence_files)
        if why:
            skipped.append((f"sequence {seq.name}", why))
            missing.append(seq)
            continue
        source = seq.source(seq_dir, exp.sequence_files)  # resolved here, on the coordinator
        length = min(exp.frames or seq.frames, seq.frames)
        pixels = (seq.crop[0] * seq.crop[1]) if seq.crop else seq.width * seq.height
        for config in configs:
            if exp.ctc_rules and not catalogue.tested_in(seq.cls, config):
                skipped.append((f"sequence {seq.name} in {config}", f"class {seq.cls} is not tested in {config} "
                                                                    "by the JCT-VC CTC"))
                continue
            pieces = ()
            if segments not in (None, 1):
                starts, why = CODECS[codec_name].segment_starts(config, length, seq.fps, {"qp_cascade": exp.qp_cascade})
                pieces = tuple(plan_segments(length, starts, segments))
                if len(pieces) == 1:
                    skipped.append((f"segments of {seq.name} in {config}", why or "too few pictures to cut"))
                    pieces = ()
            for qp in exp.qps:
                for arm, spec in (("anchor", exp.anchor), ("test", exp.test)):
                    placement = exp.placement if arm == "test" else "loop"
                    what = [seq.name, source, exp.frames, config, qp, exp.preset, fingerprints[arm],
                            exp.qp_cascade, placement] + ([codec_version] if codec_name != "x265" else []) + \
                        ([f"{exp.bit_depth}-bit"] if exp.bit_depth != 8 else []) + \
                        ([carriage] if spec not in NO_FILTER and placement == "loop" else [])
                    key = hashlib.sha256(json.dumps(what).encode()).hexdigest()[:20]
                    keep = pictures_dir is not None and qp == crop_qp(exp.qps)
                    jobs.append(Job(key, seq.name, seq.cls, config, qp, arm, spec, exp.frames, exp.preset,
                                    source, exp.qp_cascade, placement, codec_name, exp.hm_dir,
                                    seq.hm_sequence_cfg, keep, length=length, pixels=pixels, segments=pieces,
                                    sequence_dir=str(Path(seq_dir).absolute()) if seq_dir else None,
                                    bit_depth=exp.bit_depth))
    if selected and len(missing) == len(selected):
        raise NoSequencesFound(exp, seq_dir, missing)
    return jobs, skipped


# --- executed in the workers ------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _video(name: str, source: str, frames: int | None, depth: int = 8):
    seq = next(s for seqs in catalogue.load_catalogue().values() for s in seqs if s.name == name)
    return seq.load(source, frames, depth)


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
    frame, and the middle picture's luma for the report's crops (the only picture kept).
    A segment's pictures are numbered from its ``first`` in the sequence."""

    def __init__(self, job: Job, frames: int, first: int = 0):
        import numpy as np

        self.job, self.first = job, first
        self.middle = (job.length or frames) // 2 - first  # the sequence's middle picture, in this encode
        self.ssim = np.zeros(frames)
        self.kept: dict = {}

    def __call__(self, i: int, source, recon) -> None:
        from experiments.metrics import ssim_plane

        self.ssim[i] = ssim_plane(source[0], recon[0], self.job.bit_depth)
        if self.job.keep_picture and i == self.middle:
            self.kept = {"recon": recon[0].copy(), "index": i + self.first}
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


def _where() -> str:
    """The machine a job runs on, for its errors: the host, and the Ray node when under Ray."""
    import socket

    where = socket.gethostname()
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ctx = ray.get_runtime_context()
        where += f" (Ray node {ctx.get_node_id()[:12]}, {ray.util.get_node_ip_address()})"
    return where


def _source(job: Job) -> str:
    """Where this node reads the sequence: the coordinator's path, or under this node's
    $HMCNN_SEQUENCE_DIR when it mounts the data folder elsewhere."""
    here = os.environ.get("HMCNN_SEQUENCE_DIR")
    if here and job.sequence_dir and Path(job.source).is_relative_to(job.sequence_dir):
        return str(Path(here) / Path(job.source).relative_to(job.sequence_dir))
    return job.source


def _filter_spec(job: Job) -> str:
    """The job's filter spec, its model files (sent with a Ray job) from this node's cache."""
    if job.model is None:
        return job.filter
    from cnn_filter.filters import split_model_spec
    from experiments.models_shipped import materialize

    options = split_model_spec(job.filter)[1]
    path = materialize(*job.model)
    return f"{path}:{options}" if options else str(path)


def _encode(job: Job, video, metrics, verify: bool = True, first_frame: int | None = None):
    import hm_bridge as hb

    # the experiment's encoder settings go to the backends that take them (x265's preset
    # and cascade; HM's cfgs say it all): encode() would refuse them elsewhere
    settings = dict(preset=job.preset, threads=1, frame_threads=1, qp_cascade=job.qp_cascade)
    honoured = hb.CODECS[job.codec].option_defaults
    return hb.encode(video, config=job.config, qp=job.qp, loop_filter=_job_filter(job), placement=job.placement,
                     codec=job.codec, hm_dir=job.hm_dir, sequence=job.hm_cfg, on_picture=metrics, verify=verify,
                     first_frame=first_frame, **{k: v for k, v in settings.items() if k in honoured})


def _job_filter(job: Job):
    return _filter(_filter_spec(job), "cuda" if job.gpus else None)


def _versions(job: Job, r) -> dict:
    versions = {"encoder": r.encoder, "hm-cnn-loop": git_commit(short=True)}
    if job.gpus:
        versions["cuda_visible_devices"] = os.environ["CUDA_VISIBLE_DEVICES"]
    if "torch" in sys.modules:
        versions["torch"] = sys.modules["torch"].__version__
    return versions


def _done_row(row: dict, job: Job, r, ssim) -> dict:
    from experiments.metrics import cs_psnr

    row.update(
        status="done", frames=r.frames, fps=r.fps, rate_bytes=r.rate_bytes, kbps=r.kbps,
        psnr_y=r.psnr.y, psnr_u=r.psnr.u, psnr_v=r.psnr.v, psnr_yuv=r.psnr.yuv, mse_psnr_y=r.psnr.mse_y,
        ssim_y=float(ssim.mean()), cs_psnr=cs_psnr(r.psnr), enc_seconds=r.seconds,
        dec_seconds=r.decode.seconds, md5_match=int(bool(r.md5_match)), side_info_bytes=r.side_info_bytes,
        per_frame={"psnr": r.psnr.per_frame.round(4).tolist(), "bits": r.bits_per_frame.tolist(),
                   "types": r.frame_types, "qps": r.slice_qps},
        intra_period=r.intra_period, stream_md5=hashlib.md5(r.bitstream).hexdigest(), bit_depth=job.bit_depth,
        versions=_versions(job, r))
    return row


def run_job(job: Job) -> dict:
    """Codes one sequence at one QP with one filter (or one segment of it, or joins its
    segments); never raises (failures are rows)."""
    row = {"key": job.key, "sequence": job.sequence, "class": job.cls, "config": job.config, "qp": job.qp,
           "arm": job.arm, "filter": job.filter}
    try:
        if job.gpus > 0 and not os.environ.get("CUDA_VISIBLE_DEVICES"):
            raise RuntimeError(f"the job asked for {job.gpus:g} GPU and was given none (CUDA_VISIBLE_DEVICES "
                               f"{os.environ.get('CUDA_VISIBLE_DEVICES')!r}): not run on the CPU instead")
        _set_threads(job.cpus)
        if job.parts:
            return _join(job, row)
        video = _video(job.sequence, _source(job), job.frames, job.bit_depth)
        if job.segment is not None:
            return _code_segment(job, video, row)
        metrics = _PictureMetrics(job, len(video))
        r = _encode(job, video, metrics)  # verify=True: a recon/decoder mismatch raises
        if job.keep_picture:
            row["picture"] = metrics.kept  # written by the coordinator, wherever the job ran
        _done_row(row, job, r, metrics.ssim)
    except Exception as e:  # recorded, reported, retried on the next run
        what = f"segment {job.segment[0]}..{job.segment[1] - 1}: " if job.segment else ""
        row.update(status="failed", error=f"{what}{type(e).__name__}: {e} [on {_where()}]\n"
                                          f"{traceback.format_exc(limit=3)}")
    return row


def _code_segment(job: Job, video, row: dict) -> dict:
    """A segment's encode, sent home whole (its stream and numbers; verified once joined)."""
    import pickle

    a, b = job.segment
    if b > len(video):
        raise ValueError(f"the sequence has {len(video)} pictures, the segment ends at {b}")
    metrics = _PictureMetrics(job, b - a, first=a)
    r = _encode(job, video[a:b], metrics, verify=False, first_frame=a)
    r.kept_recon = None
    record = {"result": r, "ssim": metrics.ssim, "size": (video.width, video.height)}
    row.update(status="segment", run_key=job.run_key, segment=job.segment, record=pickle.dumps(record))
    if metrics.kept:
        row["picture"] = metrics.kept
    return row


def _join(job: Job, row: dict) -> dict:
    """The segments' encodes joined, the joined stream decoded and checked, one row."""
    import pickle

    import numpy as np

    import hm_bridge as hb

    records = [pickle.loads(p) for p in job.parts]
    firsts = [a for a, _ in job.segments]
    r = hb.join_segments([rec["result"] for rec in records], firsts, loop_filter=_job_filter(job), codec=job.codec,
                         hm_dir=job.hm_dir, size=records[0]["size"])  # ReconMismatchError unless it decodes right
    if r.frames != job.length:
        raise RuntimeError(f"the segments hold {r.frames} pictures, the sequence {job.length}")
    return _done_row(row, job, r, np.concatenate([rec["ssim"] for rec in records]))


# --- coordination --------------------------------------------------------------------------
def run(exp: Experiment, out: Path, jobs_parallel: int = 1, backend: str = "local", address: str | None = None,
        progress: bool = True, cpus_per_job: int | None = None, gpus_per_job: float = 0.0,
        segments: int | str | None = None) -> dict:
    """Runs every job of ``exp`` not already done in ``out``/results.sqlite. Each job's
    threads: ``cpus_per_job`` (Ray asks for that many CPUs; default 1), or on the local
    pool the machine's CPUs shared by the ``jobs_parallel`` jobs. ``gpus_per_job`` (Ray
    only): the GPU share each job asks for; its CNN filter runs on the GPU Ray assigns.
    ``segments`` ("auto" or N): long sequences coded as segments in parallel, joined."""
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
    jobs, skipped = plan(exp, out / PICTURES, segments)
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
    try:
        if todo:
            summary.update(execute(todo, out, store, jobs_parallel, backend, address, progress,
                                   total=len(jobs), label=f"ctc {exp.name}"))
    finally:
        store.close()
    return summary


class _Progress:
    """The bar: jobs done of all, and the time left estimated from the jobs' costs
    (pictures x pixels) against the cost coded per second so far in this run."""

    def __init__(self, todo: list[Job], total: int, label: str, enabled: bool):
        self.bar = tqdm(total=total, initial=total - len(todo), desc=label, unit="job", disable=not enabled,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} jobs [{elapsed}{postfix}]")
        self.left = sum(j.cost() for j in todo)
        self.done = 0
        self.t0 = time.perf_counter()

    def coded(self, job: Job, finished: bool) -> None:
        """``job`` (or a segment of one) is off the list; ``finished``: a whole job's row."""
        self.done += job.cost()
        self.left -= job.cost()
        if finished:
            self.bar.update(1)
        rate = self.done / max(time.perf_counter() - self.t0, 1e-9)
        if rate > 0:
            left = max(self.left, 0) / rate
            self.bar.set_postfix_str(f"about {_duration(left)} left", refresh=True)

    def others(self, n: int) -> None:
        self.bar.update(n)

    def write(self, text: str) -> None:
        self.bar.write(text)

    def close(self) -> None:
        self.bar.close()


def _duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def execute(todo: list[Job], out: Path, store: Store, jobs_parallel: int = 1, backend: str = "local",
            address: str | None = None, progress: bool = True, total: int | None = None,
            label: str = "jobs") -> dict:
    """Runs ``todo`` (planned jobs, none done) into ``store``: each whole job, or its
    segments then their join; claimed, so another coordinator on ``out`` runs others."""
    summary = {"ran": 0, "failed": 0, "elsewhere": 0}
    bar = _Progress(todo, total or len(todo), label, progress)
    claims = _Claims(store.path)
    t0 = time.perf_counter()
    whole = {j.key: j for j in todo}
    failed_parents: set[str] = set()

    def expand(job: Job) -> list[Job]:
        """A job to run: itself, its segments not yet coded, or (all coded) their join."""
        if not job.segments:
            return [job]
        stored = store.segments(job.key)
        missing = [dataclasses.replace(job, segment=r) for r in job.segments if tuple(r) not in stored]
        if missing:
            return missing
        return [dataclasses.replace(job, parts=tuple(stored[tuple(r)] for r in job.segments))]

    try:
        while True:
            finished = store.finished_since(list(whole), claims.since)
            pending = [x for j in todo if j.key not in finished for x in expand(j)]
            if not pending:
                break
            queue = list(reversed(pending))  # pop() takes them in order; joins are appended (next)
            elsewhere: list[Job] = []  # jobs another coordinator on this folder holds
            if backend == "ray":
                results = _run_ray(queue, address, claims.take, elsewhere)
            else:
                results = _run_local(queue, jobs_parallel, claims.take, elsewhere)
            for job, row in results:
                if "picture" in row:  # sent home by the job, wherever it ran
                    write_picture(out / PICTURES, row["key"], row.pop("picture"))
                if row["status"] == "segment":
                    store.record_segment(row["run_key"], row["key"], tuple(row["segment"]), row["record"])
                    bar.coded(job, False)
                    if row["key"] not in failed_parents:
                        queue.extend(j for j in expand(whole[row["key"]]) if j.parts)  # the last one: join
                    continue
                if job.segment is not None:  # a failed segment: the job fails (once)
                    store.release(job.run_key)
                    if job.key in failed_parents:
                        continue
                    failed_parents.add(job.key)
                store.record(row)
                if row["status"] == "done":
                    store.drop_segments(row["key"])
                summary["ran"] += 1
                bar.coded(job, True)
                if row["status"] != "done":
                    summary["failed"] += 1
                    bar.write(f"FAILED {row['sequence']} {row['config']} QP {row['qp']} {row['arm']}: "
                              f"{row['error'].splitlines()[0]}")
            # theirs finish (then a join may be left to us) or a dead coordinator's claims expire
            summary["elsewhere"] += claims.wait_for(elsewhere, bar)
    finally:
        claims.close()
        bar.close()
        store.set_meta("last_run_seconds", time.perf_counter() - t0)
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
        return self.store.claim(job.run_key, self.owner, self.lease, self.since, _dead_here)

    def wait_for(self, theirs: list[Job], bar) -> int:
        """Waits until every job of ``theirs`` (held by other coordinators) has finished or
        could be taken (its holder died); returns how many whole jobs they finished."""
        counted = 0
        while theirs:
            finished = self.store.finished_since([j.run_key for j in theirs], self.since)
            wholes = [j for j in theirs if j.run_key in finished and j.segment is None]
            bar.others(len(wholes))
            counted += len(wholes)
            theirs = [j for j in theirs if j.run_key not in finished]
            if any(self.store.claimable(j.run_key, self.owner, self.since, _dead_here) for j in theirs):
                return counted  # a coordinator died: its jobs go round again, for us to take
            if theirs:
                time.sleep(1.0)
        return counted

    def close(self) -> None:
        self._stop.set()
        self._renewer.join()
        self.store.close()


def _crashed_row(job: Job, why: str = "the worker process died running this job (a crash in the codec or a "
                                       "native filter)") -> dict:
    what = f"segment {job.segment[0]}..{job.segment[1] - 1}: " if job.segment else ""
    return {"key": job.key, "sequence": job.sequence, "class": job.cls, "config": job.config, "qp": job.qp,
            "arm": job.arm, "filter": job.filter, "status": "failed", "error": what + why}


def _run_in_pool(queue: list[Job], n: int, in_flight_at_crash: list[Job], take, elsewhere: list[Job]):
    """Runs the jobs popped from ``queue`` (which may grow meanwhile) in one pool of ``n``
    worker processes until the queue is empty or a worker dies; then the jobs still in
    flight (which one crashed is unknown) go to ``in_flight_at_crash``. A job is claimed
    (``take``) just before it is submitted; one another coordinator holds goes to
    ``elsewhere``. Yields (job, row)."""
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
                    yield pending.pop(f), row
                feed()  # (after the rows: a join they made possible is in the queue now)
        except BrokenProcessPool:
            in_flight_at_crash.extend(pending.values())


def _run_local(queue: list[Job], n: int, take=lambda job: True, elsewhere: list[Job] | None = None):
    """Jobs in worker processes, so that a job that kills its process (a segfault in a
    native filter, say) becomes a failed row instead of ending the sweep: after a
    crash, each job that was in flight is rerun alone to find the one that crashes,
    and the sweep goes on in a fresh pool. ``queue``: popped from the end; the caller
    may append to it while rows come."""
    n = max(1, n)
    elsewhere = [] if elsewhere is None else elsewhere
    while queue:
        suspects: list[Job] = []
        yield from _run_in_pool(queue, n, suspects, take, elsewhere)
        for job in suspects:
            crashed: list[Job] = []
            alone = [job]
            yield from _run_in_pool(alone, 1, crashed, take, elsewhere)
            if crashed:
                yield job, _crashed_row(job)


def _ship_models(jobs: list[Job], ray) -> dict[str, tuple]:
    """Each model path the jobs' filters name, packed once (resolved here, on the
    coordinator) and put in Ray's object store: spec -> (digest, reference, is_file)."""
    from experiments.models_shipped import pack

    shipped = {}
    for spec in {j.filter for j in jobs}:
        packed = pack(spec)
        if packed is not None:
            digest, files, is_file = packed
            shipped[spec] = (digest, ray.put(files), is_file)
    return shipped


def _run_ray(queue: list[Job], address: str | None, take, elsewhere: list[Job]):
    """The jobs as Ray tasks, each asking for its CPUs and GPU share; a task that fails
    for good (its worker or node died more often than Ray retries) is a failed row."""
    try:
        import ray
    except ImportError as e:
        raise RuntimeError("--backend ray needs Ray: pip install 'ray[default]'") from e
    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    if not queue:
        return
    cpus, gpus = queue[-1].cpus, queue[-1].gpus
    have = ray.cluster_resources()
    if gpus and have.get("GPU", 0) < gpus:  # Ray would wait for one forever
        raise ValueError(f"--gpus-per-job {gpus:g}, but the Ray cluster has {have.get('GPU', 0):g} GPU")
    if have.get("CPU", 0) < cpus:
        raise ValueError(f"--cpus-per-job {cpus}, but the Ray cluster has {have.get('CPU', 0):g} CPUs")
    # Ray sets CUDA_VISIBLE_DEVICES for a task that asks for GPUs, and isolates them
    remote = ray.remote(num_cpus=cpus, num_gpus=gpus)(run_job)
    shipped = _ship_models(queue, ray)
    pending = {}

    def feed():
        while queue:
            job = queue.pop()
            if not take(job):
                elsewhere.append(job)
                continue
            if job.filter in shipped:
                job = dataclasses.replace(job, model=shipped[job.filter])
            pending[remote.remote(job)] = job  # Ray queues what the cluster cannot run yet

    feed()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            job = pending.pop(ref)
            try:
                row = ray.get(ref)
            except Exception as e:  # the task's worker or node died (after Ray's retries)
                row = _crashed_row(job, f"the Ray task died: {type(e).__name__}: {str(e).splitlines()[0]}")
            yield dataclasses.replace(job, model=None), row
        feed()
