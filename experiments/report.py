"""BD-rate tables and the HTML report of a sweep (hmcnn ctc report DIR).

Writes DIR/bdrate.csv (one row per sequence and config, plus class and Overall rows),
DIR/bdrate_jvet.csv (the JCT-VC/JVET summary sheet's layout, for pasting), DIR/bdrate.md
and DIR/report.html (self-contained: tables, RD curves, delta-PSNR plots). Every table
states what was coded: frames, encoder and preset, QP cascade, intra period, anchor,
test, placement, and whether each class is a complete CTC class.

Averages as the sheet takes them: a class row is the mean of its sequences' BD-rates;
Overall is the mean over the sequences of the classes the config's template averages
(AI: A-E, RA: A-D, LD: B-E; class F on its own row, never in Overall; builtin, kodak and
user classes never in it); EncT/DecT are geometric means of test/anchor time over every
(sequence, QP) pair of the rows averaged. A component whose RD curve is not monotone
(PSNR not rising with rate) is flagged and kept out of the means, with the reason; low
PSNR overlap is flagged for Y, U and V. Class and Overall rows carry a bootstrap 95 %
interval of the mean over their sequences (resampled sequences; not part of the sheet).
"""
from __future__ import annotations

import csv
import html
import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from experiments import catalogue
from experiments.bdrate import METHODS, MIN_OVERLAP, bd_psnr, bd_rate, monotone, overlap
from experiments.store import STORE_NAME, Store

COMPONENTS = ("y", "u", "v", "yuv")
#: components whose curves are checked (YUV follows from them)
CHECKED = ("y", "u", "v")
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 2024


@dataclass
class Row:
    kind: str  # sequence | class | overall
    cls: str
    sequence: str
    config: str
    bd: dict = field(default_factory=dict)  # component -> BD-rate % or None
    bd_psnr: dict = field(default_factory=dict)  # component -> BD-PSNR dB or None
    enc_t: float | None = None
    dec_t: float | None = None
    overlap: dict = field(default_factory=dict)  # component -> PSNR overlap (sequence rows)
    excluded: dict = field(default_factory=dict)  # component -> why it stays out of the means
    ci: dict = field(default_factory=dict)  # component -> (low, high), class / overall rows
    notes: list = field(default_factory=list)
    time_ratios: list = field(default_factory=list)  # (enc, dec) test/anchor per QP

    @property
    def note(self) -> str:
        return "; ".join(self.notes)


def _geomean(values) -> float | None:
    values = [v for v in values if v and v > 0]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def points(rows: list[dict]) -> dict:
    """(class, sequence, config) -> arm -> {qp: row}."""
    out = defaultdict(lambda: {"anchor": {}, "test": {}})
    for r in rows:
        out[(r["class"], r["sequence"], r["config"])][r["arm"]][r["qp"]] = r
    return out


def _sequence_row(cls, seq, config, arms, qps, method) -> Row:
    row = Row("sequence", cls, seq, config)
    missing = [f"{arm} QP {q}" for arm in ("anchor", "test") for q in qps if q not in arms[arm]]
    if missing:
        row.notes.append("missing: " + ", ".join(missing))
        return row
    a, t = [arms["anchor"][q] for q in qps], [arms["test"][q] for q in qps]
    rate_a, rate_t = [p["kbps"] for p in a], [p["kbps"] for p in t]
    for c in COMPONENTS:
        da, dt = [p[f"psnr_{c}"] for p in a], [p[f"psnr_{c}"] for p in t]
        if c in CHECKED:
            bent = [arm for arm, r, d in (("anchor", rate_a, da), ("test", rate_t, dt)) if not monotone(r, d)]
            if bent:
                row.excluded[c] = f"{c.upper()}: non-monotone RD curve ({' and '.join(bent)})"
                row.notes.append(row.excluded[c] + ", kept out of the means")
            row.overlap[c] = overlap(da, dt)
            if row.overlap[c] < MIN_OVERLAP:
                row.notes.append(f"{c.upper()}: low PSNR overlap ({row.overlap[c]:.0%})")
        for target, fn in ((row.bd, bd_rate), (row.bd_psnr, bd_psnr)):
            try:
                target[c] = fn(rate_a, da, rate_t, dt, method)
            except ValueError as e:
                target[c] = None
                if fn is bd_rate:
                    row.notes.append(f"{c.upper()}: {e}")
    if any(k in row.excluded for k in CHECKED):
        row.excluded.setdefault("yuv", "YUV: a component's curve is not monotone")
    row.time_ratios = [(tt["enc_seconds"] / aa["enc_seconds"], tt["dec_seconds"] / aa["dec_seconds"])
                       for aa, tt in zip(a, t) if aa["enc_seconds"] and aa["dec_seconds"]]
    row.enc_t = _geomean(r[0] for r in row.time_ratios)
    row.dec_t = _geomean(r[1] for r in row.time_ratios)
    return row


