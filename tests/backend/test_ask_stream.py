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


@pytest.fixture(scope="module")
def served(tmp_path_factory, fm_tiny):
    d = tmp_path_factory.mktemp("served")
    cfg = load_config(d / "none.toml", env={"FM_TUTOR_ENGINE": "transformers"})
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
    forced = {"generation_config": json.dumps({"min_new_tokens": 12, "max_new_tokens": 12, "do_sample": False})}
    pieces = list(stream_answer(ep.base_url, ep.api_key, ep.model, plan.messages, max_tokens=12, extra=forced))
    assert len(pieces) >= 2, pieces  # streamed in pieces, not one block
    assert all(isinstance(p, str) and p for p in pieces)
    index.close()


@pytest.mark.timeout(120)
def test_an_unreachable_server_is_a_clear_error():
    with pytest.raises(AskError, match="cannot reach the model server"):
        list(stream_answer("http://127.0.0.1:9/v1", "k", "m", [{"role": "user", "content": "hi"}], timeout=5))
