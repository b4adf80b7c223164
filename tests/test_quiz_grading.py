"""Grading of every question type, with edge cases."""
from __future__ import annotations

import pytest

from tutor.course.model import Choice, Quiz
from tutor.learning.quiz import AnswerError, grade, parse_number, presented_order


def q(**kw):
    base = dict(id="q", type="single", question="?", line=1)
    base.update(kw)
    return Quiz(**base)


CH = [Choice("a", False, "no"), Choice("b", True, "yes"), Choice("c", False, "no")]


def test_single():
    quiz = q(choices=CH)
    assert grade(quiz, 1).correct and not grade(quiz, 0).correct
    assert "2. b" in grade(quiz, 2).summary
    for bad in (None, 3, -1, True, "1"):
        with pytest.raises(AnswerError):
            grade(quiz, bad)


def test_multi_partial_and_exact():
    quiz = q(type="multi", choices=[Choice("a", True, ""), Choice("b", True, ""), Choice("c", False, "")])
    assert grade(quiz, [1, 0]).correct
    g = grade(quiz, [0])
    assert not g.correct and "missed 2" in g.summary and g.partial == pytest.approx(2 / 3)
    g = grade(quiz, [0, 1, 2])
    assert not g.correct and "wrongly chose 3" in g.summary
    with pytest.raises(AnswerError):
        grade(quiz, [])
    with pytest.raises(AnswerError):
        grade(quiz, [7])


def test_numeric_tolerance_bounds():
    quiz = q(type="numeric", answer=100.0, tolerance=2.0, unit="GB")
    assert grade(quiz, "102").correct and grade(quiz, "98").correct
    assert not grade(quiz, "102.01").correct
    assert grade(quiz, "100 GB").correct and grade(quiz, 101).correct
    rel = q(type="numeric", answer=1.2e20, rel_tolerance=0.05)
    assert grade(rel, "1.25e20").correct and not grade(rel, "1.3e20").correct
    assert grade(rel, "1.2 × 10^20".replace(" × ", "×")).correct
    exact = q(type="numeric", answer=0.1 + 0.2, tolerance=0.0)
    assert grade(exact, 0.30000000000000004).correct
    for bad in ("", "   ", "abc", "12 parsecs", "inf"):
        with pytest.raises(AnswerError):
            grade(quiz, bad)


def test_parse_number_suffixes():
    assert parse_number("175B") == 175e9
    assert parse_number("3,000") == 3000
    assert parse_number("70 %") == pytest.approx(0.7)
    assert parse_number("1.4 trillion") == pytest.approx(1.4e12)
    assert parse_number("-2.5e-3") == -2.5e-3


def test_text_case_whitespace_unicode_patterns():
    quiz = q(type="text", accept=["Chinchilla", "grouped-query attention"], patterns=[r"gqa|grouped.?query.*"])
    assert grade(quiz, "  chinchilla ").correct
    assert grade(quiz, "CHINCHILLA").correct
    assert grade(quiz, "grouped-query   attention").correct
    assert grade(quiz, "GQA").correct
    assert grade(quiz, "ｃｈｉｎｃｈｉｌｌａ").correct  # full-width letters, NFKC-normalised
    assert not grade(quiz, "gopher").correct
    with pytest.raises(AnswerError):
        grade(quiz, "   ")


def test_ordering_and_presentation():
    items = [Choice(x, False, "") for x in "abcd"]
    quiz = q(type="ordering", items=items)
    assert grade(quiz, [0, 1, 2, 3]).correct
    g = grade(quiz, [1, 0, 2, 3])
    assert not g.correct and g.partial == 0.5
    with pytest.raises(AnswerError):
        grade(quiz, [0, 1, 2])
    with pytest.raises(AnswerError):
        grade(quiz, [0, 0, 1, 2])
    order = presented_order(quiz)
    assert sorted(order) == [0, 1, 2, 3] and order != [0, 1, 2, 3]
    assert presented_order(quiz) == order  # stable across runs
