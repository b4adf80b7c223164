"""The ask pipeline's streaming against a real local `transformers serve` of fm-tiny, forced to generate
(min_new_tokens): the retrieved prompt goes out, the pieces stream back through tutor.search.ask.stream_answer."""
from __future__ import annotations

import json

import pytest

from tutor.backend.supervisor import ModelServer
from tutor.core.config import load_config
from tutor.course import load_course
from tutor.search import SearchIndex
from tutor.search.ask import AskError, build_plan, retrieve, stream_answer

pytestmark = [pytest.mark.slow]


FORCED = {"generation_config": json.dumps({"min_new_tokens": 12, "max_new_tokens": 12, "do_sample": False})}


@pytest.fixture(scope="module")
def served(tmp_path_factory, fm_tiny):
    """fm-tiny's files under another name: the app treats it as a chat model (it answers, with noise)."""
    import shutil

    d = tmp_path_factory.mktemp("served")
    model = d / "tiny-chat"
    shutil.copytree(fm_tiny, model)
    cfg = load_config(d / "none.toml", env={"FM_TUTOR_ENGINE": "transformers", "FM_TUTOR_MODEL": str(model)})
    srv = ModelServer(cfg, run_dir=d, backoff=0.2, poll_interval=0.25, publish_env=False, cuda_probe=list)
    try:
        yield srv.start(timeout=150)
    finally:
        srv.stop()


@pytest.mark.timeout(300)
def test_the_answer_streams_from_the_real_server(served, tmp_path):
    ep = served
    index = SearchIndex(load_course(), directory=tmp_path / "c").open()
    plan = build_plan("why does Chinchilla use more tokens than Kaplan?",
                      retrieve(index, "02", "chinchilla", "why does Chinchilla use more tokens than Kaplan?", k=2))
    pieces = list(stream_answer(ep.base_url, ep.api_key, ep.model, plan.messages, max_tokens=12, extra=FORCED))
    assert len(pieces) >= 2, pieces  # streamed in pieces, not one block
    assert all(isinstance(p, str) and p for p in pieces)
    index.close()


@pytest.mark.timeout(120)
def test_a_wrong_key_is_refused_with_a_clear_error(served):
    """The Ask panel's client sends the endpoint's key (above); with another key the server refuses it (401)."""
    ep = served
    with pytest.raises(AskError, match="answered 401"):
        list(stream_answer(ep.base_url, "fmt-not-the-key", ep.model, [{"role": "user", "content": "hi"}],
                           max_tokens=2, timeout=30))


@pytest.mark.timeout(120)
def test_an_unreachable_server_is_a_clear_error():
    with pytest.raises(AskError, match="cannot reach the model server"):
        list(stream_answer("http://127.0.0.1:9/v1", "k", "m", [{"role": "user", "content": "hi"}], timeout=5))


@pytest.mark.timeout(300)
async def test_the_ask_panel_streams_an_answer_from_a_chat_model(served, tmp_path, monkeypatch):
    """With a model that is not fm-tiny, the panel sends the prompt, the answer streams in, and the passages it was
    sent with are links (a 1M-parameter model cites nothing)."""
    from textual.widgets import OptionList

    from tutor.progress import ProgressStore
    from tutor.ui.app import TutorApp
    from tutor.ui.screens.ask import AskScreen
    from tutor.ui.screens.reader import ReaderScreen

    from ..helpers import wait_for

    ep = served
    for k, v in ep.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(AskScreen, "GENERATION", FORCED)
    app = TutorApp(course=load_course(), store=ProgressStore(tmp_path / "p.db"))
    assert app.config.model.endswith("tiny-chat")
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_lesson("02", "chinchilla")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ReaderScreen))
        await pilot.press("K")
        ask = app.screen
        await pilot.press(*"why does Chinchilla use more tokens?")
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: ask.links, timeout=180)
        assert ask.generated and ask.answer, "the model's text streamed into the panel"
        assert "far too small" not in str(ask.query_one("#ask-answer").render())
        lst = ask.query_one("#ask-sources", OptionList)
        assert "Passages sent with the question" in str(lst.get_option_at_index(0).prompt)
        assert (ask.links[0].lesson_id, ask.links[0].step_id) == ("02", "chinchilla")
