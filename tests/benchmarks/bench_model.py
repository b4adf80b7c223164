"""Tokens/s through the served endpoint vs raw `model.generate`, measured in the same run, batch 1 and 8.

CPU: `transformers serve` with fm-tiny vs HF generate in this process (goal: served >= 0.8x raw at batch 1).
CUDA with the [gpu] extra: the manager picks vLLM, so this compares vLLM with HF generate.

    python tests/benchmarks/bench_model.py [--runs 3] [--tokens 64] [--model fm-tiny] [--engine auto]

Batch 8 served = 8 concurrent requests; batch 8 raw = one padded generate call of 8 prompts. Raw and served
measurements are interleaved; they never run at the same time. Absolute figures drift on shared machines; read the ratios.
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


def raw_tps(model, tok, batch: int, tokens: int, runs: int) -> float:
    import torch

    prompts = PROMPTS[:batch]
    enc = tok(prompts, return_tensors="pt", padding=True).to(model.device)
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


def served_tps(client, model_name: str, batch: int, tokens: int, runs: int) -> float:
    def one(prompt: str) -> int:
        r = client.completions.create(model=model_name, prompt=prompt, max_tokens=tokens, temperature=0.0)
        return r.usage.completion_tokens if r.usage else tokens

    one(PROMPTS[0])  # warm-up
    rates = []
    with ThreadPoolExecutor(max_workers=batch) as pool:
        for _ in range(runs):
            t = time.perf_counter()
            n = sum(pool.map(one, PROMPTS[:batch]))
            rates.append(n / (time.perf_counter() - t))
    return statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--model", default=None, help="model (default: the configured one, fm-tiny)")
    ap.add_argument("--engine", default=None, choices=["auto", "vllm", "transformers"])
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

    from tutor.core.config import load_config
    from tutor.runtime import load_model
    from tutor.backend.supervisor import ModelServer
    from tutor.backend.endpoint import ServerError

    cfg = load_config()
    model, tok = load_model(args.model)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    run_dir = Path(tempfile.mkdtemp(prefix="fm-bench-"))
    srv = ModelServer(cfg, engine=args.engine, model=args.model, run_dir=run_dir, publish_env=False,
                      )
    t0 = time.perf_counter()
    try:
        ep = srv.start(timeout=900)
    except ServerError as e:
        print(f"server did not start: {e}\n{srv.log_tail(20)}")
        srv.stop()
        return 1
    start_s = time.perf_counter() - t0
    client = OpenAI(base_url=ep.base_url, api_key=ep.api_key, timeout=600)
    results = {}
    idle_rss, peak_rss = srv.rss(), 0
    try:  # interleaved, so drift on a shared machine hits both sides alike; the idle server only answers /health
        for b in (1, 8):
            results[("raw", b)] = raw_tps(model, tok, b, args.tokens, args.runs)
            results[("served", b)] = served_tps(client, ep.model, b, args.tokens, args.runs)
            peak_rss = max(peak_rss, srv.rss() or 0)
    finally:
        srv.stop()

    cb = " (continuous batching)" if srv.engine == "transformers" and cfg.continuous_batching else ""
    print(f"model {args.model or cfg.model} on {model.device.type}; served by {srv.engine}{cb} "
          f"(ready in {start_s:.1f}s); {args.tokens} new tokens, median of {args.runs}")
    from tutor.core.procs import fmt_bytes

    print(f"server RSS: {fmt_bytes(idle_rss)} idle, {fmt_bytes(peak_rss or None)} after the batches "
          f"(KV cache sized for max_batch = {cfg.max_batch} requests)")
    print(f"{'batch':>5}  {'raw generate tok/s':>19}  {'served tok/s':>13}  {'served/raw':>10}")
    ok = True
    for b in (1, 8):
        raw, served = results[("raw", b)], results[("served", b)]
        ratio = served / raw if raw else float("nan")
        print(f"{b:>5}  {raw:>19.1f}  {served:>13.1f}  {ratio:>9.2f}x")
        if b == 1 and model.device.type == "cpu" and ratio < 0.8:
            ok = False
    if model.device.type == "cpu":
        print("goal (CPU, batch 1): served >= 0.8x raw: " + ("met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
