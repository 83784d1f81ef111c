"""An experiment: anchor (filter off) vs test (a filter) over sequences x configs x QPs.

YAML keys: name, classes and/or sequences, configs, qps, frames, preset, test (a filter
spec: smoothing, a model directory, ...), anchor (default none), sequence_dir,
qp_cascade (hm16.20 or l1100), placement (loop, post or replace: where the test filter
runs), ctc_rules (default true: skip class/config pairs the CTC does not test), codec
(x265 or hm: the user's HM build, hm_dir or $HMCNN_HM_DIR), bit_depth (the coding depth:
8, Main, default, with 10-bit sources rounded as HM's Main CTC; or 10, Main10, with 8-bit
sources shifted up, the JVET way).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from hm_bridge.codec import CODECS
from hm_bridge.cascade import DEFAULT_CASCADE, get_cascade
from hm_bridge.configs import CONFIGS, UNSUPPORTED, check_placement, check_preset, check_qp
from hm_bridge.paths import REPO

SHIPPED_VRCNN = REPO / "models" / "vrcnn"


def default_test_filter() -> str:
    """The shipped VRCNN when its weights exist, else the native demo filter."""
    return str(SHIPPED_VRCNN) if (SHIPPED_VRCNN / "manifest.json").exists() else "smoothing"


@dataclass
class Experiment:
    name: str = "experiment"
    classes: list[str] = field(default_factory=list)
    sequences: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=lambda: ["ai", "ra", "ldp"])
    qps: list[int] = field(default_factory=lambda: [22, 27, 32, 37])
    frames: int | None = None
    preset: str = "slow"
    anchor: str = "none"
    test: str = field(default_factory=default_test_filter)
    sequence_dir: str | None = None
    qp_cascade: str = DEFAULT_CASCADE
    placement: str = "loop"
    ctc_rules: bool = True
    codec: str = "x265"
    hm_dir: str | None = None
    bit_depth: int = 8
    #: sequence name -> its .yuv file, for files that go by other names than the catalogue's
    sequence_files: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        for c in self.configs:
            if c not in CONFIGS and c not in UNSUPPORTED:
                raise ValueError(f"unknown config {c!r}")
        for q in self.qps:
            check_qp(q)
        if len(self.qps) < 2:
            raise ValueError("BD-rate needs at least two QPs")
        check_preset(self.preset)
        get_cascade(self.qp_cascade)
        check_placement(self.placement)
        if self.codec not in CODECS:
            raise ValueError(f"unknown codec {self.codec!r}; choose one of {', '.join(CODECS)}")
        CODECS[self.codec].check_bit_depth(self.bit_depth)
        if self.frames is not None and self.frames < 1:
            raise ValueError("frames must be positive")
        from cnn_filter.filters import check_filter_spec

        for spec in (self.anchor, self.test):  # before any job runs, not once per job
            check_filter_spec(spec)

    def to_dict(self) -> dict:
        d = asdict(self)
        if not d["sequence_files"]:
            del d["sequence_files"]  # the stored form of experiments that map none stays as it was
        if d["bit_depth"] == 8:
            del d["bit_depth"]  # (likewise for 8-bit ones)
        return d

    def filter_fingerprint(self, spec: str) -> str:
        """Identifies a filter's content: for a model directory, a hash of its model files, and
        for our native filters the block policy (so a changed model or decision rule reruns
        the jobs)."""
        from cnn_filter.filters import split_model_spec
        from hm_bridge._core import BLOCK_POLICY

        p = Path(split_model_spec(spec)[0])
        if p.exists():
            h = hashlib.sha256()
            files = [f for f in p.rglob("*") if f.suffix in (".pt", ".hmq") or f.name == "manifest.json"]
            for f in sorted(files) if p.is_dir() else [p]:
                h.update(f.name.encode())
                h.update(f.read_bytes())
            return f"{spec}@{h.hexdigest()[:12]}+{BLOCK_POLICY}"
        if spec.partition(":")[0] == "smoothing":  # our native demo filter decides by the same policy
            return f"{spec}+{BLOCK_POLICY}"
        return spec


def load_experiment(path: str | Path) -> Experiment:
    raw = yaml.safe_load(Path(path).read_text()) or {}
    unknown = set(raw) - set(Experiment.__dataclass_fields__)
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    exp = Experiment(**raw)
    exp.validate()
    return exp


BUILT_IN_EXPERIMENTS = {
    # the README's main job: a few minutes on 2 CPU cores, no data needed
    "quick": dict(name="quick", sequences=["carphone", "bikes", "CiscoVT2people", "RTn23"],
                  configs=["ai", "ra", "ldp"], qps=[22, 27, 32, 37], frames=9, preset="medium"),
    "builtin": dict(name="builtin", classes=["builtin"], frames=33, preset="slow"),
    # the held-out Kodak images as one-frame sequences: all-intra BD-rate of a loop filter
    "kodak": dict(name="kodak", classes=["kodak"], configs=["ai"], preset="slow"),
    "ctc": dict(name="ctc", classes=["A", "B", "C", "D", "E", "F"], configs=["ai", "ra", "ldb", "ldp"],
                preset="slow"),
}


def built_in_experiment(name: str) -> Experiment:
    if name not in BUILT_IN_EXPERIMENTS:
        raise ValueError(f"unknown built-in experiment {name!r}; built in: {', '.join(BUILT_IN_EXPERIMENTS)}")
    exp = Experiment(**BUILT_IN_EXPERIMENTS[name])
    exp.validate()
    return exp


def dumps(exp: Experiment) -> str:
    return json.dumps(exp.to_dict(), sort_keys=True)
