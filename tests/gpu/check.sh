#!/usr/bin/env bash
# GPU check for fm-tutor's model backend, on a CUDA machine, one command in under 10 minutes:
#   1. nvidia-smi facts; install the [gpu] extra (vllm, bitsandbytes) if vllm is missing (from whatever index or
#      --find-links pip is configured with; a machine without one keeps going with the transformers engine);
#   2. the model: FM_TUTOR_GPU_MODEL, else a ~1B causal LM already in the local HF cache, else the built-in fm-tiny;
#   3. the same `vllm`-marked tests as .ci/run's vllm lane (tests/backend/test_vllm*.py: health, API key, runtime
#      completions and streamed chat, LoRA, restart, detach/adopt, stop on exit), on CUDA with that model;
#   4. start vLLM through tutor.backend.supervisor, then run every written lesson's cells in a real ipykernel (in
#      order, solutions in place of exercises), with the endpoint in the kernel's environment; GPU cells are what
#      this checks;
#   5. stop the server and run the model benchmark (raw HF generate vs transformers serve vs vLLM, batch 1/8/32);
#   6. print a summary: what ran, what passed, and what could not run. Exit 0 only when the server came up, the
#      vllm tests passed and every GPU cell passed.
# Usage: tests/gpu/check.sh   (from the repository root; PY=/path/to/python to choose the interpreter)
# vLLM pins torch/transformers versions (vllm 0.33: torch==2.14, transformers<5.21); to keep the tutor's venv as
# it is, install vLLM and the project (`-e '.[dev]'`) in a separate venv and point FM_TUTOR_VLLM_BIN at its python:
# the server and the vllm tests then run there.
set -u
cd "$(dirname "$0")/../.."
PY="${PY:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
DEADLINE=$((SECONDS + 570))
LOG=$(mktemp -d /tmp/fm-gpu-check.XXXX)
echo "== fm-tutor GPU check ($LOG)"
left() { echo $((DEADLINE - SECONDS)); }
NOT_RUN=()

if ! command -v nvidia-smi >/dev/null; then echo "no nvidia-smi: not a CUDA machine"; exit 1; fi
nvidia-smi --query-gpu=index,name,memory.total,memory.free --format=csv,noheader

if ! "$PY" -c "import vllm" 2>/dev/null && [ -z "${FM_TUTOR_VLLM_BIN:-}" ]; then
  echo "== installing the [gpu] extra"
  timeout 240 "$PY" -m pip install -q -e ".[gpu]" >"$LOG/pip.log" 2>&1 \
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
[ -n "$MODEL" ] || { MODEL=fm-tiny; echo "no ~1B causal LM in the local HF cache: using the built-in fm-tiny"; }
echo "model: $MODEL"

export FM_TUTOR_GPU_MEMORY_UTILIZATION="${FM_TUTOR_GPU_MEMORY_UTILIZATION:-0.35}"
export FM_TUTOR_ENFORCE_EAGER="${FM_TUTOR_ENFORCE_EAGER:-1}"
export FM_TUTOR_MAX_MODEL_LEN="${FM_TUTOR_MAX_MODEL_LEN:-512}"
export FM_TUTOR_RUNTIME_DIR="$LOG/run"
export FM_TUTOR_MODEL="$MODEL"
export FM_TUTOR_AUTOSTART=0

echo "== the vllm-marked tests on CUDA (budget $(( $(left) - 270 ))s)"
vtests=1
if "$VPY" -c "import vllm, pytest, tutor" 2>/dev/null; then
  FM_TUTOR_TEST_VLLM=1 FM_TUTOR_TEST_VLLM_MODEL="$MODEL" timeout $(( $(left) - 270 )) "$VPY" -m pytest -q \
    -p no:cacheprovider -m vllm tests/backend/test_vllm.py tests/backend/test_vllm_lifecycle.py 2>&1 \
    | tee "$LOG/vllm-tests.txt" | tail -25
  vtests=${PIPESTATUS[0]}
  [ "$vtests" -eq 124 ] && NOT_RUN+=("the vllm tests ran out of their time budget")
else
  NOT_RUN+=("the vllm tests: no interpreter with vllm, pytest and the project ($VPY)")
fi

echo "== serving + lesson cells (budget $(( $(left) - 150 ))s)"
timeout $(( $(left) - 150 )) "$PY" - "$LOG" <<'EOF'
import json, os, sys, time
from pathlib import Path
log = Path(sys.argv[1])
from tutor.backend.doctor import diagnose, format_report
rep = diagnose(load_model_check=False)
print("\n".join(l for l in format_report(rep).splitlines() if "GPU" in l or "vllm" in l or "torch" in l))
from tutor.backend.endpoint import ServerError
from tutor.backend.supervisor import ModelServer
from tutor.course import load_course
summary = {"engine": None, "server_ready_s": None, "cells": []}
srv = ModelServer(on_state=lambda s: print(f"  [{s.elapsed:5.1f}s] {s.state.value} {s.reason or ''}", flush=True)
                  if s.state.value != "loading" else None)
