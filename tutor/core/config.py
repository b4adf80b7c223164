"""fm-tutor configuration: a TOML file plus environment overrides, every value tagged with where it came from.

File: platformdirs.user_config_dir("fm-tutor")/config.toml, or the file named by FM_TUTOR_CONFIG.
Precedence: default < file < env var. This module runs in the TUI process: no torch, no transformers.

    model = "fm-tiny"            # built-in name, a local directory, or a hub id already in the local HF cache
    engine = "auto"              # auto | vllm | transformers
    continuous_batching = true   # transformers serve --continuous-batching (measured ~4x tok/s at 8 concurrent requests)
    max_batch = 32               # concurrent requests the server's KV cache is sized for (with gpu.max_model_len,
                                 # capped at the model's own context): the cache never grows with free memory
    cpu_threads = 0              # torch threads of transformers serve on a CPU; 0 = auto: 1 for a model under
                                 # 64 MB (fm-tiny: ~4x the tok/s of 2 threads on 2 shared cores), else torch's default
    [gpu]
    gpu_memory_utilization = 0.85
    max_model_len = 2048
    tensor_parallel_size = 1
    enforce_eager = false
    [gpu.lora_modules]           # name = "adapter dir" (vLLM --lora-modules)
    [kernel]
    keep_alive = 600             # seconds a left lesson's kernel (and its variables) stays alive; 0 = it stops at once
    detach_idle = 1800           # on exit or hang-up, kernels and the model server keep running detached this
                                 # long (s) for the next fm-tutor to reattach to; 0 = they stop with the app
    max_lines = 500              # output cap per cell
    host = ""                    # [user@]host: run the lesson kernels (and the model) there over SSH; "" = here
    remote_command = "fm-tutor"  # how to run fm-tutor on that host (non-interactive shell), e.g. "~/venv/bin/fm-tutor"
    ssh_port = 0                 # 0 = ssh's default (or ~/.ssh/config's)
    ssh_identity = ""            # a private key for ssh -i (BatchMode: no passphrase prompt; ssh-agent works)
    ssh_options = ""             # more ssh arguments, shell-quoted, e.g. "-o StrictHostKeyChecking=accept-new"
    max_bytes = 200000
    [quiz]
    pass_threshold = 0.7
    [review]
    fuzzing = true
"""
from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutor.core.errors import TutorError

log = logging.getLogger(__name__)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENGINES = ("auto", "vllm", "transformers")
BUILTIN_MODELS = ("fm-tiny",)


class ConfigError(TutorError, ValueError):
    """A config file or env var holds a value that cannot be used; the message names where it came from."""


class ModelNotFound(TutorError, LookupError):
    """The configured model could not be found locally; the message names what was looked for and where."""


@dataclass
class GpuConfig:
    gpu_memory_utilization: float = 0.85
    max_model_len: int = 2048
    tensor_parallel_size: int = 1
    enforce_eager: bool = False
    lora_modules: dict[str, str] = field(default_factory=dict)


@dataclass
class KernelConfig:
    keep_alive: float = 600.0
    detach_idle: float = 1800.0
    max_lines: int = 500
    max_bytes: int = 200_000
    host: str = ""
    remote_command: str = "fm-tutor"
    ssh_port: int = 0
    ssh_identity: str = ""
    ssh_options: str = ""


@dataclass
class QuizConfig:
    pass_threshold: float = 0.7


@dataclass
class ReviewConfig:
    fuzzing: bool = True


