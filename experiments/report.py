"""BD-rate tables and the HTML report of a sweep (hmcnn ctc report DIR).

Writes DIR/bdrate.csv (one row per sequence and config, plus class and overall rows),
DIR/bdrate.md (laid out like the JCT-VC sheet) and DIR/report.html (self-contained:
tables and RD curves as inline SVG). Averages: a class row is the mean of its
sequences' BD-rates; the overall row the mean over every sequence; EncT/DecT are the
geometric means over QPs of test/anchor time, averaged geometrically in class rows.
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

from experiments.bdrate import MIN_OVERLAP, bd_rate, overlap
from experiments.store import STORE_NAME, Store

ANCHOR_NOTE = ("Anchor: x265 with the in-loop filter off (same x265 settings), not HM. "
               "Rates from bitstream bytes (picture-hash SEI excluded); PSNR per frame averaged (HM's way); "
               "YUV = (6Y+U+V)/8.")
COMPONENTS = ("y", "u", "v", "yuv")


@dataclass
class Row:
    kind: str  # sequence | class | overall
    cls: str
    sequence: str
    config: str
    bd: dict = field(default_factory=dict)  # component -> % or None
    enc_t: float | None = None
    dec_t: float | None = None
    overlap_y: float | None = None
    note: str = ""


def _geomean(values) -> float | None:
    values = [v for v in values if v and v > 0]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def points(rows: list[dict]) -> dict:
    """(class, sequence, config) -> arm -> {qp: row}."""
    out = defaultdict(lambda: {"anchor": {}, "test": {}})
    for r in rows:
        out[(r["class"], r["sequence"], r["config"])][r["arm"]][r["qp"]] = r
    return out


def compute(rows: list[dict], qps: list[int], method: str = "pchip") -> list[Row]:
    table: list[Row] = []
    for (cls, seq, config), arms in sorted(points(rows).items()):
        row = Row("sequence", cls, seq, config)
        missing = [f"{arm} QP {q}" for arm in ("anchor", "test") for q in qps if q not in arms[arm]]
        if missing:
            row.note = "missing: " + ", ".join(missing)
            table.append(row)
            continue
        a = [arms["anchor"][q] for q in qps]
        t = [arms["test"][q] for q in qps]
        rate_a, rate_t = [p["kbps"] for p in a], [p["kbps"] for p in t]
        for c in COMPONENTS:
            da, dt = [p[f"psnr_{c}"] for p in a], [p[f"psnr_{c}"] for p in t]
            try:
                row.bd[c] = bd_rate(rate_a, da, rate_t, dt, method)
            except ValueError as e:
                row.bd[c] = None
                row.note = f"{c.upper()}: {e}"
        row.overlap_y = overlap([p["psnr_y"] for p in a], [p["psnr_y"] for p in t])
        if row.overlap_y < MIN_OVERLAP:
            row.note = (row.note + "; " if row.note else "") + f"low PSNR-Y overlap ({row.overlap_y:.0%})"
        row.enc_t = _geomean(tt["enc_seconds"] / aa["enc_seconds"] for aa, tt in zip(a, t))
        row.dec_t = _geomean(tt["dec_seconds"] / aa["dec_seconds"] for aa, tt in zip(a, t))
        table.append(row)
    seq_rows = [r for r in table if r.bd]
    for key_fn, kind in ((lambda r: (r.cls, r.config), "class"), (lambda r: ("all", r.config), "overall")):
        groups = defaultdict(list)
        for r in seq_rows:
            groups[key_fn(r)].append(r)
        for (cls, config), members in sorted(groups.items()):
            agg = Row(kind, cls, f"{len(members)} sequences", config)
            for c in COMPONENTS:
                vals = [m.bd[c] for m in members if m.bd.get(c) is not None]
                agg.bd[c] = float(np.mean(vals)) if vals else None
            agg.enc_t = _geomean(m.enc_t for m in members)
            agg.dec_t = _geomean(m.dec_t for m in members)
            table.append(agg)
    return table


def _pct(v) -> str:
    return "n/a" if v is None else f"{v:+.2f}%"


def _time(v) -> str:
    return "n/a" if v is None else f"{v * 100:.0f}%"


def write_csv(table: list[Row], path: Path, method: str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "class", "sequence", "config", "method", "bd_rate_y", "bd_rate_u", "bd_rate_v",
                    "bd_rate_yuv", "enc_t", "dec_t", "overlap_y", "note"])
        for r in table:
            w.writerow([r.kind, r.cls, r.sequence, r.config, method,
                        *[("" if r.bd.get(c) is None else f"{r.bd[c]:.4f}") for c in COMPONENTS],
                        "" if r.enc_t is None else f"{r.enc_t:.4f}", "" if r.dec_t is None else f"{r.dec_t:.4f}",
                        "" if r.overlap_y is None else f"{r.overlap_y:.3f}", r.note])


def markdown(table: list[Row], method: str) -> str:
    lines = [f"BD-rate ({method}), test vs anchor. {ANCHOR_NOTE}", ""]
    for config in sorted({r.config for r in table}):
        lines += [f"### {config.upper()}", "",
                  "| class | sequence | Y | U | V | YUV | EncT | DecT | note |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---|"]
        ordered = ([r for r in table if r.config == config and r.kind == "sequence"]
                   + [r for r in table if r.config == config and r.kind == "class"]
                   + [r for r in table if r.config == config and r.kind == "overall"])
        for r in ordered:
            name = r.sequence if r.kind == "sequence" else f"**{r.kind}** ({r.sequence})"
            lines.append(f"| {r.cls} | {name} | " + " | ".join(_pct(r.bd.get(c)) for c in COMPONENTS)
                         + f" | {_time(r.enc_t)} | {_time(r.dec_t)} | {r.note} |")
        lines.append("")
    return "\n".join(lines)


def _rd_svg(arms: dict, qps: list[int], title: str, test_label: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(4.2, 3.0), dpi=80)
    for arm, style in (("anchor", "o-"), ("test", "s--")):
        pts = [arms[arm][q] for q in qps if q in arms[arm]]
        if pts:
            ax.plot([p["kbps"] for p in pts], [p["psnr_y"] for p in pts], style,
                    label="anchor (filter off)" if arm == "anchor" else f"test: {test_label}")
    ax.xaxis.set_major_locator(MaxNLocator(5))  # rate labels never run into each other
    ax.set_xlabel("kbps")
    ax.set_ylabel("PSNR-Y (dB)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def write_html(table: list[Row], rows: list[dict], qps: list[int], meta: dict, path: Path, method: str) -> None:
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>hm-cnn-loop CTC report</title>",
             "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px}"
             "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}td:nth-child(-n+2){text-align:left}"
             ".agg{background:#f3f3f3;font-weight:bold}.plots{display:flex;flex-wrap:wrap;gap:8px}"
             ".neg{color:#060}.pos{color:#a00}</style></head><body>",
             "<h1>hm-cnn-loop: BD-rate report</h1>",
             f"<p><b>{html.escape(ANCHOR_NOTE)}</b></p>",
             f"<p>BD-rate method: {method}. Experiment: <code>{html.escape(str(meta.get('experiment')))}</code></p>"]
    for what, why in meta.get("skipped") or []:
        parts.append(f"<p>Skipped {html.escape(what)}: {html.escape(why)}</p>")
    for config in sorted({r.config for r in table}):
        parts.append(f"<h2>{config.upper()}</h2><table><tr><th>class</th><th>sequence</th><th>Y</th><th>U</th>"
                     "<th>V</th><th>YUV</th><th>EncT</th><th>DecT</th><th>note</th></tr>")
        for r in sorted((r for r in table if r.config == config), key=lambda r: ("sco".index(r.kind[0]), r.cls)):
            cls = "" if r.kind == "sequence" else " class='agg'"
            cells = "".join(
                f"<td class='{'neg' if (r.bd.get(c) or 0) < 0 else 'pos'}'>{_pct(r.bd.get(c))}</td>" for c in COMPONENTS)
            parts.append(f"<tr{cls}><td>{html.escape(r.cls)}</td><td>{html.escape(r.sequence)}</td>{cells}"
                         f"<td>{_time(r.enc_t)}</td><td>{_time(r.dec_t)}</td><td>{html.escape(r.note)}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>RD curves (PSNR-Y)</h2><div class='plots'>")
    test_label = Path(str((meta.get("experiment") or {}).get("test", "filter"))).name
    for (cls, seq, config), arms in sorted(points(rows).items()):
        parts.append(f"<div>{_rd_svg(arms, qps, f'{seq} ({cls}) {config}', test_label)}</div>")
    parts.append("</div></body></html>")
    Path(path).write_text("\n".join(parts))


def report(out: Path, method: str = "pchip") -> list[Row]:
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
    table = compute(rows, qps, method)
    for f in failed:
        meta["skipped"].append((f"job {f['sequence']} {f['config']} QP {f['qp']} {f['arm']}",
                                "failed: " + (f["error"] or "").splitlines()[0]))
    write_csv(table, out / "bdrate.csv", method)
    (out / "bdrate.md").write_text(markdown(table, method))
    write_html(table, rows, qps, meta, out / "report.html", method)
    return table
