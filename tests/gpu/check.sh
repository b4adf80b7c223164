#!/usr/bin/env bash
# GPU check for fm-tutor's model backend and the lessons' GPU cells, on a CUDA machine, one command in under 10
# minutes (the budget, --budget S, default 570):
#   1. nvidia-smi, torch and CUDA facts; whether the hub can be reached (if not: HF_HUB_OFFLINE=1, and a cell that
#      needs a checkpoint or dataset download is reported as "needs a download", not as a failure);
#   2. vllm: install the [gpu] extra (vllm, bitsandbytes) if it is missing and pip can reach an index; a machine
#      without one keeps going with the transformers engine;
#   3. a ~1B model for the engines: FM_TUTOR_GPU_MODEL, else a ~1B causal LM already in the local HF cache, else a
#      random-weight one in TinyLlama-1.1B's shape with fm-tiny's tokenizer (tests/gpu/random_model.py);
#   4. the same `vllm`-marked tests as .ci/run's vllm lane (tests/backend/test_vllm*.py: health, API key, runtime
#      completions and streamed chat, LoRA, restart, detach/adopt, stop on exit), on CUDA with that model;
#   5. the model server the tutor starts (fm-tiny, the `auto` engine), then every lesson through the tutor's own
#      `run-cells --gpu --keep-going`, --jobs N lessons at a time (default 4), with the endpoint in each kernel's
#      environment (tests/gpu/cells.py; --lessons 02,05 for some of them);
#   6. the model benchmark with the ~1B model (raw HF generate vs transformers serve vs vLLM, batch 1/8/32);
#   7. a summary: what ran, what passed, and what could not run. Exit 0 only when the server came up, the vllm
#      tests passed and no GPU cell failed (a cell skipped for a missing module, or waiting for a download it
#      cannot make, is not a failure).
# Usage: tests/gpu/check.sh [--budget S] [--jobs N] [--lessons 02,05] [--log DIR]   (from the repository root;
# PY=/path/to/python chooses the interpreter). Logs: DIR (default a new /tmp/fm-gpu-check.XXXX): cells.txt,
# cells/cells-NN.txt for each lesson, cells/summary.json, vllm-tests.txt, bench.txt.
# vLLM pins torch/transformers versions (vllm 0.33: torch==2.14, transformers<5.21); to keep the tutor's venv as
# it is, install vLLM and the project (`-e '.[dev]'`) in a separate venv and point FM_TUTOR_VLLM_BIN at its python:
# the server and the vllm tests then run there.
set -u
cd "$(dirname "$0")/../.."
PY="${PY:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
BUDGET=570; JOBS=4; LESSONS=""; LOG=""
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) BUDGET=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --lessons) LESSONS=$2; shift 2 ;;
    --log) LOG=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)"; exit 2 ;;
  esac
done
BENCH_S=$(( BUDGET / 4 < 150 ? BUDGET / 4 : 150 ))  # the bench's share of the budget
DEADLINE=$((SECONDS + BUDGET))
[ -n "$LOG" ] || LOG=$(mktemp -d /tmp/fm-gpu-check.XXXX)
mkdir -p "$LOG"
echo "== fm-tutor GPU check ($LOG, budget ${BUDGET}s)"
left() { echo $((DEADLINE - SECONDS)); }
NOT_RUN=()

if ! command -v nvidia-smi >/dev/null; then echo "no nvidia-smi: not a CUDA machine"; exit 1; fi
nvidia-smi --query-gpu=index,name,memory.total,memory.free,driver_version --format=csv,noheader
"$PY" -c "import torch, transformers; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'available:', torch.cuda.is_available(), '| transformers', transformers.__version__)"

# no network (a locked-down box): checkpoints and datasets cannot be fetched, so say so and fail fast on them
OFFLINE=0
if ! "$PY" -c "import socket; socket.create_connection(('huggingface.co', 443), 5).close()" 2>/dev/null; then
  OFFLINE=1
  export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
  echo "offline: huggingface.co cannot be reached; a cell that needs a download is reported as such, not as failed"
fi

if ! "$PY" -c "import vllm" 2>/dev/null && [ -z "${FM_TUTOR_VLLM_BIN:-}" ] && [ "$OFFLINE" -eq 1 ]; then
  echo "vllm is not installed and pip cannot fetch it offline: the transformers engine serves"
elif ! "$PY" -c "import vllm" 2>/dev/null && [ -z "${FM_TUTOR_VLLM_BIN:-}" ]; then
  echo "== installing the [gpu] extra"
  timeout 240 "$PY" -m pip install -q --retries 1 --timeout 20 -e ".[gpu]" >"$LOG/pip.log" 2>&1 \
    && echo "installed: $("$PY" -c 'import vllm; print("vllm", vllm.__version__)')" \
    || echo "could not install the [gpu] extra (see $LOG/pip.log); continuing with the transformers engine"
fi
# the interpreter that has vllm (and pytest): this one, or the venv FM_TUTOR_VLLM_BIN points into
VPY="$PY"
if ! "$PY" -c "import vllm" 2>/dev/null && [ -n "${FM_TUTOR_VLLM_BIN:-}" ]; then
  case "$(basename "$FM_TUTOR_VLLM_BIN")" in
    python*) VPY="$FM_TUTOR_VLLM_BIN" ;;
    *) VPY="$(dirname "$FM_TUTOR_VLLM_BIN")/python" ;;
  esac
fi

