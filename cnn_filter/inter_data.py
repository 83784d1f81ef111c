"""Training pairs of inter-coded pictures, made by our codec: each training picture becomes a
short clip with real camera motion (a pan with sub-pixel steps, a slow zoom and a small
rotation, then the sensor's blur and noise), coded RA or LDP with the project's cascade
(x265 with HM's per-picture QPs), and cut into (reconstruction, source) pairs, one per
picture, each labelled with its slice type, temporal layer and the QP it was coded at.
Cached like the intra pairs (cnn_filter.data), with a manifest; every encode is verified
(decoder output == reconstruction).

With ``loop`` (a model directory), the clips are coded with that filter in the loop and
each pair's input is the picture as the hook receives it (after deblocking and SAO, its
references filtered as in the deployed loop): in the loop a P or B picture mostly copies
already-filtered references, and a model trained on pictures of unfiltered references
filters them twice (docs/results.md measures it).

The clip's motion is drawn from a seed derived from the picture's name: the same pairs
on every machine. Kodak and the built-in clips' test frames are never sources here.
"""
from __future__ import annotations

import hashlib
import json
import os
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

import hm_bridge as hb
from cnn_filter.data import PairSet, Source

#: names the motion recipe: a change to camera_clip changes it (and the cache keys)
RECIPE = "pan+zoom+rotation, cubic, blur, luma noise / 1"
#: the clip's size (luma): inside every BSDS500 picture (481 x 321 or 321 x 481) with room to move
CLIP_SIZE = (256, 192)
#: temporal layer of a picture by the slice type x265 codes in our configs (hm_bridge.configs:
#: RA's I/P anchors, its referenced B, its unreferenced b; LDP's P pictures all layer 0)
LAYER = {"I": 0, "P": 0, "B": 1, "b": 2}


def _seed(name: str) -> int:
    return zlib.crc32(name.encode())


