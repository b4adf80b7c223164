"""The command line's wording, through the real `python -m tutor` in a subprocess (issue 14, item 13 and the
progress of item 10): run-cells says an exercise's starter was rejected as expected, `--step` with an unknown step
is an error listing the valid ones, `bench reader` balances its parentheses and shows its progress on stderr."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def fm(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tutor", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=timeout)


@pytest.mark.timeout(150)
def test_run_cells_says_the_starter_was_rejected_as_expected():
    r = fm("run-cells", str(ROOT / "tests" / "kernel" / "fixtures" / "good_lesson.md"), "--color", "never")
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(ln for ln in r.stdout.splitlines() if "[starter+check]" in ln)
    assert "(the check rejected the starter, as expected)" in line and "(failed)" not in line
    assert "(the check accepts the solution)" in r.stdout


@pytest.mark.timeout(60)
def test_an_unknown_step_is_an_error_that_lists_the_steps(fixture_course, tmp_path):
    r = fm("--content", str(fixture_course), "--data-dir", str(tmp_path / "d"), "lesson", "01", "--step", "nope")
    assert r.returncode == 2 and r.stdout == ""
    assert "lesson 01 has no step 'nope'; its steps are: " in r.stderr
    assert "count" in r.stderr.split("its steps are: ")[1].split(", ")  # a step of the fixture lesson


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_bench_reader_progress_on_stderr_and_balanced_output(fixture_course, tmp_path):
    r = fm("--content", str(fixture_course), "--data-dir", str(tmp_path / "d"), "bench", "reader", "--runs", "1",
           timeout=220)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("lesson 01 (") and any(ln.startswith("ratio reader/baseline:") for ln in out)
    for ln in out:
        assert ln.count("(") == ln.count(")"), ln
    assert not any("run 1/1" in ln for ln in out)  # the progress is not in the results
    # stderr is no terminal here: a plain line per phase, then one saying all ran
    phases = [ln for ln in r.stderr.splitlines() if ln.startswith("bench reader: ")]
    assert [p.split()[2] for p in phases] == ["1/5", "2/5", "3/5", "4/5", "5/5", "5/5"], r.stderr
    assert "next step (n)" in phases[3] and phases[-1].startswith("bench reader: 5/5 phases done")


@pytest.mark.timeout(60)
def test_bench_runs_below_one_is_an_error():
    r = fm("bench", "startup", "--runs", "0")
    assert r.returncode == 2 and r.stdout == ""
    assert "--runs must be at least 1 (got 0)" in r.stderr


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.skipif(not shutil.which("tmux"), reason="bench startup times the apps in tmux")
def test_bench_startup_prints_both_p50s_their_ratio_and_the_pairs(tmp_path):
    """Each app starts once untimed, then --runs times, taking turns; the ratio of the p50s is the goal's figure and
    the quartiles of the pairs' ratios say how much the machine's load moved it."""
    r = fm("--data-dir", str(tmp_path / "d"), "bench", "startup", "--runs", "2", timeout=220)
    if "needs tmux and shared/tools/tui_first_paint.py" in r.stdout:
        pytest.skip("no first-paint timer script here")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.splitlines()
    minimal = next(ln for ln in out if ln.startswith("minimal Textual app"))
    home = next(ln for ln in out if ln.startswith("fm-tutor home"))
    for ln in (minimal, home):
        assert " p50 " in ln and "2 runs: " in ln and ln.count("(") == ln.count(")"), ln
    ratio = next(ln for ln in out if ln.startswith("ratio fm-tutor/minimal: "))
    assert "goal: <= 1.5x" in ratio and "(pairs, one start of each back to back: p50 " in ratio, ratio


@pytest.mark.timeout(60)
def test_global_options_before_a_command_are_kept(fixture_course, tmp_path):
    """`fm-tutor --content DIR lesson ...` and `fm-tutor lesson ... --content DIR` alike: the command's own copy of
    the option must not reset the one given before it (the fixture course's lesson 01 has a step `count`)."""
    c = str(fixture_course)
    for args in (("--content", c, "lesson", "01"), ("lesson", "01", "--content", c)):
        r = fm(*args, "--step", "nope", env={"FM_TUTOR_DATA_DIR": str(tmp_path / "d")})
        assert r.returncode == 2 and "its steps are: " in r.stderr
        assert "count" in r.stderr.split("its steps are: ")[1].split(", ") and "homogenization" not in r.stderr


def test_a_bare_fm_tutor_is_parsed_as_the_full_parser_parses_it():
    """A bare `fm-tutor` is parsed without the subcommands' parsers (they took longer than the rest of the command
    line's start); it must mean what the full parser says it means: no command, every global option at its default."""
    from tutor.cli.entry import build_parser

    assert vars(build_parser(commands=False).parse_args([])) == vars(build_parser().parse_args([]))
    assert build_parser(commands=False).parse_args([]).cmd is None
