"""Loop filters by name, for the CLI and experiment files (above the codec layer: it
knows native plug-ins and CNN model directories alike).

    none                 no filter (the anchor)
    noop                 the hook runs, the picture is left as it is
    smoothing            the native demo filter (3x3 smoothing, per-block D + lambda * R)
    smoothing:always     the same, every block on
    LIB.so[:OPTIONS]     a native filter from a shared library (hm_bridge.load_native_filter)
    PATH                 a CNN filter (a model file or a directory of per-QP models)
"""
from __future__ import annotations

import os

NO_FILTER = ("", "none", "off")


def resolve_filter(spec: str | None, device: str | None = None):
    """The filter object a spec names (None for no filter); ValueError if unknown."""
    import hm_bridge as hb

    if spec is None or spec in NO_FILTER:
        return None
    if spec == "noop":
        return hb.NoopFilter()
    if spec == "smoothing":
        return hb.SmoothingFilter()
    if spec == "smoothing:always":
        return hb.SmoothingFilter(rdo=False)
    library, sep, options = spec.partition(".so:")
    if sep or spec.endswith(".so"):
        return hb.load_native_filter(library + ".so" if sep else spec, options if sep else None)
    if os.path.exists(spec):
        from cnn_filter.loader import load_filter

        return load_filter(spec, device=device)
    raise ValueError(f"unknown filter {spec!r}: use none, smoothing, smoothing:always, a filter library (.so) "
                     "or a model path")
