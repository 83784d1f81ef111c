"""A filter's model files sent with its jobs to cluster nodes, content-addressed: the
coordinator packs the files its spec names (resolved where the sweep was started) and
names them by their SHA-256; a node writes them once into its cache
($HMCNN_MODEL_CACHE, default ~/.cache/hm-cnn-loop/models/DIGEST) and every later job
with the same digest finds them there.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

#: files of a model directory that are not the model (never sent)
_NOT_MODEL = {".gitignore", "train.log"}


def model_files(path: Path) -> dict[str, bytes]:
    """The files of a model directory (relative name -> bytes), or the one model file."""
    path = Path(path)
    if path.is_file():
        return {path.name: path.read_bytes()}
    return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*"))
            if f.is_file() and f.name not in _NOT_MODEL}


def digest_of(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + len(files[name]).to_bytes(8, "little"))
        h.update(files[name])
    return h.hexdigest()


def pack(spec: str) -> tuple[str, dict[str, bytes], bool] | None:
    """(digest, files, is_file) for a spec naming a model path here; None for other filters."""
    from cnn_filter.filters import split_model_spec

    path = Path(split_model_spec(spec)[0])
    if spec.endswith(".so") or ".so:" in spec or not path.exists():
        return None
    files = model_files(path)
    return digest_of(files), files, path.is_file()


def cache_dir() -> Path:
    return Path(os.environ.get("HMCNN_MODEL_CACHE") or Path.home() / ".cache" / "hm-cnn-loop" / "models")


def materialize(digest: str, files, is_file: bool = False) -> Path:
    """The model's path in this node's cache, written from ``files`` (a dict, or a Ray
    object reference to one, fetched only when the cache lacks it) the first time."""
    home = cache_dir() / digest
    if not home.is_dir():
        if not isinstance(files, dict):  # a Ray ObjectRef: fetched only now
            import ray

            files = ray.get(files)
        if digest_of(files) != digest:
            raise RuntimeError(f"the model files received do not match their digest {digest[:12]}")
        home.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=home.parent))
        for name, data in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        try:
            os.rename(tmp, home)  # atomic: another job on this node may have won the race
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    if is_file:
        return next(p for p in home.iterdir() if p.is_file())
    return home
