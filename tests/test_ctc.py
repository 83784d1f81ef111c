"""CTC sweeps: end to end, resume after SIGKILL, failures recorded."""
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from experiments.sweep import plan, run
from experiments.report import report
from experiments.spec import Experiment
from conftest import REPO, compile_shared_library

TINY = dict(name="tiny", sequences=["carphone", "RTn23"], configs=["ai", "ldp", "ldb"], qps=[22, 27, 32, 37],
            frames=3, preset="ultrafast", test="smoothing:always")


def _exp(**kw):
    e = Experiment(**{**TINY, **kw})
    e.validate()
    return e


def _rows(db):
    with sqlite3.connect(db) as c:
        return {r[0]: r[1:] for r in c.execute(
            "SELECT key, status, rate_bytes, psnr_y, psnr_u, psnr_v, md5_match FROM jobs")}


def test_tiny_sweep_end_to_end(tmp_path):
    exp = _exp(classes=["D"])  # class D files are absent: reported, not fatal
    summary = run(exp, tmp_path, jobs_parallel=2, progress=False)
    jobs, skipped = plan(exp)
    assert summary["ran"] == len(jobs) == 2 * 2 * 4 * 2 and summary["failed"] == 0
    assert any(w == "config ldb" for w, _ in skipped)
    assert sum(1 for w, _ in skipped if w.startswith("sequence")) == 4  # the four class D sequences
    table = report(tmp_path)
    with open(tmp_path / "bdrate.csv") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    kinds = [(r["kind"], r["sequence"], r["config"]) for r in rows]
    assert ("sequence", "carphone", "ldp") in kinds and ("sequence", "RTn23", "ai") in kinds
    assert any(k == "class" for k, _, _ in kinds) and not any(k == "overall" for k, _, _ in kinds)  # no CTC class
    seq = [r for r in rows if r["kind"] == "sequence"]
    assert all(r["bd_rate_y"] and r["enc_t"] and r["dec_t"] for r in seq)
    md = (tmp_path / "bdrate.md").read_text()
    assert "not HM" in md and "| carphone |" in md
    html = (tmp_path / "report.html").read_text()
    # RD curves and gain-vs-rate plots for the 4 (sequence, config) pairs, the per-picture plot for the 2 LDP ones
    assert html.count("<svg") == 4 + 4 + 2 and "Skipped config ldb" in html
    assert "QP cascade" in md and "hm16.20" in md and "builtin: not a CTC class" in md
    jvet = (tmp_path / "bdrate_jvet.csv").read_text()
    assert "config,row,Y,U,V,EncT,DecT" in jvet and "Class builtin" in jvet and "Overall" not in jvet
    assert len(table) == len(rows)
    # everything is recorded once, every job matched encoder recon and decoder output
    assert all(v[0] == "done" and v[5] == 1 for v in _rows(tmp_path / "results.sqlite").values())


def test_rerun_skips_finished_jobs(tmp_path):
    exp = _exp(sequences=["RTn23"], configs=["ai"])
    first = run(exp, tmp_path, progress=False)
    again = run(exp, tmp_path, progress=False)
    assert first["ran"] == 8 and again["ran"] == 0 and again["already_done"] == 8


def test_report_ignores_results_outside_the_last_runs_plan(tmp_path):
    """Same path, new filter files: the store keeps the old rows, the report must not mix them in."""
    run(_exp(sequences=["RTn23"], configs=["ai"]), tmp_path, progress=False)
    first = [(r.sequence, r.config, r.bd) for r in report(tmp_path)]
    with sqlite3.connect(tmp_path / "results.sqlite") as c:  # a test row of an earlier filter version
        c.execute("INSERT INTO jobs (key, sequence, class, config, qp, arm, filter, status, kbps, psnr_y, psnr_u, "
                  "psnr_v, psnr_yuv, enc_seconds, dec_seconds, md5_match) SELECT 'stale-' || key, sequence, "
                  "class, config, qp, arm, filter, status, kbps * 3, psnr_y - 5, psnr_u, psnr_v, psnr_yuv, "
                  "enc_seconds, dec_seconds, md5_match FROM jobs WHERE arm = 'test'")
    assert [(r.sequence, r.config, r.bd) for r in report(tmp_path)] == first
    assert "4 stored results of earlier runs" in (tmp_path / "report.html").read_text()


