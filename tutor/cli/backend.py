"""CLI commands of the model backend, wired into tutor/cli/entry.py:

    from tutor.cli.backend import add_commands, run as run_backend, bench_model
    add_commands(sub)                      # in build_parser(), after the other subparsers
    rc = run_backend(args)                 # in main(), before cmd_launch: `if rc is not None: return rc`
    bench "model" -> bench_model(runs)

Commands: `model build`, `model info`, `serve-model`, `config`, `doctor`. No torch is imported here; `model build`
runs tutor.backend.modelbuild (a build script) in its own process.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

COMMANDS = ("model", "serve-model", "config", "doctor")


def add_commands(sub) -> None:
    p = sub.add_parser("model", help="the built-in model fm-tiny: build it, show its card",
                       description="Build or describe the built-in model fm-tiny.")
    msub = p.add_subparsers(dest="model_cmd", metavar="ACTION")
    b = msub.add_parser("build", help="train fm-tiny from the course text (a few minutes on a CPU)",
                        description="Train the tokenizer and the model on the course's own text, seeded, and save "
                                    "them with a card (fm_tiny.json).")
    from tutor.backend.buildargs import add_arguments  # stdlib only: the build itself runs in its own process

    add_arguments(b)
    msub.add_parser("info", help="print the model card and where the configured model resolves")

    p = sub.add_parser("serve-model", help="start the local model server in the foreground (for debugging)",
                       description="Start the configured engine (vLLM or transformers serve) on 127.0.0.1, print "
                                   "the endpoint and its env vars, and serve until Ctrl-C.")
    p.add_argument("--engine", choices=["auto", "vllm", "transformers"], help="override the configured engine")
    p.add_argument("--model", help="override the configured model (fm-tiny, a directory, or a cached hub id)")

    sub.add_parser("config", help="print the effective configuration and where each value comes from",
                   description="Print every setting, its value and its source (default, config file, env var).")
    p = sub.add_parser("doctor", help="check Python, packages, CUDA, the model and which GPU cells can run here",
                       description="Diagnose this machine for the course. Exits 1 when something required is "
                                   "missing.")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-load", action="store_true", help="skip loading fm-tiny in a subprocess")


def run(args: argparse.Namespace) -> int | None:
    """Run a backend command; None when args.cmd is not one of them."""
    cmd = getattr(args, "cmd", None)
    if cmd not in COMMANDS:
        return None
    if cmd == "model":
        action = getattr(args, "model_cmd", None)
        if action == "build":
            import subprocess

            from tutor.backend.buildargs import to_argv

            # its own process: torch and transformers never load into the CLI's
            return subprocess.run([sys.executable, "-m", "tutor.backend.modelbuild", *to_argv(args)]).returncode
        if action == "info":
            return model_info()
        print("usage: fm-tutor model {build,info}", file=sys.stderr)
        return 2
    if cmd == "serve-model":
        from tutor.backend.supervisor import serve_foreground
        from tutor.core.config import ConfigError, load_config

        try:
            cfg = load_config()
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return serve_foreground(cfg, engine=args.engine, model=args.model)
    if cmd == "config":
        from tutor.core.config import ConfigError, format_config, load_config

        try:
            print(format_config(load_config()))
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    if cmd == "doctor":
        from tutor.backend import doctor

        content = args.ctx.content if hasattr(args, "ctx") else None
        if not args.json:  # each line as its check completes, wrapped under its text in a terminal
            return doctor.main(content, load_model_check=not args.no_load)
        from dataclasses import asdict

        rep = doctor.diagnose(content, load_model_check=not args.no_load)
        print(json.dumps(asdict(rep), indent=2, default=str))
        return rep.exit_code
    return None




def model_info() -> int:
    from tutor import models
    from tutor.core.config import ConfigError, ModelNotFound, load_config, resolve_model

    card = models.card("fm-tiny")
    if card is None:
        print(f"fm-tiny is not built ({models.builtin_path('fm-tiny')}); run `fm-tutor model build`")
    else:
        keys = ["parameters", "training_tokens", "steps", "final_loss", "seed", "size_bytes", "build_seconds",
                "built_at", "source_sha256", "stopped_early"]
        print(f"fm-tiny ({models.builtin_path('fm-tiny')})")
        for k in keys:
            v = card.get(k)
            big = isinstance(v, int) and not isinstance(v, bool) and k != "seed"
            print(f"  {k:<16} {v:,}" if big else f"  {k:<16} {v}")
        cfgd = card.get("config", {})
        print("  architecture     Llama: hidden {hidden_size}, {num_hidden_layers} layers, heads {num_attention_heads}"
              "/{num_key_value_heads} kv, vocab {vocab_size}, max positions {max_position_embeddings}".format(**cfgd))
    try:
        cfg = load_config()
        m = resolve_model(cfg.model)
        print(f"configured model: {cfg.model} -> {m.path} ({m.kind}) [{cfg.source('model')}]")
    except (ConfigError, ModelNotFound) as e:
        print(f"configured model: {e}")
        return 1
    return 0 if card else 1


def bench_model(runs: int = 3) -> int:
    """Raw model.generate vs transformers serve vs vLLM (when importable), tok/s at batch 1, 8, 32, RSS and time to
    ready, measured in the same run (tests/benchmarks/bench_model.py)."""
    from tutor.cli.bench import bench_script

    script = bench_script("bench_model.py")
    return subprocess.call([sys.executable, str(script), "--runs", str(runs)]) if script else 1
