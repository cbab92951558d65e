#!/usr/bin/env bash
# The CUDA checks of a GPU machine, in the order they matter: build the extension there (build),
# the op tests on CUDA and CPU (tests), the kernel benchmark (kernels), compute-sanitizer's
# memcheck, racecheck and synccheck on the small CUDA tests (sanitizer), and the training step
# benchmark (train: paper preset, batch 64, float32 and bfloat16 autocast, eager and compiled,
# reference and native ops). Each step's log goes to OUTDIR/<step>.log and a line per step (exit
# status, seconds) to OUTDIR/summary.txt; a failing step does not stop the later ones, and each
# has a time limit, so the whole run takes at most about 20 minutes (build and tests about 5).
#
#     bash bench/gpu_check.sh [OUTDIR [STEP ...]]    # default gpu_check/, every step
#     bash bench/gpu_check.sh gpu_check build sanitizer train
#
# KERNELS_ARGS and TRAIN_ARGS replace the benchmarks' arguments (e.g. KERNELS_ARGS=--quick).
# Runs on python3 (PYTHON=...) with torch built for CUDA, nvcc, ninja, pytest, hypothesis,
# OpenCV, h5py, PyYAML and scikit-image. A machine that lacks the project's other packages (and
# cannot install them) takes wheels from WHEELS=DIR, installed into a scratch folder: zstandard
# and pydantic (with pydantic-core, annotated-types, typing-inspection) are what these steps read
# stores and params with; hdf5plugin is needed only to write stores. The training benchmark reads
# data/val.h5 by default (a predictor's step at batch 64 takes 128 clips).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu_check}
shift || true
steps=${*:-environment build tests kernels sanitizer train}
mkdir -p "$out"
: >"$out/summary.txt"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 BEYONDMSE_REQUIRE_NATIVE=1 TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
if [ -n "${WHEELS:-}" ]; then
  site=$(mktemp -d)
  "$py" -m pip install -q --no-index --no-deps --no-compile --target "$site" "$WHEELS"/*.whl || exit 1
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi

# wanted STEP: whether STEP was asked for. step NAME LIMIT_S COMMAND...: runs the command under a
# time limit, its output to NAME.log.
wanted() { [[ " $steps " == *" $1 "* ]]; }
step() {
  local name=$1 limit=$2 start rc
  shift 2
  start=$(date +%s)
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  rc=$?
  printf '%-22s exit %3d  %4ds\n' "$name" "$rc" "$(($(date +%s) - start))" | tee -a "$out/summary.txt"
}

# The small CUDA tests: every op and launch path of the kernels, at sizes the sanitizers finish.
small="empty or stream or alignment or every_kind or tf32 or (beyond_two_tiles and dtype0)"  # dtype0: float32

wanted environment && step environment 60 sh -c "nvidia-smi; nvcc --version; $py -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name())'"
wanted build && step build 300 "$py" setup.py build_ext --inplace
wanted tests && step tests 300 "$py" -m pytest -q -p no:cacheprovider tests/test_ops_cuda.py tests/test_ops.py \
    tests/test_noise.py tests/test_dcgan.py tests/test_sample.py  # test_dcgan: a one-step case per generator family (dcgan, lapgan, vaegan, biggan, gran, icgan in both phases, inversion; a conditioned dcgan; the translators cyclegan, discogan, dualgan); test_sample: a seed samples alike on CUDA
# shellcheck disable=SC2086  # the arguments split on purpose
wanted kernels && step kernels 420 "$py" -m bench.kernels ${KERNELS_ARGS:---budget 10 --repeats 10}
if wanted sanitizer; then
  if command -v compute-sanitizer >/dev/null; then
    for tool in memcheck racecheck synccheck; do
      step "sanitizer-$tool" 120 compute-sanitizer --tool "$tool" --error-exitcode 9 \
        "$py" -m pytest -q -p no:cacheprovider tests/test_ops_cuda.py -k "$small"
    done
  else
    echo "sanitizer              not on this machine" | tee -a "$out/summary.txt"
  fi
fi
# shellcheck disable=SC2086
wanted train && step train 300 "$py" -m bench.train ${TRAIN_ARGS:---presets paper --batch 64 --train data/val.h5}

echo
cat "$out/summary.txt"
for log in tests kernels train; do
  [ -f "$out/$log.log" ] && { echo "--- $log"; tail -n 25 "$out/$log.log"; }
done
exit 0
