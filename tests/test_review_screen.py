"""The review screen mixes due questions across lessons; answers schedule the cards (fsrs)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from tutor.progress import ProgressStore
from tutor.ui.app import TutorApp
from tutor.course import load_course
from tutor.ui.screens.review import ReviewScreen
from textual.widgets import Input

from tutor.widgets.quiz_card import QuizCard

from .helpers import widget_text

pytestmark = pytest.mark.timeout(120)
OLD = "2025-01-01T00:00:00.000000+00:00"


def store_with_due_cards(path):
    store = ProgressStore(path)
    data = store.export_json()
    cards = []
    for n, qid in enumerate(["define-fm", "flops", "gone-question"]):
        card = {"card_id": n + 1, "state": 2, "step": None, "stability": 2.0, "difficulty": 5.0, "due": OLD, "last_review": "2024-12-25T00:00:00.000000+00:00"}
        cards.append({"key": f"01:{qid}", "lesson_id": "01", "question_id": qid, "card": json.dumps(card), "due": OLD, "retired": 0})
    data["tables"]["review_cards"] = cards
    store.import_json(data)
    store.flush()
    return store


async def test_review_answers_and_reschedules(fixture_course, tmp_path):
    store = store_with_due_cards(tmp_path / "p.db")
    app = TutorApp(course=load_course(fixture_course), store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        assert "review: 3 due" in widget_text(app.screen.query_one("#topbar"))
        await pilot.press("r")
        await pilot.pause()
        scr = app.screen
        assert isinstance(scr, ReviewScreen)
        # the removed question's card is retired, not shown
        assert [k for k, _l, _q in scr.queue] == ["01:flops"]
        card = scr.query_one(QuizCard)
        assert card.quiz.id == "define-fm"
        await pilot.press("1", "enter")  # right
        await pilot.press("n")
        await pilot.pause()
        card = scr.query_one(QuizCard)
        assert card.quiz.id == "flops"
        await pilot.pause()
        assert isinstance(app.focused, Input)  # a numeric card's answer box has focus: typing goes in at once
        await pilot.press(*"5e19", "enter")  # wrong
        await pilot.pause()
        assert card.result is not None and not card.result.correct
        await pilot.press("n")
        await pilot.pause()
        empty = widget_text(scr.query_one(".review-empty"))
        assert "Nothing is due" in empty and "next card is due" in empty  # and when the next one comes
        app.store.flush()
        now = datetime.now(timezone.utc)
        right = app.store.review_card("01:define-fm")
        wrong = app.store.review_card("01:flops")
        assert right["due"] > wrong["due"] > OLD  # a lapse comes back sooner than a success
        logs = {lg["key"]: lg["rating"] for lg in app.store.review_logs()}
        assert logs == {"01:define-fm": "good", "01:flops": "again"}
        assert app.store.due_count(now) == 0
        assert app.store.review_card("01:gone-question")["retired"] in (1, True)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_review_snapshot(snap_compare, fixture_course, tmp_path, size):
    app = TutorApp(course=load_course(fixture_course), store=store_with_due_cards(tmp_path / "p.db"))

    async def go(pilot):
        await pilot.press("r")
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=go)
