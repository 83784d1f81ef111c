"""load_filter(): a trained model (or a directory of per-QP models) as a native in-loop
filter for hm_bridge.encode/decode. Inference runs in C++, never through the Python
interpreter: libtorch for TorchScript models (CnnFilter), our integer runner for the
fixed-point models `hmcnn quantize` writes (IntegerFilter: the same bits on any machine)."""
from __future__ import annotations

from pathlib import Path

from cnn_filter import zoo


class CnnFilter:
    """A libtorch in-loop filter: per-QP TorchScript models, nearest-QP selection (the
    model id travels in the side information), per-block on/off by rate-distortion.
    Pass it as ``loop_filter=`` to hm_bridge.encode/decode."""

    def __init__(self, runner, models: zoo.ModelSet):
        self._runner = runner
        self.models = models

    @property
    def path(self) -> Path:
        return self.models.path

    @property
    def meta(self) -> dict:
        return self.models.meta

    def __hmcnn_filter__(self):
        return self._runner.__hmcnn_filter__()

    def __hmcnn_plugin__(self) -> str:
        """The same filter for an out-of-process codec (HM): our libtorch plug-in and its options."""
        return f"{plugin_path()}:{self.plugin_options}"

    @property
    def qps(self) -> list[int]:
        return list(self._runner.qps)

    @property
    def device(self) -> str:
        return self._runner.device

    def select_model(self, qp: int, slice_type: int = zoo.SLICE_I) -> int:
        """The model the loop runs on a picture of slice QP ``qp`` and HEVC ``slice_type``."""
        return self._runner.select_model(qp, slice_type)

    @property
    def kind(self) -> str:
        return self.models.kind or "loop"

    def filter_plane(self, qp: int, y, slice_type: int = zoo.SLICE_I):
        """Luma models: runs the model chosen for ``qp`` (and ``slice_type``) on a uint8 luma
        plane exactly as in the loop; returns (uint8 output, float output in 0..255 before rounding)."""
        return self._runner.filter_plane(self._runner.select_model(qp, slice_type), y)

    def filter_picture(self, qp: int, y, u, v, slice_type: int = zoo.SLICE_I):
        """Runs the model for slice QP ``qp`` (and ``slice_type``) on a 4:2:0 picture exactly
        as in the loop (every block on); returns uint8 (y, u, v) (u, v unchanged by a luma model)."""
        return self._runner.filter_picture(self._runner.select_model(qp, slice_type), y, u, v, qp)

    def __repr__(self) -> str:
        return f"CnnFilter({str(self.path)!r}, qps={self.qps}, device={self.device!r})"


#: the tile context when the architecture does not say (and the least one used)
DEFAULT_CONTEXT = 16


def receptive_radius(models: zoo.ModelSet) -> int | None:
    """What the model's files say (the manifest, or a file's sidecar), as the C++ reader reads it."""
    return models.receptive_radius


