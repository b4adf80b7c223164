"""Issue 14's walk: the installed app in tmux at 80x24 and 120x40, driven by the keyboard alone, asserting on the
captured screens (a failed exercise says why, a left lesson keeps its variables, esc leaves the innermost mode,
help lists the focused cell's keys, an unwritten lesson opens its outline, the footer keeps esc and ?, and A
ends with a summary)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

pytestmark = [pytest.mark.timeout(300), pytest.mark.skipif(not shutil.which("tmux"), reason="tmux is not installed")]

CAPTURES = os.environ.get("WALK_CAPTURES_DIR")  # a folder: the walk's screens are written there too


def _tmux(*args, **kw):
    return subprocess.run(["tmux", *args], capture_output=True, text=True, **kw)


class Walk:
    def __init__(self, course, data, size, *args):
        self.session = "fmw-" + uuid.uuid4().hex[:8]
        self.size = size
        self.log = data / "fm-tutor.log"
        env = (f"env TERM=xterm-256color FM_TUTOR_DATA_DIR={data} FM_TUTOR_CONTENT={course} FM_TUTOR_SPARE_KERNEL=0 "
               f"FM_TUTOR_MODEL_SERVER=off FM_TUTOR_DETACH_IDLE=0 FM_TUTOR_LOG_FILE={self.log}")
        cmd = f"{env} {sys.executable} -m tutor {' '.join(args)}; echo EXITED-$?; sleep 30"
        _tmux("new-session", "-d", "-s", self.session, "-x", str(size[0]), "-y", str(size[1]), cmd, check=True)

    def screen(self) -> str:
        return _tmux("capture-pane", "-p", "-t", self.session).stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        _tmux("send-keys", "-t", self.session, *(["-l"] if literal else []), *keys)

    def wait(self, text: str, timeout: float = 60.0, gone: bool = False) -> str:
        end = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < end:
            screen = self.screen()
            if (text not in screen) if gone else (text in screen):
                return screen
            time.sleep(0.15)
        raise AssertionError(f"{text!r} {'never went' if gone else 'never appeared'}; last screen:\n{screen}\n"
                             f"{self.stacks()}")

    def stacks(self) -> str:
        """The app's threads' stacks (kill -USR1, see tutor.core.logs): what a stuck screen is waiting for."""
        from tutor.core.logs import stacks_path

        shell = _tmux("list-panes", "-t", self.session, "-F", "#{pane_pid}").stdout.strip()
        kids = subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True).stdout.split() if shell else []
        if not kids:
            return "(the app's process was not found: no stacks)"
        path = stacks_path(self.log)
        for pid in kids:  # USR1: the threads' stacks; USR2: the UI's state and its asyncio tasks
            subprocess.run(["kill", "-USR1", pid], capture_output=True)
            time.sleep(0.5)
            subprocess.run(["kill", "-USR2", pid], capture_output=True)
        time.sleep(1.0)
        try:
            return "the app's threads:\n" + path.read_text(errors="replace")[-30000:]
        except OSError as e:
            return f"(no stacks: {e})"

    def save(self, name: str, screen: str) -> None:
        if CAPTURES:
            os.makedirs(CAPTURES, exist_ok=True)
            with open(os.path.join(CAPTURES, f"{name}-{self.size[0]}x{self.size[1]}.txt"), "w") as f:
                f.write(screen)

    def footer(self) -> str:
        return self.screen().rstrip("\n").splitlines()[-1]

    def close(self) -> None:
        _tmux("kill-session", "-t", self.session)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_walk_first_hour(fixture_course, tmp_path, size):
    w = Walk(fixture_course, tmp_path / "data", size, "lesson", "01", "--step", "what-a-foundation-model-is")
    try:
        w.wait("step 2/5")
        w.wait(" esc  Back ")  # the footer is painted with the first page, before any key
        w.keys("Tab")
        w.wait(" r  Run ")  # a cell has focus: its keys are in the footer
        w.keys("Tab")
        time.sleep(0.3)
        w.keys("e")
        w.wait("✎ editing")  # the cell's header: the editor has the keys (the footer says "Stop editing" sooner)
        assert "Stop editing" in w.footer()
        w.keys("x_walk = 42; ", literal=True)
        w.wait("x_walk = 42; print")
        w.keys("Escape")  # esc leaves edit mode, not the lesson
        w.wait("✎ edited")
        assert "step 2/5" in w.screen()
        footer = w.footer()
        assert " esc  Back " in footer and " ?  Help " in footer, footer  # kept, whatever the width
        w.keys("r")
        w.wait("1.414214", timeout=120)
        w.keys("?")  # help over the focused cell lists its keys
        help_screen = w.wait("Focused: Code cell")
        assert "Interrupt" in help_screen and "This screen (Help)" not in help_screen
        w.keys("Escape")
        w.wait("Focused: Code cell", gone=True)
        w.keys("Escape")  # a focused cell, not editing: esc goes back home
        home = w.wait("Continue [c]")
        w.keys("c")  # back within keep-alive: the variable is still there
        w.wait("step 2/5")
        w.wait(" r  Run ")  # the cell that had focus has it again
        w.keys("e")
        w.wait("✎ editing")  # the cell's header: the editor has the keys (the footer says "Stop editing" sooner)
        # to the start of the line (ctrl+a, as home: one byte, where a loaded machine may deliver the escape
        # sequence of the Home key in pieces): read x_walk before this cell sets it
        w.keys("C-a")
        w.keys("print('walk', x_walk); ", literal=True)
        w.wait("print('walk', x_walk); x_walk")
        w.keys("Escape")
        w.wait("editing", gone=True)
        w.keys("r")
        back = w.wait("walk 42", timeout=120)
        assert "died" not in home + back and "NameError" not in back

        w.keys("n")  # the exercise: its starter fails, and the check's message is shown
        w.wait("step 3/5")
        w.keys("Tab")
        w.wait(" r  Run ")
        w.keys("r")
        failed = w.wait("params(10) should be 1200, got 0", timeout=120)
        assert "failed" in failed
        w.save("reader-failed-exercise", failed)

        w.keys("A")  # the whole lesson, with a summary at the end
        w.wait("Run all done", timeout=180)
        w.keys("q")
        w.wait("EXITED-0")
    finally:
        w.close()

    w = Walk(fixture_course, tmp_path / "data", size, "lesson", "09")  # not written: its outline page
    try:
        w.wait("this is its outline")
        outline = w.wait(" esc  Back ")
        assert "Mistral" in outline and "Key content" in outline
        w.save("outline", outline)
        footer = w.footer()
        assert " esc  Back " in footer and " ?  Help " in footer, footer
        w.keys("Escape")
        w.wait("review: ")  # home
        w.keys("q")
        w.wait("EXITED-0")
    finally:
        w.close()
