"""Segments: a sequence coded in pieces (each its own encode) and joined equals the whole
encode, byte for byte, where the backend allows cuts (x265 AI at any picture, RA at its
IDRs); the joined stream is decoded and checked; cuts elsewhere are refused."""
import numpy as np
import pytest

import hm_bridge as hb
from hm_bridge.clips import load_builtin
from hm_bridge.segments import join_streams, plan_segments


def _segments(video, config, n, **kw):
    starts, _ = hb.CODECS["x265"].segment_starts(config, len(video), video.fps, {})
    ranges = plan_segments(len(video), starts, n)
    parts = [hb.encode(video[a:b], config=config, verify=False, first_frame=a, **kw) for a, b in ranges]
    return ranges, parts


@pytest.mark.parametrize("config, frames, n, ranges", [
    ("ai", 10, 3, [(0, 3), (3, 7), (7, 10)]),
    ("ra", 70, 4, [(0, 32), (32, 64), (64, 70)]),  # carphone: 29.97 fps -> an IDR every 32 pictures
])
def test_joined_segments_are_the_whole_encode_byte_for_byte(config, frames, n, ranges):
    video = load_builtin("carphone", frames)
    kw = dict(qp=32, preset="ultrafast", loop_filter=hb.SmoothingFilter(rdo=False))  # side information in every picture
    whole = hb.encode(video, config=config, **kw)
    got, parts = _segments(video, config, n, **kw)
    assert got == ranges
    joined = hb.join_segments(parts, [a for a, _ in got], loop_filter=hb.SmoothingFilter(rdo=False),
                              size=(video.width, video.height))
    assert joined.bitstream == whole.bitstream
    assert joined.md5_match and joined.decode.hash_ok and joined.decode.md5s == whole.recon_md5s
    assert joined.rate_bytes == whole.rate_bytes and joined.side_info_bytes == whole.side_info_bytes > 0
    assert np.array_equal(joined.bits_per_frame, whole.bits_per_frame)
    assert joined.frame_types == whole.frame_types and joined.slice_qps == whole.slice_qps
    assert np.array_equal(joined.psnr.per_frame, whole.psnr.per_frame) and joined.psnr.y == whole.psnr.y
    assert sum(len(p.bitstream) for p in parts) > len(joined.bitstream)  # each segment repeated the parameter sets


def test_a_joined_stream_that_does_not_decode_to_the_reconstruction_is_an_error(carphone):
    """Segments coded with the filter, verified without it: the check catches it."""
    video = carphone[:4]
    _, parts = _segments(video, "ai", 2, qp=37, preset="ultrafast", loop_filter=hb.SmoothingFilter(rdo=False))
    with pytest.raises(hb.ReconMismatchError):
        hb.join_segments(parts, [0, 2], loop_filter=None)
    with pytest.raises(ValueError, match="not contiguous"):
        hb.join_segments(parts, [0, 3], loop_filter=None, verify=False)


def test_where_a_sequence_may_be_cut():
    x265 = hb.CODECS["x265"]
    assert x265.segment_starts("ai", 5, 30.0, {})[0] == [0, 1, 2, 3, 4]
    assert x265.segment_starts("ra", 100, 50.0, {})[0] == [0, 64]  # 50 fps: intra period 64
    starts, why = x265.segment_starts("ldp", 100, 30.0, {})
    assert starts == [0] and "one IDR" in why
    assert hb.CODECS["hm"].segment_starts("ai", 100, 30.0, {})[0] == [0]
    assert plan_segments(64, list(range(64)), 4) == [(0, 16), (16, 32), (32, 48), (48, 64)]
    assert plan_segments(100, list(range(100)), "auto") == [(0, 32), (32, 64), (64, 96), (96, 100)]
    assert plan_segments(100, [0, 32, 64, 96], "auto") == [(0, 32), (32, 64), (64, 96), (96, 100)]
    assert plan_segments(100, [0, 64], 8) == [(0, 64), (64, 100)]  # no more than the cut points
    assert plan_segments(100, [0], 4) == [(0, 100)]
    with pytest.raises(ValueError, match="positive integer"):
        plan_segments(10, [0], 0)


