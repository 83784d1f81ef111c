"""BD-rate of one sweep's arm against another sweep's arm, on what both coded: x265's
anchor against HM's, a filter in the loop against the same filter as a post-filter, one
model against another.

    hmcnn ctc compare runs/quick-hm:anchor runs/quick:anchor    # x265 measured against HM
    hmcnn ctc compare runs/kodak-post runs/kodak                # in the loop against post

``RUN[:arm]``: a sweep's folder and its ``anchor`` or ``test`` arm (default ``test``). The
first is the reference. Both must have coded the same frames; the table covers the
sequences x configs x QPs they share.
"""
from __future__ import annotations

from pathlib import Path

from experiments.bdrate import METHODS
from experiments.report import Row, compute, load_run, markdown, write_csv

ARMS = ("anchor", "test")


def parse_run(spec: str) -> tuple[Path, str]:
    """``runs/x:anchor`` -> (Path("runs/x"), "anchor"); the arm defaults to ``test``."""
    path, sep, arm = str(spec).rpartition(":")
    if sep and arm in ARMS:
        return Path(path), arm
    if sep and not Path(spec).exists():
        raise ValueError(f"{spec!r}: the arm after ':' must be one of {', '.join(ARMS)}")
    return Path(spec), "test"


def _what(meta: dict, rows: list[dict], arm: str) -> str:
    exp = meta.get("experiment") or {}
    versions = next((r.get("versions") for r in rows if r.get("versions")), {}) or {}
    encoder = versions.get("encoder") or f"x265 {versions.get('x265', '?')}"
    if exp.get("codec") != "hm":
        encoder += f" {exp.get('preset', '')}, QP cascade {exp.get('qp_cascade', 'l1100')}"
    if arm == "anchor":
        return f"{encoder}, filter {exp.get('anchor', 'none')}"
    return f"{encoder}, filter {exp.get('test')} (placement {exp.get('placement', 'loop')})"


def compare(reference: str, other: str, method: str = "pchip") -> tuple[list[Row], list[tuple[str, str]]]:
    """(table, header): BD-rates of ``other`` against ``reference``."""
    if method not in METHODS:
        raise ValueError(f"unknown BD method {method!r}; choose one of {', '.join(METHODS)}")
    sides = []
    for spec in (reference, other):
        path, arm = parse_run(spec)
        rows, _, meta, qps = load_run(path)
        sides.append((path, arm, [r for r in rows if r["arm"] == arm], meta, qps))
    (pa, arm_a, rows_a, meta_a, qps_a), (pb, arm_b, rows_b, meta_b, qps_b) = sides
    frames = [sorted({r["frames"] for r in rows if r.get("frames")}) for rows in (rows_a, rows_b)]
    if frames[0] != frames[1]:
        raise ValueError(f"not comparable: {pa} coded {frames[0]} frames, {pb} {frames[1]}")
    qps = sorted(set(qps_a) & set(qps_b))
    key = lambda r: (r["class"], r["sequence"], r["config"], r["qp"])  # noqa: E731
    shared = {key(r) for r in rows_a} & {key(r) for r in rows_b}
    shared = {k for k in shared if k[3] in qps}
    if not shared:
        raise ValueError(f"{pa} and {pb} share no sequence x config x QP")
    rows = ([dict(r, arm="anchor") for r in rows_a if key(r) in shared]
            + [dict(r, arm="test") for r in rows_b if key(r) in shared])
    table = compute(rows, qps, method)
    header = [("reference", f"{pa} ({arm_a}): {_what(meta_a, rows_a, arm_a)}"),
              ("compared", f"{pb} ({arm_b}): {_what(meta_b, rows_b, arm_b)}"),
              ("coded", f"{len({k[:3] for k in shared})} sequence x config pairs, QPs {', '.join(map(str, qps))}, "
                        f"frames {', '.join(map(str, frames[0]))}"),
              ("BD method", f"{method}; rates from bitstream bytes, PSNR per frame averaged (HM); "
                            "EncT/DecT: compared / reference")]
    return table, header


def write(table: list[Row], header: list[tuple[str, str]], out: Path, method: str) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(table, out / "compare.csv", method, header)
    (out / "compare.md").write_text(markdown(table, method, header, title="compared vs reference"))
