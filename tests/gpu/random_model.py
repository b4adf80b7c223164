"""Write a ~1B-parameter Llama-shaped causal LM with random weights and fm-tiny's tokenizer, for the GPU check's
engine tests and benchmark when no real ~1B checkpoint is in the local cache (a GPU box without network).

Its text is noise; its speed is a real ~1B model's: the same layers, widths, attention and KV cache as
TinyLlama-1.1B (arXiv:2401.02385: 22 layers, hidden 2048, MLP 5632, 32 heads, 4 KV heads), with fm-tiny's
vocabulary instead of 32,000 tokens. Usage: python tests/gpu/random_model.py OUT_DIR
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    out = Path(argv[0])
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tutor.models import builtin_path

    tiny = builtin_path("fm-tiny")
    if not (tiny / "config.json").is_file():
        print(f"fm-tiny is not built ({tiny}): run `fm-tutor model build` first", file=sys.stderr)
        return 1
    t0 = time.monotonic()
    tok = AutoTokenizer.from_pretrained(tiny)
    tiny_cfg = json.loads((tiny / "config.json").read_text(encoding="utf-8"))
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                      num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048,
                      bos_token_id=tiny_cfg.get("bos_token_id"), eos_token_id=tiny_cfg.get("eos_token_id"),
                      pad_token_id=tiny_cfg.get("pad_token_id"), tie_word_embeddings=False)
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    n = sum(p.numel() for p in model.parameters())
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    for extra in tiny.glob("*.jinja"):  # the chat template, for /v1/chat/completions
        shutil.copy(extra, out / extra.name)
    print(f"random-weight Llama: {n / 1e9:.2f}B parameters, vocabulary {len(tok)}, written to {out} in "
          f"{time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