def test_a_stream_header_is_dropped_only_where_it_repeats_the_first():
    head_a, head_b = b"\x00\x00\x00\x01\x40\x01\x0c", b"\x00\x00\x00\x01\x40\x01\x0d"
    idr = b"\x00\x00\x01\x26\x01\xaf\x00"
    stream, dropped = join_streams([head_a + idr, head_a + idr, head_b + idr], [7, 7, 7])
    assert stream == head_a + idr + idr + head_b + idr and dropped == [0, 7, 0]


def _sweep_rows(db):
    import sqlite3

    with sqlite3.connect(db) as c:
        return {r[0]: r[1:] for r in c.execute(
            "SELECT key, status, frames, rate_bytes, psnr_y, psnr_u, psnr_v, ssim_y, md5_match, side_info_bytes, "
            "per_frame, stream_md5 FROM jobs")}


def _segment_exp():
    from experiments.spec import Experiment

    exp = Experiment(name="seg", sequences=["carphone"], configs=["ai", "ra", "ldp"], qps=[32, 37], frames=40,
                     preset="ultrafast", test="smoothing:always")
    exp.validate()
    return exp


def test_a_sweep_in_segments_has_the_rows_and_pictures_of_a_whole_sweep(tmp_path):
    from experiments.store import Store
    from experiments.sweep import plan, run

    exp = _segment_exp()
    jobs, skipped = plan(exp, segments=3)
    assert {j.config: j.segments for j in jobs} == {"ai": ((0, 13), (13, 27), (27, 40)), "ra": ((0, 32), (32, 40)),
                                                     "ldp": ()}
    assert ("segments of carphone in ldp", "LDP has one IDR, at the start: no later picture is a random-access "
                                            "point") in skipped
    split = run(exp, tmp_path / "split", jobs_parallel=2, segments=3, progress=False)
    whole = run(exp, tmp_path / "whole", jobs_parallel=2, progress=False)
    assert split["ran"] == whole["ran"] == 12 and split["failed"] == 0
    assert _sweep_rows(tmp_path / "split" / "results.sqlite") == _sweep_rows(tmp_path / "whole" / "results.sqlite")
    pictures = sorted(p.name for p in (tmp_path / "whole" / "pictures").glob("*.npz"))
    assert pictures and pictures == sorted(p.name for p in (tmp_path / "split" / "pictures").glob("*.npz"))
    for name in pictures:  # the middle picture, sent home by the segment that coded it
        a, b = np.load(tmp_path / "split" / "pictures" / name), np.load(tmp_path / "whole" / "pictures" / name)
        assert set(a.files) == set(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)
    store = Store(tmp_path / "split" / "results.sqlite")
    assert store.db.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == 0  # dropped once joined
    store.close()


def test_segments_coded_before_a_sweep_died_are_not_coded_again(tmp_path):
    """Two of a job's three segments are in the store (a coordinator died after them);
    the rerun codes the third and joins: the stored ones are used as they are."""
    import dataclasses
    import pickle

    from experiments.store import Store
    from experiments.sweep import plan, run, run_job

    exp = dataclasses.replace(_segment_exp(), configs=["ai"])
    out = tmp_path / "run"
    job = next(j for j in plan(exp, out / "pictures", segments=3)[0] if j.qp == 37 and j.arm == "test")
    store = Store(out / "results.sqlite")
    for span in job.segments[:2]:
        row = run_job(dataclasses.replace(job, segment=span))
        assert row["status"] == "segment"
        record = pickle.loads(row["record"])
        record["result"].seconds += 1000.0  # a mark: only a stored segment carries it
        store.record_segment(row["run_key"], job.key, span, pickle.dumps(record))
    store.close()
    summary = run(exp, out, segments=3, progress=False)
    assert summary["ran"] == 4 and summary["failed"] == 0
    rows = {r["key"]: r for r in Store(out / "results.sqlite").rows()}
    assert rows[job.key]["enc_seconds"] > 2000.0  # both stored segments were joined, not coded again
    assert all(r["enc_seconds"] < 1000.0 for k, r in rows.items() if k != job.key)
    assert rows[job.key]["md5_match"] == 1


def test_segments_on_the_command_line(tmp_path):
    import subprocess
    import sys

    from conftest import REPO

    bad = subprocess.run([sys.executable, "-m", "hmcnn", "ctc", "run", "quick", "--out", str(tmp_path), "--segments",
                          "0"], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and "--segments takes 'auto' or a positive integer, not '0'" in bad.stderr
