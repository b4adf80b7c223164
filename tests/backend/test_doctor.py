"""`fm-tutor doctor` on this machine (no CUDA): exit code, content, structured report; and that the TUI-side
modules never import torch or transformers."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tutor.backend import doctor
from tutor.backend.gpu import GpuInfo

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(120)
def test_doctor_command_on_this_machine(fixture_course):
    """The real command: real probes, fm-tiny loaded in a subprocess, the fixture course."""
    env = {"FM_TUTOR_CONTENT": str(fixture_course)}
    code = ("import sys, argparse; from tutor.cli import backend as b\n"
            "ap = argparse.ArgumentParser(); b.add_commands(ap.add_subparsers(dest='cmd'))\n"
            "sys.exit(b.run(ap.parse_args(['doctor'])))\n")
    import os

    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=110,
                       env={**os.environ, **env}, cwd=ROOT)
    out = p.stdout
    if doctor.default_cuda_probe():
        pytest.skip("this machine has CUDA")
    assert p.returncode == 0, out + p.stderr
    assert "no CUDA GPU" in out and "All is well for CPU use." in out
    assert "fm-tiny loads" in out and "loads and generates" in out
    assert "torch " in out and "vllm not installed" in out and "bitsandbytes not installed" in out
    assert "Inference (7B model, 4-bit)" in out and "recommended 8 GB" in out  # the course's table
    assert "1 GPU cell(s), 1 with a CPU twin" in out and "skipped here (no CUDA)" in out


@pytest.mark.timeout(60)
def test_diagnose_structured_without_and_with_cuda(fixture_course):
    rep = doctor.diagnose(fixture_course, cuda_probe=list, load_model_check=False)
    assert rep.ok and rep.exit_code == 0
    assert rep.packages["vllm"] is None or isinstance(rep.packages["vllm"], str)
    assert rep.model_card and rep.model_card["parameters"] > 100_000
    [lesson] = rep.lessons
    assert (lesson.id, lesson.gpu_cells, lesson.cpu_twins, lesson.runnable_here) == ("01", 1, 1, False)
    mem = rep.by_area("gpu-memory")
    assert {c.name for c in mem} >= {"Inference (7B model, FP16)", "Fine-tuning (LoRA)"}
    assert all(c.status == doctor.INFO for c in mem)

    gpu = [GpuInfo(0, "Fake 12GB", 12288, 11000)]
    rep = doctor.diagnose(fixture_course, cuda_probe=lambda: gpu, load_model_check=False)
    by = {c.name: c for c in rep.by_area("gpu-memory")}
    assert by["Inference (7B model, 4-bit)"].status == doctor.OK  # 12 >= 8 recommended
    assert by["Inference (7B model, FP16)"].status == doctor.INFO  # 12 < 14 min
    assert by["Fine-tuning (LoRA)"].status == doctor.WARN  # 8 <= 12 < 16
    assert rep.lessons[0].runnable_here
    assert "Fake 12GB" in doctor.format_report(rep)


@pytest.mark.timeout(60)
def test_missing_required_package_exits_1(fixture_course, monkeypatch):
    real = doctor.version_of
    monkeypatch.setattr(doctor, "version_of", lambda p: None if p == "peft" else real(p))
    rep = doctor.diagnose(fixture_course, cuda_probe=list, load_model_check=False)
    assert not rep.ok and rep.exit_code == 1
    assert any(c.name == "peft" and c.status == doctor.FAIL for c in rep.checks)
    assert "must be fixed: peft" in doctor.format_report(rep)


@pytest.mark.timeout(60)
def test_missing_builtin_model_exits_1(fixture_course, monkeypatch, tmp_path):
    from tutor import models

    monkeypatch.setattr(models, "builtin_path", lambda name: tmp_path / name)
    rep = doctor.diagnose(fixture_course, cuda_probe=list, load_model_check=False)
    assert rep.exit_code == 1
    assert any("fm-tutor model build" in c.detail for c in rep.checks if c.status == doctor.FAIL)


@pytest.mark.timeout(60)
def test_tui_side_modules_do_not_import_torch():
    code = ("import sys, tutor.backend.supervisor, tutor.core.config, tutor.backend.doctor, tutor.cli.backend, tutor.models, tutor.runtime\n"
            "from tutor.core.config import load_config; load_config()\n"
            "from tutor.backend.doctor import diagnose; diagnose(cuda_probe=lambda: [], load_model_check=False)\n"
            "bad = [m for m in ('torch', 'transformers', 'peft', 'openai', 'textual') if m in sys.modules]\n"
            "print(bad); sys.exit(1 if bad else 0)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50, cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.timeout(60)
def test_checks_stream_before_the_slow_probes_end(fixture_course):
    """diagnose() reports each check as it completes: the Python check reaches on_check while the CUDA probe is
    still running (the probe waits for it; a report made at the end would leave it waiting its 20 s out)."""
    import threading

    seen = threading.Event()
    order: list[str] = []

    def probe() -> list:
        order.append("probe waited: " + ("python seen" if seen.wait(20) else "nothing seen"))
        return []

    def on_check(rep, c):
        order.append("head" if c is None else c.area)
        if c is not None and c.area == "python":
            seen.set()

    lines: list[str] = []
    printer = doctor.StreamPrinter(lines.append)

    def both(rep, c):
        on_check(rep, c)
        printer(rep, c)

    rep = doctor.diagnose(fixture_course, cuda_probe=probe, load_model_check=False, on_check=both)
    printer.finish(rep)
    assert "probe waited: python seen" in order
    assert order[0] == "head" and order.index("python") < order.index("probe waited: python seen")
    areas = [a for a in order if a in doctor.TITLES]
    assert areas == sorted(areas, key=list(doctor.TITLES).index)  # in the report's order
    # streamed, the lines are those of the whole report, and there is one verdict
    assert "\n".join(lines) == doctor.format_report(rep)
    assert sum("All is well" in ln for ln in lines) == 1 and "Log file" in lines


@pytest.mark.timeout(60)
def test_wrapped_lines_hang_under_their_text(fixture_course):
    rep = doctor.diagnose(fixture_course, cuda_probe=list, load_model_check=False)
    lines = doctor.format_report(rep, width=80).splitlines()
    assert max(map(len, lines)) <= 80
    assert doctor.format_report(rep).count("\n") < len(lines) - 1  # something did wrap
    for prev, line in zip(lines, lines[1:]):
        if line.strip() and not line.startswith("  [") and prev.startswith("  ["):  # a check's second line
            assert line.startswith(" " * doctor.MARK_WIDTH) and line[doctor.MARK_WIDTH] != " "
    assert all(ln.startswith(("  [", " " * doctor.MARK_WIDTH)) for ln in lines if ln.startswith(" "))


@pytest.mark.timeout(120)
def test_doctor_command_in_an_80_column_terminal(fixture_course):
    """In a terminal, `fm-tutor doctor` wraps at its width under each check's text; piped, one line a check."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    env = {**os.environ, "FM_TUTOR_CONTENT": str(fixture_course), "TERM": "xterm"}
    env.pop("COLUMNS", None)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    p = subprocess.Popen([sys.executable, "-m", "tutor", "doctor", "--no-load"], stdout=slave, stderr=slave,
                         env=env, cwd=ROOT)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not b:
            break
        chunks.append(b)
    p.wait(60)
    os.close(master)
    lines = b"".join(chunks).decode().replace("\r\n", "\n").splitlines()
    assert p.returncode == 0, lines
    assert max(map(len, lines)) <= 80
    i = next(n for n, ln in enumerate(lines) if "course inference: vllm" in ln)
    assert lines[i + 1].startswith(" " * doctor.MARK_WIDTH + "'fm-tutor[gpu]')"), lines[i:i + 2]
    piped = subprocess.run([sys.executable, "-m", "tutor", "doctor", "--no-load"], capture_output=True, text=True,
                           env=env, cwd=ROOT, timeout=100)
    assert any(len(ln) > 80 for ln in piped.stdout.splitlines())
    assert piped.stdout.count("All is well") == 1
