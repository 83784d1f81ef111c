"""cnn_filter: CNN loop filters (VRCNN and a registry for more), training data made by
our own codec, the shared training loop, TorchScript / torch.export export, the model
zoo, and the libtorch runner that puts them inside the x265/libde265 loop.

Names are imported lazily so that `import cnn_filter.cli` does not load torch.
"""
import importlib

_EXPORTS = {
    "VRCNN": "cnn_filter.models", "count_parameters": "cnn_filter.models", "create_model": "cnn_filter.models",
    "model_names": "cnn_filter.models", "register_model": "cnn_filter.models",
    "CnnFilter": "cnn_filter.loader", "load_filter": "cnn_filter.loader",
    "resolve_filter": "cnn_filter.filters", "open_models": "cnn_filter.zoo",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cnn_filter' has no attribute {name!r}")
