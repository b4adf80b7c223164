"""The learning session: the rules of the course applied to one learner's progress, with no UI.

It answers what the screens ask (where am I on my path, what comes next, is this lesson done) and records what the
learner did (an answer, time on a step, a finished lesson), so that screens only show and forward. Built by the
app with the course and the progress store; the CLI can use it the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tutor.course.model import Course, Lesson
from tutor.learning.completion import Completion, completion
from tutor.progress import ProgressStore

MAX_STEP_SECONDS = 15 * 60  # time on one step is capped: a learner who walked away is not studying


@dataclass
class Recorded:
    """What recording an answer changed: the lesson may have become done."""

    lesson_done_now: bool = False


class LearningSession:
    def __init__(self, course: Course, store: ProgressStore, quiz_threshold: float = 0.7):
        self.course = course
        self.store = store
        self.quiz_threshold = quiz_threshold

    # ------------------------------------------------------------------ paths
    def active_path_lessons(self) -> list[str]:
        pid = self.store.active_path()
        if pid == "custom":
            return self.store.custom_path()
        p = self.course.path(pid) if pid else None
        return list(p.lessons) if p else []

    def active_path_title(self) -> str | None:
        pid = self.store.active_path()
        if pid == "custom":
            return "Custom path"
        p = self.course.path(pid) if pid else None
        return p.title if p else None

    def next_lesson_on_path(self) -> str | None:
        """The first lesson of the active path that is not done (written lessons first)."""
        states = self.store.all_lesson_states()
        pending = [lid for lid in self.active_path_lessons()
                   if getattr(states.get(lid), "status", "not_started") != "done"]
        for lid in pending:
            if self.course.is_written(lid):
                return lid
        return pending[0] if pending else None

    def lesson_status(self, lesson_id: str, states: dict | None = None) -> str:
        states = states if states is not None else self.store.all_lesson_states()
        st = states.get(lesson_id)
        return st.status if st else "not_started"

    def resume_target(self) -> tuple[str, str | None] | None:
        """Where "continue" goes: the exact step where the learner stopped (if that lesson is not done), else the
        path's next lesson, else the last position, else the first written lesson; None if nothing is written."""
        pos = self.store.last_position()
        if pos and self.course.lesson(pos[0]) is not None:
            if self.store.lesson_state(pos[0]).status != "done":
                return pos
        nxt = self.next_lesson_on_path()
        if nxt:
            return nxt, None
        if pos and self.course.lesson(pos[0]) is not None:
            return pos
        first = next(iter(self.course.written_ids()), None)
        return (first, None) if first else None

    # ------------------------------------------------------------------ recording
    def completion(self, lesson: Lesson) -> Completion:
        lid = lesson.id
        return completion(lesson, self.store.lesson_state(lid).steps_seen, self.store.latest_quiz_results(lid),
                          self.store.exercise_results(lid), self.quiz_threshold)

    def update_done(self, lesson: Lesson) -> bool:
        """Mark the lesson done when its completion rules hold -> True if it became done now. Once done, it stays
        done: a later wrong retry does not undo it."""
        if self.completion(lesson).done and self.store.lesson_state(lesson.id).status != "done":
            self.store.set_lesson_done(lesson.id, True)
            return True
        return False

    def record_answer(self, lesson: Lesson, question_id: str, answer: Any, correct: bool, seconds: float) -> Recorded:
        """An answer given in a lesson: the attempt, the review card's first rating, and the lesson's completion."""
        self.store.record_quiz_attempt(lesson.id, question_id, answer, correct, seconds)
        self.store.review_answer(f"{lesson.id}:{question_id}", lesson.id, correct)
        return Recorded(lesson_done_now=self.update_done(lesson))

    def record_step_time(self, lesson_id: str, step_id: str, seconds: float) -> None:
        self.store.add_step_time(lesson_id, step_id, min(seconds, MAX_STEP_SECONDS))

    def record_review_answer(self, lesson_id: str, question_id: str, answer: Any, correct: bool,
                             seconds: float) -> None:
        """An answer given in review: the attempt only (its rating is scheduled by :meth:`schedule_review`)."""
        self.store.record_quiz_attempt(lesson_id, question_id, answer, correct, seconds)

    def schedule_review(self, card_key: str, lesson_id: str, correct: bool, rating: str | None = None) -> None:
        """Schedule a reviewed card: wrong -> Again, right -> Good unless rated easy/hard/again."""
        self.store.review_answer(card_key, lesson_id, correct, rating=rating)