def test_another_experiment_in_the_same_folder_is_refused(tmp_path):
    run(_exp(sequences=["RTn23"], configs=["ai"]), tmp_path, progress=False)
    with pytest.raises(ValueError, match="another experiment"):
        run(_exp(sequences=["RTn23"], configs=["ldp"]), tmp_path, progress=False)


def test_failures_are_recorded_and_do_not_stop_the_others(tmp_path):
    broken = tmp_path / "broken.pt"  # exists, so the spec passes; loading it fails in each job
    broken.write_bytes(b"not a TorchScript archive")
    exp = _exp(sequences=["RTn23"], configs=["ai"], test=str(broken))
    summary = run(exp, tmp_path / "out", progress=False)
    assert summary["failed"] == 4 and summary["ran"] == 8
    rows = _rows(tmp_path / "out" / "results.sqlite")
    assert sorted(v[0] for v in rows.values()) == ["done"] * 4 + ["failed"] * 4
    table = report(tmp_path / "out")
    assert any("missing: test QP 22" in r.note for r in table)
    assert "cannot load TorchScript model" in (tmp_path / "out" / "report.html").read_text()


@pytest.mark.parametrize("test, message", [
    ("no-such-filter", "unknown filter 'no-such-filter'"),
    ("models/vrcnn:min_gain=0.01;tiles=4", "unknown model option 'tiles=4'"),
    ("/nowhere/libfilter.so", "no filter library at /nowhere/libfilter.so"),
])
def test_a_filter_that_cannot_exist_is_refused_before_any_job_runs(tmp_path, test, message):
    cmd = _cli(tmp_path / "out")
    cmd[cmd.index("smoothing:always")] = test
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert r.returncode != 0 and message in r.stderr, r.stderr
    assert not (tmp_path / "out" / "results.sqlite").exists()  # nothing coded, nothing stored


def test_a_manifest_naming_a_missing_model_file_is_refused_up_front(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "manifest.json").write_text('{"arch": "vrcnn", "kind": "loop", "receptive_radius": 6, "models": {"22": "qp22.pt"}}')
    with pytest.raises(FileNotFoundError, match="qp22.pt"):
        _exp(test=str(tmp_path / "m"))


CRASHING_FILTER = r"""
#include <signal.h>
#include "inloop_filter.h"
/* A broken plug-in: the encoder-side call kills its process, as a segfault would. */
static int enc(void* s, const hmcnn_picture* p, uint8_t* si, size_t cap, size_t* n)
{ (void)s; (void)p; (void)si; (void)cap; (void)n; raise(SIGSEGV); return 0; }
static int dec(void* s, const hmcnn_picture* p, const uint8_t* si, size_t n)
{ (void)s; (void)p; (void)si; (void)n; return 0; }
static const hmcnn_filter table = {HMCNN_FILTER_ABI_VERSION, 0, enc, dec, 0};
const hmcnn_filter* hmcnn_filter_open(const char* options) { (void)options; return &table; }
"""


@pytest.mark.parametrize("parallel", [1, 2])
def test_a_job_that_crashes_its_worker_is_a_failed_row_not_the_end_of_the_sweep(tmp_path, parallel):
    src = tmp_path / "crash.c"
    src.write_text(CRASHING_FILTER)
    lib = compile_shared_library(src, tmp_path / "libcrash.so")
    exp = _exp(sequences=["RTn23"], configs=["ai"], test=str(lib))
    summary = run(exp, tmp_path / "out", jobs_parallel=parallel, progress=False)
    assert summary["ran"] == 8 and summary["failed"] == 4
    rows = _rows(tmp_path / "out" / "results.sqlite")
    with sqlite3.connect(tmp_path / "out" / "results.sqlite") as c:
        arms = dict(c.execute("SELECT arm, group_concat(DISTINCT status) FROM jobs GROUP BY arm"))
        errors = {e for (e,) in c.execute("SELECT error FROM jobs WHERE status = 'failed'")}
    assert arms == {"anchor": "done", "test": "failed"}  # the anchors in flight with a crash were rerun
    assert errors == {"the worker process died running this job (a crash in the codec or a native filter)"}
    assert len(rows) == 8


