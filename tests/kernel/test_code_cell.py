"""CodeCell and OutputView in a tiny Textual app (Pilot)."""
import asyncio
import threading

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Footer

from tutor.course import parse_lesson_file
from tutor.kernel import Stream
from tutor.widgets.code_cell import CodeCell
from tutor.widgets.output_view import OutputView

from .conftest import FIXTURES

pytestmark = pytest.mark.timeout(60)

LESSON, _ = parse_lesson_file(FIXTURES / "good_lesson.md")


class CellApp(App):
    BINDINGS = [("x", "ping", "ping")]

    def __init__(self, *cells: CodeCell):
        super().__init__()
        self.cells = cells
        self.got: list = []
        self.pings = 0

    def compose(self) -> ComposeResult:
        yield from self.cells
        yield Footer()

    def on_mount(self) -> None:
        self.cells[0].focus()

    def action_ping(self) -> None:
        self.pings += 1

    def on_code_cell_run_requested(self, m): self.got.append(m)
    def on_code_cell_edited(self, m): self.got.append(m)
    def on_code_cell_reset_requested(self, m): self.got.append(m)
    def on_code_cell_interrupt_requested(self, m): self.got.append(m)
    def on_code_cell_restart_requested(self, m): self.got.append(m)
    def on_code_cell_show_full_output(self, m): self.got.append(m)

    def names(self):
        return [type(m).__name__ for m in self.got]


async def test_run_edit_reset_and_other_keys_post_messages():
    cell = LESSON.cell("demo")
    app = CellApp(CodeCell(cell, id="c"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await pilot.pause()
        assert app.names() == ["RunRequested"]
        assert app.got[0].cell_id == "demo" and app.got[0].code == cell.code
        await pilot.press("e", "#", " ")
        await pilot.pause(0.5)  # the Edited message is debounced
        edited = [m for m in app.got if type(m).__name__ == "Edited"]
        assert edited and edited[-1].code == "# " + cell.code
        await pilot.press("r")  # typed while editing: no run
        await pilot.press("escape")
        await pilot.pause()
        assert app.query_one(CodeCell).editing is False
        app.got.clear()
        await pilot.press("r", "i", "R", "o")
        await pilot.pause()
        assert app.names() == ["RunRequested", "InterruptRequested", "RestartRequested", "ShowFullOutput"]
        assert app.got[0].code == "# r" + cell.code
        app.got.clear()
        await pilot.press("ctrl+r")
        await pilot.pause(0.5)
        assert "ResetRequested" in app.names()
        assert app.query_one(CodeCell).code == cell.code
        assert "Edited" not in app.names()  # set_code by the widget itself is not a learner edit


async def test_gpu_cell_without_cuda_shows_why_and_does_not_run():
    cell = LESSON.cell("big-matmul")
    app = CellApp(CodeCell(cell, gpu_available=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await pilot.pause()
        assert app.names() == []
        notice = str(app.query_one(".cell--notice").render())
        assert "CUDA" in notice and "demo" in notice
        app.query_one(CodeCell).gpu_available = True
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert app.names() == ["RunRequested"]


async def test_state_header_and_output_marker():
    app = CellApp(CodeCell(LESSON.cell("double")))
    async with app.run_test(size=(80, 30)) as pilot:
        c = app.query_one(CodeCell)
        c.set_state("running")
        header = str(c.query_one(".cell--header").render())
        assert "double" in header and "[exercise]" in header and "running 0s" in header
        for i in range(2000):
            c.output.add(Stream("stdout", f"row {i}\n"))
        c.set_state("error", execution_count=7, elapsed=1.5, message="ZeroDivisionError: division by zero")
        await pilot.pause(0.3)
        header = str(c.query_one(".cell--header").render())
        assert "error" in header and "[7]" in header and "1.5 s" in header
        assert "ZeroDivisionError" in str(c.query_one(".cell--notice").render())
        shown = "\n".join(r for w in c.output_view.query("_TextPart") for r in w.plain_rows())
        assert "1,500 lines hidden — press o to view all" in shown
        assert "row 0" in shown and "row 1999" in shown and "row 1000" not in shown


async def test_ui_answers_keys_while_output_floods():
    app = CellApp(CodeCell(LESSON.cell("demo")))
    async with app.run_test(size=(80, 24)) as pilot:
        cell = app.query_one(CodeCell)
        cell.set_state("running")  # as the screen does before a run (it mounts the output view)
        buf = cell.output
        done = threading.Event()

        def feed():
            chunk = "".join(f"line {i}\n" for i in range(1000))
            for _ in range(1000):
                buf.add(Stream("stdout", chunk))
            done.set()

        threading.Thread(target=feed, daemon=True).start()
        presses = 0
        while not done.is_set() or presses < 5:
            await pilot.press("x")
            presses += 1
            await asyncio.sleep(0.02)
        await pilot.pause(0.3)
        assert app.pings == presses  # every key was handled while the flood went on
        assert buf.hidden_lines == 1_000_000 - 500
        shown = "\n".join(r for w in app.query_one(OutputView).query("_TextPart") for r in w.plain_rows())
        assert "line 999" in shown.splitlines()[-1]


async def test_output_view_shows_png_and_halfblock_fallback():
    import base64
    import io

    from PIL import Image

    from tutor.kernel import Display
    from tutor.widgets.output_view import halfblock_text

    im = Image.new("RGB", (40, 20), (255, 0, 0))
    raw = io.BytesIO()
    im.save(raw, "PNG")
    png = raw.getvalue()
    app = CellApp(CodeCell(LESSON.cell("demo")))
    async with app.run_test(size=(80, 30)) as pilot:
        c = app.query_one(CodeCell)
        c.set_state("running")
        c.output.add(Display({"image/png": base64.b64encode(png).decode(), "text/plain": "<Figure>"}))
        await pilot.pause(0.3)
        images = c.output_view.query(".-image")
        assert len(images) == 1
    text = halfblock_text(png, width=20)
    assert text.plain.count("▀") == 20 * 5  # 40x20 px at 20 columns: 10 px high, two a row
    assert "rgb(255,0,0)" in str(text.spans[0].style).replace(" ", "")