@dataclass
class Config:
    model: str = "fm-tiny"
    engine: str = "auto"
    continuous_batching: bool = True
    max_batch: int = 32
    cpu_threads: int = 0
    gpu: GpuConfig = field(default_factory=GpuConfig)
    kernel: KernelConfig = field(default_factory=KernelConfig)
    quiz: QuizConfig = field(default_factory=QuizConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    path: Path | None = None  # the config file consulted (it may not exist)
    sources: dict[str, str] = field(default_factory=dict)  # dotted key -> "default" | "file <path>" | "env <VAR>"
    warnings: list[str] = field(default_factory=list)

    def source(self, key: str) -> str:
        return self.sources.get(key, "default")

    def get(self, key: str) -> Any:
        obj: Any = self
        for part in key.split("."):
            obj = getattr(obj, part)
        return obj

    def items(self) -> list[tuple[str, Any, str]]:
        """(dotted key, value, source) for every setting, in a stable order."""
        return [(k, self.get(k), self.source(k)) for k in SETTINGS]


# dotted key -> (env var, type)
SETTINGS: dict[str, tuple[str, type]] = {
    "model": ("FM_TUTOR_MODEL", str),
    "engine": ("FM_TUTOR_ENGINE", str),
    "continuous_batching": ("FM_TUTOR_CONTINUOUS_BATCHING", bool),
    "max_batch": ("FM_TUTOR_MAX_BATCH", int),
    "cpu_threads": ("FM_TUTOR_CPU_THREADS", int),
    "gpu.gpu_memory_utilization": ("FM_TUTOR_GPU_MEMORY_UTILIZATION", float),
    "gpu.max_model_len": ("FM_TUTOR_MAX_MODEL_LEN", int),
    "gpu.tensor_parallel_size": ("FM_TUTOR_TENSOR_PARALLEL_SIZE", int),
    "gpu.enforce_eager": ("FM_TUTOR_ENFORCE_EAGER", bool),
    "gpu.lora_modules": ("FM_TUTOR_LORA_MODULES", dict),
    "kernel.keep_alive": ("FM_TUTOR_KEEP_ALIVE", float),
    "kernel.detach_idle": ("FM_TUTOR_DETACH_IDLE", float),
    "kernel.max_lines": ("FM_TUTOR_OUTPUT_MAX_LINES", int),
    "kernel.max_bytes": ("FM_TUTOR_OUTPUT_MAX_BYTES", int),
    "kernel.host": ("FM_TUTOR_KERNEL_HOST", str),
    "kernel.remote_command": ("FM_TUTOR_REMOTE_COMMAND", str),
    "kernel.ssh_port": ("FM_TUTOR_SSH_PORT", int),
    "kernel.ssh_identity": ("FM_TUTOR_SSH_IDENTITY", str),
    "kernel.ssh_options": ("FM_TUTOR_SSH_OPTIONS", str),
    "quiz.pass_threshold": ("FM_TUTOR_QUIZ_PASS_THRESHOLD", float),
    "review.fuzzing": ("FM_TUTOR_REVIEW_FUZZING", bool),
}


# ---------------------------------------------------------------- every FM_TUTOR_* variable, declared once

@dataclass(frozen=True)
class EnvVar:
    name: str
    meaning: str
    kind: str  # "setting" (overrides a config key) | "location" | "switch" | "published" (fm-tutor sets it for kernels)


ENVIRONMENT: dict[str, EnvVar] = {}


def _env(name: str, meaning: str, kind: str) -> str:
    ENVIRONMENT[name] = EnvVar(name, meaning, kind)
    return name


for _key, (_var, _typ) in SETTINGS.items():
    _env(_var, f"overrides the setting {_key}", "setting")

ENV_CONFIG = _env("FM_TUTOR_CONFIG", "the config file to read instead of the user config dir's config.toml", "location")
ENV_DATA_DIR = _env("FM_TUTOR_DATA_DIR", "where progress.db lives (--data-dir)", "location")
ENV_CONTENT = _env("FM_TUTOR_CONTENT", "a course directory to use instead of the installed one (--content)", "location")
ENV_RUNTIME_DIR = _env("FM_TUTOR_RUNTIME_DIR", "the runtime dir: endpoint file, GPU locks, detached registry",
                       "location")
ENV_CACHE_DIR = _env("FM_TUTOR_CACHE_DIR", "where the search index lives (default: the user cache dir)", "location")
ENV_LOG_FILE = _env("FM_TUTOR_LOG_FILE", "the log file (default: fm-tutor.log in the user state dir)", "location")
ENV_LOG_LEVEL = _env("FM_TUTOR_LOG_LEVEL", "debug | info | warning | error (--log-level)", "switch")
ENV_ASCII = _env("FM_TUTOR_ASCII", "1: ASCII glyphs only (as on the Linux console)", "switch")
ENV_ANSI = _env("FM_TUTOR_ANSI", "1: the terminal's own 16 ANSI colours instead of truecolor themes", "switch")
ENV_IMAGES = _env("FM_TUTOR_IMAGES", "auto | terminal | halfblock: how cell images are drawn", "switch")
ENV_SPARE_KERNEL = _env("FM_TUTOR_SPARE_KERNEL", "0: do not keep a warm spare kernel", "switch")
ENV_MODEL_SERVER = _env("FM_TUTOR_MODEL_SERVER", "off: the app does not start the local model server", "switch")
ENV_AUTOSTART = _env("FM_TUTOR_AUTOSTART", "0: tutor.runtime in a kernel does not start a model server itself",
                     "switch")
ENV_VLLM_BIN = _env("FM_TUTOR_VLLM_BIN", "the python (or vllm script) of a venv with vLLM to serve with, e.g. "
                    ".venv-vllm/bin/python from scripts/vllm-cpu-env.sh", "location")
ENV_FIRST_PAINT = _env("FM_TUTOR_FIRST_PAINT", "bench startup: the tmux first-paint timer script", "location")
ENV_BASE_URL = _env("FM_TUTOR_BASE_URL", "the model server's URL, published to kernels", "published")
ENV_API_KEY = _env("FM_TUTOR_API_KEY", "the model server's API key, published to kernels", "published")
ENV_ENGINE_SERVING = _env("FM_TUTOR_ENGINE_SERVING", "the engine serving, published to kernels", "published")
ENV_MODEL = "FM_TUTOR_MODEL"  # the model setting; also published to kernels as the served model's name
ENV_KERNEL = _env("FM_TUTOR_KERNEL", "the lesson id, set in each lesson kernel", "published")
ENV_KERNEL_AGENT = _env("FM_TUTOR_KERNEL_AGENT", "the agent's pid, set in a remote kernel", "published")
ENV_KERNEL_HOST = SETTINGS["kernel.host"][0]


def env_flag(name: str, default: bool, env: dict[str, str] | None = None) -> bool:
    """A declared switch read as a boolean ("0", "false", "no", "off" are false)."""
    assert name in ENVIRONMENT, name
    raw = (os.environ if env is None else env).get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off")


def env_value(name: str, default: str | None = None) -> str | None:
    """A declared variable's value (or ``default``)."""
    assert name in ENVIRONMENT, name
    return os.environ.get(name, default)


def config_path() -> Path:
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("fm-tutor")) / "config.toml"


