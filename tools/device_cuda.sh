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
source tools/device_common.sh "$@"
if [ "${1:-}" = "--prepare" ]; then du -sh third_party; exit 0; fi  # the device tool carries at most 64 MiB

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
