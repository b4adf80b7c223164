"""The typed course model: Course -> Section -> Lesson -> Step -> Block (prose | cell | quiz).

Everything that reads lessons (the TUI, `fm-tutor check`, `run-cells`, notebook export) uses these classes,
produced by the one parser in :mod:`tutor.course.parser`. No Textual here.
"""
from __future__ import annotations

import re

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

CELL_TAGS = ("setup", "gpu", "exercise", "check", "solution")
QUIZ_TYPES = ("single", "multi", "numeric", "text", "ordering")
DEFAULT_TIMEOUT = 60.0


@dataclass
class Problem:
    """One validation finding, printed as ``file:line: message``."""

    file: str
    line: int
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.file}:{self.line}: {tag}{self.message}"


@dataclass
class Prose:
    markdown: str
    line: int
    kind: str = "prose"


def missing_modules(names) -> tuple[str, ...]:
    """The module names in ``names`` whose top-level package this interpreter cannot find (none is imported)."""
    import importlib.util

    out = []
    for name in names:
        try:
            found = importlib.util.find_spec(name.split(".")[0]) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(name)
    return tuple(out)


def requires_reason(missing) -> str:
    """"needs the Python module vllm, which is not installed here" (one or several names)."""
    names = ", ".join(missing)
    return f"needs the Python module{'s' if len(missing) > 1 else ''} {names}, which {'are' if len(missing) > 1 else 'is'} not installed here"


@dataclass
class Cell:
    id: str
    code: str
    line: int
    tags: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    exercise: str | None = None  # for check / solution cells: the exercise they belong to
    cpu_twin: str | None = None  # for gpu cells
    requires: tuple[str, ...] = ()  # Python modules the cell needs; where one is missing it is skipped
    language: str = "python"
    meta: dict[str, Any] = field(default_factory=dict)
    kind: str = "cell"

    @property
    def is_setup(self) -> bool:
        return "setup" in self.tags

    @property
    def is_gpu(self) -> bool:
        return "gpu" in self.tags

    def missing_modules(self) -> tuple[str, ...]:
        """The modules of ``requires`` this interpreter cannot import (found with importlib's find_spec on the
        top-level package: nothing is imported)."""
        return missing_modules(self.requires)

    @property
    def is_exercise(self) -> bool:
        return "exercise" in self.tags

    @property
    def is_hidden(self) -> bool:
        """Check and solution cells are never shown as cells of their own."""
        return "check" in self.tags or "solution" in self.tags


@dataclass
class Choice:
    text: str
    correct: bool
    explain: str


@dataclass
class Quiz:
    id: str
    type: str
    question: str
    line: int
    choices: list[Choice] = field(default_factory=list)  # single, multi
    items: list[Choice] = field(default_factory=list)  # ordering, in the correct order
    answer: float | None = None  # numeric
    tolerance: float | None = None
    rel_tolerance: float | None = None
    unit: str | None = None
    accept: list[str] = field(default_factory=list)  # text
    patterns: list[str] = field(default_factory=list)
    hint: str | None = None
    explain: str | None = None
    final: bool = False  # part of the end-of-lesson quiz
    kind: str = "quiz"

    @property
    def correct_indices(self) -> list[int]:
        return [i for i, c in enumerate(self.choices) if c.correct]


Block = Union[Prose, Cell, Quiz]


_NUMBERED = re.compile(r"^(\d+)\.\s+")


@dataclass
class Step:
    id: str
    title: str
    line: int
    blocks: list[Block] = field(default_factory=list)

    @property
    def cells(self) -> list[Cell]:
        return [b for b in self.blocks if isinstance(b, Cell)]

    @property
    def number(self) -> int | None:
        """The number the heading gives itself (``## 3. Title`` -> 3), or None."""
        m = _NUMBERED.match(self.title)
        return int(m.group(1)) if m else None

    @property
    def plain_title(self) -> str:
        """The title without its number: '3. Title' -> 'Title'."""
        m = _NUMBERED.match(self.title)
        return self.title[m.end():] if m else self.title

    @property
    def quizzes(self) -> list[Quiz]:
        return [b for b in self.blocks if isinstance(b, Quiz)]

    @property
    def is_quiz(self) -> bool:
        return self.id == "quiz"

    def word_count(self) -> int:
        return sum(len(b.markdown.split()) for b in self.blocks if isinstance(b, Prose))


