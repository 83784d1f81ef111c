"""JCT-VC common test conditions (JCTVC-L1100) mapped onto x265, as closely as x265 allows.

Every config shares: constant QP (``--qp``; x265 then turns AQ and cu-tree off),
``--ipratio 1 --pbratio 1`` (HM's QP offsets are applied per picture instead, below),
``--tune psnr`` (no psy-rd/psy-rdoq), ``--hash 1`` (MD5 picture hash SEI, the one
libde265 checks), ``--no-info`` (x265 would write a 2.25 KB settings SEI at every IDR),
one slice, no scene-cut detection, no weighted prediction (HM's CTC has it off), and a
motion search range of 64 as HM's.

Differences from HM's cfg files that remain (x265 cannot express them):
  - all:  x265's RDO, RDOQ, mode decisions and fast paths differ from HM's (preset
          "slow" by default); 64x64 CTU, 8x8 min CU as HM, but x265's TU depth and
          merge-candidate count follow the preset.
  - ai:   every picture is an IDR (HM: I slices with one IRAP); no difference in coding tools.
  - ra:   x265's hierarchy is P + one referenced B per GOP of 8 (P8, B4 referenced,
          b2 b6 b1 b3 b5 b7 not), HM's is a four-level all-B hierarchy with
          level-dependent lambdas; IDR every intra period (HM: CRA, open GOP). HM's
          per-picture QP offsets are applied by POC: +1 (POC%8==0), +2 (POC%4==0),
          +3 (POC%2==0), +4 (odd).
  - ldp:  low-delay P with four reference pictures, as HM's LDP; QP offsets of HM's
          GOP of 4: +3 +2 +3 +1 for POC%4 == 1, 2, 3, 0. x265 has no per-layer lambda.
  - ldb:  not available: x265 cannot code generalized P/B (B slices whose two lists
          hold only past pictures).
"""
from __future__ import annotations

from dataclasses import dataclass

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


def intra_period_for(fps: float) -> int:
    """HM CTC's random-access intra period: about one second, a multiple of the GOP (8)."""
    if fps <= 32:
        return 32
    if fps <= 50:
        return 48
    return 64


@dataclass(frozen=True)
class CodingConfig:
    name: str
    description: str
    options: tuple[tuple[str, str], ...]

    def x265_options(self, qp: int, fps: float) -> list[tuple[str, str]]:
        check_qp(qp)
        opts = list(COMMON_OPTIONS) + [("qp", str(qp))] + list(self.options)
        if self.name == "ra":
            period = str(intra_period_for(fps))
            opts += [("keyint", period), ("min-keyint", period)]
        return opts

    def qp_offset(self, poc: int, fps: float) -> int:
        """HM's per-picture QP offset for the picture at display index ``poc``."""
        if self.name == "ai" or poc == 0:
            return 0
        if self.name == "ra":
            if poc % intra_period_for(fps) == 0:
                return 0
            if poc % 8 == 0:
                return 1
            if poc % 4 == 0:
                return 2
            if poc % 2 == 0:
                return 3
            return 4
        return {1: 3, 2: 2, 3: 3, 0: 1}[poc % 4]  # ldp

    def frame_qps(self, qp: int, frames: int, fps: float) -> list[int]:
        check_qp(qp)
        return [min(QP_MAX, qp + self.qp_offset(i, fps)) for i in range(frames)]


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
