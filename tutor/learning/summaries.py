"""Progress summary for the dashboard screen and `fm-tutor progress` (pure: no Textual)."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from tutor.course.model import Course
from tutor.learning.completion import DEFAULT_THRESHOLD


def _dt(s) -> datetime:
    if isinstance(s, datetime):
        return s if s.tzinfo else s.replace(tzinfo=timezone.utc)
    d = datetime.fromisoformat(str(s).replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


@dataclass
class Bar:
    id: str
    title: str
    done: int
    total: int

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


@dataclass
class Accuracy:
    id: str
    title: str
    right: int
    attempts: int

    @property
    def fraction(self) -> float:
        return self.right / self.attempts if self.attempts else 0.0


@dataclass
class Summary:
    path_id: str | None
    path_title: str | None
    path_done: int
    path_total: int
    steps_seen: int
    steps_total: int
    paths: list[Bar]
    sections: list[Bar]
    seconds_by_lesson: dict[str, float]
    seconds_by_week: dict[str, float]  # ISO week "2026-W48" -> seconds
    activity_by_day: dict[str, float]  # "2026-11-29" -> seconds of study
    accuracy_lessons: list[Accuracy]  # weakest first
    accuracy_sections: list[Accuracy]
    exercises_solved: int
    exercises_total: int
    due: int
    retention: float | None  # share of reviews in the last 30 days not rated Again
    reviews_30d: int
    streak: int
    week_of_plan: int | None
    plan_weeks: int | None
    plan_expected_done: int | None
    next_action: str
    quiz_attempts: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        for k in ("paths", "sections"):
            for b in d[k]:
                b["fraction"] = round(b["done"] / b["total"], 4) if b["total"] else 0.0
        return d


def summarize(course: Course, store, now: datetime | None = None, threshold: float = DEFAULT_THRESHOLD) -> Summary:
    now = now or datetime.now(timezone.utc)
    states = store.all_lesson_states()

    def status(lid: str) -> str:
        st = states.get(lid)
        return st.status if st else "not_started"

    # ---- path
    pid = store.active_path()
    if pid == "custom":
        path_lessons, path_title, weeks = store.custom_path(), "Custom path", None
    else:
        p = course.path(pid) if pid else None
        path_lessons, path_title, weeks = (list(p.lessons), p.title, p.weeks) if p else ([], None, None)
    path_done = sum(1 for lid in path_lessons if status(lid) == "done")
    steps_total = steps_seen = 0
    for lid in path_lessons or course.written_ids():
        les = course.lesson(lid)
        if les is None:
            continue
        steps_total += len(les.steps)
        seen = states[lid].steps_seen if lid in states else set()
        steps_seen += sum(1 for s in les.steps if s.id in seen)

    paths = [Bar(p.id, p.title, sum(1 for lid in p.lessons if status(lid) == "done"), len(p.lessons)) for p in course.paths]
    sections = [Bar(str(s.number), s.title, sum(1 for lid in s.lessons if status(lid) == "done"), len(s.lessons)) for s in course.sections]

    # ---- time (aggregated by SQLite: a dashboard over 10,000 events must not load them all)
    by_day = dict(store.activity_by_day())
    by_week: dict[str, float] = defaultdict(float)
    for day, sec in by_day.items():
        y, w, _ = date.fromisoformat(day).isocalendar()
        by_week[f"{y}-W{w:02d}"] += sec
    seconds_by_lesson = {lid: st.seconds for lid, st in states.items() if st.seconds}

    # ---- quizzes
    totals = store.quiz_totals()
    n_attempts = sum(n for _r, n in totals.values())
    acc_lessons = [
        Accuracy(lid, course.entries[lid].title if lid in course.entries else lid, r, n) for lid, (r, n) in totals.items()
    ]
    acc_lessons.sort(key=lambda a: (a.fraction, -a.attempts))
    per_sec: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a in acc_lessons:
        sec = course.section_of(a.id)
        if sec:
            per_sec[str(sec.number)][0] += a.right
            per_sec[str(sec.number)][1] += a.attempts
    titles = {str(s.number): s.title for s in course.sections}
    acc_sections = sorted((Accuracy(k, titles[k], r, n) for k, (r, n) in per_sec.items()), key=lambda a: a.fraction)

    # ---- exercises
    solved = total_ex = 0
    for lid in course.written_ids():
        les = course.lesson(lid)
        if les is None:
            continue
        ex = [c.id for c in les.cells if c.is_exercise and not c.is_gpu]
        total_ex += len(ex)
        if ex and lid in states:
            passed = store.exercise_results(lid)
            solved += sum(1 for c in ex if passed.get(c))

    # ---- review
    due = store.due_count(now)
    ratings = store.review_ratings_since(now - timedelta(days=30))
    retention = (sum(1 for r in ratings if str(r).lower() != "again") / len(ratings)) if ratings else None

    # ---- streak: consecutive active days ending today (or yesterday, if today has nothing yet)
    days = {date.fromisoformat(d) for d in store.active_days()}
    today = now.date()
    cur = today if today in days else today - timedelta(days=1)
    streak = 0
    while cur in days:
        streak += 1
        cur -= timedelta(days=1)

    # ---- weekly plan
    week_of_plan = expected = None
    if weeks and path_lessons:
        first = store.activity_first(path_lessons)
        if first:
            week_of_plan = min(weeks, int((now - _dt(first)).days // 7) + 1)
            # only lessons that exist can be behind: the plan's share, capped by the path's written lessons
            written = sum(1 for lid in path_lessons if course.is_written(lid))
            expected = min(written, math.ceil(len(path_lessons) * week_of_plan / weeks))

    # ---- next best action
    action = _next_action(course, store, states, path_lessons, due, acc_lessons, threshold)
    return Summary(
        path_id=pid, path_title=path_title, path_done=path_done, path_total=len(path_lessons),
        steps_seen=steps_seen, steps_total=steps_total, paths=paths, sections=sections,
        seconds_by_lesson=seconds_by_lesson, seconds_by_week=dict(sorted(by_week.items())),
        activity_by_day=dict(sorted(by_day.items())), accuracy_lessons=acc_lessons, accuracy_sections=acc_sections,
        exercises_solved=solved, exercises_total=total_ex, due=due, retention=retention, reviews_30d=len(ratings),
        streak=streak, week_of_plan=week_of_plan, plan_weeks=weeks, plan_expected_done=expected,
        next_action=action, quiz_attempts=n_attempts,
    )


def _next_action(course, store, states, path_lessons, due, acc_lessons, threshold) -> str:
    pos = store.last_position()
    if pos and pos[0] in states and states[pos[0]].status != "done" and course.lesson(pos[0]):
        les = course.lesson(pos[0])
        i = les.step_index(pos[1])
        return f"Continue lesson {les.id} ({les.title}) at {les.step_label(i)}"
    if due:
        return f"Review {due} card{'s' if due != 1 else ''} due today (press r on the home screen)"
    weak = [a for a in acc_lessons if a.attempts and a.fraction < threshold]
    if weak:
        return f"Retry the quiz of lesson {weak[0].id} ({weak[0].title}): {weak[0].fraction:.0%} right so far"
    for lid in path_lessons:
        st = states.get(lid)
        if (st is None or st.status != "done") and course.is_written(lid):
            return f"Start lesson {lid} ({course.entries[lid].title})"
    if not path_lessons:
        return "Choose a learning path (press p on the home screen)"
    return "Every written lesson on your path is done: pick another path or review"


def fmt_duration(seconds: float) -> str:
    m = int(round(seconds / 60))
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m"


def render_text(course: Course, s: Summary, width: int = 40) -> str:
    from tutor.core.glyphs import bar

    out = []
    if s.path_title:
        out.append(f"Path: {s.path_title}: {s.path_done}/{s.path_total} lessons done, {s.steps_seen}/{s.steps_total} steps seen")
        if s.week_of_plan:
            out.append(f"Plan: week {s.week_of_plan} of {s.plan_weeks}; by now about {s.plan_expected_done} lessons done (you: {s.path_done})")
    else:
        out.append("Path: none chosen")
    out.append(f"Next: {s.next_action}")
    out.append("")
    out.append("Paths")
    for b in s.paths:
        out.append(f"  {b.title:<30} {bar(b.fraction, width // 2)} {b.done}/{b.total}")
    out.append("Sections")
    for b in s.sections:
        out.append(f"  {b.id} {b.title:<36.36} {bar(b.fraction, width // 2)} {b.done}/{b.total}")
    out.append("")
    out.append(f"Exercises solved: {s.exercises_solved}/{s.exercises_total}    Quiz attempts: {s.quiz_attempts}")
    ret = f"{s.retention:.0%} over {s.reviews_30d} reviews (30 days)" if s.retention is not None else "no reviews yet"
    out.append(f"Review: {s.due} due; retention {ret}    Streak: {s.streak} day{'s' if s.streak != 1 else ''}")
    if s.accuracy_lessons:
        out.append("Quiz accuracy, weakest first")
        for a in s.accuracy_lessons[:8]:
            out.append(f"  {a.id} {a.title:<36.36} {a.fraction:>4.0%} ({a.right}/{a.attempts})")
    if s.seconds_by_lesson:
        out.append("Time per lesson")
        for lid, sec in sorted(s.seconds_by_lesson.items()):
            out.append(f"  {lid} {course.entries[lid].title if lid in course.entries else lid:<36.36} {fmt_duration(sec)}")
    if s.seconds_by_week:
        out.append("Time per week")
        for wk, sec in s.seconds_by_week.items():
            out.append(f"  {wk}  {fmt_duration(sec)}")
    return "\n".join(out)
