#!/usr/bin/env bash
# Issue 27's GPU part, prepared on a CPU machine, for a lent CUDA machine (the device
# tool: Python 3.12, torch+CUDA installed, no package registry). Not run by CI.
#
#   here:    bash tools/device_train.sh --prepare   # wheels -> third_party/wheels, BSDS500 -> gpu_data/
#   device:  run(command="bash tools/device_train.sh",
#                carry=["third_party/x265", "third_party/libde265", "third_party/wheels", "gpu_data"],
#                timeout_s=560)
#
# On the device: the build (tools/device_common.sh), the training pairs (intra, and
# inter-coded with the slice-aware set in the loop: the hook's inputs) made on every core,
# then on the GPU the inter models of models/vrcnn_inter continued on those pairs and
# yuv_resnet continued (QP-balanced), each
# on a clock (--time-limit: a whole cosine schedule in the time given), then the validation
# gains per slice type. Models, logs and tables land under $OUT; copy the model folders
# into models/ and run the sweeps of models/README.md on the CPU.
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/device_common.sh "$@"
if [ "${1:-}" = "--prepare" ]; then
  mkdir -p gpu_data && cp -r "${HMCNN_DATA:-../shared/data}/bsds500" gpu_data/
  du -shc third_party/x265 third_party/libde265 third_party/wheels gpu_data  # the device tool carries at most 64 MiB
  exit 0
fi
export HMCNN_DATA=$PWD/gpu_data
SECONDS_PER_MODEL=${SECONDS_PER_MODEL:-75}  # 4 inter models, then yuv_resnet for 4x that
PAIRS=runs/gpu_pairs
COMMON=(--images all --preset slow --cache "$PAIRS" --device cuda --no-pt2 --steps 1000000)

step "training pairs (intra, and inter-coded with models/vrcnn_inter in the loop), every core"
hmcnn train --pairs-only --qps 22 27 32 37 --inter ra ldp --inter-loop models/vrcnn_inter --workers "$(nproc)" \
  --out "$PAIRS" --images all --preset slow --cache "$PAIRS" | tee "$OUT/pairs.txt"

step "inter models (VRCNN, P and B pictures) on the hook's inputs, from models/vrcnn_inter"
hmcnn train --arch vrcnn --qps 27 32 37 42 --inter ra ldp --inter-loop models/vrcnn_inter --init models/vrcnn_inter \
  --out "$OUT/vrcnn_inter" \
  "${COMMON[@]}" --batch 64 --patch 96 --lr 2e-4 --warmup 100 --eval-every 1000 --time-limit "$SECONDS_PER_MODEL" \
  --workers "$(nproc)" | tee "$OUT/train_vrcnn_inter.txt"

step "yuv_resnet continued (QP-balanced)"
hmcnn train --arch yuv_resnet --qps 22 27 32 37 --qp-balanced --init models/yuv_resnet --out "$OUT/yuv_resnet" \
  "${COMMON[@]}" --batch 32 --patch 128 --lr 1.5e-4 --warmup 100 --eval-every 1000 \
  --time-limit "$((4 * SECONDS_PER_MODEL))" | tee "$OUT/train_yuv_resnet.txt"

step "validation gains per slice type"
"$PY" -m experiments.slice_type_gain --models "$OUT/vrcnn_inter" --workers "$(nproc)" --cache "$PAIRS" \
  | tee "$OUT/slice_type_gain.txt"
step done
