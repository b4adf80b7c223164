"""Build the built-in model `fm-tiny` from the course's own text (run as `fm-tutor model build`).

A small Llama-architecture causal LM (GQA, RoPE, RMSNorm, SwiGLU) with a byte-level BPE tokenizer trained with
`tokenizers` on content/course.toml, content/README.md, content/FORMAT.md and content/lessons/*.md, then trained
on that text by a seeded, deterministic loop on the CPU. Nothing is downloaded: every file comes from this repo.

Reproducibility: the seed fixes the weight init, the data order and the chat examples; the number of optimizer
steps is fixed (`--steps`). `--max-seconds` is a safety stop; when it cuts training short the card says so
(`stopped_early`), and the result then depends on the machine's speed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

MODEL_NAME = "fm-tiny"
from tutor.backend.buildargs import DEFAULT_MAX_SECONDS, DEFAULT_SEED, DEFAULT_STEPS, add_arguments  # noqa: E402
from tutor.core.config import ENV_CONTENT

SEQ_LEN = 128
BATCH = 8

BOS, EOS, PAD = "<|bos|>", "<|endoftext|>", "<|pad|>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]
SPECIAL_TOKENS = [PAD, BOS, EOS, *ROLE_TOKENS]

# Each message: role marker, newline, content, eos. Generation stops at eos, so an assistant turn ends cleanly.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

ARCH = dict(
    hidden_size=128,
    intermediate_size=384,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    rope_theta=10000.0,
    rms_norm_eps=1e-5,
    hidden_act="silu",
    tie_word_embeddings=True,
)
VOCAB_SIZE = 4096


def default_output_dir() -> Path:
    return Path(__file__).resolve().parent / "models" / MODEL_NAME


def content_dir() -> Path:
    env = os.environ.get(ENV_CONTENT)
    if env:
        return Path(env)
    import tutor.content

    return Path(tutor.content.__file__).resolve().parent


def source_files(root: Path) -> list[Path]:
    """The course text, in a fixed order."""
    files = [root / "course.toml", root / "README.md", root / "FORMAT.md"]
    files += sorted((root / "lessons").glob("*.md"))
    return [f for f in files if f.is_file()]


def chat_examples(root: Path, seed: int) -> list[list[dict[str, str]]]:
    """Question/answer pairs drawn from course.toml, so the chat template has something to imitate."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    data = tomllib.loads((root / "course.toml").read_text(encoding="utf-8"))
    out: list[list[dict[str, str]]] = []
    for entry in data.get("lessons", []):
        title = entry.get("title", "")
        keys = ", ".join(entry.get("key_content", []))
        lid = entry.get("id", "")
        out.append([{"role": "user", "content": f"What is lesson {lid} about?"},
                    {"role": "assistant", "content": f"Lesson {lid} is {title}. It covers {keys}."}])
        out.append([{"role": "user", "content": f"What does {title} cover?"},
                    {"role": "assistant", "content": f"{title} covers {keys}."}])
        out.append([{"role": "user", "content": f"Which lesson teaches {entry.get('topic', title)}?"},
                    {"role": "assistant", "content": f"Lesson {lid}, {title}, difficulty {entry.get('difficulty', '?')}."}])
    for sec in data.get("sections", []):
        out.append([{"role": "user", "content": f"What is section {sec.get('number')}?"},
                    {"role": "assistant", "content": f"Section {sec.get('number')} is {sec.get('title')}, "
                                                     f"with lessons {', '.join(sec.get('lessons', []))}."}])
    random.Random(seed).shuffle(out)
    return out


