"""What `fm-tutor bench search` measures, and the retrieval tests check: query latency against a LIKE scan of the
same rows, and recall@k of the source step on questions made from the course's own quiz blocks."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from tutor.course.model import Course
from tutor.search.index import SearchIndex

# retrieval for questions matches the step's own words, not the quiz text the question came from
QUESTION_COLUMNS = ("step_title", "prose", "code")


@dataclass
class Question:
    lesson_id: str
    step_id: str  # the source step
    text: str


def quiz_questions(course: Course) -> list[Question]:
    """Every question asked inside a lesson's steps (not the end-of-lesson quiz, whose source step is not known)."""
    out = []
    for lid in course.written_ids():
        lesson = course.lesson(lid)
        if lesson is None or lesson.errors:
            continue
        for step in lesson.steps:
            if step.is_quiz:
                continue
            out += [Question(lid, step.id, q.question) for q in step.quizzes if q.question.strip()]
    return out


def recall_at(index: SearchIndex, questions: list[Question], k: int = 5) -> tuple[float, list[Question]]:
    """(share of questions whose source step is in the top k, the questions that missed)."""
    missed = []
    for q in questions:
        hits = index.search(q.text, limit=k, any_word=True, notes=False, columns=QUESTION_COLUMNS)
        if not any(h.lesson_id == q.lesson_id and h.step_id == q.step_id for h in hits):
            missed.append(q)
    return (1 - len(missed) / len(questions) if questions else 0.0), missed


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[i]


def latencies(fn, queries: list[str], runs: int = 3) -> list[float]:
    """Milliseconds per query, every query ``runs`` times."""
    out = []
    for _ in range(runs):
        for q in queries:
            t = time.perf_counter()
            fn(q)
            out.append((time.perf_counter() - t) * 1000)
    return out


def bench_queries(course: Course, questions: list[Question]) -> list[str]:
    """Short queries like a learner types: each lesson's key content terms and the first words of each question."""
    qs = []
    for e in course.entries.values():
        if course.is_written(e.id):
            qs += [k for k in e.key_content if k.strip()][:6]
    qs += [" ".join(q.text.split()[:3]) for q in questions]
    return [q for q in qs if any(ch.isalnum() for ch in q)]


def summary(xs: list[float]) -> str:
    return f"p50 {percentile(xs, 50):.2f} ms  p95 {percentile(xs, 95):.2f} ms  mean {statistics.fmean(xs):.2f} ms"
