"""Test helpers: the plain text of what widgets show."""
from __future__ import annotations

from rich.console import Console


def plain(renderable, width: int = 120) -> str:
    if isinstance(renderable, str):
        return renderable
    console = Console(width=width, record=True, file=open("/dev/null", "w"), color_system=None)
    console.print(renderable)
    return console.export_text()


def widget_text(widget, width: int = 120) -> str:
    content = getattr(widget, "content", None)
    if content is None:
        return ""
    return plain(content, width)


def texts(widgets, width: int = 120) -> str:
    return "\n".join(widget_text(w, width) for w in widgets)


async def wait_for(pilot, cond, timeout: float = 90.0) -> bool:
    """Poll `cond()` while the app runs, up to `timeout` seconds."""
    import asyncio

    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if cond():
            return True
        await pilot.pause(0.1)
    return False


def wait_until(pred, timeout: float = 10.0) -> bool:
    """Poll ``pred()`` (from a plain thread) every 50 ms, up to ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


async def press_run(app, pilot, lesson_id: str, step_id: str, cell_id: str):
    """Open the lesson at the step, focus the cell, press r -> the CodeCell."""
    from tutor.widgets.code_cell import CodeCell

    app.open_lesson(lesson_id, step_id)
    await pilot.pause()
    cell = app.screen.query_one(f"#cell-{cell_id}", CodeCell)
    cell.focus()
    await pilot.press("r")
    return cell