def train_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=ROLE_TOKENS,
        model_max_length=ARCH["max_position_embeddings"],
        padding_side="left",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build(out_dir: Path | None = None, *, seed: int = DEFAULT_SEED, steps: int = DEFAULT_STEPS,
          max_seconds: float = DEFAULT_MAX_SECONDS, threads: int = 1, log=print) -> dict:
    """Build fm-tiny into out_dir (default tutor/models/fm-tiny) and return its card."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    t_start = time.perf_counter()
    out_dir = Path(out_dir) if out_dir else default_output_dir()
    root = content_dir()
    files = source_files(root)
    if not files:
        raise SystemExit(f"no course text found under {root}")
    texts = [f.read_text(encoding="utf-8") for f in files]
    h = hashlib.sha256()
    for f, t in zip(files, texts):
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + t.encode("utf-8") + b"\0")
    source_hash = h.hexdigest()

    random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)

    log(f"fm-tiny: {len(files)} source files from {root}")
    dialogs = chat_examples(root, seed)
    tok = train_tokenizer(texts + [m["content"] for d in dialogs for m in d], VOCAB_SIZE)
    vocab = len(tok)
    log(f"tokenizer: {vocab} tokens")

    # One token stream: every document is bos ... eos; chat examples rendered through the chat template.
    ids: list[int] = []
    for t in texts:
        ids += [tok.bos_token_id] + tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    for d in dialogs:
        ids += tok.apply_chat_template(d, tokenize=True, return_dict=True)["input_ids"]
    data = torch.tensor(ids, dtype=torch.long)
    n_tokens = len(ids)
    log(f"corpus: {n_tokens} tokens ({len(dialogs)} chat examples)")

    config = LlamaConfig(
        vocab_size=vocab,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        **ARCH,
    )
    model = LlamaForCausalLM(config)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params:,} parameters")

    # Deterministic windows: all start offsets with stride SEQ_LEN//2, shuffled once per epoch by a seeded RNG.
    starts = list(range(0, max(1, n_tokens - SEQ_LEN), SEQ_LEN // 2))
    order_rng = random.Random(seed)
    order: list[int] = []

    def next_batch() -> torch.Tensor:
        nonlocal order
        rows = []
        for _ in range(BATCH):
            if not order:
                order = starts[:]
                order_rng.shuffle(order)
            s = order.pop()
            rows.append(data[s:s + SEQ_LEN])
        return torch.stack(rows)

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    warmup = max(1, steps // 20)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        p = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    model.train()
    t_train = time.perf_counter()
    losses: list[float] = []
    done = 0
    stopped_early = False
    for step in range(steps):
        batch = next_batch()
        out = model(input_ids=batch, labels=batch)  # the model shifts labels by one internally
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(out.loss.item())
        done = step + 1
        if done % 25 == 0 or done == 1:
            el = time.perf_counter() - t_train
            log(f"step {done}/{steps} loss {sum(losses[-50:]) / len(losses[-50:]):.3f} "
                f"({done * BATCH * SEQ_LEN / el:,.0f} tok/s, {el:.0f}s)")
        if time.perf_counter() - t_train > max_seconds and done < steps:
            stopped_early = True
            log(f"time box reached after {done} steps")
            break
    train_seconds = time.perf_counter() - t_train
    final_loss = sum(losses[-50:]) / len(losses[-50:])

    model.eval()
    tmp = Path(tempfile.mkdtemp(prefix="fm-tiny-", dir=out_dir.parent if out_dir.parent.exists() else None))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        card = {
            "name": MODEL_NAME,
            "architecture": "LlamaForCausalLM",
            "parameters": n_params,
            "config": {"vocab_size": vocab, **ARCH},
            "tokenizer": {"type": "byte-level BPE (tokenizers)", "vocab_size": vocab},
            "training_tokens": done * BATCH * SEQ_LEN,
            "corpus_tokens": n_tokens,
            "steps": done,
            "planned_steps": steps,
            "stopped_early": stopped_early,
            "batch_size": BATCH,
            "seq_len": SEQ_LEN,
            "final_loss": round(final_loss, 4),
            "seed": seed,
            "threads": threads,
            "train_seconds": round(train_seconds, 1),
            "build_seconds": round(time.perf_counter() - t_start, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "source_files": [f.relative_to(root).as_posix() for f in files],
            "source_sha256": source_hash,
            "torch": torch.__version__,
            "transformers": __import__("transformers").__version__,
        }
        card["size_bytes"] = sum(p.stat().st_size for p in tmp.iterdir() if p.is_file())
        (tmp / "fm_tiny.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"saved {out_dir} ({card['size_bytes'] / 1e6:.1f} MB), final loss {final_loss:.3f}, "
        f"{card['build_seconds']:.0f}s")
    return card


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fm-tutor model build", description=__doc__.splitlines()[0])
    add_arguments(ap)
    args = ap.parse_args(argv)
    build(Path(args.out) if args.out else None, seed=args.seed, steps=args.steps,
          max_seconds=args.max_seconds, threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
