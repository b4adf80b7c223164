"""Direct transformers use: load_model (device/dtype), a LoRA adapter trained with peft and loaded with
load_adapter, device_info, and the runtime's clear error when no server runs."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(180)


def test_load_model_cpu_float32_and_generate(fm_tiny):
    import torch

    from tutor.runtime import generate, load_model

    model, tok = load_model()
    assert model.device.type == "cpu" and model.dtype == torch.float32
    assert tok.bos_token and tok.eos_token and tok.pad_token
    ids = tok.apply_chat_template([{"role": "user", "content": "What is lesson 08 about?"}],
                                  add_generation_prompt=True, return_dict=True, return_tensors="pt")
    assert ids["input_ids"].shape[1] > 5
    text = generate("Scaling laws", model, tok, max_new_tokens=10)
    assert isinstance(text, str) and text.strip()
    m2, _ = load_model(str(fm_tiny), device="cpu", dtype="bfloat16")
    assert m2.dtype == torch.bfloat16
    with pytest.raises(RuntimeError, match="no CUDA GPU") if not torch.cuda.is_available() else _noop():
        load_model(device="cuda")


def test_fm_tiny_stays_on_the_cpu_in_float32_on_a_gpu_box(fm_tiny, monkeypatch):
    """The lessons' CPU cells build tensors on the CPU and assert fm-tiny's float32 numbers: found on an H200, where
    the default device put fm-tiny on cuda in bfloat16 and lessons 08, 20, 21 failed on a device mismatch."""
    import torch

    from tutor.runtime import load_model
    from tutor.runtime.local import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(None) == "cuda"  # other models still go to the GPU by default
    model, _ = load_model()
    assert model.device.type == "cpu" and model.dtype == torch.float32
    # in a lesson kernel FM_TUTOR_MODEL is the served model's name: for fm-tiny, its directory
    monkeypatch.setenv("FM_TUTOR_MODEL", str(fm_tiny))
    model, _ = load_model()
    assert model.device.type == "cpu" and model.dtype == torch.float32


class _noop:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_lora_adapter_trained_saved_loaded_changes_output(tmp_path, fm_tiny):
    import torch
    from peft import LoraConfig, get_peft_model

    from tutor.runtime import load_adapter, load_model

    torch.manual_seed(0)
    model, tok = load_model()
    peft_model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                                  lora_dropout=0.0, task_type="CAUSAL_LM"))
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in peft_model.parameters())
    assert 0 < trainable < 0.1 * total
    batch = tok(["The answer is always forty two. The answer is always forty two."], return_tensors="pt")
    opt = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-2)
    peft_model.train()
    losses = []
    for _ in range(8):
        loss = peft_model(**batch, labels=batch["input_ids"]).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    peft_model.save_pretrained(tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()

    base, tok = load_model()
    probe = tok(["The answer is"], return_tensors="pt")
    with torch.no_grad():
        before = base(**probe).logits.clone()
    adapted = load_adapter(base, tmp_path / "adapter")
    with torch.no_grad():
        after = adapted(**probe).logits
    assert (after - before).abs().max().item() > 1e-3
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        load_adapter(base, tmp_path)


def test_device_info_on_this_machine():
    import torch

    from tutor.runtime import device_info

    info = device_info()
    assert info["torch"] == torch.__version__ and info["transformers"]
    assert info["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert len(info["cuda"]) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)


def test_client_without_server_says_how_to_start_one(monkeypatch):
    from tutor.runtime import remote as rc

    monkeypatch.setenv("FM_TUTOR_AUTOSTART", "0")
    with pytest.raises(RuntimeError, match="fm-tutor serve-model"):
        rc.client()
