"""Loop filters from shared libraries: a filter written in C/C++ against
cpp/include/inloop_filter.h, built on its own, plugged in without rebuilding anything.

The library exports ``hmcnn_filter_open(const char* options)`` returning a
``const hmcnn_filter*`` (NULL on bad options) and, optionally,
``hmcnn_filter_close(const hmcnn_filter*)``. Example: cpp/examples/band_offset_filter.c.

    >>> f = hm_bridge.load_native_filter("libband_offset.so", "max_offset=8")
    >>> hm_bridge.encode(video, loop_filter=f)
"""
from __future__ import annotations

import ctypes
from pathlib import Path

from hm_bridge._core import (FILTER_ABI_VERSION, FILTER_CAPSULE_NAME, FILTER_CLOSE_SYMBOL, FILTER_OPEN_ERROR_SYMBOL,
                             FILTER_OPEN_SYMBOL)

# module-level: a capsule keeps a pointer to these bytes
_CAPSULE_NAME = FILTER_CAPSULE_NAME.encode()

_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)


class NativeLibraryFilter:
    """A filter table opened from a shared library; pass it as ``loop_filter=``. The
    library stays loaded and the table open while this object lives."""

    def __init__(self, path, options: str | None = None):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no filter library at {path}")
        try:
            self._lib = ctypes.CDLL(str(path.resolve()))
        except OSError as e:
            raise ValueError(f"cannot load filter library {path}: {e}") from e
        try:
            open_fn = getattr(self._lib, FILTER_OPEN_SYMBOL)
        except AttributeError:
            raise ValueError(f"{path} does not export {FILTER_OPEN_SYMBOL}(): not an hm-cnn-loop filter library") from None
        open_fn.restype = ctypes.c_void_p
        open_fn.argtypes = (ctypes.c_char_p,)
        self._close = getattr(self._lib, FILTER_CLOSE_SYMBOL, None)
        if self._close is not None:
            self._close.restype = None
            self._close.argtypes = (ctypes.c_void_p,)
        self.path, self.options = path, options
        self._table = open_fn(options.encode() if options is not None else None)
        if not self._table:
            why = getattr(self._lib, FILTER_OPEN_ERROR_SYMBOL, None)
            reason = ""
            if why is not None:
                why.restype, why.argtypes = ctypes.c_char_p, ()
                reason = (why() or b"").decode(errors="replace")
            raise ValueError(f"{path}: {FILTER_OPEN_SYMBOL}({options!r}) refused the options"
                             + (f": {reason}" if reason else ""))
        version = ctypes.c_uint32.from_address(self._table).value  # first field: abi_version
        if version != FILTER_ABI_VERSION:
            self.close()
            raise ValueError(f"{path} speaks filter ABI version {version}, this build speaks {FILTER_ABI_VERSION}")

    def __hmcnn_plugin__(self) -> str:
        """What an out-of-process codec (HM) loads: "LIB.so[:OPTIONS]"."""
        return str(self.path.resolve()) + (f":{self.options}" if self.options else "")

    def __hmcnn_filter__(self):
        if not self._table:
            raise ValueError(f"filter from {self.path} is closed")
        return _capsule_new(self._table, _CAPSULE_NAME, None)

    def close(self) -> None:
        if getattr(self, "_table", None) and self._close is not None:
            self._close(self._table)
        self._table = None

    def __del__(self):
        self.close()

    def __repr__(self) -> str:
        return f"NativeLibraryFilter({str(self.path)!r}, options={self.options!r})"


def load_native_filter(path, options: str | None = None) -> NativeLibraryFilter:
    """Opens the filter exported by the shared library at ``path`` (see module doc)."""
    return NativeLibraryFilter(path, options)