# a ~1B causal LM from the local HF cache (no download: the hub may be out of reach), else fm-tiny
MODEL="${FM_TUTOR_GPU_MODEL:-}"
if [ -z "$MODEL" ]; then
  MODEL=$("$PY" - 2>/dev/null <<'EOF'
import json
from pathlib import Path
from huggingface_hub import scan_cache_dir
best = None
for repo in scan_cache_dir().repos:
    if repo.repo_type != "model" or not 3e8 <= repo.size_on_disk <= 6e9:
        continue
    for rev in repo.revisions:
        try:
            arch = json.loads((Path(rev.snapshot_path) / "config.json").read_text()).get("architectures") or []
        except (OSError, ValueError):
            continue
        if any(a.endswith("ForCausalLM") for a in arch) and any(f.file_name.endswith(".safetensors")
                                                                for f in rev.files):
            d = abs(repo.size_on_disk - 2.5e9)  # nearest to ~1B parameters in bfloat16
            if best is None or d < best[0]:
                best = (d, repo.repo_id)
print(best[1] if best else "")
EOF
)
fi
if [ -z "$MODEL" ]; then
  echo "no ~1B causal LM in the local HF cache: a random-weight one in TinyLlama's shape (its speed is real, its text noise)"
  "$PY" tests/gpu/random_model.py "$LOG/random-1b" && MODEL="$LOG/random-1b" \
    || { MODEL=fm-tiny; echo "could not make it: using the built-in fm-tiny"; }
fi
echo "model for the engine tests and the benchmark: $MODEL"

export FM_TUTOR_GPU_MEMORY_UTILIZATION="${FM_TUTOR_GPU_MEMORY_UTILIZATION:-0.35}"
export FM_TUTOR_ENFORCE_EAGER="${FM_TUTOR_ENFORCE_EAGER:-1}"
export FM_TUTOR_MAX_MODEL_LEN="${FM_TUTOR_MAX_MODEL_LEN:-512}"
export FM_TUTOR_RUNTIME_DIR="$LOG/run"
export FM_TUTOR_AUTOSTART=0

echo "== the vllm-marked tests on CUDA (budget $(( $(left) - 270 ))s)"
export FM_TUTOR_MODEL="$MODEL"
vtests=1
if [ $(( $(left) - 270 )) -lt 60 ]; then
  NOT_RUN+=("the vllm tests: under 60 s of the budget left for them (--budget)")
elif "$VPY" -c "import vllm, pytest, tutor" 2>/dev/null; then
  FM_TUTOR_TEST_VLLM=1 FM_TUTOR_TEST_VLLM_MODEL="$MODEL" timeout $(( $(left) - 270 )) "$VPY" -m pytest -q \
    -p no:cacheprovider -m vllm tests/backend/test_vllm.py tests/backend/test_vllm_lifecycle.py 2>&1 \
    | tee "$LOG/vllm-tests.txt" | tail -25
  vtests=${PIPESTATUS[0]}
  [ "$vtests" -eq 124 ] && NOT_RUN+=("the vllm tests ran out of their time budget")
else
  NOT_RUN+=("the vllm tests: no interpreter with vllm, pytest and the project ($VPY)")
fi

echo "== serving + every lesson's cells, GPU cells included ($JOBS lessons at a time; budget $(( $(left) - BENCH_S ))s)"
# the cells run on the course's own model (fm-tiny: what they are written and asserted for), served as the tutor
# serves it; the ~1B model above is for the engine tests and the benchmark
FM_TUTOR_MODEL=fm-tiny "$PY" tests/gpu/cells.py "$LOG/cells" $(( $(left) - BENCH_S )) --jobs "$JOBS" \
  ${LESSONS:+--lessons "$LESSONS"} 2>&1 | tee "$LOG/cells.txt"
[ -f "$LOG/cells/summary.json" ] || NOT_RUN+=("the lesson cells did not finish in their time budget")
export FM_TUTOR_MODEL="$MODEL"

echo "== benchmark (budget $(( $(left) - 10 ))s)"
timeout $(( $(left) - 10 )) "$PY" tests/benchmarks/bench_model.py --runs 2 --tokens 64 --model "$MODEL" \
  | tee "$LOG/bench.txt"
[ "${PIPESTATUS[0]}" -eq 124 ] && NOT_RUN+=("the benchmark ran out of its time budget")

echo "== summary"
echo "vllm tests: $([ "$vtests" -eq 0 ] && echo passed || echo "FAILED or not run (rc $vtests; $LOG/vllm-tests.txt)")"
[ ${#NOT_RUN[@]} -eq 0 ] || printf 'not run: %s\n' "${NOT_RUN[@]}"
"$PY" - "$LOG" <<'EOF'
import json, sys
from collections import Counter
from pathlib import Path
p = Path(sys.argv[1]) / "cells" / "summary.json"
s = json.loads(p.read_text()) if p.exists() else {}
cells = s.get("gpu_cells", {})
count = Counter(c["status"] for c in cells.values())
print(f"engine: {s.get('engine')} (ready in {s.get('server_ready_s')}s)  {s.get('server_error', '')}")
print(f"completion: {s.get('completion')!r}\nchat: {s.get('chat')!r}")
print(f"GPU cells: {len(cells)}: " + (", ".join(f"{n} {k}" for k, n in count.most_common()) or "none ran"))
for name, c in cells.items():
    if c["status"] != "ok":
        print(f"  {c['status']:<16} {name}: {c.get('error') or c.get('detail', '')}"[:230])
other = sorted(lid for lid, x in s.get("lessons", {}).items() if x.get("rc") != 0)
print(f"lessons whose run-cells did not pass: {', '.join(other) or 'none'}")
sys.exit(0 if s.get("engine") and not count.get("FAIL") and not count.get("not reached") else 1)
EOF
rc=$?
[ "$vtests" -eq 0 ] || rc=1
echo "total ${SECONDS}s; logs in $LOG"
exit $rc