def camera_clip(video: hb.Video, frames: int, seed: int, size: tuple[int, int] = CLIP_SIZE) -> hb.Video:
    """``frames`` pictures of a camera moving over the one-frame ``video``: per picture a
    pan of (vx, vy) luma samples (sub-pixel), a zoom by (1 + z) and a rotation by r
    radians, all drawn from ``seed``; cubic interpolation, then a Gaussian blur and luma
    noise of drawn strengths (rounded to 8 bits)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    vx, vy = rng.uniform(-2.0, 2.0, 2)
    zoom, rot = rng.uniform(-0.006, 0.006), rng.uniform(-0.003, 0.003)
    blur, noise = rng.uniform(0.0, 0.7), rng.uniform(0.0, 2.0)
    w, h = size
    src = [video.y[0].astype(np.float64), video.u[0].astype(np.float64), video.v[0].astype(np.float64)]
    planes = ([], [], [])
    for t in range(frames):
        s, a = (1 + zoom) ** t, rot * t
        for c, plane in enumerate(src):
            k = 1 if c == 0 else 2  # chroma at half resolution
            ow, oh = w // k, h // k
            # output (row, col) -> source (row, col): rotate and scale about the clip's centre,
            # which moves with the pan
            m = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) / s
            centre_src = np.array([plane.shape[0] / 2 + vy * t / k, plane.shape[1] / 2 + vx * t / k])
            offset = centre_src - m @ np.array([oh / 2, ow / 2])
            p = ndimage.affine_transform(plane, m, offset=offset, output_shape=(oh, ow), order=3, mode="reflect")
            if blur > 0:
                p = ndimage.gaussian_filter(p, blur / k)
            if c == 0 and noise > 0:
                p = p + rng.normal(0.0, noise, p.shape)
            planes[c].append(np.clip(np.rint(p), 0, 255).astype(np.uint8))
    return hb.Video(*(np.stack(p) for p in planes), fps=30.0)


class HookInputs:
    """A Python in-loop filter that makes training pairs: it keeps each picture's planes as
    the hook receives them, then filters luma with ``models`` (a loaded CNN filter: the
    model the runners would choose for the picture's QP and slice type), keeping it on each
    block of the runners' default map where it lowers the SSE against the source, unless
    the whole picture gains less than their default ``min_gain`` of its SSE: the runners'
    decision without the side information's price (a stand-in, not their D + lambda * R;
    the stream is not decoded)."""

    def __init__(self, models):
        from hm_bridge import _core  # the runners' defaults, read from where they are defined

        self.models, self.min_gain, self.block = models, _core.DEFAULT_MIN_GAIN, 1 << _core.DEFAULT_LOG2_BLOCK
        self.y, self.uv = {}, {}

    def __call__(self, pic):
        y = np.array(pic.y, copy=True)
        self.y[pic.poc], self.uv[pic.poc] = y, np.stack([np.array(pic.u), np.array(pic.v)])
        out = self.models.filter_plane(pic.qp, y, slice_type=pic.slice_type)
        out = out[0] if isinstance(out, tuple) else out  # (uint8, float) from the libtorch runner
        src = np.asarray(pic.orig[0]).astype(np.int64)
        h, w = y.shape
        keep = np.zeros_like(y, dtype=bool)
        n = self.block
        for by in range(0, h, n):
            for bx in range(0, w, n):
                b = np.s_[by:by + n, bx:bx + n]
                keep[b] = np.sum((out[b] - src[b]) ** 2) < np.sum((y[b] - src[b]) ** 2)
        chosen = np.where(keep, out, y)
        before = np.sum((y - src) ** 2)
        if before - np.sum((chosen - src) ** 2) > self.min_gain * before:
            pic.y[...] = chosen
        return None


_LOADED = {}


def _code_clip(args) -> dict:
    """One source as a clip, coded (verified, or with ``loop``'s filter in the loop and its
    hook inputs kept) in a worker: its pictures and labels."""
    source, qp, config, frames, preset, loop = args
    clip = camera_clip(source.load(), frames, _seed(source.name))
    uv = lambda v, i: np.stack([v.u[i], v.v[i]])
    if loop:
        from cnn_filter.loader import load_filter

        if loop not in _LOADED:
            _LOADED[loop] = load_filter(loop, device="cpu")
        hook = HookInputs(_LOADED[loop])
        r = hb.encode(clip, config=config, qp=qp, preset=preset, threads=1, loop_filter=hook, verify=False)
        inputs, inputs_uv = [hook.y[i] for i in range(frames)], [hook.uv[i] for i in range(frames)]
    else:
        r = hb.encode(clip, config=config, qp=qp, preset=preset, threads=1, recon="memory")  # verify=True
        inputs, inputs_uv = [r.recon.y[i].copy() for i in range(frames)], [uv(r.recon, i) for i in range(frames)]
    return {"inputs": inputs, "targets": [clip.y[i] for i in range(frames)], "inputs_uv": inputs_uv,
            "targets_uv": [uv(clip, i) for i in range(frames)], "types": list(r.frame_types),
            "qps": list(r.slice_qps), "encoder": r.encoder}


def _loop_id(loop: str | None) -> str:
    """The in-loop filter's identity for cache keys: its files' contents."""
    if not loop:
        return ""
    from cnn_filter import zoo

    m = zoo.open_models(loop)
    h = hashlib.sha256()
    for f in m.files + m.inter_files:
        h.update(Path(f).read_bytes())
    return f"|loop={h.hexdigest()[:16]}"


def _key(sources: list[Source], qp: int, config: str, frames: int, preset: str, loop: str | None = None) -> str:
    h = hashlib.sha256()
    for s in sources:
        h.update(s.name.encode())
    h.update(f"|qp={qp}|config={config}|frames={frames}|preset={preset}|recipe={RECIPE}|size={CLIP_SIZE}"
             f"{_loop_id(loop)}".encode())
    return h.hexdigest()[:16]


_ARRAYS = ("inputs", "targets", "inputs_uv", "targets_uv")


def make_inter_pairs(sources: list[Source], qp: int, config: str, cache_dir: Path, frames: int = 9,
                     preset: str = "slow", workers: int = 1, loop: str | None = None) -> PairSet:
    """Every source as a ``frames``-picture clip coded in ``config`` ("ra" or "ldp") at base
    QP ``qp`` (HM's cascade sets each picture's QP); the pairs of every picture, with
    ``slice_types``, ``layers`` and ``picture_qps``; cached in ``cache_dir``. ``workers``
    processes code in parallel (the pairs do not depend on it). ``loop``: a model directory
    in the loop, the pairs' inputs what its hook receives (HookInputs)."""
    if config not in ("ra", "ldp"):
        raise ValueError(f"inter-coded pairs come from ra or ldp, not {config!r}")
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tag = "inter_loop" if loop else "inter"
    path = cache_dir / f"pairs_{tag}_{config}_qp{qp}_{_key(sources, qp, config, frames, preset, loop)}.npz"
    if path.exists():
        with np.load(path) as z:
            n = int(z["count"])
            arrays = {f: [z[f"{f}_{i}"] for i in range(n)] for f in _ARRAYS}
            return PairSet(qp, [str(x) for x in z["names"]], **arrays, slice_types=[str(x) for x in z["types"]],
                           layers=[int(x) for x in z["layers"]], picture_qps=[int(x) for x in z["qps"]])
    jobs = [(s, qp, config, frames, preset, str(loop) if loop else None) for s in sources]
    desc = f"inter pairs {config.upper()} QP {qp}" + (f", {loop} in the loop" if loop else "")
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            coded = list(tqdm(pool.map(_code_clip, jobs), total=len(jobs), desc=desc, unit="clip", leave=False))
    else:
        coded = [_code_clip(j) for j in tqdm(jobs, desc=desc, unit="clip", leave=False)]
    names = [f"{s.name}@{i}" for s in sources for i in range(frames)]
    flat = {f: [a for c in coded for a in c[f]] for f in _ARRAYS}
    types = [t for c in coded for t in c["types"]]
    pairs = PairSet(qp, names, **flat, slice_types=types, layers=[LAYER[t] for t in types],
                    picture_qps=[q for c in coded for q in c["qps"]])
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, count=len(names), names=np.array(names), types=np.array(types), layers=np.array(pairs.layers),
             qps=np.array(pairs.picture_qps), **{f"{f}_{i}": a for f in _ARRAYS for i, a in enumerate(flat[f])})
    os.replace(tmp, path)
    manifest = cache_dir / "manifest.json"
    entries = json.loads(manifest.read_text()) if manifest.exists() else {}
    entries[path.name] = {"qp": qp, "config": config, "frames": frames, "preset": preset, "clips": len(sources),
                          "pictures": len(names), "recipe": RECIPE, "clip_size": list(CLIP_SIZE),
                          "loop": str(loop) if loop else None,
                          "by_slice_type": {t: types.count(t) for t in sorted(set(types))},
                          "first": sources[0].name, "last": sources[-1].name,
                          "x265": coded[0]["encoder"] if coded else "",
                          "what": ("(the hook's input: after x265's loop filters, references filtered by "
                                   f"{loop}" if loop else "(reconstruction after the x265 loop filters") +
                                  ", source) Y and UV per picture of camera-motion clips, labelled slice type, "
                                  "temporal layer, QP"}
    manifest.write_text(json.dumps(entries, indent=1, sort_keys=True))
    return pairs