@dataclass
class Lesson:
    id: str
    title: str
    path: Path
    section: int
    difficulty: int
    minutes: int
    objectives: list[str]
    prerequisites: list[str]
    gpu: str
    steps: list[Step]
    front_matter: dict[str, Any]
    source: str
    problems: list[Problem] = field(default_factory=list)  # what `fm-tutor check` reports for this file

    @property
    def errors(self) -> list[Problem]:
        """The problems that make the lesson unusable: it is shown as a list of them, and never run or exported."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def cells(self) -> list[Cell]:
        return [c for s in self.steps for c in s.cells]

    @property
    def quizzes(self) -> list[Quiz]:
        return [q for s in self.steps for q in s.quizzes]

    def cell(self, cell_id: str) -> Cell | None:
        return next((c for c in self.cells if c.id == cell_id), None)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    @property
    def numbered(self) -> bool:
        """The lesson numbers its steps in their headings (``## 3. Title``): the app shows those numbers, so
        the prose's "step 3" and the app's step 3 are the same one."""
        return any(s.number is not None for s in self.steps)

    def step_label(self, index: int) -> str:
        """'Step 11/12 · Homogenization' (numbered headings: the heading's own number out of the last one; an
        unnumbered step such as the introduction or the quiz has no number) or 'Step 3/5 · Title' (in order)."""
        step = self.steps[index]
        if not self.numbered:
            return f"Step {index + 1}/{len(self.steps)} · {step.title}"
        if step.number is None:
            return step.title
        last = max(s.number for s in self.steps if s.number is not None)
        return f"Step {step.number}/{last} · {step.plain_title}"

    def step_line(self, index: int) -> str:
        """The top bar's 'step 11/12: Homogenization' (the same numbering as :meth:`step_label`)."""
        return self.step_label(index).replace("Step ", "step ", 1).replace(" · ", ": ", 1)

    def step_mark(self, index: int) -> str:
        """The step's number for a table of steps: '11', or '' for an unnumbered step of a numbered lesson."""
        if not self.numbered:
            return str(index + 1)
        n = self.steps[index].number
        return "" if n is None else str(n)

    def step_index(self, step_id: str | None) -> int:
        for i, s in enumerate(self.steps):
            if s.id == step_id:
                return i
        return 0

    def exercise_parts(self, exercise_id: str) -> tuple[Cell | None, Cell | None]:
        """(check, solution) cells of an exercise."""
        check = next((c for c in self.cells if c.exercise == exercise_id and "check" in c.tags), None)
        sol = next((c for c in self.cells if c.exercise == exercise_id and "solution" in c.tags), None)
        return check, sol

    def word_count(self) -> int:
        return sum(s.word_count() for s in self.steps)


@dataclass
class LessonEntry:
    """A lesson as the course index lists it (whether or not its file is written yet)."""

    id: str
    file: str
    title: str
    topic: str
    key_content: list[str]
    difficulty: int
    section: int = 0


@dataclass
class Section:
    number: int
    title: str
    lessons: list[str]


@dataclass
class LearningPath:
    id: str
    title: str
    duration: str
    weeks: int
    lessons: list[str]
    summary: str = ""


@dataclass
class Branch:
    id: str
    title: str
    lessons: list[str]
    summary: str = ""


@dataclass
class Phase:
    id: str
    title: str
    weeks: str
    lessons: list[str]
    summary: str = ""
    branches: list[Branch] = field(default_factory=list)


@dataclass
class Course:
    root: Path
    title: str
    summary: str
    sections: list[Section]
    entries: dict[str, LessonEntry]  # by lesson id, in course order
    paths: list[LearningPath]
    roadmap: list[Phase]
    data: dict[str, Any]  # the whole course.toml (prerequisites, relationships, environment, papers, ...)
    reader: Callable[[Course, str], Lesson | None] | None = field(default=None, repr=False)
    _lessons: dict[str, Lesson | None] = field(default_factory=dict, repr=False)

    @property
    def lesson_ids(self) -> list[str]:
        return list(self.entries)

    def lesson_path(self, lesson_id: str) -> Path:
        return self.root / "lessons" / self.entries[lesson_id].file

    def is_written(self, lesson_id: str) -> bool:
        return lesson_id in self.entries and self.lesson_path(lesson_id).is_file()

    def written_ids(self) -> list[str]:
        return [i for i in self.entries if self.is_written(i)]

    def lesson(self, lesson_id: str) -> Lesson | None:
        """Read (once) and return a written lesson, with its problems (``Lesson.errors``); None if it is not written
        yet. Reading is the loader's job (:func:`tutor.course.lessons.read_lesson`, handed in as ``reader``)."""
        if lesson_id not in self._lessons:
            if not self.is_written(lesson_id) or self.reader is None:
                self._lessons[lesson_id] = None
            else:
                self._lessons[lesson_id] = self.reader(self, lesson_id)
        return self._lessons[lesson_id]

    def is_read(self, lesson_id: str) -> bool:
        """True once :meth:`lesson` has been asked for the lesson: asking again reads nothing."""
        return lesson_id in self._lessons

    def lesson_if_read(self, lesson_id: str) -> Lesson | None:
        """The lesson if :meth:`lesson` has already read it, else None; never reads the file (the UI thread asks this
        and leaves the reading to a worker)."""
        return self._lessons.get(lesson_id)

    def path(self, path_id: str) -> LearningPath | None:
        return next((p for p in self.paths if p.id == path_id), None)

    def section_of(self, lesson_id: str) -> Section | None:
        return next((s for s in self.sections if lesson_id in s.lessons), None)

    def resolve_lesson_id(self, text: str) -> str | None:
        """'8', '08', '08_LLaMA_Family.md' or a title fragment -> '08'."""
        t = text.strip()
        if t.isdigit():
            t = f"{int(t):02d}"
            return t if t in self.entries else None
        for lid, e in self.entries.items():
            if t == e.file or t == Path(e.file).stem:
                return lid
        low = t.lower()
        hits = [lid for lid, e in self.entries.items() if low in e.title.lower()]
        return hits[0] if len(hits) == 1 else None

    def resolve_path_id(self, text: str) -> str | None:
        low = text.strip().lower()
        for p in self.paths:
            if low == p.id or low == p.title.lower():
                return p.id
        hits = [p.id for p in self.paths if low in p.title.lower()]
        return hits[0] if len(hits) == 1 else None
