"""Spaced repetition through the store (fsrs 6.x, fuzzing off)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest

from tutor.progress import ProgressStore

pytestmark = pytest.mark.timeout(60)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    s = ProgressStore(tmp_path / "p.db", fuzz_reviews=False)
    yield s
    s.close()


def _due(store, key) -> datetime:
    return datetime.fromisoformat(store.review_card(key)["due"])


def test_new_card_created_on_first_answer(store):
    assert store.due_count(T0) == 0
    store.review_answer("01:fm-def-1", "01", True, now=T0)
    card = store.review_card("01:fm-def-1")
    assert card["lesson_id"] == "01" and card["question_id"] == "fm-def-1" and card["retired"] is False
    assert _due(store, "01:fm-def-1") > T0
    logs = store.review_logs("01:fm-def-1")
    assert [l["rating"] for l in logs] == ["good"]
    assert logs[0]["at"].endswith("+00:00")
    assert store.due_cards(T0) == []
    later = T0 + timedelta(days=1)
    assert store.due_cards(later) == [
        {"key": "01:fm-def-1", "lesson_id": "01", "question_id": "fm-def-1", "due": card["due"]}
    ]
    assert store.due_count(later) == 1


def test_good_advances_due_dates(store):
    key, now, intervals = "02:q", T0, []
    for _ in range(6):
        store.review_answer(key, "02", True, now=now)
        due = _due(store, key)
        intervals.append(due - now)
        now = due
    assert all(b > a for a, b in itertools.pairwise(intervals[1:])), intervals
    assert intervals[-1] > timedelta(days=5)


def test_lapse_shortens_interval(store):
    key, now = "03:q", T0
    for _ in range(5):
        store.review_answer(key, "03", True, now=now)
        now = _due(store, key)
    good_interval = _due(store, key) - now  # not used, only to build a long interval
    store.review_answer(key, "03", True, now=now)
    before = _due(store, key) - now
    now = _due(store, key)
    store.review_answer(key, "03", False, now=now)  # Again: a lapse
    after = _due(store, key) - now
    assert after < before
    assert after <= timedelta(hours=1)
    assert [l["rating"] for l in store.review_logs(key)][-1] == "again"
    assert good_interval >= timedelta(0)


def test_explicit_ratings(store):
    store.review_answer("01:a", "01", True, rating="easy", now=T0)
    store.review_answer("01:b", "01", True, rating="hard", now=T0)
    store.review_answer("01:c", "01", True, rating="Good", now=T0)
    assert _due(store, "01:a") > _due(store, "01:c") > _due(store, "01:b")
    assert [l["rating"] for l in store.review_logs()] == ["easy", "hard", "good"]
    with pytest.raises(ValueError):
        store.review_answer("01:d", "01", True, rating="meh", now=T0)
    with pytest.raises(ValueError):
        store.review_answer("no-colon", "01", True, now=T0)


def test_naive_and_non_utc_times(store):
    store.review_answer("01:n", "01", True, now=datetime(2026, 3, 1, 9, 0))  # naive -> UTC
    store.review_answer("01:t", "01", True, now=datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1))))
    assert _due(store, "01:n") == _due(store, "01:t")


def test_due_cards_oldest_first(store):
    store.review_answer("01:late", "01", True, rating="easy", now=T0)
    store.review_answer("01:soon", "01", False, now=T0)
    store.review_answer("02:mid", "02", True, now=T0)
    keys = [c["key"] for c in store.due_cards(T0 + timedelta(days=365))]
    assert keys == ["01:soon", "02:mid", "01:late"]


def test_retire_missing(store):
    for key in ("01:a", "01:b", "02:c"):
        store.review_answer(key, key[:2], False, now=T0)
    later = T0 + timedelta(days=1)
    assert store.due_count(later) == 3
    store.retire_missing({"01:a", "02:c", "09:unrelated"})
    assert [c["key"] for c in store.due_cards(later)] == ["01:a", "02:c"]
    assert store.review_card("01:b")["retired"] is True  # kept, not deleted
    assert len(store.review_logs("01:b")) == 1
    store.retire_missing({"01:a", "01:b", "02:c"})  # the question came back
    assert store.due_count(later) == 3


def test_fuzzing_default_on(tmp_path):
    s = ProgressStore(tmp_path / "f.db")
    try:
        assert s._reviewer.scheduler.enable_fuzzing is True
        s.review_answer("01:x", "01", True, now=T0)
        assert s.due_count(T0 + timedelta(days=1)) == 1
    finally:
        s.close()
