"""The one validator: a course directory -> a list of problems (``file:line: message``)."""
from __future__ import annotations

from pathlib import Path

from tutor.course.loader import load_course_checked
from tutor.course.model import Course, Lesson, Problem


def validate_course(root: Path | None = None) -> tuple[Course | None, list[Problem]]:
    course, problems = load_course_checked(root)
    if course is None:
        return None, problems
    lessons: dict[str, Lesson] = {}
    missing = []
    for lid in course.entries:
        if not course.is_written(lid):
            missing.append(lid)
            continue
        lesson = course.lesson(lid)
        problems.extend(lesson.problems)
        if lesson.steps or not lesson.errors:
            lessons[lid] = lesson

    # lesson files in lessons/ that course.toml does not list
    listed = {e.file for e in course.entries.values()}
    ldir = course.root / "lessons"
    if ldir.is_dir():
        for p in sorted(ldir.glob("*.md")):
            if p.name not in listed:
                problems.append(Problem(str(p), 1, "lesson file is not listed in course.toml", "warning"))

    problems.extend(_cycles(course, lessons))
    if missing:
        problems.append(
            Problem(
                str(course.root / "course.toml"),
                1,
                f"{len(missing)} of {len(course.entries)} lessons not written yet: {', '.join(missing)}",
                "warning",
            )
        )
    return course, problems


def _cycles(course: Course, lessons: dict[str, Lesson]) -> list[Problem]:
    graph = {lid: [p for p in les.prerequisites if p in course.entries] for lid, les in lessons.items()}
    out: list[Problem] = []
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                cyc = stack[stack.index(m):] + [m]
                key = frozenset(cyc)
                if key not in reported:
                    reported.add(key)
                    out.append(Problem(str(lessons[n].path), 2, "prerequisite cycle: " + " -> ".join(cyc)))
            elif m not in state:
                visit(m, stack)
        stack.pop()
        state[n] = 2

    for n in graph:
        if n not in state:
            visit(n, [])
    return out
