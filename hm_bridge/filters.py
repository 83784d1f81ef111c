"""Loop filters by name, for the CLI and experiment files.

    none                 no filter (the anchor)
    noop                 the hook runs, the picture is left as it is
    smoothing            the native demo filter (3x3 smoothing, per-block RDO)
    smoothing:always     the same, every block on
    LIB.so[:OPTIONS]     a native filter from a shared library (hm_bridge.load_native_filter)
    PATH                 a CNN filter (a model file or a directory of per-QP models),
                         loaded by cnn_filter.load_filter
"""
from __future__ import annotations

import os

from hm_bridge._core import NoopFilter, SmoothingFilter


def resolve_filter(spec: str | None, device: str | None = None):
    if spec is None or spec in ("", "none", "off"):
        return None
    if spec == "noop":
        return NoopFilter()
    if spec == "smoothing":
        return SmoothingFilter()
    if spec == "smoothing:always":
        return SmoothingFilter(rdo=False)
    library, sep, options = spec.partition(".so:")
    if sep or spec.endswith(".so"):
        from hm_bridge.native_filter import load_native_filter

        return load_native_filter(library + ".so" if sep else spec, options if sep else None)
    if os.path.exists(spec):
        try:
            from cnn_filter import load_filter
        except ImportError as e:
            raise ValueError(f"filter {spec!r} is a path, but the cnn_filter package is not available") from e
        return load_filter(spec, device=device)
    raise ValueError(f"unknown filter {spec!r}: use none, smoothing, smoothing:always, a filter library (.so) "
                     "or a model path")