def _cli(out, *extra):
    return [sys.executable, "-m", "hmcnn", "ctc", "run", "quick", "--out", str(out),
            "--frames", "3", "--configs", "ai", "ldp", "--x265-preset", "ultrafast", "--test", "smoothing:always",
            *extra]


def test_sigkill_mid_sweep_then_resume_loses_nothing(tmp_path):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = subprocess.Popen(_cli(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    db = killed / "results.sqlite"
    deadline = time.time() + 300
    done = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as c:
                    done = c.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
            except sqlite3.Error:
                continue
            if done >= 5:
                break
    assert proc.poll() is None, "the sweep finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _rows(db)
    assert 5 <= len(partial)

    resumed = subprocess.run(_cli(killed), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{len(partial)} already done" in resumed.stdout
    uninterrupted = subprocess.run(_cli(clean), capture_output=True, text=True)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]

    a, b = _rows(db), _rows(clean / "results.sqlite")
    assert set(a) == set(b) and len(a) == len(plan(_quick_exp())[0])
    with sqlite3.connect(db) as c:  # each job exactly once
        assert c.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM jobs").fetchone() == (len(a), len(a))
    assert a == b  # same rates, PSNRs, MD5 verdicts as a run never interrupted


def _quick_exp():
    from experiments.spec import built_in_experiment
    import dataclasses

    return dataclasses.replace(built_in_experiment("quick"), frames=3, configs=["ai", "ldp"], preset="ultrafast",
                               test="smoothing:always")


def test_ray_backend_runs_the_same_jobs(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is optional (pip install 'ray[default]')")
    exp = _exp(sequences=["RTn23"], configs=["ai"])
    try:
        summary = run(exp, tmp_path / "ray", backend="ray", progress=False)
    finally:
        ray.shutdown()
    local = run(exp, tmp_path / "local", progress=False)
    assert summary["ran"] == local["ran"] == 8 and summary["failed"] == 0
    assert _rows(tmp_path / "ray" / "results.sqlite") == _rows(tmp_path / "local" / "results.sqlite")


def test_compare_measures_one_sweeps_arm_against_anothers(tmp_path):
    from experiments.compare import compare

    loop, post, longer = tmp_path / "loop", tmp_path / "post", tmp_path / "longer"
    base = dict(sequences=["carphone"], configs=["ai", "ldp"])
    run(_exp(**base), loop, jobs_parallel=2, progress=False)
    run(_exp(**base, placement="post"), post, jobs_parallel=2, progress=False)
    # a sweep's anchor as reference, its test as compared: exactly its own report
    own = {(r.sequence, r.config): r.bd for r in report(loop) if r.kind == "sequence"}
    table, header = compare(f"{loop}:anchor", f"{loop}:test")
    assert {(r.sequence, r.config): r.bd for r in table if r.kind == "sequence"} == own
    # the same anchor in two sweeps: identical streams, zero BD-rate
    same, _ = compare(f"{loop}:anchor", f"{post}:anchor")
    assert all(r.bd["y"] == pytest.approx(0, abs=1e-9) for r in same if r.kind == "sequence")
    # in the loop against the post-filter: a table, and a header saying which is which
    side, header = compare(str(post), str(loop))
    assert {r.config for r in side} == {"ai", "ldp"} and all(r.bd["y"] is not None for r in side)
    what = dict(header)
    assert "placement post" in what["reference"] and "placement loop" in what["compared"]
    run(_exp(sequences=["carphone"], configs=["ai"], frames=4), longer, progress=False)
    with pytest.raises(ValueError, match="not comparable"):
        compare(str(loop), str(longer))
    with pytest.raises(ValueError, match="arm"):
        compare(f"{loop}:nope", str(post))


def test_a_changed_model_file_option_or_block_policy_changes_the_job_keys(tmp_path):
    import shutil

    from hm_bridge._core import BLOCK_POLICY

    models = tmp_path / "m"
    shutil.copytree(REPO / "models" / "vrcnn", models)
    exp = _exp()
    before = exp.filter_fingerprint(str(models))
    assert before.endswith("+" + BLOCK_POLICY) and exp.filter_fingerprint("smoothing").endswith("+" + BLOCK_POLICY)
    assert exp.filter_fingerprint(f"{models}:min_gain=0.05") != before
    (models / "qp37.pt").write_bytes((models / "qp37.pt").read_bytes() + b"\0")
    assert exp.filter_fingerprint(str(models)) != before
    (models / "notes.txt").write_text("not a model file")  # other files do not matter
    changed = exp.filter_fingerprint(str(models))
    (models / "notes.txt").write_text("edited")
    assert exp.filter_fingerprint(str(models)) == changed


def test_ctc_run_names_its_experiment_first_and_the_old_preset_spelling_still_works(tmp_path):
    none = subprocess.run([sys.executable, "-m", "hmcnn", "ctc", "run", "--out", str(tmp_path / "a")],
                          capture_output=True, text=True, cwd=REPO)
    assert none.returncode == 2 and "quick, builtin" in none.stderr
    unknown = subprocess.run([sys.executable, "-m", "hmcnn", "ctc", "run", "nosuch.yaml", "--out", str(tmp_path / "b")],
                             capture_output=True, text=True, cwd=REPO)
    assert unknown.returncode != 0 and "nosuch.yaml" in unknown.stderr
    old = subprocess.run([sys.executable, "-m", "hmcnn", "ctc", "run", "--preset", "quick", "--out", str(tmp_path / "c"),
                          "--frames", "1", "--configs", "ai", "--qps", "37", "32", "27", "22", "--x265-preset",
                          "ultrafast", "--test", "smoothing"], capture_output=True, text=True, cwd=REPO)
    assert old.returncode == 0, old.stderr
    assert "spelled `hmcnn ctc run quick` now" in old.stderr


def test_a_sweep_that_finds_none_of_its_sequences_stops_with_the_reason(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = subprocess.run([sys.executable, "-m", "hmcnn", "ctc", "run", "ctc", "--sequence-dir", str(empty), "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2, r.stderr
    assert "none of the 24 sequences" in r.stderr and str(empty) in r.stderr and "Traffic_2560x1600_30_crop.yuv" in r.stderr


def test_sequences_are_found_by_their_usual_names_in_class_folders_or_mapped(tmp_path):
    """Case, frame-rate and '_crop' variants in per-class subfolders are found; a file of
    another name is mapped in the experiment; what is still missing is skipped by name."""
    import dataclasses

    from experiments.spec import Experiment

    frame = np.zeros(416 * 240 * 3 // 2, np.uint8)
    d = tmp_path / "jctvc"
    for rel in ("ClassD/basketballpass_416x240_50.yuv", "D/BQSquare_416x240.yuv", "mine/horses.yuv"):
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        np.concatenate([frame, frame]).tofile(d / rel)
    exp = Experiment(name="d", classes=["D"], configs=["ai"], qps=[32, 37], frames=2, test="smoothing",
                     sequence_dir=str(d), sequence_files={"RaceHorses": str(d / "mine" / "horses.yuv")})
    jobs, skipped = plan(exp)
    sources = {j.sequence: j.source for j in jobs}
    assert sources == {"BasketballPass": str(d / "ClassD" / "basketballpass_416x240_50.yuv"),
                       "BQSquare": str(d / "D" / "BQSquare_416x240.yuv"),
                       "RaceHorses": str(d / "mine" / "horses.yuv")}
    assert [w for w, _ in skipped] == ["sequence BlowingBubbles"]
    assert "BlowingBubbles_416x240_50.yuv" in skipped[0][1]
    assert "sequence_files" not in dataclasses.replace(exp, sequence_files={}).to_dict()  # stored as before


def test_two_coordinators_on_one_folder_code_each_job_once(tmp_path):
    """Two `hmcnn ctc run` at once on one output folder: the jobs are claimed in the store,
    so the two runs' counts add up to the plan and every job has one row."""
    import re

    out = tmp_path / "shared"
    cmd = _cli(out, "-j", "1")
    procs = [subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    counts = [re.search(r"(\d+) jobs: (\d+) already done, (\d+) run, (\d+) failed, (\d+) run by another", o).groups()
              for o, _ in outs]
    assert counts[0][0] == counts[1][0]
    total = int(counts[0][0])
    ran = [int(c[2]) for c in counts]
    assert sum(ran) == total, counts  # each job coded once, by one of them
    assert all(int(c[1]) + int(c[2]) + int(c[4]) == total for c in counts)  # each saw every job finished
    with sqlite3.connect(out / "results.sqlite") as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM jobs WHERE status = 'done'").fetchone() == (total,
                                                                                                                  total)
        assert db.execute("SELECT COUNT(*) FROM claims").fetchone() == (0,)


def test_the_claims_of_a_coordinator_that_died_are_taken_over(tmp_path):
    """A coordinator killed mid-sweep on another host (its claims cannot be checked for a
    live process) holds its jobs only until its lease runs out; the next run takes them."""
    from experiments.store import Store

    out = tmp_path / "o"
    first = subprocess.run(_cli(out, "--qps", "37", "32"), capture_output=True, text=True, cwd=REPO)
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(out / "results.sqlite") as db:  # as if two jobs were never finished by a dead node
        keys = [k for (k,) in db.execute("SELECT key FROM jobs LIMIT 2")]
        db.execute(f"DELETE FROM jobs WHERE key IN ({', '.join('?' * len(keys))})", keys)
    store = Store(out / "results.sqlite")
    for k in keys:
        assert store.claim(k, "another-host:1:x", 3.0, 0.0)
    store.close()
    t0 = time.time()
    env = dict(os.environ, HMCNN_CLAIM_LEASE="3")
    again = subprocess.run(_cli(out, "--qps", "37", "32"), capture_output=True, text=True, cwd=REPO, env=env)
    assert again.returncode == 0, again.stderr
    assert "2 run, 0 failed" in again.stdout and time.time() - t0 >= 2.0  # waited for the lease, then ran them


def test_ctc_status_says_what_is_done_running_failed_and_waiting(tmp_path):
    from experiments.store import Store

    out = tmp_path / "o"
    assert subprocess.run(_cli(out, "--qps", "37", "32"), capture_output=True, cwd=REPO).returncode == 0
    store = Store(out / "results.sqlite")
    keys = store.meta("planned_keys")
    with store.db:
        store.db.execute("DELETE FROM jobs WHERE key IN (?, ?)", keys[:2])
        store.db.execute("UPDATE jobs SET status = 'failed', error = 'RuntimeError: boom\nmore' WHERE key = ?",
                         (keys[2],))
    assert store.claim(keys[0], "node7:42:x", 60.0, 0.0)
    store.close()
    r = subprocess.run([sys.executable, "-m", "hmcnn", "ctc", "status", str(out)], capture_output=True, text=True,
                       cwd=REPO)
    assert r.returncode == 1  # a failed job
    assert f"{len(keys)} jobs planned: {len(keys) - 3} done, 1 running, 1 failed, 1 not started" in r.stdout
    assert "by node7:42:x" in r.stdout and "RuntimeError: boom" in r.stdout and "more" not in r.stdout


def test_ray_jobs_get_their_gpu_share_and_send_their_pictures_home(tmp_path, monkeypatch):
    """A simulated cluster (head without CPUs, two worker nodes with one logical GPU each):
    with --gpus-per-job 0.5 every job sees the GPU Ray assigned it and two jobs share one;
    the report's pictures are written by the coordinator (the workers run elsewhere); the
    rows equal a local run's; asking for more GPUs than the cluster has is a clear error."""
    ray = pytest.importorskip("ray", reason="Ray is optional (pip install 'ray[default]')")
    from ray.cluster_utils import Cluster

    exp = _exp(sequences=["RTn23", "carphone"], configs=["ai"], frames=1)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(2):
        cluster.add_node(num_cpus=1, num_gpus=1)
    monkeypatch.chdir(tmp_path)  # the coordinator's folder; relative paths are resolved here
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        summary = run(exp, Path("ray"), backend="ray", progress=False, gpus_per_job=0.5)
        with pytest.raises(ValueError, match="the Ray cluster has 2 GPU"):
            run(exp, Path("ray3"), backend="ray", progress=False, gpus_per_job=3)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert summary["ran"] == 16 and summary["failed"] == 0
    with sqlite3.connect(tmp_path / "ray" / "results.sqlite") as db:
        seen = [json.loads(v)["cuda_visible_devices"] for (v,) in db.execute("SELECT versions FROM jobs")]
    assert len(seen) == 16 and set(seen) <= {"0", "1"}  # each job was given one of the GPUs
    assert len(list((tmp_path / "ray" / "pictures").glob("*.npz"))) == 4  # the crop QP's jobs, on the coordinator
    local = run(exp, tmp_path / "local", progress=False)
    assert local["ran"] == 16 and _rows(tmp_path / "ray" / "results.sqlite") == _rows(tmp_path / "local" / "results.sqlite")
    with pytest.raises(ValueError, match="needs --backend ray"):
        run(exp, tmp_path / "x", gpus_per_job=0.5, progress=False)


def _ray_cluster(*nodes):
    """A simulated cluster: a head without CPUs, worker nodes as given (add_node kwargs)."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    return cluster, [cluster.add_node(**kw) for kw in nodes]


def test_ray_a_node_lost_mid_sweep_loses_nothing_and_models_travel_content_addressed(tmp_path, monkeypatch):
    """Two worker nodes; the filter is a model directory given relative to the
    coordinator's folder (sent with the jobs, cached by digest on the nodes); a node is
    removed once the first rows are in: every job still ends done, rows equal a local run."""
    import shutil
    import threading

    ray = pytest.importorskip("ray", reason="Ray is optional (pip install 'ray[default]')")
    from experiments.models_shipped import pack

    shutil.copytree(REPO / "models" / "vrcnn", tmp_path / "my_vrcnn")
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "node-cache"
    exp = _exp(sequences=["RTn23"], configs=["ai", "ldp"], frames=3, qps=[27, 32, 37], test="my_vrcnn")
    cluster, (_, doomed) = _ray_cluster({"num_cpus": 1, "env_vars": {"HMCNN_MODEL_CACHE": str(cache)}},
                                        {"num_cpus": 1, "env_vars": {"HMCNN_MODEL_CACHE": str(cache)}})
    db = tmp_path / "ray" / "results.sqlite"

    def remove_a_node_once_rows_come():
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                with sqlite3.connect(db, timeout=1) as c:
                    if c.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] >= 2:
                        break
            except sqlite3.Error:
                pass
            time.sleep(0.2)
        cluster.remove_node(doomed)

    killer = threading.Thread(target=remove_a_node_once_rows_come)
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        killer.start()
        summary = run(exp, Path("ray"), backend="ray", progress=False)
        killer.join()
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert summary["failed"] == 0 and summary["ran"] == 12, summary
    assert len(cluster.list_all_nodes()) <= 2  # the node was removed (head + one left, before shutdown)
    digest = pack("my_vrcnn")[0]
    assert (cache / digest / "manifest.json").exists() and len(list(cache.iterdir())) == 1  # one copy per digest
    local = run(exp, tmp_path / "local", progress=False)
    assert local["ran"] == 12 and _rows(db) == _rows(tmp_path / "local" / "results.sqlite")


def test_ray_a_node_without_the_data_folder_gives_failed_rows_naming_it(tmp_path):
    """One node mounts the sequences elsewhere ($HMCNN_SEQUENCE_DIR) and lacks them: its
    jobs fail with the path and the node; without that node the rerun completes them."""
    ray = pytest.importorskip("ray", reason="Ray is optional (pip install 'ray[default]')")
    d = tmp_path / "jctvc"
    d.mkdir()
    np.random.default_rng(0).integers(0, 255, 416 * 240 * 3 // 2 * 2, dtype=np.uint8).tofile(
        d / "BasketballPass_416x240_50.yuv")
    exp = _exp(sequences=["BasketballPass"], configs=["ai"], frames=2, qps=[32, 37, 42], sequence_dir=str(d))
    cluster, (good, dry) = _ray_cluster({"num_cpus": 1},
                                        {"num_cpus": 1, "env_vars": {"HMCNN_SEQUENCE_DIR": "/nonexistent/jctvc"}})
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        first = run(exp, tmp_path / "ray", backend="ray", progress=False)
        with sqlite3.connect(tmp_path / "ray" / "results.sqlite") as c:
            errors = [e for (e,) in c.execute("SELECT error FROM jobs WHERE status = 'failed'")]
        cluster.remove_node(dry)
        second = run(exp, tmp_path / "ray", backend="ray", progress=False)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert first["ran"] == 6 and 1 <= first["failed"] == len(errors) < 6  # both nodes got jobs
    for e in errors:
        assert "no such YUV file: /nonexistent/jctvc/BasketballPass_416x240_50.yuv" in e
        assert f"Ray node {dry.node_id[:12]}" in e
    assert second["ran"] == first["failed"] and second["failed"] == 0


def test_ray_segments_are_joined_into_the_rows_of_whole_jobs(tmp_path):
    """--segments on a simulated cluster: segment tasks and join tasks spread over two
    nodes; the rows are a whole local sweep's, stream MD5 included."""
    ray = pytest.importorskip("ray", reason="Ray is optional (pip install 'ray[default]')")
    exp = _exp(sequences=["carphone"], configs=["ai", "ldp"], frames=6, qps=[32, 37])
    cluster, _ = _ray_cluster({"num_cpus": 1}, {"num_cpus": 1})
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        summary = run(exp, tmp_path / "ray", backend="ray", progress=False, segments=3)
    finally:
        ray.shutdown()
        cluster.shutdown()
    local = run(exp, tmp_path / "local", progress=False)
    assert summary["ran"] == local["ran"] == 8 and summary["failed"] == 0
    with sqlite3.connect(tmp_path / "ray" / "results.sqlite") as c:
        ray_rows = {k: v for k, *v in c.execute("SELECT key, stream_md5, per_frame, ssim_y FROM jobs")}
    with sqlite3.connect(tmp_path / "local" / "results.sqlite") as c:
        local_rows = {k: v for k, *v in c.execute("SELECT key, stream_md5, per_frame, ssim_y FROM jobs")}
    assert ray_rows == local_rows and _rows(tmp_path / "ray" / "results.sqlite") == \
        _rows(tmp_path / "local" / "results.sqlite")


def test_ray_a_job_that_crashes_its_worker_is_a_failed_row(tmp_path):
    """Under Ray too: a plug-in that kills its process fails its jobs (after Ray's own
    retries) and no other."""
    ray = pytest.importorskip("ray", reason="Ray is optional (pip install 'ray[default]')")
    src = tmp_path / "crash.c"
    src.write_text(CRASHING_FILTER)
    lib = compile_shared_library(src, tmp_path / "libcrash.so")
    exp = _exp(sequences=["RTn23"], configs=["ai"], test=str(lib), qps=[32, 37])
    cluster, _ = _ray_cluster({"num_cpus": 2})
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        summary = run(exp, tmp_path / "out", backend="ray", progress=False)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert summary["ran"] == 4 and summary["failed"] == 2
    with sqlite3.connect(tmp_path / "out" / "results.sqlite") as c:
        arms = dict(c.execute("SELECT arm, group_concat(DISTINCT status) FROM jobs GROUP BY arm"))
        errors = [e for (e,) in c.execute("SELECT error FROM jobs WHERE status = 'failed'")]
    assert arms == {"anchor": "done", "test": "failed"}
    assert all(e.startswith("the Ray task died: ") for e in errors), errors


def test_job_keys_name_the_side_information_carriage(monkeypatch):
    """A filter's rates depend on how its side information travels: the test arm's keys
    change with the carriage (a store of another carriage is not reused), the filter-off
    anchor's do not."""
    import hm_bridge._core as core

    def keys():
        return {(j.arm, j.sequence, j.config, j.qp): j.key for j in plan(_exp(configs=["ai"]))[0]}

    before = keys()
    monkeypatch.setattr(core, "SIDE_INFO_NAL_TYPE", 57)
    after = keys()
    assert before.keys() == after.keys()
    assert all((before[k] == after[k]) == (k[0] == "anchor") for k in before)