def cache_dir() -> Path:
    """Where rebuildable files live (the search index): FM_TUTOR_CACHE_DIR, or the user cache dir."""
    env = env_value(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("fm-tutor"))


def runtime_dir() -> Path:
    """Where the endpoint file and GPU lock files live (FM_TUTOR_RUNTIME_DIR overrides). Created if missing."""
    env = os.environ.get(ENV_RUNTIME_DIR)
    candidates = [Path(env).expanduser()] if env else []
    if not env:
        import platformdirs

        if os.environ.get("XDG_RUNTIME_DIR"):
            candidates.append(Path(platformdirs.user_runtime_dir("fm-tutor")))
        candidates.append(Path(platformdirs.user_state_dir("fm-tutor")) / "run")
    for c in candidates:
        try:
            c.mkdir(parents=True, exist_ok=True)
            os.chmod(c, 0o700)
            return c
        except OSError:
            continue
    raise ConfigError(f"cannot create a runtime directory (tried {', '.join(map(str, candidates))})")


def _coerce(value: Any, typ: type, where: str, key: str) -> Any:
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if typ is dict:
            if isinstance(value, dict):
                return {str(k): str(v) for k, v in value.items()}
            if isinstance(value, str):  # "name=path,name2=path2"
                out = {}
                for part in filter(None, (p.strip() for p in value.split(","))):
                    name, sep, path = part.partition("=")
                    if not sep or not name or not path:
                        raise ValueError(part)
                    out[name.strip()] = path.strip()
                return out
            raise ValueError(value)
        if typ is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if typ is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {key} = {value!r} is not a valid {typ.__name__}") from None


