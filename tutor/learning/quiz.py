"""Quiz grading for every question type of the lesson format (pure: no Textual, no database)."""
from __future__ import annotations

import hashlib
import math
import random
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from tutor.core.errors import TutorError
from tutor.course.model import Quiz


@dataclass
class Grade:
    correct: bool
    answer: Any  # JSON-serialisable form of what the learner gave
    summary: str  # one line: right / wrong and why
    partial: float = 0.0  # fraction right (multi: per-choice; ordering: items in place)
    details: list[str] = field(default_factory=list)


class AnswerError(TutorError, ValueError):
    """The answer cannot be graded as given (empty, not a number, ...); nothing is recorded."""


def normalize_text(s: str) -> str:
    s = unicodedata.normalize("NFKC", s).casefold()
    return re.sub(r"\s+", " ", s).strip()


_NUM = re.compile(r"^\s*([-+]?(?:\d[\d_,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "billion": 1e9, "t": 1e12, "trillion": 1e12, "%": 0.01}


def parse_number(text: str, unit: str | None = None) -> float:
    """'1.2e20', '175B', '3,000', '70 %', '6.5 GB' (with unit GB) -> float. Raises AnswerError."""
    if text is None or not str(text).strip():
        raise AnswerError("type a number")
    t = str(text).strip().replace("×10^", "e").replace("x10^", "e").replace("*10^", "e").replace("10^", "1e")
    m = _NUM.match(t)
    if not m:
        raise AnswerError(f"{text!r} is not a number")
    num = m.group(1).replace("_", "").replace(",", "")
    try:
        value = float(num)
    except ValueError:
        raise AnswerError(f"{text!r} is not a number") from None
    rest = m.group(2).strip()
    if unit and rest.lower().endswith(unit.lower()):
        rest = rest[: -len(unit)].strip()
    if rest:
        scale = _SCALE.get(rest.lower())
        if scale is None:
            raise AnswerError(f"unknown suffix {rest!r}" + (f" (the answer is in {unit})" if unit else ""))
        value *= scale
    if not math.isfinite(value):
        raise AnswerError("the number must be finite")
    return value


def presented_order(quiz: Quiz) -> list[int]:
    """The order an ordering question's items are shown in: a shuffle seeded by the question id, never the answer."""
    n = len(quiz.items)
    idx = list(range(n))
    if n < 2:
        return idx
    seed = int(hashlib.sha256(quiz.id.encode()).hexdigest()[:8], 16)
    rng = random.Random(seed)
    while idx == list(range(n)):
        rng.shuffle(idx)
    return idx


def grade(quiz: Quiz, answer: Any) -> Grade:
    """Grade an answer. single: int; multi: iterable of ints; numeric: str|float; text: str;
    ordering: list of item indices (into quiz.items) in the learner's order."""
    t = quiz.type
    if t == "single":
        if answer is None or isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(quiz.choices):
            raise AnswerError("choose one answer")
        ok = quiz.choices[answer].correct
        right = quiz.correct_indices[0]
        return Grade(ok, answer, "Correct." if ok else f"Not quite: the answer is {right + 1}. {quiz.choices[right].text}", 1.0 if ok else 0.0)
    if t == "multi":
        chosen = sorted(set(int(a) for a in (answer or [])))
        if not chosen:
            raise AnswerError("choose at least one answer")
        if any(not 0 <= a < len(quiz.choices) for a in chosen):
            raise AnswerError("no such choice")
        correct = set(quiz.correct_indices)
        ok = set(chosen) == correct
        right_marks = sum(1 for i in range(len(quiz.choices)) if (i in chosen) == (i in correct))
        partial = right_marks / len(quiz.choices)
        if ok:
            summary = "Correct: exactly the right set."
        else:
            missed = sorted(correct - set(chosen))
            extra = sorted(set(chosen) - correct)
            parts = []
            if missed:
                parts.append("missed " + ", ".join(str(i + 1) for i in missed))
            if extra:
                parts.append("wrongly chose " + ", ".join(str(i + 1) for i in extra))
            summary = "Not quite: " + "; ".join(parts) + "."
        return Grade(ok, chosen, summary, partial)
    if t == "numeric":
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            value = float(answer)
        else:
            value = parse_number(answer, quiz.unit)
        target = float(quiz.answer or 0.0)
        err = abs(value - target)
        allowed = max(quiz.tolerance or 0.0, (quiz.rel_tolerance or 0.0) * abs(target))
        ok = err <= allowed * (1 + 1e-12) + 1e-300
        unit = f" {quiz.unit}" if quiz.unit else ""
        summary = ("Correct" if ok else "Not quite") + f": the answer is {target:g}{unit} (within ±{allowed:g}); you gave {value:g}."
        return Grade(ok, value, summary, 1.0 if ok else 0.0)
    if t == "text":
        given = normalize_text(str(answer or ""))
        if not given:
            raise AnswerError("type an answer")
        ok = any(given == normalize_text(a) for a in quiz.accept) or any(
            re.fullmatch(p, given, re.IGNORECASE) for p in quiz.patterns
        )
        shown = quiz.accept[0] if quiz.accept else quiz.patterns[0]
        return Grade(ok, given, "Correct." if ok else f"Not accepted. An accepted answer: {shown}", 1.0 if ok else 0.0)
    if t == "ordering":
        order = [int(a) for a in (answer or [])]
        if sorted(order) != list(range(len(quiz.items))):
            raise AnswerError(f"order all {len(quiz.items)} items")
        ok = order == list(range(len(quiz.items)))
        in_place = sum(1 for pos, i in enumerate(order) if pos == i)
        summary = "Correct order." if ok else f"{in_place}/{len(order)} in the right place. The order is: " + " → ".join(
            it.text for it in quiz.items
        )
        return Grade(ok, order, summary, in_place / len(order))
    raise AnswerError(f"unknown question type {t!r}")
