"""CTC tables a reviewer accepts: Overall by the template's class sets, flagged curves,
BD-PSNR / akima, the JVET layout, self-describing headers."""
import csv

import numpy as np
import pytest

from experiments import bdrate
from experiments.report import JVET_COLUMNS, compute, describe, markdown, write_jvet_csv

QPS = [22, 27, 32, 37]
ANCHOR = [(1000.0, 40.0), (500.0, 37.0), (250.0, 34.0), (125.0, 31.0)]  # (kbps, PSNR) per QP


def _rows(cls, seq, config, factor, bend=False, drop_qp=None):
    """Anchor and test rows of a sequence whose test needs ``factor`` x the anchor's rate
    at every PSNR (BD-rate = (factor - 1) * 100 exactly)."""
    rows = []
    for arm, f in (("anchor", 1.0), ("test", factor)):
        for qp, (rate, psnr) in zip(QPS, ANCHOR):
            if arm == "test" and qp == drop_qp:
                continue
            if bend and arm == "test" and qp == 27:
                psnr = 41.0  # QP 27 better than QP 22: not monotone
            rows.append({"class": cls, "sequence": seq, "config": config, "arm": arm, "qp": qp, "kbps": rate * f,
                         **{f"psnr_{c}": psnr for c in ("y", "u", "v", "yuv")}, "enc_seconds": 1.0 * f,
                         "dec_seconds": 1.0, "frames": 9, "versions": {"x265": "3.5"}})
    return rows


FACTORS = {"A": 0.99, "B": 0.98, "C": 0.97, "D": 0.96, "E": 0.95, "F": 0.90, "builtin": 0.80}


def _synthetic(config):
    rows = []
    for cls, f in FACTORS.items():
        rows += _rows(cls, f"{cls}1", config, f)
    return rows


def _row(table, kind, cls=None, config=None):
    return next(r for r in table if r.kind == kind and (cls is None or r.cls == cls) and
                (config is None or r.config == config))


@pytest.mark.parametrize("config, members", [("ai", "ABCDE"), ("ra", "ABCD"), ("ldp", "BCDE"), ("ldb", "BCDE")])
def test_overall_is_the_mean_of_the_templates_classes_only(config, members):
    table = compute(_synthetic(config), QPS)
    overall = _row(table, "overall", config=config)
    expected = np.mean([(FACTORS[c] - 1) * 100 for c in members])
    assert overall.bd["y"] == pytest.approx(expected, abs=1e-6)
    assert overall.sequence.endswith(members)
    # class F and the non-CTC classes have their own rows, never in Overall
    assert _row(table, "class", "F").bd["y"] == pytest.approx(-10, abs=1e-6)
    assert _row(table, "class", "builtin").bd["y"] == pytest.approx(-20, abs=1e-6)


def test_no_overall_row_without_ctc_classes():
    table = compute(_rows("builtin", "clip", "ra", 0.9) + _rows("kodak", "kodim01", "ra", 0.8), QPS)
    assert not [r for r in table if r.kind == "overall"]


def test_a_sequence_missing_a_qp_is_named_in_its_class_and_overall_rows():
    rows = _rows("B", "Kimono", "ra", 0.98) + _rows("B", "Cactus", "ra", 0.96, drop_qp=32)
    table = compute(rows, QPS)
    assert "missing: test QP 32" in _row(table, "sequence").note or any(
        "missing: test QP 32" in r.note for r in table if r.kind == "sequence")
    for kind in ("class", "overall"):
        r = _row(table, kind)
        assert "without Cactus (missing QPs)" in r.note and r.bd["y"] == pytest.approx(-2, abs=1e-6)


def test_a_non_monotone_curve_is_flagged_and_kept_out_of_the_class_mean():
    rows = _rows("C", "good", "ai", 0.97) + _rows("C", "bent", "ai", 0.90, bend=True)
    table = compute(rows, QPS)
    bent = next(r for r in table if r.sequence == "bent")
    assert "non-monotone RD curve (test)" in bent.note and set(bent.excluded) == {"y", "u", "v", "yuv"}
    cls = _row(table, "class", "C")
    assert cls.bd["y"] == pytest.approx(-3, abs=1e-6)  # the mean of the monotone sequence alone
    assert "Y without bent (non-monotone)" in cls.note and "U without bent" in cls.note


