"""Ask about a step: retrieve the current step and the best passages from the index, build the prompt, stream the
answer from the local OpenAI-compatible endpoint (httpx, server-sent events), and find the steps it cites.

With the built-in fm-tiny (a 1M-parameter model) nothing is generated for the learner: :func:`too_small` says so and
the panel shows the passages instead. No Textual here.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tutor.core.errors import TutorError
from tutor.search.index import SearchError, SearchIndex

log = logging.getLogger(__name__)

TOO_SMALL = ("fm-tiny",)  # built-in models that cannot answer questions
CITATION = re.compile(r"\[(\d{2})/([A-Za-z0-9_.-]+)\]")
SYSTEM = (
    "You are the tutor of a course on foundation models. Answer the learner's question from the course passages "
    "below; if they do not hold the answer, say so. Be brief and concrete. Cite every passage you use by its tag, "
    "exactly as written, e.g. [02/chinchilla]."
)


class AskError(TutorError, RuntimeError):
    """The question could not be sent or the answer not read; the message says why."""


@dataclass
class Passage:
    lesson_id: str
    step_id: str
    lesson_title: str
    step_title: str
    text: str
    current: bool = False  # the step the learner is on

    @property
    def tag(self) -> str:
        return f"[{self.lesson_id}/{self.step_id}]"


@dataclass
class AskPlan:
    question: str
    passages: list[Passage]
    messages: list[dict] = field(default_factory=list)

    def prompt_text(self) -> str:
        return "\n\n".join(f"--- {m['role']} ---\n{m['content']}" for m in self.messages)


def too_small(model_setting: str | None, served_name: str | None = None) -> bool:
    """Whether the configured (or served) model is the built-in fm-tiny, which cannot answer questions."""
    names = [Path(str(n)).name for n in (model_setting, served_name) if n]
    return any(n in TOO_SMALL for n in names)


def retrieve(index: SearchIndex, lesson_id: str, step_id: str | None, question: str, k: int = 4,
             max_chars: int = 2400) -> list[Passage]:
    """The current step first, then the ``k`` best other steps for the question (any of its words)."""
    out: list[Passage] = []
    if step_id:
        text = index.step_text(lesson_id, step_id)
        if text is not None:
            title = text.splitlines()[0].removeprefix("## ")
            out.append(Passage(lesson_id, step_id, index.lesson_title(lesson_id), title, text[:max_chars], True))
    try:
        hits = index.search(question, limit=k + 1, any_word=True, notes=False)
    except SearchError:
        hits = []
    for h in hits:
        if len(out) >= k + (1 if step_id else 0):
            break
        if (h.lesson_id, h.step_id) == (lesson_id, step_id):
            continue
        text = index.step_text(h.lesson_id, h.step_id) or ""
        out.append(Passage(h.lesson_id, h.step_id, h.lesson_title, h.step_title, text[:max_chars]))
    return out


def build_plan(question: str, passages: list[Passage]) -> AskPlan:
    q = question.strip()
    if not q:
        raise AskError("type a question first")
    parts = []
    for p in passages:
        where = "the step the learner is reading" if p.current else "a related step"
        parts.append(f"{p.tag} lesson {p.lesson_id} {p.lesson_title}, {where}:\n{p.text}")
    user = "Course passages:\n\n" + "\n\n".join(parts) + f"\n\nQuestion: {q}"
    return AskPlan(q, passages, [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}])


def stream_answer(base_url: str, api_key: str, model: str, messages: list[dict], max_tokens: int = 512,
                  timeout: float = 120.0, extra: dict | None = None) -> Iterator[str]:
    """The answer's text pieces as the server streams them (POST /chat/completions, stream=true)."""
    import httpx

    body = {"model": model, "messages": messages, "stream": True, "max_tokens": max_tokens, **(extra or {})}
    url = base_url.rstrip("/") + "/chat/completions"
    try:
        with httpx.stream("POST", url, json=body, timeout=httpx.Timeout(timeout, connect=5.0),
                          headers={"Authorization": f"Bearer {api_key}"}) as r:
            if r.status_code != 200:
                r.read()
                raise AskError(f"the model server at {base_url} answered {r.status_code}: {r.text[:300]}")
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                except ValueError:
                    log.info("ask: a line that is not JSON in the stream: %r", data[:200])
                    continue
                for choice in chunk.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield piece
    except httpx.HTTPError as e:
        raise AskError(f"cannot reach the model server at {base_url}: {e}") from e


def cited(answer: str, passages: list[Passage]) -> list[Passage]:
    """The passages the answer cites, in the order it first cites them (tags that name no passage are dropped)."""
    by_tag = {(p.lesson_id, p.step_id): p for p in passages}
    out: list[Passage] = []
    for m in CITATION.finditer(answer):
        p = by_tag.get((m.group(1), m.group(2)))
        if p is not None and p not in out:
            out.append(p)
    return out
