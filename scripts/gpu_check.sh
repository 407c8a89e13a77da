#!/usr/bin/env bash
# cunet's JAX path on a GPU machine, unattended: tests, training speed, mask throughput, and a
# paper-size C-U-Net trained for the time left. Everything it measures goes to $OUT.
#
# Needs: a Python with cunet installed (`pip install -e '.[test]'` in this repository) and JAX for the
# GPU (e.g. `pip install -U "jax[cuda12]"`), and a stem cache from `cunet prepare` (no GPU needed
# for that; prepare it here or copy it over):
#   cunet prepare --musdb-root MUSDB_ROOT --config cunet-simple-dense --out CACHE
# Run:
#   CACHE=CACHE OUT=gpu-out bash scripts/gpu_check.sh            # about 8 minutes (GPU_CHECK_SECONDS)
#   CACHE=CACHE OUT=gpu-out bash scripts/gpu_check.sh --quick    # a few minutes; on a CPU too
# Without a GPU it runs on the CPU and says so: the figures are then CPU figures.
#
# It writes, in $OUT:
#   gpu_check.log   everything printed, step by step, with the time each step took
#   nvidia-smi.txt  the card (nvidia-smi -q), or the CPU-fallback note
#   results.json    bench_train.py --backend jax (patches/s, measured peak, fraction, peak memory),
#                   gpu_masks.py (mask throughput, projected real-time factor), gpu_train.py summary
#   training.csv    the training run's loss every 100 steps (and its validation loss)
#   model.keras     the model it trained: separate or evaluate it anywhere (`cunet evaluate --model`)
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_check_out}
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d)   # intermediate files
QUICK=${GPU_CHECK_QUICK:-0}
[ "${1:-}" = "--quick" ] && QUICK=1
BUDGET=${GPU_CHECK_SECONDS:-450}   # the whole script; the training run gets what is left
CACHE=${CACHE:?set CACHE to a stem cache written by cunet prepare (see the top of this script)}
START=$(date +%s)
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_check.log") 2>&1
elapsed() { echo $(( $(date +%s) - START )); }
step() { echo; echo "=== [$(elapsed)s] $*"; }

step "machine"
date -u; uname -a; "$PYTHON" --version; nproc
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit --format=csv
  nvidia-smi -q > "$OUT/nvidia-smi.txt" 2>&1
else
  echo "no nvidia-smi on this machine" | tee "$OUT/nvidia-smi.txt"
fi

export KERAS_BACKEND=jax TF_CPP_MIN_LOG_LEVEL=3
PLATFORM=$("$PYTHON" -c "import jax; print(jax.devices()[0].platform)" 2>/dev/null || echo none)
"$PYTHON" -c "import jax, keras; print('jax', jax.__version__, jax.devices(), '| keras', keras.__version__, keras.backend.backend())"
"$PYTHON" -c "import importlib.util as u; print('tensorflow importable:', u.find_spec('tensorflow') is not None)"
if [ "$PLATFORM" != "gpu" ]; then
  echo "NOTE: JAX sees no GPU (platform: $PLATFORM): everything below runs on the CPU; the figures"
  echo "NOTE: are CPU figures, not the GPU's (settings: $([ "$QUICK" = 1 ] && echo quick || echo full))."
  echo "CPU fallback: JAX platform $PLATFORM, no GPU" >> "$OUT/nvidia-smi.txt"
fi

step "stem cache"
du -sh "$CACHE"

step "tests of the JAX path (pytest -m jax, no TensorFlow)"
if [ "$QUICK" = 1 ]; then TESTS=(-k "masks or draws or seeded"); else TESTS=(); fi
CUNET_DEVICE_TESTS=1 timeout 170 "$PYTHON" -m pytest -q -p no:cacheprovider -m jax "${TESTS[@]}" \
  tests/training/test_jax_device.py tests/training/test_jax_sampler.py 2>&1 | tail -15

step "bench_train.py --backend jax (paper model, float32 and mixed precision)"
if [ "$QUICK" = 1 ]; then
  BENCH=(--configs tiny --batch-size 8 --steps 3 --peak-size 1024 --precisions float32,bfloat16)
else
  BENCH=(--configs cunet-simple-dense --batch-size 64 --steps 20 --precisions float32,bfloat16,float16)
fi
timeout 170 "$PYTHON" scripts/bench_train.py --backend jax "${BENCH[@]}" --json "$WORK"/bench_train.json

step "mask network throughput, projected real-time factor of a 3-minute stereo song"
if [ "$QUICK" = 1 ]; then MASKS=(--batch-sizes 4 --repeats 2); else MASKS=(--batch-sizes 16,64,256 --repeats 5); fi
timeout 90 "$PYTHON" scripts/gpu_masks.py "${MASKS[@]}" --json "$WORK"/masks.json

LEFT=$(( BUDGET - $(elapsed) - 45 ))
step "training the paper-size C-U-Net on musdb-mini for the time left (${LEFT}s)"
if [ "$QUICK" = 1 ]; then TRAIN=(--batch-size 4 --steps 6 --log-every 2); else TRAIN=(--steps 5000); fi
if [ "$LEFT" -gt 30 ]; then
  MINUTES=$("$PYTHON" -c "print(max(0.1, ($LEFT - 30) / 60))")  # 30 s for compiling, validating, saving
  timeout $(( LEFT + 30 )) "$PYTHON" scripts/gpu_train.py --cache "$CACHE" --config cunet-simple-dense \
    --out "$WORK"/gputrain --minutes "$MINUTES" --precision bfloat16 "${TRAIN[@]}"
  cp "$WORK"/gputrain/training.csv "$OUT/" 2>/dev/null
  cp "$WORK"/gputrain/model.keras "$OUT/" 2>/dev/null
else
  echo "no time left for training"
fi

step "results.json"
WORK="$WORK" "$PYTHON" - "$OUT/results.json" <<'EOF'
import json, os, sys
out = {}
for key, path in (("bench_train", os.environ["WORK"] + "/bench_train.json"), ("masks", os.environ["WORK"] + "/masks.json"),
                  ("training", os.environ["WORK"] + "/gputrain/summary.json")):
    if os.path.isfile(path):
        out[key] = json.load(open(path))
json.dump(out, open(sys.argv[1], "w"), indent=1)
print(", ".join(out) or "nothing measured")
EOF
step "done in $(elapsed)s"; ls -la "$OUT"
