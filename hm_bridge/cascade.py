"""HM's per-picture QP cascade, reproduced, and mapped onto the pictures x265 codes.

Two named cascades (ctc-facts: which HM cfg generation a table follows):

* ``hm16.20`` (default): HM >= 16.14's cfgs (JCTVC-X0038), what most published HM results
  use. RA: GOP 16, intra QP offset -3, per-layer offsets plus the QP offset model
  ``floor(clip(0, 3, qp' * scale + off + 0.5))`` with qp' = base + layer offset (as
  HM's TEncTop computes it); LDP: GOP 8, intra QP offset -1, offsets 5/4/5/4/5/4/5/1 with
  the model. Intra period: ``max(round(fps / 32), 1) * 32`` (HM's IntraPeriod -32 rule).
* ``l1100``: HM <= 16.13 (JCTVC-L1100): RA GOP 8 +1/+2/+3/+4 by layer, I at the base QP;
  LDP GOP 4 +3 +2 +3 +1. Intra period: about one second, a multiple of 8.

x265's random-access structure is not HM's: mini-GOPs of up to 8 pictures, the last one
a P, the middle one a referenced B, the rest non-referenced b, shortened before each
IDR and at the end of the sequence (``x265_ra_structure`` predicts it; a test checks it
against what x265 codes). Offsets are keyed on that real structure: a P takes HM's
lowest inter layer, a B picture the HM layer whose pictures lie as far from their
nearest reference (HM GOP 16: 8, 4, 2, 1 -> temporal ids 1..4; GOP 8: 4, 2, 1 -> 1..3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

CASCADES = ("hm16.20", "l1100")
DEFAULT_CASCADE = "hm16.20"


@dataclass(frozen=True)
class GopEntry:
    """One row of an HM cfg's GOP table: QPoffset, QPOffsetModelOff, QPOffsetModelScale."""

    qp_offset: int
    model_off: float = 0.0
    model_scale: float = 0.0


def hm_slice_qp(base_qp: int, entry: GopEntry | None, intra_qp_offset: int = 0, qp_max: int = 51) -> int:
    """The slice QP HM gives a picture: I (``entry`` None) base + intra offset; else base +
    the entry's offset, plus the offset model's term (TEncTop::getQPForPicture)."""
    if entry is None:
        qp = base_qp + intra_qp_offset
    else:
        qp = base_qp + entry.qp_offset
        qp += math.floor(min(3.0, max(0.0, qp * entry.model_scale + entry.model_off + 0.5)))
    return max(0, min(qp_max, qp))


@dataclass(frozen=True)
class Cascade:
    name: str
    intra_qp_offset: dict  # config -> offset of I pictures
    ra_layers: tuple[GopEntry, ...]  # by temporal id 0.. (tid 0 = the GOP's lowest layer)
    ra_distances: tuple[int, ...]  # reference distance of each B layer (tid 1..), descending
    ld_gop: tuple[GopEntry, ...]  # LD GOP entries, POC 1..GOP

    def intra_period(self, fps: float) -> int:
        if self.name == "l1100":
            return 32 if fps <= 32 else 48 if fps <= 50 else 64
        return max(round(fps / 32), 1) * 32

    def ra_entry(self, kind: str, distance: int) -> GopEntry:
        """HM's layer for an x265 picture: "P" -> tid 0; a B at ``distance`` from its
        nearest reference -> the first layer whose distance it reaches."""
        if kind == "P":
            return self.ra_layers[0]
        for tid, d in enumerate(self.ra_distances, start=1):
            if distance >= d:
                return self.ra_layers[tid]
        return self.ra_layers[-1]


_MODEL_RA = (GopEntry(1), GopEntry(1, -4.8848, 0.2061), GopEntry(4, -5.7476, 0.2286), GopEntry(5, -5.90, 0.2333),
             GopEntry(6, -7.1444, 0.3))
_MODEL_LD = tuple(GopEntry(o, -6.5, 0.2590) for o in (5, 4, 5, 4, 5, 4, 5)) + (GopEntry(1),)

CASCADE_TABLES = {
    "hm16.20": Cascade("hm16.20", {"ai": 0, "ra": -3, "ldp": -1, "ldb": -1}, _MODEL_RA, (8, 4, 2, 1), _MODEL_LD),
    "l1100": Cascade("l1100", {"ai": 0, "ra": 0, "ldp": 0, "ldb": 0}, tuple(GopEntry(o) for o in (1, 2, 3, 4)),
                     (4, 2, 1), tuple(GopEntry(o) for o in (3, 2, 3, 1))),
}


def get_cascade(name: str) -> Cascade:
    if name not in CASCADE_TABLES:
        raise ValueError(f"unknown QP cascade {name!r}; choose one of {', '.join(CASCADES)}")
    return CASCADE_TABLES[name]


#: x265's random-access mini-GOP: up to this many pictures, the last a P
X265_MINI_GOP = 8


def x265_ra_structure(frames: int, intra_period: int) -> list[tuple[str, int]]:
    """(kind, distance) per picture in display order, as x265 codes it with --bframes 7
    --b-adapt 0 --b-pyramid --no-open-gop and keyint = min-keyint = intra_period: kind "I",
    "P", "B" (referenced) or "b"; distance: to the nearest picture it may reference."""
    out: list[tuple[str, int]] = [("?", 0)] * frames
    for idr in range(0, frames, intra_period):
        out[idr] = ("I", 0)
        end = min(idr + intra_period, frames)  # the closed GOP's pictures after its IDR
        start = idr + 1
        while start < end:
            m = min(X265_MINI_GOP, end - start)
            refs = [start - 1, start + m - 1]
            out[start + m - 1] = ("P", m)
            if m >= 3:  # x265's pyramid: the middle B is referenced
                mid = start + (m - 1) // 2
                refs.append(mid)
                out[mid] = ("B", min(mid - refs[0], refs[1] - mid))
            for i in range(start, start + m - 1):
                if out[i][0] == "?":
                    out[i] = ("b", min(abs(i - r) for r in refs if r != i))
            start += m
    return out


def slice_qps(config: str, cascade: str, base_qp: int, frames: int, fps: float) -> list[int]:
    """The forced QP of every picture (display order) for x265 under ``config``."""
    c = get_cascade(cascade)
    if config == "ai":
        return [hm_slice_qp(base_qp, None, c.intra_qp_offset["ai"])] * frames
    if config == "ra":
        return [hm_slice_qp(base_qp, None if kind == "I" else c.ra_entry(kind, d), c.intra_qp_offset["ra"])
                for kind, d in x265_ra_structure(frames, c.intra_period(fps))]
    gop = c.ld_gop
    return [hm_slice_qp(base_qp, None if i == 0 else gop[(i - 1) % len(gop)], c.intra_qp_offset[config])
            for i in range(frames)]
