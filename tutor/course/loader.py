"""Load content/course.toml into a :class:`Course`."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from tutor.core.errors import TutorError
from tutor.course.lessons import read_lesson
from tutor.course.model import Branch, Course, LearningPath, LessonEntry, Phase, Problem, Section


class CourseError(TutorError):
    """The course index cannot be used at all (missing or unparsable course.toml)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def default_content_dir() -> Path:
    """The course shipped with the package (the top-level ``content`` directory)."""
    import tutor.content  # the package's data directory

    return Path(tutor.content.__file__).resolve().parent


def load_course(root: Path | None = None) -> Course:
    course, problems = load_course_checked(root)
    fatal = [p for p in problems if p.severity == "error" and p.line == 0]
    if course is None:
        raise CourseError(problems)
    del fatal
    return course


def load_course_checked(root: Path | None = None) -> tuple[Course | None, list[Problem]]:
    root = Path(root) if root else default_content_dir()
    toml_path = root / "course.toml"
    problems: list[Problem] = []
    f = str(toml_path)
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, [Problem(f, 1, "course.toml not found: is this a course directory?")]
    except (OSError, UnicodeDecodeError) as e:
        return None, [Problem(f, 1, f"cannot read course.toml: {e}")]
    except tomllib.TOMLDecodeError as e:
        line = getattr(e, "lineno", None) or _lineno_from_msg(str(e))
        return None, [Problem(f, line, f"course.toml is not valid TOML: {e}")]

    src = toml_path.read_text(encoding="utf-8").split("\n")

    def line_of(needle: str) -> int:
        for n, ln in enumerate(src, 1):
            if needle in ln:
                return n
        return 1

    def err(needle: str, msg: str) -> None:
        problems.append(Problem(f, line_of(needle), msg))

    meta = data.get("course", {})
    entries: dict[str, LessonEntry] = {}
    for raw in _list(data, "lessons"):
        try:
            e = LessonEntry(
                id=str(raw["id"]),
                file=str(raw["file"]),
                title=str(raw["title"]),
                topic=str(raw.get("topic", "")),
                key_content=[str(k) for k in raw.get("key_content", [])],
                difficulty=int(raw.get("difficulty", 0)),
            )
        except (KeyError, TypeError, ValueError) as ex:
            err(f'id = "{raw.get("id", "")}"', f"lesson entry needs id, file and title: {ex}")
            continue
        if e.id in entries:
            err(f'id = "{e.id}"', f"duplicate lesson id {e.id!r} in course.toml")
        if not 1 <= e.difficulty <= 5:
            err(f'id = "{e.id}"', f"lesson {e.id}: difficulty must be 1-5")
        entries[e.id] = e

    sections = []
    for raw in _list(data, "sections"):
        s = Section(int(raw.get("number", 0)), str(raw.get("title", "")), [str(x) for x in raw.get("lessons", [])])
        sections.append(s)
        for lid in s.lessons:
            if lid not in entries:
                err(f'title = "{s.title}"', f"section {s.number} lists unknown lesson {lid!r}")
            else:
                entries[lid].section = s.number
    for lid, e in entries.items():
        if e.section == 0:
            err(f'id = "{lid}"', f"lesson {lid} is in no section")

    paths = []
    for raw in _list(data, "paths"):
        p = LearningPath(
            id=str(raw.get("id", "")),
            title=str(raw.get("title", "")),
            duration=str(raw.get("duration", "")),
            weeks=int(raw.get("weeks", 1)),
            lessons=[str(x) for x in raw.get("lessons", [])],
            summary=str(raw.get("summary", "")),
        )
        paths.append(p)
        for lid in p.lessons:
            if lid not in entries:
                err(f'id = "{p.id}"', f"path {p.id} refers to unknown lesson {lid!r}")
        if not p.lessons:
            err(f'id = "{p.id}"', f"path {p.id} has no lessons")

    roadmap = []
    for raw in _list(data, "roadmap"):
        ph = Phase(
            id=str(raw.get("id", "")),
            title=str(raw.get("title", "")),
            weeks=str(raw.get("weeks", "")),
            lessons=[str(x) for x in raw.get("lessons", [])],
            summary=str(raw.get("summary", "")),
            branches=[
                Branch(str(b.get("id", "")), str(b.get("title", "")), [str(x) for x in b.get("lessons", [])], str(b.get("summary", "")))
                for b in raw.get("branches", [])
            ],
        )
        roadmap.append(ph)
        for lid in ph.lessons + [x for b in ph.branches for x in b.lessons]:
            if lid not in entries:
                err(f'id = "{ph.id}"', f"roadmap phase {ph.id} refers to unknown lesson {lid!r}")

    course = Course(
        root=root,
        title=str(meta.get("title", "Course")),
        summary=str(meta.get("summary", "")),
        sections=sections,
        entries=entries,
        paths=paths,
        roadmap=roadmap,
        data=data,
        reader=read_lesson,
    )
    return course, problems


def _list(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    v = data.get(key, [])
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _lineno_from_msg(msg: str) -> int:
    import re

    m = re.search(r"line (\d+)", msg)
    return int(m.group(1)) if m else 1
