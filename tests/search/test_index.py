"""The FTS5 course index: build at first use, rebuild on a content change, ranking, snippets, notes, recall."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tutor.course import load_course
from tutor.search import SearchError, SearchIndex
from tutor.search.index import MARK_CLOSE, MARK_OPEN, block_matches, fts_query
from tutor.search.quality import quiz_questions, recall_at

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def course_dir(tmp_path) -> Path:
    """A copy of the real course (the lessons written in this checkout)."""
    root = tmp_path / "course"
    shutil.copytree(ROOT / "content", root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return root


def test_builds_once_and_rebuilds_when_a_lesson_changes(course_dir, tmp_path):
    cache = tmp_path / "c"
    index = SearchIndex(load_course(course_dir), directory=cache).open()
    assert index.rebuilt and index.path.parent == cache
    n = index.step_count()
    assert n == sum(len(load_course(course_dir).lesson(i).steps) for i in load_course(course_dir).written_ids())
    assert not index.search("zyzzyvaquark")
    index.close()

    again = SearchIndex(load_course(course_dir), directory=cache).open()
    assert not again.rebuilt, "an unchanged course reuses the index"
    again.close()

    lesson = sorted((course_dir / "lessons").glob("01_*.md"))[0]
    lesson.write_text(lesson.read_text(encoding="utf-8") + "\nThe zyzzyvaquark is a made-up word.\n", encoding="utf-8")
    changed = SearchIndex(load_course(course_dir), directory=cache).open()
    assert changed.rebuilt, "a changed lesson file rebuilds the index"
    hits = changed.search("zyzzyvaquark")
    assert [h.lesson_id for h in hits] == ["01"]
    changed.close()


def test_a_corrupt_index_is_rebuilt(course_dir, tmp_path):
    cache = tmp_path / "c"
    index = SearchIndex(load_course(course_dir), directory=cache).open()
    index.close()
    index.path.write_bytes(b"this is not sqlite" * 100)
    again = SearchIndex(load_course(course_dir), directory=cache).open()
    assert again.rebuilt and again.search("chinchilla")
    again.close()


def test_ranking_snippets_and_stemming(course_dir, tmp_path):
    index = SearchIndex(load_course(course_dir), directory=tmp_path / "c").open()
    hits = index.search("chinchilla")
    assert hits[0].lesson_id == "02", [(h.lesson_id, h.step_id) for h in hits]
    assert hits == sorted(hits, key=lambda h: h.score)
    assert any(h.step_id == "chinchilla" for h in hits[:3]), "the step titled after the word ranks near the top"
    text = "".join(t for t, hl in hits[0].parts() if hl).lower()
    assert "chinchilla" in text, hits[0].snippet
    assert hits[0].plain_snippet().count("[") >= 1 and MARK_OPEN not in hits[0].plain_snippet()
    # porter stemming: "scaling" finds "scale"/"scaled"; the last word is a prefix
    assert index.search("scaling laws")
    assert {h.lesson_id for h in index.search("tokenizers")} & {"07"}
    assert index.search("Chinch")[0].lesson_id == "02"
    # code cells are searched too: an identifier that appears only in code
    hits = index.search("_prefix_mask")
    assert hits[0].step_id == "prefix-lm" and "def _[prefix_mask](" in hits[0].plain_snippet()
    assert MARK_CLOSE in hits[0].snippet
    index.close()


def test_bad_queries_are_refused_clearly(course_dir, tmp_path):
    index = SearchIndex(load_course(course_dir), directory=tmp_path / "c").open()
    for q in ("", "   ", "?!*", '"'):
        with pytest.raises(SearchError, match="nothing to search"):
            index.search(q)
    # FTS syntax in the learner's text is searched as words, never an sqlite error
    for q in ('GQA AND', 'NEAR(x', 'a"b', "col:umn", "-minus", "x*y"):
        index.search(q)
    assert fts_query("a b")[0] == '"a" AND "b"'
    index.close()


def test_notes_are_searched(course_dir, tmp_path):
    index = SearchIndex(load_course(course_dir), directory=tmp_path / "c").open()
    assert not index.search("zorbaxian")
    index.set_notes([("02", "chinchilla", "This is where compute-optimal finally clicked for me (zorbaxian)")])
    hits = index.search("zorbaxian")
    assert [(h.kind, h.lesson_id, h.step_id) for h in hits] == [("note", "02", "chinchilla")]
    assert hits[0].step_title != "chinchilla" and "(no longer" not in hits[0].step_title
    index.set_notes([])
    assert not index.search("zorbaxian")
    index.close()


def test_block_matches_finds_the_block_to_show(course_dir):
    course = load_course(course_dir)
    step = course.lesson("02").step("chinchilla")
    i = block_matches(step, ("Chinchilla",))
    assert i is not None and "chinchilla" in json.dumps(step.blocks[i].__dict__, default=str).lower()
    assert block_matches(step, ("zyzzyvaquark",)) is None


def test_recall_at_5_on_the_quiz_questions(course_dir, tmp_path):
    course = load_course(course_dir)
    questions = quiz_questions(course)
    assert len(questions) >= 10
    index = SearchIndex(course, directory=tmp_path / "c").open()
    recall, missed = recall_at(index, questions, k=5)
    assert recall >= 0.8, [(q.lesson_id, q.step_id, q.text) for q in missed]
    index.close()


def test_an_unwritable_cache_dir_keeps_the_index_in_memory(course_dir, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache dir should be")
    index = SearchIndex(load_course(course_dir), directory=blocker / "cache").open()
    assert index.in_memory and index.search("chinchilla")[0].lesson_id == "02"
    index.set_notes([("02", "kaplan", "a zyzzyvaquark kept in memory")])
    assert [h.kind for h in index.search("zyzzyvaquark")] == ["note"]
    index.close()
