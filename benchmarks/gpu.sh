#!/usr/bin/env bash
# The GPU path, run on a lent GPU machine in under 8 minutes: installs what it needs (pip from the registry),
# checks CUDA parity against the CPU engine, benches `prism` (1 and 32 voices) and `live` (1 and 64), tries
# CUDA graphs with IO binding keeping state on the device, writes a table (benchmarks/gpu_results.md, and
# $OUT/gpu_results.md when $OUT is set); then runs benchmarks/gpu_train.py if it exists.
#
#   bash benchmarks/gpu.sh              # on the GPU machine, from the repository root
#   GPU_SKIP_INSTALL=1 bash benchmarks/gpu.sh   # in an environment that already has the packages
# Without CUDA it still runs end to end on the CPU provider (a check of the script, not a GPU figure).
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
if [ -z "${GPU_SKIP_INSTALL:-}" ]; then
  venv=${GPU_VENV:-/tmp/rt-samplernn-gpu}
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  . "$venv/bin/activate"
  python -m pip install -q --upgrade pip
  # torch's default Linux wheel is the CUDA build (fine here); onnxruntime-gpu brings the CUDA provider.
  python -m pip install -q "torch>=2.2,<2.14" "onnxruntime-gpu>=1.17" "onnx>=1.15" numpy soxr soundfile tqdm \
    "nvidia-cudnn-cu12" "nvidia-cublas-cu12" "nvidia-cuda-runtime-cu12" "nvidia-cufft-cu12" "nvidia-curand-cu12" \
    || echo "[gpu.sh] some packages failed to install; continuing with what is there"
  python -m pip install -q --no-deps -e . || echo "[gpu.sh] editable install failed; using the tree on PYTHONPATH"
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
  # onnxruntime-gpu finds the pip CUDA libraries through torch's preload or LD_LIBRARY_PATH:
  sp=$(python -c "import site; print(site.getsitepackages()[0])")
  export LD_LIBRARY_PATH="$(ls -d "$sp"/nvidia/*/lib 2>/dev/null | tr '\n' ':')${LD_LIBRARY_PATH:-}"
fi
echo "[gpu.sh] install: $(( $(date +%s) - start )) s"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "[gpu.sh] no nvidia-smi"
timeout 330 python benchmarks/gpu_check.py --out benchmarks/gpu_results.md
rc=$?
[ -n "${OUT:-}" ] && cp benchmarks/gpu_results.md "$OUT/" 2>/dev/null
if [ -f benchmarks/gpu_train.py ]; then
  left=$(( 470 - ($(date +%s) - start) ))
  if [ "$left" -gt 30 ]; then
    timeout "$left" python benchmarks/gpu_train.py || echo "[gpu.sh] gpu_train.py: exit $?"
  else
    echo "[gpu.sh] no time left for gpu_train.py"
  fi
fi
echo "[gpu.sh] total: $(( $(date +%s) - start )) s"
exit $rc
