"""When is a lesson done? All steps seen, the quiz passed (score >= threshold), every exercise solved."""
from __future__ import annotations

from dataclasses import dataclass, field

from tutor.course.model import Lesson

DEFAULT_THRESHOLD = 0.7


@dataclass
class Completion:
    done: bool
    steps_seen: int
    steps_total: int
    quiz_score: float | None  # None when the lesson has no questions
    quiz_answered: int
    quiz_total: int
    exercises_passed: int
    exercises_total: int
    missing: list[str] = field(default_factory=list)


def completion(
    lesson: Lesson,
    steps_seen: set[str],
    quiz_results: dict[str, bool],
    exercises_passed: dict[str, bool],
    threshold: float = DEFAULT_THRESHOLD,
) -> Completion:
    """``quiz_results``: question id -> correct (latest attempt); ``exercises_passed``: cell id -> ever passed."""
    step_ids = [s.id for s in lesson.steps]
    seen = sum(1 for s in step_ids if s in steps_seen)
    final = [q for q in lesson.quizzes if q.final] or lesson.quizzes
    answered = sum(1 for q in final if q.id in quiz_results)
    right = sum(1 for q in final if quiz_results.get(q.id))
    score = right / len(final) if final else None
    exercises = [c.id for c in lesson.cells if c.is_exercise and not c.is_gpu]
    passed = sum(1 for e in exercises if exercises_passed.get(e))
    missing = []
    if seen < len(step_ids):
        missing.append(f"{len(step_ids) - seen} step(s) not seen")
    if score is not None and score < threshold:
        missing.append(f"quiz score {score:.0%} < {threshold:.0%}" if answered == len(final) else f"quiz: {answered}/{len(final)} answered, {right} right (need {threshold:.0%})")
    if passed < len(exercises):
        missing.append(f"{len(exercises) - passed} exercise(s) not solved")
    return Completion(
        done=not missing,
        steps_seen=seen,
        steps_total=len(step_ids),
        quiz_score=score,
        quiz_answered=answered,
        quiz_total=len(final),
        exercises_passed=passed,
        exercises_total=len(exercises),
        missing=missing,
    )
