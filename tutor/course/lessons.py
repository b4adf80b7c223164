"""Reading one lesson of a course: the one acceptance policy.

A lesson is parsed by :mod:`tutor.course.parser` and checked against its entry in course.toml; it keeps every
problem found (``Lesson.problems``), exactly what ``fm-tutor check`` prints for its file. A lesson with errors is
still returned, so that every front end says the same thing about it: the reader shows it as a page listing its
problems (no cell runs), and ``run-cells``, ``export`` and ``stats`` refuse it with the same lines.
"""
from __future__ import annotations

import re

from tutor.course.model import Course, Lesson, Problem, Quiz


def read_lesson(course: Course, lesson_id: str) -> Lesson:
    """Parse ``lesson_id``'s file and check it against course.toml -> the Lesson with its problems (a lesson whose
    file cannot be parsed at all comes back with no steps and its problems)."""
    from tutor.course.parser import parse_lesson_file  # markdown-it-py and PyYAML load on first use

    entry = course.entries[lesson_id]
    path = course.lesson_path(lesson_id)
    lesson, problems = parse_lesson_file(path)
    if lesson is None:
        return Lesson(id=lesson_id, title=entry.title, path=path, section=entry.section, difficulty=entry.difficulty,
                      minutes=0, objectives=[], prerequisites=[], gpu="none", steps=[], front_matter={}, source="",
                      problems=problems)
    f = str(path)
    if lesson.id != lesson_id:
        problems.append(Problem(f, 2, f"front matter id {lesson.id!r} does not match course.toml's {lesson_id!r} "
                                      f"for {entry.file}"))
    if lesson.section and lesson.section != entry.section:
        problems.append(Problem(f, 2, f"front matter section {lesson.section} but course.toml puts lesson "
                                      f"{lesson_id} in section {entry.section}"))
    if lesson.difficulty and lesson.difficulty != entry.difficulty:
        problems.append(Problem(f, 2, f"front matter difficulty {lesson.difficulty} but course.toml says "
                                      f"{entry.difficulty}"))
    for pre in lesson.prerequisites:
        if pre.isdigit() and pre not in course.entries:
            problems.append(Problem(f, 2, f"prerequisite {pre!r} is not a lesson of this course"))
        if pre == lesson_id:
            problems.append(Problem(f, 2, "a lesson cannot be its own prerequisite"))
    problems += step_reference_problems(lesson, f)
    if not any(s.quizzes for s in lesson.steps):
        problems.append(Problem(f, 1, "lesson has no quiz questions", "warning"))
    lesson.problems = problems
    return lesson


_STEP_REF = re.compile(r"\bsteps? (\d+)\b", re.IGNORECASE)


def step_reference_problems(lesson: Lesson, file: str) -> list[Problem]:
    """Warnings for a "step N" in the prose, or in a quiz's question, choices, hint and explanations, that points
    to no step: the lesson numbers its steps in their headings (``## 3. Title``) and has no step N, or it numbers
    none (the app then counts the introduction as step 1, and the prose's numbers drift)."""
    numbers = {s.number for s in lesson.steps if s.number is not None}
    out: list[Problem] = []

    def check(text: str | None, line: int, where: str = "") -> None:
        for i, row in enumerate((text or "").splitlines()):
            for m in _STEP_REF.finditer(row):
                n = int(m.group(1))
                if n == 0 or n >= 100:  # "step 0" of a training loop, "step 999" of a sampler: no lesson step
                    continue
                if not numbers:
                    why = ("its headings carry no numbers (write '## 3. Title' so the prose and the app count "
                           "steps the same way)")
                elif n not in numbers:
                    why = f"this lesson's numbered steps are {min(numbers)}-{max(numbers)}"
                else:
                    continue
                out.append(Problem(file, line + (0 if where else i),
                                   f"'{m.group(0)}'{where} points to no step: {why}", "warning"))

    for step in lesson.steps:
        for block in step.blocks:
            if isinstance(block, Quiz):
                where = f" (in quiz {block.id})"
                check(block.question, block.line, where)
                check(block.hint, block.line, where)
                check(block.explain, block.line, where)
                for c in [*block.choices, *block.items]:
                    check(c.text, block.line, where)
                    check(c.explain, block.line, where)
                continue
            text = getattr(block, "markdown", None)
            if text is not None:
                check(text, block.line)
    return out