def _validate(cfg: Config) -> None:
    def where(key: str) -> str:
        return cfg.source(key)

    if cfg.engine not in ENGINES:
        raise ConfigError(f"{where('engine')}: engine = {cfg.engine!r}; expected one of {', '.join(ENGINES)}")
    if not 0.05 <= cfg.gpu.gpu_memory_utilization <= 1.0:
        raise ConfigError(f"{where('gpu.gpu_memory_utilization')}: gpu_memory_utilization must be in (0.05, 1]")
    for key in ("max_batch", "gpu.max_model_len", "gpu.tensor_parallel_size", "kernel.max_lines", "kernel.max_bytes"):
        if cfg.get(key) < 1:
            raise ConfigError(f"{where(key)}: {key} must be >= 1")
    if cfg.cpu_threads < 0:
        raise ConfigError(f"{where('cpu_threads')}: cpu_threads must be >= 0 (0 = auto)")
    if cfg.kernel.keep_alive < 0:
        raise ConfigError(f"{where('kernel.keep_alive')}: keep_alive must be >= 0")
    if cfg.kernel.detach_idle < 0:
        raise ConfigError(f"{where('kernel.detach_idle')}: detach_idle must be >= 0")
    _validate_remote(cfg)
    if not 0.0 <= cfg.quiz.pass_threshold <= 1.0:
        raise ConfigError(f"{where('quiz.pass_threshold')}: pass_threshold must be between 0 and 1")
    if not cfg.model.strip():
        raise ConfigError(f"{where('model')}: model must not be empty")


_HOST_RE = re.compile(r"^[A-Za-z0-9_.%:\[\]-]+(@[A-Za-z0-9_.%:\[\]-]+)?$")


def check_host(host: str) -> str:
    """``[user@]host`` (or an ssh config alias) as given, or ValueError: never something ssh would read as an
    option (a leading "-") or a shell would expand."""
    host = host.strip()
    if not host or host.startswith("-") or not _HOST_RE.match(host):
        raise ValueError(f"kernel host {host!r} is not of the form [user@]host")
    return host


def _validate_remote(cfg: Config) -> None:
    import shlex

    k = cfg.kernel
    if k.host.strip():
        try:
            check_host(k.host)
        except ValueError as e:
            raise ConfigError(f"{cfg.source('kernel.host')}: {e}") from None
    if not 0 <= k.ssh_port <= 65535:
        raise ConfigError(f"{cfg.source('kernel.ssh_port')}: ssh_port must be between 0 and 65535")
    try:
        shlex.split(k.ssh_options)
    except ValueError as e:
        raise ConfigError(f"{cfg.source('kernel.ssh_options')}: ssh_options cannot be split into arguments: {e}") \
            from None


def load_config(path: Path | str | None = None, env: dict[str, str] | None = None,
                overrides: dict[str, tuple[Any, str]] | None = None) -> Config:
    """Defaults, then the TOML file (if it exists), then FM_TUTOR_* env vars, then ``overrides`` (dotted key ->
    (value, source), e.g. the command line's ``{"kernel.host": ("gpu1", "--kernel-host")}``). Raises ConfigError
    on bad values."""
    env = os.environ if env is None else env
    p = Path(path) if path is not None else config_path()
    cfg = Config(path=p)
    data: dict[str, Any] = {}
    if p.is_file():
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{p}: {e}") from None
    known_sections = {"gpu", "kernel", "quiz", "review"}
    for k, v in data.items():
        if k in known_sections and isinstance(v, dict):
            for sub in v:
                if f"{k}.{sub}" not in SETTINGS:
                    cfg.warnings.append(f"{p}: unknown setting [{k}] {sub} (ignored)")
        elif k not in SETTINGS:
            cfg.warnings.append(f"{p}: unknown setting {k} (ignored)")

    for key, (var, typ) in SETTINGS.items():
        section, _, name = key.rpartition(".")
        target = getattr(cfg, section) if section else cfg
        raw_file = (data.get(section, {}) if section else data)
        if isinstance(raw_file, dict) and name in raw_file:
            setattr(target, name, _coerce(raw_file[name], typ, str(p), key))
            cfg.sources[key] = f"file {p}"
        if var in env:
            setattr(target, name, _coerce(env[var], typ, f"env {var}", key))
            cfg.sources[key] = f"env {var}"
        if overrides and key in overrides:
            value, source = overrides[key]
            setattr(target, name, _coerce(value, typ, source, key))
            cfg.sources[key] = source
    unknown = set(overrides or {}) - set(SETTINGS)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    _validate(cfg)
    return cfg