def default_context(models: zoo.ModelSet) -> int:
    """At least the architecture's receptive radius, rounded up to a multiple of 8."""
    radius = receptive_radius(models) or 0
    return max(DEFAULT_CONTEXT, (radius + 7) // 8 * 8)


def check_context(models: zoo.ModelSet, context: int) -> None:
    """Tiles are cut with ``context`` samples around them; a network that looks further
    would make tiled output differ from whole-picture output."""
    radius = receptive_radius(models)
    if radius is not None and context < radius:
        raise ValueError(f"tile context {context} is below {models.arch}'s receptive radius {radius}: "
                         "tiled inference would differ from whole-picture inference")


class _IntegerModels:
    """What both ways of running integer (.hmq) models share: the native filter object,
    the plug-in an out-of-process codec loads (``PLUGIN`` with ``plugin_options``), the
    model choice."""

    PLUGIN = ""
    kind = "loop"

    def __init__(self, runner, models: zoo.ModelSet, options: str):
        self._runner, self.models, self.plugin_options = runner, models, options

    path = property(lambda self: self.models.path)
    qps = property(lambda self: list(self.models.qps))

    def __hmcnn_filter__(self):
        return self._runner.__hmcnn_filter__()

    def __hmcnn_plugin__(self) -> str:
        return f"{plugin_path(self.PLUGIN)}:{self.plugin_options}"

    def select_model(self, qp: int, slice_type: int = zoo.SLICE_I) -> int:
        return self._runner.select_model(qp, slice_type)


class IntegerFilter(_IntegerModels):
    """Integer (.hmq) models in the integer runner: no libtorch, no float, bit-exact across
    machines, kernels (scalar; avx2, with exact Winograd on the layers that qualify;
    avx2-direct), thread counts and stripe heights (0: one per thread). Side information
    names the model (its index, and on I pictures the file's 16-bit content hash)."""

    PLUGIN = "libhmcnn_int_filter.so"
    kernel = property(lambda self: self._runner.kernel)
    device = "cpu"

    def model_hash(self, index: int) -> int:
        return self._runner.model_hash(index)

    def winograd_layers(self, qp: int) -> list[str]:
        """The layers of the model for ``qp`` that the avx2 kernel runs as exact-integer
        Winograd F(2x2, 3x3) (the others run direct; both give the same bits)."""
        return list(self._runner.winograd_layers(self._runner.select_model(qp)))

    def filter_plane(self, qp: int, y, kernel: str = "", threads: int = 0, stripe: int = 0,
                     slice_type: int = zoo.SLICE_I):
        """The model for ``qp`` (and ``slice_type``) on a uint8 luma plane, as in the loop
        (optionally with another kernel / threads / stripe height: the same bits)."""
        return self._runner.filter_plane(self._runner.select_model(qp, slice_type), y, kernel, threads, stripe)

    def filter_plane_deep(self, qp: int, y, bit_depth: int, kernel: str = "", threads: int = 0, stripe: int = 0):
        """The model for ``qp`` on a 9..12-bit luma plane (uint16), as in the loop at that
        depth; ValueError (naming the layer) where an accumulator could leave int32."""
        return self._runner.filter_plane_deep(self._runner.select_model(qp), y, bit_depth, kernel, threads, stripe)

    def __repr__(self) -> str:
        return f"IntegerFilter({str(self.path)!r}, qps={self.qps}, kernel={self.kernel!r})"


class ExactIntegerFilter(_IntegerModels):
    """Integer (.hmq) models evaluated with libtorch on any device (CPU, CUDA): float64
    convolutions of integer-valued tensors, exact because every partial sum stays below
    2^53 (proved per layer when loading), then the integer runner's shift and clamp in int64.
    The integer runner's bits and side information: a stream coded with one decodes with
    the other (cpp/torch_runner/exact_int_models.h)."""

    PLUGIN = "libhmcnn_torch_filter.so"
    device = property(lambda self: self._runner.device)

    def filter_plane(self, qp: int, y, slice_type: int = zoo.SLICE_I):
        """The model for ``qp`` (and ``slice_type``) on a uint8 luma plane, as in the loop."""
        return self._runner.filter_plane(self._runner.select_model(qp, slice_type), y)

    def __repr__(self) -> str:
        return f"ExactIntegerFilter({str(self.path)!r}, qps={self.qps}, device={self.device!r})"


def load_exact_integer_filter(path, device: str = "cpu", *, stripe: int = 512, rdo: bool = True, log2_block: int = 6,
                              min_gain: float | None = None, search: int = 1,
                              block_sizes: int | None = None) -> ExactIntegerFilter:
    """Integer models on libtorch (``device``: "cpu", "cuda", "cuda:N"), to the integer
    runner's bits. ValueError naming the layer if a float64 sum could stop being exact."""
    import torch  # noqa: F401  (loads libtorch before the runner extension)

    from cnn_filter._runner import ExactIntOptions, ExactIntRunner

    models, o = _integer_models(path, ExactIntOptions())
    o.device, o.stripe = device, stripe
    blocks = _block_switching(o, rdo, log2_block, min_gain, search, block_sizes)
    options = f"models={Path(path).resolve()};device={device};stripe={stripe};{blocks}"
    return ExactIntegerFilter(ExactIntRunner(o), models, options)


def _integer_models(path, o):
    """(the model set, ``o`` filled with its QPs and files) for an integer model directory;
    ValueError for TorchScript models."""
    models = zoo.open_models(path)
    if not models.integer:
        raise ValueError(f"{path} holds TorchScript models, not integer ones: run `hmcnn quantize` first")
    o.qps, o.paths, o.inter = models.runner_models()
    return models, o


def _block_switching(o, rdo: bool, log2_block: int, min_gain: float | None, search: int,
                     block_sizes: int | None) -> str:
    """Sets the block switching on a runner's options ``o`` (ValueError for a bad min_gain,
    search or block_sizes; None: the runners' default, kDefaultBlockSizes in block_policy.h,
    capped as the plug-ins cap it where 8x8 is the smallest block) and returns it as the
    plug-in's options (the same filter in a codec's process)."""
    check_min_gain(min_gain)
    if not 1 <= search <= 8:
        raise ValueError(f"search must be in 1..8 (models tried per picture and kind), got {search}")
    if not 3 <= log2_block <= 8:
        raise ValueError(f"log2_block must be in 3..8, got {log2_block}")
    sizes = min(o.block_sizes, max(1, log2_block - 2)) if block_sizes is None else block_sizes
    if not 1 <= sizes <= log2_block - 2:
        raise ValueError(f"block_sizes must be in 1..{log2_block - 2} (log2_block and the halvings below it, "
                         f"down to 8x8), got {sizes}")
    o.log2_block, o.rdo, o.search, o.block_sizes = log2_block, rdo, search, sizes
    if min_gain is not None:
        o.min_gain = min_gain
    return (f"rdo={int(rdo)};log2_block={log2_block};search={search};block_sizes={sizes}"
            + ("" if min_gain is None else f";min_gain={min_gain}"))


def check_min_gain(min_gain: float | None) -> None:
    if min_gain is not None and not 0.0 <= min_gain < 1.0:
        raise ValueError(f"min_gain must be in [0, 1), got {min_gain}")


def load_integer_filter(path, *, kernel: str = "auto", threads: int = 1, stripe: int = 0, rdo: bool = True,
                        log2_block: int = 6, min_gain: float | None = None, search: int = 1,
                        block_sizes: int | None = None) -> IntegerFilter:
    from cnn_filter._int_runner import IntFilterOptions, IntRunner

    models, o = _integer_models(path, IntFilterOptions())
    o.kernel, o.threads, o.stripe = kernel, threads, stripe
    blocks = _block_switching(o, rdo, log2_block, min_gain, search, block_sizes)
    options = f"models={Path(path).resolve()};kernel={kernel};threads={threads};stripe={stripe};{blocks}"
    return IntegerFilter(IntRunner(o), models, options)


def load_filter(path, device: str | None = None, *, half: bool = False, tile: int = 256, context: int | None = None,
                rdo: bool = True, log2_block: int = 6, integer: bool | None = None, threads: int = 1,
                min_gain: float | None = None, search: int = 1, block_sizes: int | None = None):
    """A model file (``qpNN.pt`` + optional ``qpNN.json``) or a directory of models
    (``manifest.json``) as a native loop filter. ``device``: None = CUDA if available,
    else CPU. ``context``: None = enough for the architecture's receptive field.
    ``integer``: None = as the directory holds (.hmq models run in the integer runner,
    ``threads`` of it, or exactly on libtorch when ``device`` is a GPU); True insists on
    integer models. ``min_gain``: the least relative
    SSE gain that switches a picture on (None: the runners' default, block_policy.h). ``search``: the
    encoder tries the ``search`` models nearest in QP of the picture's kind (and, on a P or B picture
    of a set with inter models, as many intra models) and keeps the cheapest
    (block_switched_filter.h); ``block_sizes``: it tries that many block sizes for the on/off map,
    ``log2_block`` and the halvings below it, and keeps the cheapest (None: the runners' default).
    Raises FileNotFoundError / ValueError with the reason, never crashes."""
    models = zoo.open_models(path)
    if integer or (integer is None and models.integer):
        if device not in (None, "cpu"):  # an integer model on a GPU: exact, the integer runner's bits
            return load_exact_integer_filter(path, device, rdo=rdo, log2_block=log2_block, min_gain=min_gain,
                                             search=search, block_sizes=block_sizes)
        return load_integer_filter(path, threads=threads, rdo=rdo, log2_block=log2_block, min_gain=min_gain,
                                   search=search, block_sizes=block_sizes)
    import torch  # loads libtorch before the runner extension

    from cnn_filter._runner import TorchFilterOptions, TorchRunner

    context = default_context(models) if context is None else context
    check_context(models, context)
    o = TorchFilterOptions()
    o.qps, o.paths, o.inter = models.runner_models()
    o.kind = models.kind or "loop"
    o.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    o.half, o.tile, o.context = half, tile, context
    blocks = _block_switching(o, rdo, log2_block, min_gain, search, block_sizes)
    f = CnnFilter(TorchRunner(o), models)
    f.plugin_options = (f"models={Path(path).resolve()};device={o.device};tile={tile};context={context};"
                        f"half={int(half)};{blocks}")
    return f


PLUGIN_NAME = ExactIntegerFilter.PLUGIN  # the libtorch plug-in
INT_PLUGIN_NAME = IntegerFilter.PLUGIN


def plugin_path(name: str = PLUGIN_NAME) -> Path:
    """Where a filter plug-in (hmcnn_filter_open("models=DIR;...")) is installed: the libtorch
    one (default) or the integer one (INT_PLUGIN_NAME), beside the package's extensions."""
    from cnn_filter import _int_runner

    path = Path(_int_runner.__file__).resolve().parent / name
    if not path.is_file():
        raise FileNotFoundError(f"the plug-in {name} is not beside {_int_runner.__file__}: rebuild the package "
                                "(bash tools/setup.sh)")
    return path
