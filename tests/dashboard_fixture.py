"""A deterministic progress export with old, fixed timestamps (so 'now' never changes what is shown)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

BASE = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)


def iso(d: datetime) -> str:
    return d.isoformat(timespec="microseconds")


def make_export(n_events: int = 60, seed: int = 7) -> dict:
    rng = random.Random(seed)
    lessons = ["01", "02", "07"]
    steps = {lid: [f"s{i}" for i in range(6)] for lid in lessons}
    t = {k: [] for k in ("settings", "lessons", "steps", "activity", "cell_edits", "cell_runs", "quiz_attempts",
                         "exercise_results", "review_cards", "review_logs")}
    t["settings"] = [{"key": "active_path", "value": '"quick"'}, {"key": "custom_path", "value": "[]"},
                     {"key": "last_lesson", "value": '"02"'}]
    t["lessons"] = [
        {"lesson_id": "01", "status": "done", "last_step": "s5", "started_at": iso(BASE), "completed_at": iso(BASE + timedelta(days=2)), "updated_at": iso(BASE + timedelta(days=2))},
        {"lesson_id": "02", "status": "in_progress", "last_step": "s2", "started_at": iso(BASE + timedelta(days=3)), "completed_at": None, "updated_at": iso(BASE + timedelta(days=4))},
        {"lesson_id": "07", "status": "in_progress", "last_step": "s1", "started_at": iso(BASE + timedelta(days=5)), "completed_at": None, "updated_at": iso(BASE + timedelta(days=5))},
    ]
    seconds: dict[tuple[str, str], float] = {}
    for i in range(n_events):
        lid = lessons[i % 3]
        sid = steps[lid][rng.randrange(6 if lid == "01" else 3)]
        sec = float(rng.randrange(30, 600))
        at = BASE + timedelta(days=i * 9 // max(1, n_events), minutes=i)
        t["activity"].append({"id": i + 1, "at": iso(at), "lesson_id": lid, "step_id": sid, "seconds": sec})
        seconds[(lid, sid)] = seconds.get((lid, sid), 0.0) + sec
        qid = f"q{rng.randrange(8)}"
        t["quiz_attempts"].append({"id": i + 1, "at": iso(at), "lesson_id": lid, "question_id": qid,
                                   "answer": "1", "correct": int(rng.random() < {"01": 0.9, "02": 0.6, "07": 0.4}[lid]), "seconds": 12.0})
    t["steps"] = [{"lesson_id": l, "step_id": s, "first_seen": iso(BASE), "seconds": v} for (l, s), v in sorted(seconds.items())]
    t["exercise_results"] = [{"id": 1, "at": iso(BASE), "lesson_id": "01", "cell_id": "params-ex", "passed": 1, "message": "ok"}]
    for n, lid in enumerate(lessons):
        key = f"{lid}:q{n}"
        card = {"card_id": n + 1, "state": 2, "step": None, "stability": 3.0, "difficulty": 5.0,
                "due": iso(BASE + timedelta(days=10)), "last_review": iso(BASE + timedelta(days=7))}
        import json

        t["review_cards"].append({"key": key, "lesson_id": lid, "question_id": f"q{n}", "card": json.dumps(card),
                                  "due": iso(BASE + timedelta(days=10)), "retired": 0})
        # the first answer in the lesson (it creates the card: not a review, and retention must not count it),
        # then one review
        t["review_logs"].append({"id": 2 * n + 1, "at": iso(BASE + timedelta(days=7)), "key": key, "rating": "again", "log": "{}"})
        t["review_logs"].append({"id": 2 * n + 2, "at": iso(BASE + timedelta(days=7)), "key": key, "rating": "good", "log": "{}"})
    return {"format": "fm-tutor-progress", "schema_version": 1, "exported_at": iso(BASE), "tables": t}
