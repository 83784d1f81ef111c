"""JCT-VC common test conditions mapped onto x265, as closely as x265 allows.

Every config shares: constant QP (``--qp``; x265 then turns AQ and cu-tree off),
``--ipratio 1 --pbratio 1`` (HM's per-picture QPs are forced instead: the QP cascade of
HM's cfgs, ``hm16.20`` by default or ``l1100``, see hm_bridge/cascade.py),
``--tune psnr`` (no psy-rd/psy-rdoq), ``--hash 1`` (MD5 picture hash SEI, the one
libde265 checks), ``--no-info`` (x265 would write a 2.25 KB settings SEI at every IDR),
one slice, no scene-cut detection, no weighted prediction (HM's CTC has it off), and a
motion search range of 64 as HM's.

Differences from HM's cfg files that remain (x265 cannot express them):
  - all:  x265's RDO, RDOQ, mode decisions and fast paths differ from HM's (preset
          "slow" by default); 64x64 CTU, 8x8 min CU as HM, but x265's TU depth and
          merge-candidate count follow the preset.
  - ai:   every picture is an IDR (HM: I slices with one IRAP); no difference in coding tools.
  - ra:   x265's hierarchy is P + one referenced B per mini-GOP of 8 (P8, B4 referenced,
          b2 b6 b1 b3 b5 b7 not), HM's is a four-level (hm16.20: GOP 16, five-level)
          all-B hierarchy with level-dependent lambdas; IDR every intra period (HM: CRA,
          open GOP). HM's QPs are keyed on the layer x265 really codes (cascade.py).
  - ldp:  low-delay P with four reference pictures, as HM's LDP; HM's LD QPs by POC
          (hm16.20: GOP 8, 5/4/5/4/5/4/5/1 with the offset model, I at -1; l1100: GOP 4,
          +3 +2 +3 +1). x265 has no per-layer lambda.
  - ldb:  not available: x265 cannot code generalized P/B (B slices whose two lists
          hold only past pictures).
"""
from __future__ import annotations

from dataclasses import dataclass

from hm_bridge.cascade import DEFAULT_CASCADE, get_cascade
from hm_bridge.cascade import slice_qps as cascade_slice_qps

QP_MIN, QP_MAX = 0, 51

#: x265 presets, fastest first ("slow" is the default of encode() and of the sweeps)
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
#: x265 --tune: psnr turns psy-rd / psy-rdoq off, as HM has none
TUNE = "psnr"

COMMON_OPTIONS: tuple[tuple[str, str], ...] = (
    ("ipratio", "1"),
    ("pbratio", "1"),
    ("hash", "1"),
    ("no-info", ""),
    ("no-scenecut", ""),
    ("no-weightp", ""),
    ("no-weightb", ""),
    ("merange", "64"),
)


@dataclass(frozen=True)
class CodingConfig:
    name: str
    description: str
    options: tuple[tuple[str, str], ...]

    def intra_period(self, fps: float, cascade: str = DEFAULT_CASCADE) -> int | None:
        """Pictures between IDRs (RA), or None (AI: every picture; LD: only the first)."""
        return get_cascade(cascade).intra_period(fps) if self.name == "ra" else None

    def x265_options(self, qp: int, fps: float, cascade: str = DEFAULT_CASCADE) -> list[tuple[str, str]]:
        check_qp(qp)
        opts = list(COMMON_OPTIONS) + [("qp", str(qp))] + list(self.options)
        if self.name == "ra":
            period = str(self.intra_period(fps, cascade))
            opts += [("keyint", period), ("min-keyint", period)]
        return opts

    def slice_qps(self, qp: int, frames: int, fps: float, cascade: str = DEFAULT_CASCADE) -> list[int]:
        """HM's QP for every picture (display order), keyed on what x265 codes."""
        check_qp(qp)
        return cascade_slice_qps(self.name, cascade, qp, frames, fps)


CONFIGS: dict[str, CodingConfig] = {
    "ai": CodingConfig("ai", "all intra", (("keyint", "1"), ("min-keyint", "1"))),
    "ra": CodingConfig(
        "ra",
        "random access (x265: P + one referenced B per GOP of 8)",
        (("bframes", "7"), ("b-adapt", "0"), ("b-pyramid", ""), ("no-open-gop", ""), ("ref", "4"),
         ("rc-lookahead", "16")),  # x265 needs lookahead > bframes (ultrafast has 5)
    ),
    "ldp": CodingConfig(
        "ldp", "low delay P", (("bframes", "0"), ("ref", "4"), ("keyint", "-1"), ("min-keyint", "1"))
    ),
}

UNSUPPORTED: dict[str, str] = {
    "ldb": "x265 cannot code low-delay B (generalized P/B: B slices referencing only past "
    "pictures); use 'ldp', the closest low-delay structure x265 has",
}


def check_qp(qp) -> None:
    if not isinstance(qp, int) or isinstance(qp, bool) or not QP_MIN <= qp <= QP_MAX:
        raise ValueError(f"QP must be an integer in {QP_MIN}..{QP_MAX}, got {qp!r}")


#: HM's CTU size; x265 needs the picture to hold one CTU, so tiny clips get a smaller one
CTU_SIZE = 64


def ctu_size_for(width: int, height: int) -> int:
    ctu = CTU_SIZE
    while ctu > 16 and min(width, height) < ctu:
        ctu //= 2
    return ctu


#: x265 options that turn deblocking and SAO off (the "replace" placement)
NO_DBF_SAO: tuple[tuple[str, str], ...] = (("no-deblock", ""), ("no-sao", ""))

#: where a filter runs: in the loop after deblocking + SAO; as a post-filter on the
#: decoded output (no side information); in the loop *instead of* deblocking + SAO
PLACEMENTS = ("loop", "post", "replace")


def check_placement(placement: str) -> None:
    if placement not in PLACEMENTS:
        raise ValueError(f"unknown placement {placement!r}; choose one of {', '.join(PLACEMENTS)}")


def check_preset(preset: str) -> None:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")


def get_config(name: str) -> CodingConfig:
    key = name.lower()
    if key in CONFIGS:
        return CONFIGS[key]
    if key in UNSUPPORTED:
        raise NotImplementedError(f"config {name!r}: {UNSUPPORTED[key]}")
    raise ValueError(f"unknown config {name!r}; choose one of {', '.join(CONFIGS)}")