def _bootstrap(values: list[float]) -> tuple[float, float] | None:
    if len(values) < 2:
        return None
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    v = np.asarray(values)
    means = v[rng.integers(0, len(v), (BOOTSTRAP_SAMPLES, len(v)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def _aggregate(kind: str, cls: str, config: str, members: list[Row]) -> Row:
    complete = [m for m in members if m.bd]
    agg = Row(kind, cls, f"{len(complete)} sequences", config)
    for c in COMPONENTS:
        for target, source in ((agg.bd, "bd"), (agg.bd_psnr, "bd_psnr")):
            vals = [getattr(m, source).get(c) for m in complete if c not in m.excluded]
            vals = [v for v in vals if v is not None]
            target[c] = float(np.mean(vals)) if vals else None
            if source == "bd" and len(vals) >= 2:
                agg.ci[c] = _bootstrap(vals)
        out = [m.sequence for m in complete if c in m.excluded and c in CHECKED]
        if out:
            agg.notes.append(f"{c.upper()} without {', '.join(out)} (non-monotone)")
    absent = [m.sequence for m in members if not m.bd]
    if absent:
        agg.notes.append(f"without {', '.join(absent)} (missing QPs)")
    agg.time_ratios = [r for m in complete for r in m.time_ratios]
    agg.enc_t = _geomean(r[0] for r in agg.time_ratios)
    agg.dec_t = _geomean(r[1] for r in agg.time_ratios)
    return agg


def compute(rows: list[dict], qps: list[int], method: str = "pchip") -> list[Row]:
    """Sequence rows, then a row per class, then each config's Overall (CTC classes only)."""
    seq_rows = [_sequence_row(cls, seq, config, arms, qps, method)
                for (cls, seq, config), arms in sorted(points(rows).items())]
    table = list(seq_rows)
    by_class = defaultdict(list)
    for r in seq_rows:
        by_class[(r.cls, r.config)].append(r)
    for (cls, config), members in sorted(by_class.items()):
        table.append(_aggregate("class", cls, config, members))
    for config in sorted({r.config for r in seq_rows}):
        members = [r for r in seq_rows if r.config == config and r.cls in catalogue.OVERALL_CLASSES.get(config, ())]
        if members:
            agg = _aggregate("overall", "Overall", config, members)
            agg.sequence = f"{agg.sequence} of classes {''.join(sorted({m.cls for m in members}))}"
            table.append(agg)
    return table


# --- what was coded -------------------------------------------------------------------------
def class_completeness(rows: list[dict], frames: int | None) -> dict[str, str]:
    """Per class: a complete CTC class (every sequence, every frame) or what it lacks."""
    cat = catalogue.load_catalogue()
    coded = defaultdict(set)
    for r in rows:
        coded[r["class"]].add(r["sequence"])
    out = {}
    for cls, names in sorted(coded.items()):
        if cls not in catalogue.CTC_CLASSES:
            out[cls] = "not a CTC class"
            continue
        total = len(cat[cls])
        full_frames = frames is None or all(frames >= s.frames for s in cat[cls])
        if len(names) == total and full_frames:
            out[cls] = f"complete CTC class ({total} sequences, all frames)"
        else:
            out[cls] = (f"partial CTC class: {len(names)} of {total} sequences"
                        + ("" if full_frames else f", {frames} frames instead of the CTC's"))
    return out


def describe(meta: dict, rows: list[dict], method: str) -> list[tuple[str, str]]:
    """(what, value) lines that say what a table is."""
    exp = meta.get("experiment") or {}
    versions = next((r.get("versions") for r in rows if r.get("versions")), {}) or {}
    periods = defaultdict(set)
    for r in rows:
        if r["config"] == "ra" and r.get("intra_period"):
            periods[r["intra_period"]].add(r["sequence"])
    period = ("; ".join(f"{p} ({', '.join(sorted(s))})" for p, s in sorted(periods.items()))
              if periods else "AI: every picture; LD: the first only")
    frames = sorted({r["frames"] for r in rows if r.get("frames")})
    hm = exp.get("codec") == "hm"
    encoder = versions.get("encoder") or f"x265 {versions.get('x265', '?')}"
    model = _model_line(exp.get("test"))
    return ([("test model", model)] if model else []) + [
        ("anchor", f"{encoder}, filter {exp.get('anchor', 'none')} (deblocking + SAO on)" + ("" if hm else " - not HM")),
        ("test", f"{exp.get('test')} (placement: {exp.get('placement', 'loop')})"),
        ("encoder", f"{encoder}, " + ("HM's cfgs, decoders HM and libde265" if hm else
                                      f"preset {exp.get('preset')}, decoder libde265")),
        ("frames coded", f"{exp.get('frames') or 'all of each sequence'} (coded: {', '.join(map(str, frames))})"),
        ("bit depth", _depth_line(exp.get("bit_depth", 8))),
        ("QPs", ", ".join(map(str, exp.get("qps") or []))),
        ("QP cascade", f"{encoder}'s own cfgs" if hm else
                       f"{exp.get('qp_cascade', 'l1100')} (HM's per-picture QPs forced, keyed on x265's real layers)"),
        ("RA intra period", period),
        ("classes", "; ".join(f"{c}: {v}" for c, v in class_completeness(rows, exp.get("frames")).items())),
        ("BD method", f"{method}; BD-rate from bitstream bytes (picture-hash SEI excluded, side info counted), "
                      "PSNR per frame averaged (HM), YUV = (6Y+U+V)/8"),
    ]


def _depth_line(depth: int) -> str:
    if depth == 8:
        return "8 bits (Main): 10-bit sources rounded to 8 bits as HM's Main CTC does"
    return (f"{depth} bits (Main10 internal depth): {depth}-bit sources coded as they are, 8-bit sources shifted "
            f"up (the JVET way); PSNR peak {255 << (depth - 8)} as HM's")


def _model_line(test) -> str | None:
    """The test filter's architecture, parameters and kMAC/pixel, when it is a model directory."""
    from cnn_filter.filters import split_model_spec

    test = split_model_spec(str(test or ""))[0]
    if not test or not Path(test).exists():
        return None
    try:
        from cnn_filter import zoo
        from cnn_filter.models import complexity

        m = zoo.open_models(test)
        if not m.arch:
            return None
        params, kmac = complexity(m.arch)
    except (ValueError, FileNotFoundError, ImportError):
        return None
    return (f"{m.arch}, {params:,} parameters, {kmac:.1f} kMAC/pixel, "
            + ("integer (.hmq)" if m.integer else "float (TorchScript)")
            + (f", one model for QP {min(m.qps)}..{max(m.qps)}" if m.qp_input else f", QPs {list(m.qps)}"))


# --- outputs ------------------------------------------------------------------------------
def _pct(v) -> str:
    return "n/a" if v is None else f"{v:+.2f}%"


def _db(v) -> str:
    return "n/a" if v is None else f"{v:+.3f}"


def _time(v) -> str:
    return "n/a" if v is None else f"{v * 100:.0f}%"


def _ci(r: Row, c: str) -> str:
    ci = r.ci.get(c)
    return "" if not ci else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def _rank(r: Row) -> tuple:
    """The sheet's order: sequences; Class A..E; Overall; Class F; then classes outside the CTC."""
    if r.kind == "sequence":
        return 0, r.cls, r.sequence
    if r.kind == "overall":
        return 2, "", ""
    if r.cls in catalogue.SEPARATE_CLASSES:
        return 3, r.cls, ""
    return (1 if r.cls in catalogue.CTC_CLASSES else 4), r.cls, ""


def _ordered(table: list[Row], config: str) -> list[Row]:
    return sorted((r for r in table if r.config == config), key=_rank)


def write_csv(table: list[Row], path: Path, method: str, header: list[tuple[str, str]]) -> None:
    with open(path, "w", newline="") as f:
        for what, value in header:
            f.write(f"# {what}: {value}\n")
        w = csv.writer(f)
        w.writerow(["kind", "class", "sequence", "config", "method",
                    *[f"bd_rate_{c}" for c in COMPONENTS], *[f"bd_psnr_{c}" for c in COMPONENTS],
                    "ci95_y_low", "ci95_y_high", "enc_t", "dec_t", "overlap_y", "overlap_u", "overlap_v", "note"])
        fmt = lambda v, d=4: "" if v is None else f"{v:.{d}f}"
        for r in table:
            ci = r.ci.get("y") or (None, None)
            w.writerow([r.kind, r.cls, r.sequence, r.config, method, *[fmt(r.bd.get(c)) for c in COMPONENTS],
                        *[fmt(r.bd_psnr.get(c)) for c in COMPONENTS], fmt(ci[0]), fmt(ci[1]), fmt(r.enc_t),
                        fmt(r.dec_t), *[fmt(r.overlap.get(c), 3) for c in CHECKED], r.note])


JVET_COLUMNS = ("config", "row", "Y", "U", "V", "EncT", "DecT")


def write_jvet_csv(table: list[Row], path: Path, header: list[tuple[str, str]]) -> None:
    """The summary sheet's layout: per config, Class A..E, Overall, then Class F (and any
    other class after), each with Y, U, V BD-rates and EncT, DecT."""
    with open(path, "w", newline="") as f:
        for what, value in header:
            f.write(f"# {what}: {value}\n")
        w = csv.writer(f)
        w.writerow(JVET_COLUMNS)
        for config in sorted({r.config for r in table}):
            for r in _ordered(table, config):
                if r.kind == "sequence":
                    continue
                name = "Overall" if r.kind == "overall" else f"Class {r.cls}"
                w.writerow([config.upper(), name, *[_pct(r.bd.get(c)) for c in CHECKED], _time(r.enc_t),
                            _time(r.dec_t)])


def markdown(table: list[Row], method: str, header: list[tuple[str, str]] | None = None,
             title: str = "test vs anchor") -> str:
    lines = [f"BD-rate ({method}), {title}.", ""]
    lines += [f"- **{what}**: {value}" for what, value in header or []] + [""]
    for config in sorted({r.config for r in table}):
        lines += [f"### {config.upper()}", "",
                  "| class | sequence | Y | U | V | YUV | BD-PSNR Y | Y 95% CI | EncT | DecT | note |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in _ordered(table, config):
            name = r.sequence if r.kind == "sequence" else f"**{r.kind}** ({r.sequence})"
            lines.append(f"| {r.cls} | {name} | " + " | ".join(_pct(r.bd.get(c)) for c in COMPONENTS)
                         + f" | {_db(r.bd_psnr.get('y'))} | {_ci(r, 'y')} | {_time(r.enc_t)} | {_time(r.dec_t)}"
                         f" | {r.note} |")
        lines.append("")
    return "\n".join(lines)


# --- plots ------------------------------------------------------------------------------------
def _figure(width=4.2, height=3.0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=(width, height), dpi=80)


def _svg(plt, fig) -> str:
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def _rd_svg(arms: dict, qps: list[int], title: str, test_label: str) -> str:
    from matplotlib.ticker import MaxNLocator

    plt, fig, ax = _figure()
    for arm, style in (("anchor", "o-"), ("test", "s--")):
        pts = [arms[arm][q] for q in qps if q in arms[arm]]
        if pts:
            ax.plot([p["kbps"] for p in pts], [p["psnr_y"] for p in pts], style,
                    label="anchor (filter off)" if arm == "anchor" else f"test: {test_label}")
    ax.xaxis.set_major_locator(MaxNLocator(5))  # rate labels never run into each other
    ax.set(xlabel="kbps", ylabel="PSNR-Y (dB)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _svg(plt, fig)


def _delta_rate_svg(arms: dict, qps: list[int], title: str) -> str:
    """Test minus anchor PSNR-Y at each QP, against the test's rate: the gain that a full
    RD plot hides."""
    from matplotlib.ticker import MaxNLocator

    plt, fig, ax = _figure()
    both = [q for q in qps if q in arms["anchor"] and q in arms["test"]]
    ax.plot([arms["test"][q]["kbps"] for q in both],
            [arms["test"][q]["psnr_y"] - arms["anchor"][q]["psnr_y"] for q in both], "s-", color="tab:green")
    for q in both:
        ax.annotate(f"QP {q}", (arms["test"][q]["kbps"], arms["test"][q]["psnr_y"] - arms["anchor"][q]["psnr_y"]),
                    fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.axhline(0, color="grey", lw=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set(xlabel="kbps (test)", ylabel="delta PSNR-Y (dB)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    return _svg(plt, fig)


def _gop_svg(arms: dict, qp: int, title: str) -> str | None:
    """Per-picture PSNR-Y of test minus anchor along the sequence at one QP: whether the
    gain propagates through prediction (in-loop) or stays per picture."""
    a, t = arms["anchor"].get(qp), arms["test"].get(qp)
    if not (a and t and a.get("per_frame") and t.get("per_frame")):
        return None
    pa, pt = np.asarray(a["per_frame"]["psnr"])[:, 0], np.asarray(t["per_frame"]["psnr"])[:, 0]
    if len(pa) != len(pt) or len(pa) < 2:
        return None
    plt, fig, ax = _figure(5.0, 2.6)
    types = t["per_frame"].get("types") or ["?"] * len(pt)
    colors = {"I": "tab:red", "P": "tab:blue", "B": "tab:orange", "b": "tab:gray"}
    ax.bar(range(len(pt)), pt - pa, color=[colors.get(x, "tab:gray") for x in types])
    ax.axhline(0, color="black", lw=0.6)
    ax.set(xlabel="picture (display order; red I, blue P, orange B, grey b)", ylabel="delta PSNR-Y (dB)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    return _svg(plt, fig)


#: side of the crops shown (luma samples), and how much they are enlarged
CROP = 96
CROP_ZOOM = 2


def best_crop(orig: np.ndarray, anchor: np.ndarray, test: np.ndarray, size: int = CROP) -> tuple[int, int, int]:
    """(y, x, side) of the window where the test gains most over the anchor (SSE)."""
    size = min(size, orig.shape[0], orig.shape[1])
    gain = (orig.astype(np.int64) - anchor) ** 2 - (orig.astype(np.int64) - test) ** 2
    integral = np.pad(gain.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    step = max(1, size // 6)
    best, at = None, (0, 0)
    for y in range(0, orig.shape[0] - size + 1, step):
        for x in range(0, orig.shape[1] - size + 1, step):
            g = integral[y + size, x + size] - integral[y, x + size] - integral[y + size, x] + integral[y, x]
            if best is None or g > best:
                best, at = g, (y, x)
    return at[0], at[1], size


def _png(plane: np.ndarray) -> str:
    """An 8-bit plane as an inline PNG (enlarged CROP_ZOOM times, nearest neighbour)."""
    import base64

    from PIL import Image

    img = Image.fromarray(np.kron(plane, np.ones((CROP_ZOOM, CROP_ZOOM), np.uint8)))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def crops_html(rows: list[dict], qps: list[int], pictures: Path) -> list[str]:
    """Per sequence and config: original / anchor / test crops at the crop QP, where the
    test gains most, each with its PSNR-Y (luma of the middle picture)."""
    from experiments.sweep import crop_qp, picture_file
    from hm_bridge.video import plane_psnr

    if not qps or not Path(pictures).is_dir():
        return []
    qp = crop_qp(qps)
    parts = []
    for (cls, seq, config), arms in sorted(points(rows).items()):
        a, t = arms["anchor"].get(qp), arms["test"].get(qp)
        fa, ft = (picture_file(pictures, r["key"]) if r else None for r in (a, t))
        if not (fa and ft and fa.exists() and ft.exists()):
            continue
        with np.load(fa) as za, np.load(ft) as zt:
            orig, anchor, test, index = za["orig"], za["recon"], zt["recon"], int(za["index"])
        y, x, n = best_crop(orig, anchor, test)
        cells = []
        for label, plane in (("original", orig), ("anchor", anchor), ("test", test)):
            crop = plane[y:y + n, x:x + n]
            psnr = "" if label == "original" else f", {plane_psnr(orig[y:y + n, x:x + n], crop):.2f} dB"
            cells.append(f"<figure><img class='crop' alt='{label}' src='{_png(crop)}'>"
                         f"<figcaption>{label}{psnr}</figcaption></figure>")
        parts.append(f"<div class='crops'><h4>{html.escape(seq)} ({html.escape(cls)}) {config.upper()}, QP {qp}, "
                     f"picture {index}, luma {n}x{n} at ({x}, {y})</h4>{''.join(cells)}</div>")
    return parts


def _td(v: str, signed: float | None = None, good_if_negative: bool = True) -> str:
    cls = "" if signed is None else (" class='neg'" if (signed < 0) == good_if_negative else " class='pos'")
    return f"<td{cls}>{html.escape(v)}</td>"


def write_html(table: list[Row], rows: list[dict], qps: list[int], meta: dict, path: Path, method: str,
               header: list[tuple[str, str]], pictures: Path | None = None) -> None:
    exp = meta.get("experiment") or {}
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>hm-cnn-loop CTC report</title>",
             "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px;"
             "margin-bottom:1em}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
             "td:nth-child(-n+2){text-align:left}.agg{background:#f3f3f3;font-weight:bold}"
             ".plots{display:flex;flex-wrap:wrap;gap:8px}.neg{color:#060}.pos{color:#a00}"
             ".meta td{text-align:left}.crops{display:flex;gap:10px;align-items:flex-start;flex-wrap:wrap}"
             ".crops h4{width:100%;margin:8px 0 2px}figure{margin:0}figcaption{font-size:12px}</style></head><body>",
             "<h1>hm-cnn-loop: BD-rate report</h1><h2>What was coded</h2><table class='meta'>"]
    parts += [f"<tr><th>{html.escape(w)}</th><td>{html.escape(str(v))}</td></tr>" for w, v in header]
    parts.append("</table><h3>Experiment</h3><table class='meta'>")
    parts += [f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in sorted(exp.items())]
    parts.append("</table>")
    for what, why in meta.get("skipped") or []:
        parts.append(f"<p>Skipped {html.escape(what)}: {html.escape(why)}</p>")
    for config in sorted({r.config for r in table}):
        parts.append(f"<h2>{config.upper()}</h2><table><tr><th>class</th><th>sequence</th><th>Y</th><th>U</th>"
                     "<th>V</th><th>YUV</th><th>BD-PSNR Y</th><th>Y 95% CI</th><th>EncT</th><th>DecT</th>"
                     "<th>note</th></tr>")
        for r in _ordered(table, config):
            cls = "" if r.kind == "sequence" else " class='agg'"
            cells = "".join(_td(_pct(r.bd.get(c)), r.bd.get(c) or 0) for c in COMPONENTS)
            cells += _td(_db(r.bd_psnr.get("y")), r.bd_psnr.get("y") or 0, good_if_negative=False)
            parts.append(f"<tr{cls}><td>{html.escape(r.cls)}</td><td>{html.escape(r.sequence)}</td>{cells}"
                         f"{_td(_ci(r, 'y'))}{_td(_time(r.enc_t))}{_td(_time(r.dec_t))}{_td(r.note)}</tr>")
        parts.append("</table>")
    test_label = Path(str(exp.get("test", "filter"))).name
    pts = sorted(points(rows).items())
    parts.append("<h2>RD curves (PSNR-Y)</h2><div class='plots'>")
    parts += [f"<div>{_rd_svg(arms, qps, f'{seq} ({cls}) {config}', test_label)}</div>"
              for (cls, seq, config), arms in pts]
    parts.append("</div><h2>Gain against rate (test - anchor PSNR-Y)</h2><div class='plots'>")
    parts += [f"<div>{_delta_rate_svg(arms, qps, f'{seq} ({cls}) {config}')}</div>"
              for (cls, seq, config), arms in pts]
    mid = qps[len(qps) // 2] if qps else None
    gop = [(k, _gop_svg(arms, mid, f"{k[1]} ({k[0]}) {k[2]}, QP {mid}")) for k, arms in pts if k[2] != "ai"]
    gop = [(k, svg) for k, svg in gop if svg]
    if gop:
        parts.append(f"</div><h2>Per-picture gain along the sequence (QP {mid})</h2><div class='plots'>")
        parts += [f"<div>{svg}</div>" for _, svg in gop]
    crops = crops_html(rows, qps, pictures) if pictures else []
    if crops:
        parts.append("</div><h2>Pictures: where the test gains most</h2><div>")
        parts += crops
    parts.append("</div></body></html>")
    Path(path).write_text("\n".join(parts))


def load_run(out: Path) -> tuple[list[dict], list[dict], dict, list[int]]:
    """A sweep's finished rows, failed rows, meta (experiment, skipped) and QPs: only the
    jobs of its last run's plan."""
    out = Path(out)
    if not (out / STORE_NAME).exists():
        raise FileNotFoundError(f"no results in {out} (run `hmcnn ctc run --out {out}` first)")
    store = Store(out / STORE_NAME)
    try:
        rows = store.rows("done")
        failed = store.rows("failed")
        meta = {"experiment": store.meta("experiment"), "skipped": store.meta("skipped", [])}
        planned = store.meta("planned_keys")
    finally:
        store.close()
    if planned is not None:  # only the last run's plan: never a mix of two filter versions
        planned = set(planned)
        stale = sum(1 for r in rows + failed if r["key"] not in planned)
        rows = [r for r in rows if r["key"] in planned]
        failed = [f for f in failed if f["key"] in planned]
        if stale:
            meta["skipped"].append((f"{stale} stored results of earlier runs",
                                    "not in the last run's plan (another version of a filter's files?): ignored"))
    qps = sorted((meta["experiment"] or {}).get("qps") or sorted({r["qp"] for r in rows}))
    return rows, failed, meta, qps


def report(out: Path, method: str = "pchip") -> list[Row]:
    out = Path(out)
    if method not in METHODS:
        raise ValueError(f"unknown BD method {method!r}; choose one of {', '.join(METHODS)}")
    rows, failed, meta, qps = load_run(out)
    table = compute(rows, qps, method)
    for f in failed:
        meta["skipped"].append((f"job {f['sequence']} {f['config']} QP {f['qp']} {f['arm']}",
                                "failed: " + (f["error"] or "").splitlines()[0]))
    header = describe(meta, rows, method)
    write_csv(table, out / "bdrate.csv", method, header)
    write_jvet_csv(table, out / "bdrate_jvet.csv", header)
    (out / "bdrate.md").write_text(markdown(table, method, header))
    from experiments.sweep import PICTURES

    write_html(table, rows, qps, meta, out / "report.html", method, header, out / PICTURES)
    return table