def test_low_overlap_is_flagged_for_every_component():
    rows = _rows("D", "s", "ai", 0.97)
    for r in rows:
        if r["arm"] == "test":
            r["psnr_u"] += 2.5  # the U curves overlap little
    seq = _row(compute(rows, QPS), "sequence")
    assert "U: low PSNR overlap" in seq.note and "Y: low" not in seq.note


def _bd_by_integration(xa, ya, xt, yt, kind: str) -> float:
    """Mean of (test - anchor) over the x overlap, each curve interpolated piecewise by
    scipy (monotone cubic or Akima) and integrated exactly: the BD definition, written
    here without the bjontegaard package that bdrate calls."""
    from scipy.interpolate import Akima1DInterpolator, PchipInterpolator

    interp = PchipInterpolator if kind == "pchip" else Akima1DInterpolator
    ia, it = np.argsort(xa), np.argsort(xt)
    fa, ft = interp(np.asarray(xa)[ia], np.asarray(ya)[ia]), interp(np.asarray(xt)[it], np.asarray(yt)[it])
    lo, hi = max(min(xa), min(xt)), min(max(xa), max(xt))
    return float((ft.integrate(lo, hi) - fa.integrate(lo, hi)) / (hi - lo))


def test_bd_psnr_and_bd_rate_equal_an_independent_integration():
    ra, da = [1000, 520, 260, 128], [40.1, 37.2, 34.0, 30.8]
    rt, dt = [950, 500, 255, 120], [40.3, 37.3, 34.2, 30.9]
    lra, lrt = np.log10(ra), np.log10(rt)
    for method in ("pchip", "akima"):
        assert bdrate.bd_psnr(ra, da, rt, dt, method) == pytest.approx(
            _bd_by_integration(lra, da, lrt, dt, method), abs=1e-9)
        assert bdrate.bd_rate(ra, da, rt, dt, method) == pytest.approx(
            (10 ** _bd_by_integration(da, lra, dt, lrt, method) - 1) * 100, abs=1e-9)
    assert bdrate.bd_psnr(ra, da, rt, dt, "pchip") > 0.1 > 0 > bdrate.bd_rate(ra, da, rt, dt, "pchip")
    assert bdrate.bd_psnr(ra, da, rt, dt, "cubic") == pytest.approx(bdrate.bd_psnr(ra, da, rt, dt, "pchip"), abs=0.02)


def test_bootstrap_interval_brackets_the_class_mean():
    rows = sum((_rows("B", f"s{i}", "ai", f) for i, f in enumerate((0.97, 0.98, 0.95, 0.99, 0.96))), [])
    cls = _row(compute(rows, QPS), "class", "B")
    low, high = cls.ci["y"]
    assert low < cls.bd["y"] < high and low >= -5 - 1e-9 and high <= -1 + 1e-9


def test_jvet_layout_csv(tmp_path):
    table = compute(_synthetic("ra"), QPS)
    write_jvet_csv(table, tmp_path / "j.csv", [("anchor", "x265")])
    lines = [l for l in (tmp_path / "j.csv").read_text().splitlines() if not l.startswith("#")]
    rows = list(csv.reader(lines))
    assert tuple(rows[0]) == JVET_COLUMNS == ("config", "row", "Y", "U", "V", "EncT", "DecT")
    names = [r[1] for r in rows[1:]]
    assert names == ["Class A", "Class B", "Class C", "Class D", "Class E", "Overall", "Class F", "Class builtin"]
    overall = rows[1 + names.index("Overall")]
    assert overall[2] == "-2.50%"


def test_tables_say_what_was_coded():
    rows = _synthetic("ra")
    meta = {"experiment": {"anchor": "none", "test": "models/vrcnn", "preset": "slow", "frames": 9, "qps": QPS,
                           "qp_cascade": "hm16.20", "placement": "loop"}}
    header = dict(describe(meta, rows, "pchip"))
    assert header["QP cascade"].startswith("hm16.20") and "not HM" in header["anchor"]
    assert "preset slow" in header["encoder"] and header["frames coded"].startswith("9")
    assert "A: partial CTC class: 1 of 4 sequences, 9 frames" in header["classes"]
    assert "builtin: not a CTC class" in header["classes"]
    md = markdown(compute(rows, QPS), "pchip", describe(meta, rows, "pchip"))
    assert "**QP cascade**: hm16.20" in md and "BD-PSNR Y" in md
