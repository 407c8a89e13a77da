#!/usr/bin/env bash
# One unattended GPU check of cunet's JAX path, at most 8 minutes, everything it measures in $OUT.
#
# The GPU machine has JAX with CUDA and no TensorFlow (nor Keras): the script installs only the
# wheels it is given in .whl/ and runs the JAX path alone. It writes, in $OUT (at most 8 files):
#   gpu_check.log      everything printed, step by step, with the time each step took
#   nvidia-smi.txt     the card (nvidia-smi -q), or the CPU-fallback note
#   results.json       bench_train (patches/s, measured peak, fraction, peak memory), mask
#                      network throughput and projected real-time factor, training summary
#   training.csv       the GPU training run's loss every 100 steps (and its validation loss)
#   model.keras.part-* the model it trained, split in <= 15 MiB parts: on a CPU machine,
#                      `cat model.keras.part-* > gpu-model.keras`, then separate/evaluate it
#
# Prepare once on the development machine (the session that has no GPU did this):
#   echo /.whl/ >> .git/info/exclude; echo /.gpucache16/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl keras==3.15.1 namex==0.1.0 \
#     optree==0.20.0 soxr==1.1.0 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 packaging==26.4 \
#     typing_extensions==4.16.0
#   cunet prepare --musdb-root /work/shared/musdb-mini --config cunet-simple-dense --out .gpucache
#   python scripts/gpu_cache.py pack .gpucache .gpucache16     # int16: the tree must fit 64 MiB
#
# The device call (the `run` tool; about 9 minutes of the 15-minute device budget):
#   run(command="bash scripts/gpu_check.sh", carry=[".whl", ".gpucache16"], timeout_s=540)
# Try it on a CPU first (falls back with a note; --quick or GPU_CHECK_QUICK=1: a few minutes):
#   OUT=/tmp/gpu-out PATH=/tmp/gpuvenv/bin:$PATH bash scripts/gpu_check.sh --quick
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check_out}
QUICK=${GPU_CHECK_QUICK:-0}
[ "${1:-}" = "--quick" ] && QUICK=1
BUDGET=${GPU_CHECK_SECONDS:-450}   # the whole script; the training run gets what is left
START=$(date +%s)
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_check.log") 2>&1
elapsed() { echo $(( $(date +%s) - START )); }
step() { echo; echo "=== [$(elapsed)s] $*"; }

step "machine"
date -u; uname -a; python3 --version; nproc
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit --format=csv
  nvidia-smi -q > "$OUT/nvidia-smi.txt" 2>&1
else
  echo "no nvidia-smi on this machine" | tee "$OUT/nvidia-smi.txt"
fi

step "wheels (.whl/ only, no index)"
SITE=${GPU_CHECK_SITE:-/tmp/site}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl \
  || echo "pip install failed"
export PYTHONPATH="$SITE:$PWD" KERAS_BACKEND=jax TF_CPP_MIN_LOG_LEVEL=3
PLATFORM=$(python3 -c "import jax; print(jax.devices()[0].platform)" 2>/dev/null || echo none)
python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), '| keras', keras.__version__, keras.backend.backend())"
python3 -c "import importlib.util as u; print('tensorflow importable:', u.find_spec('tensorflow') is not None)"
if [ "$PLATFORM" != "gpu" ]; then
  echo "NOTE: JAX sees no GPU (platform: $PLATFORM): everything below runs on the CPU; the figures"
  echo "NOTE: are CPU figures, not the GPU's (settings: $([ "$QUICK" = 1 ] && echo quick || echo full))."
  echo "CPU fallback: JAX platform $PLATFORM, no GPU" >> "$OUT/nvidia-smi.txt"
fi

step "stem cache (musdb-mini at 8 kHz, int16 -> float32)"
python3 scripts/gpu_cache.py unpack .gpucache16 /tmp/gpucache && du -sh /tmp/gpucache

step "tests of the JAX path (pytest -m jax, no TensorFlow)"
if [ "$QUICK" = 1 ]; then TESTS=(-k "masks or draws or seeded"); else TESTS=(); fi
CUNET_DEVICE_TESTS=1 timeout 170 python3 -m pytest -q -p no:cacheprovider -m jax "${TESTS[@]}" \
  tests/test_jax_device.py tests/test_jax_sampler.py 2>&1 | tail -15

step "bench_train.py --backend jax (paper model, float32 and mixed precision)"
if [ "$QUICK" = 1 ]; then
  BENCH=(--configs tiny --batch-size 8 --steps 3 --peak-size 1024 --precisions float32,bfloat16)
else
  BENCH=(--configs cunet-simple-dense --batch-size 64 --steps 20 --precisions float32,bfloat16,float16)
fi
timeout 170 python3 scripts/bench_train.py --backend jax "${BENCH[@]}" --json /tmp/bench_train.json

step "mask network throughput, projected real-time factor of a 3-minute stereo song"
if [ "$QUICK" = 1 ]; then MASKS=(--batch-sizes 4 --repeats 2); else MASKS=(--batch-sizes 16,64,256 --repeats 5); fi
timeout 90 python3 scripts/gpu_masks.py "${MASKS[@]}" --json /tmp/masks.json

LEFT=$(( BUDGET - $(elapsed) - 45 ))
step "training the paper-size C-U-Net on musdb-mini for the time left (${LEFT}s)"
if [ "$QUICK" = 1 ]; then TRAIN=(--batch-size 4 --steps 6 --log-every 2); else TRAIN=(--steps 5000); fi
if [ "$LEFT" -gt 30 ]; then
  MINUTES=$(python3 -c "print(max(0.1, ($LEFT - 30) / 60))")  # 30 s for compiling, validating, saving
  timeout $(( LEFT + 30 )) python3 scripts/gpu_train.py --cache /tmp/gpucache --config cunet-simple-dense \
    --out /tmp/gputrain --minutes "$MINUTES" --precision bfloat16 "${TRAIN[@]}"
  cp /tmp/gputrain/training.csv "$OUT/" 2>/dev/null
  [ -f /tmp/gputrain/model.keras ] && split -b 15M -d /tmp/gputrain/model.keras "$OUT/model.keras.part-"
else
  echo "no time left for training"
fi

step "results.json"
python3 - "$OUT/results.json" <<'EOF'
import json, os, sys
out = {}
for key, path in (("bench_train", "/tmp/bench_train.json"), ("masks", "/tmp/masks.json"),
                  ("training", "/tmp/gputrain/summary.json")):
    if os.path.isfile(path):
        out[key] = json.load(open(path))
json.dump(out, open(sys.argv[1], "w"), indent=1)
print(", ".join(out) or "nothing measured")
EOF
step "done in $(elapsed)s"; ls -la "$OUT"