def format_config(cfg: Config) -> str:
    """The text `fm-tutor config` prints: effective values and their sources."""
    lines = [f"config file: {cfg.path}{'' if cfg.path and cfg.path.is_file() else ' (not present; defaults apply)'}"]
    width = max(len(k) for k in SETTINGS)
    for key, value, source in cfg.items():
        shown = ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value
        lines.append(f"  {key:<{width}}  {str(shown) if shown != '' else '-':<24}  [{source}]")
    try:
        m = resolve_model(cfg.model)
        lines.append(f"model resolves to: {m.path} ({m.kind})")
    except ModelNotFound as e:
        lines.append(f"model: {e}")
    lines += [f"warning: {w}" for w in cfg.warnings]
    lines.append("environment (every FM_TUTOR_* variable; settings above show their own source):")
    vw = max(len(n) for n in ENVIRONMENT)
    for name, var in sorted(ENVIRONMENT.items()):
        value = os.environ.get(name)
        shown = "-" if value is None else ("(set)" if name == ENV_API_KEY else value)
        lines.append(f"  {name:<{vw}}  {shown:<14}  {var.kind:<9}  {var.meaning}")
    return "\n".join(lines)


# ---------------------------------------------------------------- model resolution (no network)


@dataclass
class ResolvedModel:
    name: str  # what the user configured
    path: Path  # a local directory holding config.json
    kind: str  # "builtin" | "path" | "hub-cache"


def _hub_cache_dirs() -> list[Path]:
    out = []
    if os.environ.get("HF_HUB_CACHE"):
        out.append(Path(os.environ["HF_HUB_CACHE"]))
    if os.environ.get("HF_HOME"):
        out.append(Path(os.environ["HF_HOME"]) / "hub")
    out.append(Path.home() / ".cache" / "huggingface" / "hub")
    return out


def resolve_model(name: str) -> ResolvedModel:
    """Find a model on this machine without touching the network.

    A built-in name ("fm-tiny") -> tutor/models/<name>; an existing directory -> itself; "org/name" -> its snapshot
    in the local Hugging Face cache. Raises ModelNotFound naming what was looked for and where.
    """
    name = name.strip()
    if name in BUILTIN_MODELS:
        from tutor.models import builtin_path

        p = builtin_path(name)
        if (p / "config.json").is_file():
            return ResolvedModel(name, p, "builtin")
        raise ModelNotFound(f"built-in model {name!r} is not built: looked for {p / 'config.json'}. "
                            f"Build it with `fm-tutor model build`.")
    p = Path(name).expanduser()
    looks_like_path = p.is_absolute() or name.startswith((".", "~")) or os.sep in name and p.exists()
    if p.is_dir():
        if (p / "config.json").is_file():
            from tutor.models import builtin_path

            # a built-in model named by its directory is still built-in: kernels see the served model's name,
            # which for the built-in model is this path
            builtin = any(p.resolve() == builtin_path(b).resolve() for b in BUILTIN_MODELS)
            return ResolvedModel(name, p.resolve(), "builtin" if builtin else "path")
        raise ModelNotFound(f"model directory {p.resolve()} has no config.json (not a transformers model directory)")
    if looks_like_path or name.count("/") != 1:
        raise ModelNotFound(f"model {name!r}: no such directory ({p.resolve()}), and it is not a built-in model "
                            f"({', '.join(BUILTIN_MODELS)}) or a hub id of the form org/name")
    # a hub id: only what is already in the local cache
    tried = [str(d) for d in _hub_cache_dirs()]
    try:
        from huggingface_hub import try_to_load_from_cache

        for d in _hub_cache_dirs():
            hit = try_to_load_from_cache(name, "config.json", cache_dir=d)
            if isinstance(hit, str) and Path(hit).is_file():
                return ResolvedModel(name, Path(hit).parent, "hub-cache")
    except Exception:  # huggingface_hub missing or the cache unreadable: fall back to a plain directory scan
        log.debug("resolve_model: huggingface_hub missing or the cache unreadable: fall back to a plain directory scan", exc_info=True)
    folder = "models--" + name.replace("/", "--")
    for d in _hub_cache_dirs():
        snaps = d / folder / "snapshots"
        if snaps.is_dir():
            for s in sorted(snaps.iterdir(), key=lambda x: x.stat().st_mtime, reverse=True):
                if (s / "config.json").is_file():
                    return ResolvedModel(name, s, "hub-cache")
    raise ModelNotFound(f"hub model {name!r} is not in the local Hugging Face cache (looked for {folder}/snapshots/*/"
                        f"config.json under {', '.join(tried)}); fm-tutor never downloads models. Download it "
                        f"elsewhere with `hf download {name}` or set model = \"fm-tiny\".")
