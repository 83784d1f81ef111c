"""Loop filters by name, for the CLI and experiment files (above the codec layer: it
knows native plug-ins and CNN model directories alike).

    none                 no filter (the anchor)
    noop                 the hook runs, the picture is left as it is
    smoothing            the native demo filter (3x3 smoothing, per-block D + lambda * R)
    smoothing:always     the same, every block on
    LIB.so[:OPTIONS]     a native filter from a shared library (hm_bridge.load_native_filter)
    PATH[:OPTIONS]       a CNN filter (a model file or a directory of per-QP models);
                         OPTIONS: ';'-separated rdo=0|1, min_gain=G, log2_block=N, search=N, block_sizes=N, threads=N,
                         device=cpu|cuda|cuda:N (integer models on a GPU run exactly, the same bits)
"""
from __future__ import annotations

import os

NO_FILTER = ("", "none", "off")
#: filters named by a word: name -> maker(hm_bridge)
_NAMED = {
    "noop": lambda hb: hb.NoopFilter(),
    "smoothing": lambda hb: hb.SmoothingFilter(),
    "smoothing:always": lambda hb: hb.SmoothingFilter(rdo=False),
}
_MODEL_OPTIONS = {"rdo": lambda v: bool(int(v)), "min_gain": float, "log2_block": int, "search": int,
                  "block_sizes": int, "threads": int, "device": str}


def _model_options(text: str) -> dict:
    """``rdo=0;min_gain=0.01`` -> load_filter keyword arguments; ValueError if unknown."""
    out = {}
    for item in filter(None, text.split(";")):
        key, eq, value = item.partition("=")
        if not eq or key not in _MODEL_OPTIONS:
            raise ValueError(f"unknown model option {item!r}: use {', '.join(k + '=...' for k in _MODEL_OPTIONS)}")
        try:
            out[key] = _MODEL_OPTIONS[key](value)
        except ValueError:
            raise ValueError(f"model option {key}={value!r} is not a number") from None
    return out


def split_model_spec(spec: str) -> tuple[str, str]:
    """``models/vrcnn:min_gain=0.01`` -> (``models/vrcnn``, ``min_gain=0.01``)."""
    path, sep, options = spec.rpartition(":")
    if sep and os.path.exists(path) and "=" in options:
        return path, options
    return spec, ""


def check_filter_spec(spec: str | None) -> None:
    """Raises ValueError / FileNotFoundError, with the reason, unless ``spec`` names a
    filter that resolve_filter can make; loads nothing (a sweep checks its specs before
    it codes anything)."""
    if spec is None or spec in NO_FILTER or spec in _NAMED:
        return
    library, sep, _ = spec.partition(".so:")
    if sep or spec.endswith(".so"):
        library = library + ".so" if sep else spec
        if not os.path.isfile(library):
            raise FileNotFoundError(f"no filter library at {library}")
        return
    path, options = split_model_spec(spec)
    if not os.path.exists(path):
        raise ValueError(f"unknown filter {spec!r}: use none, {', '.join(_NAMED)}, a filter library (.so) "
                         f"or a model path (nothing at {os.path.abspath(path)})")
    _model_options(options)
    from cnn_filter.zoo import open_models

    open_models(path)  # a manifest naming missing files, a QP out of range: said here


def resolve_filter(spec: str | None, device: str | None = None):
    """The filter object a spec names (None for no filter); ValueError if unknown."""
    import hm_bridge as hb

    check_filter_spec(spec)
    if spec is None or spec in NO_FILTER:
        return None
    if spec in _NAMED:
        return _NAMED[spec](hb)
    library, sep, options = spec.partition(".so:")
    if sep or spec.endswith(".so"):
        return hb.load_native_filter(library + ".so" if sep else spec, options if sep else None)
    path, options = split_model_spec(spec)
    from cnn_filter.loader import load_filter

    opts = _model_options(options)
    return load_filter(path, device=opts.pop("device", device), **opts)