t0 = time.monotonic()
try:
    ep = srv.start(timeout=300)
    summary["engine"], summary["server_ready_s"] = srv.engine, round(time.monotonic() - t0, 1)
    from openai import OpenAI
    c = OpenAI(base_url=ep.base_url, api_key=ep.api_key)
    summary["completion"] = c.completions.create(model=ep.model, prompt="Scaling laws", max_tokens=16).choices[0].text
    summary["chat"] = c.chat.completions.create(model=ep.model, max_tokens=16,
                                                messages=[{"role": "user", "content": "What is lesson 08 about?"}]
                                                ).choices[0].message.content
except ServerError as e:
    summary["server_error"] = str(e)
    print(srv.log_tail(30))
    ep = None

import tempfile
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
kd = Path(tempfile.mkdtemp()); (kd / "fmgpu").mkdir()
(kd / "fmgpu" / "kernel.json").write_text(json.dumps({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                               "{connection_file}"], "language": "python",
                                                      "display_name": "fm gpu"}))
course = load_course()
env = {**os.environ, **(ep.env() if ep else {})}
for lid in course.written_ids():
    lesson = course.lesson(lid)
    if lesson is None or not any(c.is_gpu for c in lesson.cells):
        continue
    km = KernelManager(kernel_name="fmgpu", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kd)]))
    km.start_kernel(env=env, cwd=str(lesson.path.parent))
    kc = km.client(); kc.start_channels(); kc.wait_for_ready(timeout=60)
    for cell in lesson.cells:
        if "exercise" in cell.tags or "check" in cell.tags:
            continue  # the learner's stub and its grader; the solution cell runs in its place
        errs = []
        def hook(m, errs=errs):
            if m["msg_type"] == "error":
                errs.append(m["content"]["ename"] + ": " + m["content"]["evalue"])
        t = time.monotonic()
        try:
            r = kc.execute_interactive(cell.code, timeout=min(cell.timeout * 4, 240), output_hook=hook)
            ok = r["content"]["status"] == "ok"
        except TimeoutError:
            ok, errs = False, ["timeout"]
            km.interrupt_kernel()
        if cell.is_gpu or not ok:
            summary["cells"].append({"lesson": lid, "cell": cell.id, "gpu": cell.is_gpu, "ok": ok,
                                     "s": round(time.monotonic() - t, 1), "error": errs[:1]})
            print(f"  {lid}/{cell.id} {'gpu ' if cell.is_gpu else ''}{'ok' if ok else 'FAIL ' + str(errs[:1])}",
                  flush=True)
    kc.stop_channels(); km.shutdown_kernel(now=True)
srv.stop()
(log / "summary.json").write_text(json.dumps(summary, indent=2))
EOF

[ -f "$LOG/summary.json" ] || NOT_RUN+=("the lesson cells did not finish in their time budget")

echo "== benchmark (budget $(( $(left) - 10 ))s)"
timeout $(( $(left) - 10 )) "$PY" tests/benchmarks/bench_model.py --runs 2 --tokens 64 --model "$MODEL" \
  | tee "$LOG/bench.txt"
[ "${PIPESTATUS[0]}" -eq 124 ] && NOT_RUN+=("the benchmark ran out of its time budget")

echo "== summary"
echo "vllm tests: $([ "$vtests" -eq 0 ] && echo passed || echo "FAILED or not run (rc $vtests; $LOG/vllm-tests.txt)")"
for what in ${NOT_RUN[@]+"${NOT_RUN[@]}"}; do echo "not run: $what"; done
"$PY" - "$LOG" <<'EOF'
import json, sys
from pathlib import Path
p = Path(sys.argv[1]) / "summary.json"
s = json.loads(p.read_text()) if p.exists() else {}
gpu = [c for c in s.get("cells", []) if c["gpu"]]
bad = [c for c in gpu if not c["ok"]]
print(f"engine: {s.get('engine')} (ready in {s.get('server_ready_s')}s)  {s.get('server_error', '')}")
print(f"completion: {s.get('completion')!r}\nchat: {s.get('chat')!r}")
print(f"GPU cells: {len(gpu) - len(bad)}/{len(gpu)} passed")
for c in bad:
    print(f"  FAIL {c['lesson']}/{c['cell']}: {c['error']}")
sys.exit(0 if s.get("engine") and not bad else 1)
EOF
rc=$?
[ "$vtests" -eq 0 ] || rc=1
echo "total ${SECONDS}s; logs in $LOG"
exit $rc
