"""Ask about a step: retrieval, the prompt, citations, fm-tiny refused as an answerer."""
from __future__ import annotations

import pytest

from tutor.course import load_course
from tutor.search import SearchIndex
from tutor.search.ask import AskError, build_plan, cited, retrieve, too_small

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    ix = SearchIndex(load_course(), directory=tmp_path_factory.mktemp("c")).open()
    yield ix
    ix.close()


def test_retrieval_puts_the_current_step_first_then_related_steps(index):
    ps = retrieve(index, "01", "modern-decoder", "why does Chinchilla use more tokens than Kaplan?", k=4)
    assert ps[0].current and (ps[0].lesson_id, ps[0].step_id) == ("01", "modern-decoder")
    assert len(ps) == 5 and not any(p.current for p in ps[1:])
    assert len({(p.lesson_id, p.step_id) for p in ps}) == 5
    assert any(p.lesson_id == "02" for p in ps[1:]), [(p.lesson_id, p.step_id) for p in ps]
    assert all(p.text for p in ps)


def test_the_prompt_carries_the_passages_tags_and_question(index):
    ps = retrieve(index, "02", "chinchilla", "what is compute-optimal?", k=2)
    plan = build_plan("  what is compute-optimal?  ", ps)
    assert plan.messages[0]["role"] == "system" and "[02/chinchilla]" in plan.messages[0]["content"]
    user = plan.messages[1]["content"]
    assert user.endswith("Question: what is compute-optimal?")
    for p in ps:
        assert p.tag in user
    assert "--- system ---" in plan.prompt_text()
    with pytest.raises(AskError):
        build_plan("   ", ps)


def test_citations_become_the_steps_they_name(index):
    ps = retrieve(index, "02", "chinchilla", "tokens per parameter", k=3)
    answer = f"Chinchilla says 20 tokens per parameter {ps[0].tag}, see also [99/nowhere] and {ps[0].tag}."
    assert cited(answer, ps) == [ps[0]]
    assert cited("no tags here", ps) == []


def test_fm_tiny_is_too_small():
    assert too_small("fm-tiny") and too_small("some", "/x/tutor/models/fm-tiny")
    assert not too_small("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct")
    assert not too_small(None)
