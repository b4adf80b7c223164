"""Config precedence (default < file < env), sources, validation, and offline model resolution."""
from __future__ import annotations

import pytest

from tutor.core.config import ConfigError, ModelNotFound, format_config, load_config, resolve_model

pytestmark = pytest.mark.timeout(30)


def write(p, text):
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_when_no_file(tmp_path):
    cfg = load_config(tmp_path / "missing.toml", env={})
    assert cfg.model == "fm-tiny" and cfg.engine == "auto"
    assert cfg.kernel.keep_alive == 600 and cfg.kernel.max_lines == 500 and cfg.kernel.max_bytes == 200_000
    assert cfg.quiz.pass_threshold == 0.7 and cfg.review.fuzzing is True
    assert all(src == "default" for _, _, src in cfg.items())


def test_file_overrides_default_and_env_overrides_file(tmp_path):
    f = write(tmp_path / "c.toml", """
model = "org/some-model"
engine = "transformers"
[gpu]
gpu_memory_utilization = 0.5
enforce_eager = true
[gpu.lora_modules]
tutor = "/adapters/tutor"
[kernel]
max_lines = 100
[quiz]
pass_threshold = 0.8
""")
    cfg = load_config(f, env={})
    assert (cfg.engine, cfg.gpu.gpu_memory_utilization, cfg.gpu.enforce_eager) == ("transformers", 0.5, True)
    assert cfg.gpu.lora_modules == {"tutor": "/adapters/tutor"}
    assert cfg.source("engine") == f"file {f}" and cfg.source("kernel.max_bytes") == "default"

    env = {"FM_TUTOR_ENGINE": "vllm", "FM_TUTOR_GPU_MEMORY_UTILIZATION": "0.6", "FM_TUTOR_OUTPUT_MAX_LINES": "42",
           "FM_TUTOR_ENFORCE_EAGER": "false", "FM_TUTOR_LORA_MODULES": "a=/x, b=/y", "FM_TUTOR_KEEP_ALIVE": "30"}
    cfg = load_config(f, env=env)
    assert cfg.engine == "vllm" and cfg.source("engine") == "env FM_TUTOR_ENGINE"
    assert cfg.gpu.gpu_memory_utilization == 0.6 and cfg.kernel.max_lines == 42 and cfg.gpu.enforce_eager is False
    assert cfg.gpu.lora_modules == {"a": "/x", "b": "/y"}
    assert cfg.kernel.keep_alive == 30.0
    assert cfg.model == "org/some-model" and cfg.source("model") == f"file {f}"  # untouched by env
    assert cfg.quiz.pass_threshold == 0.8


def test_fm_tutor_config_env_points_at_the_file(tmp_path, monkeypatch):
    f = write(tmp_path / "other.toml", 'engine = "transformers"\n')
    monkeypatch.setenv("FM_TUTOR_CONFIG", str(f))
    cfg = load_config()
    assert cfg.path == f and cfg.engine == "transformers"
    assert "[file " + str(f) + "]" in format_config(cfg)


@pytest.mark.parametrize("text,env,needle", [
    ('engine = "tpu"\n', {}, "engine"),
    ("[gpu]\ngpu_memory_utilization = 3\n", {}, "gpu_memory_utilization"),
    ("", {"FM_TUTOR_OUTPUT_MAX_LINES": "many"}, "FM_TUTOR_OUTPUT_MAX_LINES"),
    ("[quiz]\npass_threshold = 1.5\n", {}, "pass_threshold"),
    ("model = \n", {}, "c.toml"),
])
def test_bad_values_name_their_source(tmp_path, text, env, needle):
    f = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError, match=needle):
        load_config(f, env=env)


def test_unknown_keys_are_warned_not_fatal(tmp_path):
    cfg = load_config(write(tmp_path / "c.toml", "colour = 'red'\n[kernel]\nspeed = 3\n"), env={})
    assert any("colour" in w for w in cfg.warnings) and any("speed" in w for w in cfg.warnings)


def test_resolve_builtin_and_directory(fm_tiny):
    m = resolve_model("fm-tiny")
    assert m.kind == "builtin" and m.path == fm_tiny
    m = resolve_model(str(fm_tiny))  # the built-in model's directory (what a kernel sees as the served model)
    assert m.kind == "builtin" and m.path == fm_tiny.resolve()


def test_resolve_a_copy_of_a_model_directory_as_a_path(fm_tiny, tmp_path):
    import shutil

    copy = tmp_path / "my-model"
    shutil.copytree(fm_tiny, copy)
    m = resolve_model(str(copy))
    assert m.kind == "path" and m.path == copy.resolve()


def test_missing_model_messages(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelNotFound, match="no such directory"):
        resolve_model(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFound, match="no config.json"):
        resolve_model(str(tmp_path / "empty"))
    with pytest.raises(ModelNotFound) as e:
        resolve_model("someorg/not-cached-model")
    msg = str(e.value)
    assert "models--someorg--not-cached-model" in msg and str(tmp_path / "hub") in msg and "never downloads" in msg


def test_hub_id_resolves_from_local_cache_without_network(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    snap = hub / "models--someorg--tiny" / "snapshots" / "0123abcd"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (hub / "models--someorg--tiny" / "refs").mkdir()
    (hub / "models--someorg--tiny" / "refs" / "main").write_text("0123abcd")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    m = resolve_model("someorg/tiny")
    assert m.kind == "hub-cache" and m.path == snap


def test_every_fm_tutor_variable_is_declared_once_and_listed():
    """Each FM_TUTOR_* name in the code is declared in the configuration's table, spelled as a string only there,
    and `fm-tutor config` lists every one of them."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    from tutor.core.config import ENVIRONMENT

    root = Path(__file__).resolve().parents[2]
    names, literals = set(), {}
    for folder in ("tutor", "widgets", "progress"):
        for f in (root / folder).rglob("*.py"):
            text = f.read_text()
            names |= set(re.findall(r"\bFM_TUTOR_[A-Z_]+[A-Z]\b", text))
            if f.name != "config.py":
                for m in re.findall(r"[\"']FM_TUTOR_[A-Z_]+[\"']", text):
                    literals.setdefault(m, []).append(str(f.relative_to(root)))
    assert names - set(ENVIRONMENT) == set(), sorted(names - set(ENVIRONMENT))
    assert literals == {}, literals  # read through tutor.core.config's constants, not spelled again
    out = subprocess.run([sys.executable, "-m", "tutor", "config"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    missing = [n for n in ENVIRONMENT if n not in out.stdout]
    assert not missing, missing


def test_command_line_settings_are_passed_explicitly(monkeypatch):
    """--kernel-host reaches the configuration as an override with its source, not through os.environ."""
    import os

    from tutor.cli.context import from_args
    from tutor.cli.entry import build_parser

    monkeypatch.delenv("FM_TUTOR_KERNEL_HOST", raising=False)
    args = build_parser().parse_args(["--kernel-host", "learner@gpu-box", "check"])
    ctx = from_args(args)
    cfg = ctx.config()
    assert cfg.kernel.host == "learner@gpu-box" and cfg.source("kernel.host") == "command line --kernel-host"
    assert "FM_TUTOR_KERNEL_HOST" not in os.environ
