"""The app starts the local model server in the background and shows its state in the key bar; the doctor
screen reports this machine."""
from __future__ import annotations

import pytest

from progress import ProgressStore
from tutor.app import TutorApp
from tutor.course import load_course
from tutor.screens.doctor import DoctorScreen

from .helpers import wait_for as _wait
from .helpers import widget_text


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_model_server_state_in_key_bar(fixture_course, tmp_path, monkeypatch):
    monkeypatch.setenv("FM_TUTOR_MODEL_SERVER", "on")
    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(120, 30)) as pilot:
        assert await _wait(pilot, lambda: "fm-tiny" in app.model_status, 30), app.model_status
        assert "transformers" in app.model_status and "cpu" in app.model_status
        assert await _wait(pilot, lambda: "ready" in app.model_status or "failed" in app.model_status, 240)
        assert "ready" in app.model_status, app.model_status
        await pilot.pause()
        assert "ready" in widget_text(app.screen.query_one("KeyBar"), width=120)
        server = app.model_server
    assert server.state.value == "stopped"  # stopped with the app


@pytest.mark.timeout(240)
async def test_doctor_screen(fixture_course, tmp_path):
    app = TutorApp(course=load_course(fixture_course), store=ProgressStore(tmp_path / "p.db"))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("D")
        assert isinstance(app.screen, DoctorScreen)
        rep = app.screen.query_one("#doctor-report")
        assert await _wait(pilot, lambda: "fm-tiny card" in widget_text(rep), 200), widget_text(rep)
        text = widget_text(rep)
        assert "Recommended" in text or "GPU memory" in text
        assert "1,311,872 parameters" in text
