#!/usr/bin/env bash
# GPU checks of the scale work, in one go on a CUDA machine (run from the repository root):
#
#   bash scripts/gpu.sh                      # about 10 minutes on one H100 with 16 cores
#   FULL_SIZE=1 bash scripts/gpu.sh          # also Polyvore-630's size at 224 px (a 19.6 GiB store, +15 minutes)
#   RES224=0 bash scripts/gpu.sh             # without step 4 (224 px at synthetic630's size)
#   LOAD_REPEATS=0 SCORE_REPEATS=3 AMP_DATASET=synthetic630full AMP_EPOCHS=1 bash scripts/gpu.sh
#                                               # a short lease: about 4 minutes on one H200 with 16 cores
#
# 1. the CUDA tests of mixed precision and channels-last (tests/test_precision.py);
# 2. the scale benchmark on synthetic630full (Polyvore-630 size, 64 px): dataset load with RecBole's reader
#    and the fast loader, training step and full test scoring contiguous / channels-last / channels-last +
#    bfloat16 autocast, peak GPU memory (report: $OUT/scale-synthetic630full.md);
# 3. NPair trained AMP_EPOCHS epochs on AMP_DATASET (default synthetic630) with and without enable_amp: test
#    AUC and NDCG side by side, and the seconds each run trained (report: $OUT/amp/scale-<AMP_DATASET>.md). A
#    separate report, so that the tables of step 2 are kept if a short lease ends during these runs;
# 4. 224 px (the paper's input size) at synthetic630's size (synthetic630px224, drawn at 291 px): training step
#    and full scoring against the bare item encoder, with the store on the GPU and then forced onto the host
#    path (gpu_store_budget=0: pinned reads, asynchronous copies, the next batch read ahead; also with the store
#    dropped from the page cache before each pass, read from disk with and without reading ahead), and one NPair
#    epoch at 224 px with and without enable_amp (reports: $OUT/224px/, $OUT/224px-host/, $OUT/224px/amp/);
# 5. with FULL_SIZE=1, Polyvore-630's size at 224 px (synthetic630full224): full test scoring on the GPU, for
#    the paper's 74.1 s (XS, P100, Table 5), and on the host path (the store is larger than a 16-24 GB card).
#
# Figures go to results/gpu/ (scale-<dataset>.md and .json, and this script's log); the device is named
# in each report. Needs the project installed in the Python given by $PYTHON (default .venv/bin/python):
#   python3 -m venv .venv && .venv/bin/pip install -e ".[test]"
# The synthetic data is generated and converted on first use (a few minutes of CPU; about 2 GB at 64 px).
set -euo pipefail

PYTHON=${PYTHON:-.venv/bin/python}
OUT=${OUT:-results/gpu}
STEPS=${STEPS:-40}
ROUNDS=${ROUNDS:-2}
LOAD_REPEATS=${LOAD_REPEATS:-1}
SCORE_REPEATS=${SCORE_REPEATS:-2}
AMP_EPOCHS=${AMP_EPOCHS:-10}
AMP_DATASET=${AMP_DATASET:-synthetic630}
TESTS=${TESTS:-1}  # 0: skip step 1 (a lease that ran the CUDA tests already)
WORKERS=${WORKERS:-$(nproc)}
mkdir -p "$OUT"
LOG="$OUT/gpu-run.log"
exec > >(tee -a "$LOG") 2>&1

echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
"$PYTHON" - <<'EOF'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit("scripts/gpu.sh needs a CUDA device: torch.cuda.is_available() is False")
print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, bf16: {torch.cuda.is_bf16_supported()}")
EOF

if [ "$TESTS" = "1" ]; then
    echo "== 1. CUDA tests (mixed precision, channels-last)"
    # a failure is reported and the benchmark still runs, so that one lease gives both answers
    OMP_NUM_THREADS=4 "$PYTHON" -m pytest -q tests/test_precision.py || echo "== CUDA tests FAILED (exit $?); the benchmark runs anyway"
fi

echo "== 2. scale benchmark, synthetic630full at 64 px (data generated on first use)"
"$PYTHON" -m recbole_outfit.benchmarks.scale --dataset=synthetic630full --steps="$STEPS" --rounds="$ROUNDS" \
    --load_repeats="$LOAD_REPEATS" --score_repeats="$SCORE_REPEATS" --amp_epochs=0 \
    --out="$OUT" --gpu_id=0 --convert_workers="$WORKERS"

if [ "$AMP_EPOCHS" != "0" ]; then
    echo "== 3. NPair on $AMP_DATASET with and without enable_amp, $AMP_EPOCHS epoch(s) each"
    "$PYTHON" -m recbole_outfit.benchmarks.scale --dataset="$AMP_DATASET" --steps=4 --rounds=1 --load_repeats=0 \
        --score_repeats=0 --amp_dataset="$AMP_DATASET" --amp_epochs="$AMP_EPOCHS" --out="$OUT/amp" --gpu_id=0 \
        --convert_workers="$WORKERS"
fi

if [ "${RES224:-1}" = "1" ]; then
    echo "== 4. 224 px at synthetic630's size: store on the GPU, then the host path; one epoch with and without AMP"
    "$PYTHON" -m recbole_outfit.benchmarks.scale --dataset=synthetic630px224 --steps="$STEPS" --rounds="$ROUNDS" \
        --load_repeats=0 --score_repeats="$SCORE_REPEATS" --amp_dataset=synthetic630px224 --amp_epochs=1 \
        --out="$OUT/224px" --gpu_id=0 --convert_workers="$WORKERS"
    "$PYTHON" -m recbole_outfit.benchmarks.scale --dataset=synthetic630px224 --steps="$STEPS" --rounds="$ROUNDS" \
        --load_repeats=0 --score_repeats="$SCORE_REPEATS" --amp_epochs=0 --out="$OUT/224px-host" --gpu_id=0 \
        --convert_workers="$WORKERS" --gpu_store_budget=0 --cold_store
fi

if [ "${FULL_SIZE:-0}" = "1" ]; then
    echo "== 5. Polyvore-630's size at 224 px: full test scoring, store on the GPU and on the host path"
    "$PYTHON" -m recbole_outfit.benchmarks.scale --dataset=synthetic630full224 --steps=0 --load_repeats=0 \
        --score_repeats=2 --amp_epochs=0 --out="$OUT/224px-full" --gpu_id=0 --convert_workers="$WORKERS"
    "$PYTHON" -m recbole_outfit.benchmarks.scale --dataset=synthetic630full224 --steps=0 --load_repeats=0 \
        --score_repeats=1 --amp_epochs=0 --out="$OUT/224px-full-host" --gpu_id=0 --convert_workers="$WORKERS" \
        --gpu_store_budget=0
fi

echo "== done $(date -u '+%H:%M:%S UTC'): figures in $OUT/"
