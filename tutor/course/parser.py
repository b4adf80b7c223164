"""The one lesson parser: markdown-it-py tokens -> :class:`tutor.course.model.Lesson`.

It never raises on bad input: every problem becomes a :class:`Problem` with a line number, and the lesson is
still returned whenever its front matter could be read, so the reader can show what is valid.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

from tutor.core.errors import TutorError
from tutor.course.model import (
    CELL_TAGS,
    DEFAULT_TIMEOUT,
    QUIZ_TYPES,
    Cell,
    Choice,
    Lesson,
    Problem,
    Prose,
    Quiz,
    Step,
)

log = logging.getLogger(__name__)

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
FRONT_KEYS = {"id", "title", "section", "difficulty", "minutes", "objectives", "prerequisites", "gpu"}
REQUIRED_FRONT = ("id", "title", "section", "difficulty", "minutes", "objectives")
CELL_KEYS = {"id", "tags", "timeout", "exercise", "cpu_twin", "requires"}
MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
QUIZ_COMMON = {"id", "type", "question", "hint", "explain"}
QUIZ_KEYS = {
    "single": QUIZ_COMMON | {"choices"},
    "multi": QUIZ_COMMON | {"choices"},
    "numeric": QUIZ_COMMON | {"answer", "tolerance", "rel_tolerance", "unit"},
    "text": QUIZ_COMMON | {"accept", "patterns"},
    "ordering": QUIZ_COMMON | {"items"},
}
EXPLICIT_ID = re.compile(r"\s*\{#([a-z0-9][a-z0-9-]*)\}\s*$")


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def slugify(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "step"


class MetaError(TutorError, ValueError):
    pass


def parse_info(info: str) -> tuple[str, dict[str, Any] | None]:
    """Split a fence info string into (language, metadata). metadata is None when there is none.

    Metadata follows jupytext's markdown convention: ``key=value`` pairs with JSON values.
    """
    info = info.strip()
    if not info:
        return "", None
    m = re.match(r"(\S+)\s*(.*)$", info, re.S)
    assert m
    lang, rest = m.group(1), m.group(2)
    if "=" in lang:  # no language, only metadata
        return "", None
    if not rest:
        return lang, None
    meta: dict[str, Any] = {}
    dec = json.JSONDecoder()
    pos = 0
    while pos < len(rest):
        while pos < len(rest) and rest[pos].isspace():
            pos += 1
        if pos >= len(rest):
            break
        km = re.match(r"([A-Za-z_][A-Za-z0-9_]*)=", rest[pos:])
        if not km:
            word = rest[pos:].split()[0]
            raise MetaError(
                f"bad cell metadata {word!r}: use key=value with a JSON value, e.g. tags=[\"gpu\"] "
                "(a bare flag is not valid jupytext metadata)"
            )
        key = km.group(1)
        pos += km.end()
        try:
            value, end = dec.raw_decode(rest, pos)
        except json.JSONDecodeError as e:
            raise MetaError(f"bad value for {key!r} in cell metadata: {e.msg} (values are JSON: strings need double quotes)") from None
        if key in meta:
            raise MetaError(f"duplicate metadata key {key!r}")
        meta[key] = value
        pos = end
    return lang, meta


def _split_front_matter(text: str) -> tuple[str | None, int, str]:
    """Return (front matter yaml or None, number of lines it used, body)."""
    if not text.startswith("---"):
        return None, 0, text
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return None, 0, text
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "\n".join(lines[1:i]), i + 1, "\n".join(lines[i + 1 :])
    return "\n".join(lines[1:]), len(lines), ""


def parse_lesson_file(path: Path) -> tuple[Lesson | None, list[Problem]]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        return None, [Problem(str(p), 1, f"not UTF-8 text ({e.reason} at byte {e.start})")]
    except OSError as e:
        return None, [Problem(str(p), 1, f"cannot read lesson file: {e.strerror or e}")]
    return parse_lesson(text, p)


def parse_lesson(text: str, path: Path | str = "<lesson>") -> tuple[Lesson | None, list[Problem]]:
    path = Path(path)
    fname = str(path)
    problems: list[Problem] = []

    def err(line: int, msg: str, severity: str = "error") -> None:
        problems.append(Problem(fname, max(1, line), msg, severity))

    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")
    fm_text, fm_lines, body = _split_front_matter(text)
    front: dict[str, Any] = {}
    if fm_text is None:
        err(1, "missing front matter (a YAML block between '---' lines at the top of the file)")
    else:
        try:
            loaded = yaml.safe_load(fm_text) if fm_text.strip() else {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            err(2 + (mark.line if mark else 0), f"front matter is not valid YAML: {getattr(e, 'problem', None) or e}")
            loaded = {}
        if not isinstance(loaded, dict):
            err(2, "front matter must be a YAML mapping of keys to values")
            loaded = {}
        front = loaded
    _check_front(front, err, fm_text is not None)

    steps = _parse_body(body, fm_lines, err)

    if not front or any(k not in front for k in ("id", "title")):
        return None, problems
    try:
        lesson = Lesson(
            id=str(front.get("id")),
            title=str(front.get("title")),
            path=path,
            section=_as_int(front.get("section")),
            difficulty=_as_int(front.get("difficulty")),
            minutes=_as_int(front.get("minutes")),
            objectives=[str(o) for o in front.get("objectives") or [] if o is not None] if isinstance(front.get("objectives"), list) else [],
            prerequisites=[str(o) for o in front.get("prerequisites") or []] if isinstance(front.get("prerequisites"), list) else [],
            gpu=str(front.get("gpu", "none")),
            steps=steps,
            front_matter=front,
            source=text,
        )
    except Exception as e:  # pragma: no cover - defensive: the checks above should make this unreachable
        log.debug("parse_lesson: pragma: no cover - defensive: the checks above should make this unreachable", exc_info=True)
        err(1, f"cannot build lesson: {e}")
        return None, problems
    _check_lesson(lesson, err)
    return lesson, problems


def _number(v: Any) -> Any:
    """YAML 1.1 reads `1.2e20` (no sign in the exponent) as a string: accept it as a number."""
    if isinstance(v, str):
        try:
            return float(v.replace("_", ""))
        except ValueError:
            return v
    return v


def _as_int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def _check_front(front: dict[str, Any], err, present: bool) -> None:
    if not present:
        return
    for k in front:
        if k not in FRONT_KEYS:
            err(2, f"unknown front matter key {k!r} (known: {', '.join(sorted(FRONT_KEYS))})")
    for k in REQUIRED_FRONT:
        if k not in front or front[k] in (None, ""):
            err(2, f"front matter is missing {k!r}")
    lid = front.get("id")
    if lid is not None and not re.fullmatch(r"\d{2}", str(lid)):
        err(2, f"front matter id must be a two-digit lesson number like \"01\", got {lid!r}")
    d = front.get("difficulty")
    if d is not None and (not isinstance(d, int) or isinstance(d, bool) or not 1 <= d <= 5):
        err(2, f"difficulty must be an integer 1-5, got {d!r}")
    for k in ("section", "minutes"):
        v = front.get(k)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v <= 0):
            err(2, f"{k} must be a positive integer, got {v!r}")
    obj = front.get("objectives")
    if obj is not None and (not isinstance(obj, list) or not obj or not all(isinstance(o, str) and o.strip() for o in obj)):
        err(2, "objectives must be a non-empty list of strings")
    pre = front.get("prerequisites")
    if pre is not None and (not isinstance(pre, list) or not all(isinstance(o, (str, int)) for o in pre)):
        err(2, "prerequisites must be a list of lesson ids")
    g = front.get("gpu")
    if g is not None and g not in ("none", "optional", "required"):
        err(2, f"gpu must be none, optional or required, got {g!r}")


def _parse_body(body: str, offset: int, err) -> list[Step]:
    """Tokens -> steps. ``offset`` is the number of lines before ``body`` in the file."""
    lines = body.split("\n")
    try:
        tokens = _md().parse(body)
    except Exception as e:  # markdown-it is robust, but never let a lesson crash the app
        log.debug("_parse_body: markdown-it is robust, but never let a lesson crash the app", exc_info=True)
        err(offset + 1, f"markdown could not be parsed: {e}")
        return [Step("introduction", "Introduction", offset + 1, [Prose(body, offset + 1)])]

    steps: list[Step] = []
    cur = Step("introduction", "Introduction", offset + 1)
    cur_start = 0  # body line where the current step's content starts
    prose_from = 0  # body line where the pending prose starts
    seen_step_ids: dict[str, int] = {}

    def flush_prose(upto: int) -> None:
        nonlocal prose_from
        if upto > prose_from:
            raw = "\n".join(lines[prose_from:upto])
            chunk = raw.strip("\n")
            if chunk.strip():  # its line: the first line of the text itself (blank lines before it stripped)
                lead = len(raw) - len(raw.lstrip("\n"))
                cur.blocks.append(Prose(chunk, offset + prose_from + 1 + lead))
        prose_from = max(prose_from, upto)

    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.level == 0 and t.type == "heading_open" and t.tag == "h2" and t.map:
            flush_prose(t.map[0])
            if cur.blocks or steps or cur.id != "introduction":
                steps.append(cur)
            inline = tokens[i + 1].content if i + 1 < len(tokens) else ""
            m = EXPLICIT_ID.search(inline)
            if m:
                sid, title = m.group(1), inline[: m.start()].strip()
            else:
                title = inline.strip()
                sid = "quiz" if title.lower() == "quiz" else slugify(title)
            line = offset + t.map[0] + 1
            if sid in seen_step_ids:
                err(line, f"duplicate step id {sid!r} (also line {seen_step_ids[sid]}); add an explicit {{#id}}")
                sid = f"{sid}-{line}"
            seen_step_ids[sid] = line
            cur = Step(sid, title or sid, line)
            cur_start = prose_from = t.map[1]
            i += 3
            continue
        if t.level == 0 and t.type == "fence" and t.map:
            block = _fence_block(t, offset, err)
            if block is not None:
                flush_prose(t.map[0])
                cur.blocks.append(block)
                prose_from = t.map[1]
        i += 1
    flush_prose(len(lines))
    if cur.blocks or not steps:
        steps.append(cur)
    del cur_start
    for s in steps:
        if s.id == "quiz":
            for q in s.quizzes:
                q.final = True
    return steps


def _fence_block(t, offset: int, err):
    line = offset + t.map[0] + 1
    info = t.info or ""
    first = info.strip().split(maxsplit=1)[0] if info.strip() else ""
    if first == "quiz":
        return _parse_quiz(t.content, line, err)
    if first not in ("python", "py", "python3"):
        return None
    try:
        lang, meta = parse_info(info)
    except MetaError as e:
        err(line, str(e))
        return None
    if meta is None:
        return None  # a plain listing
    return _make_cell(meta, t.content, line, err)


def _make_cell(meta: dict[str, Any], code: str, line: int, err) -> Cell | None:
    for k in meta:
        if k not in CELL_KEYS:
            err(line, f"unknown cell metadata key {k!r} (known: {', '.join(sorted(CELL_KEYS))})")
    cid = meta.get("id")
    if not isinstance(cid, str) or not ID_RE.match(cid):
        err(line, f"cell needs an id of lowercase letters, digits and '-', got {cid!r}")
        return None
    tags = meta.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(x, str) for x in tags):
        err(line, f"cell {cid}: tags must be a list of strings")
        tags = []
    for tg in tags:
        if tg not in CELL_TAGS:
            err(line, f"cell {cid}: unknown tag {tg!r} (known: {', '.join(CELL_TAGS)})")
    timeout = meta.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        err(line, f"cell {cid}: timeout must be a positive number of seconds, got {timeout!r}")
        timeout = DEFAULT_TIMEOUT
    ex = meta.get("exercise")
    if ex is not None and not isinstance(ex, str):
        err(line, f"cell {cid}: exercise must be a cell id string")
        ex = None
    if ("check" in tags or "solution" in tags) and not ex:
        err(line, f"cell {cid}: a check or solution cell needs exercise=\"<exercise cell id>\"")
    twin = meta.get("cpu_twin")
    if twin is not None and not isinstance(twin, str):
        err(line, f"cell {cid}: cpu_twin must be a cell id string")
        twin = None
    requires = meta.get("requires", [])
    if not isinstance(requires, list) or not requires and "requires" in meta \
            or not all(isinstance(m, str) and MODULE_RE.match(m) for m in requires):
        err(line, f"cell {cid}: requires must be a non-empty list of Python module names, e.g. "
                  f"requires=[\"vllm\"], got {requires!r}")
        requires = []
    return Cell(
        id=cid,
        code=code.rstrip("\n"),
        line=line,
        tags=tuple(t for t in tags if t in CELL_TAGS),
        timeout=float(timeout),
        exercise=ex,
        cpu_twin=twin,
        requires=tuple(requires),
        meta=meta,
    )


def _parse_quiz(content: str, line: int, err) -> Quiz | None:
    def qerr(rel: int, msg: str) -> None:
        err(line + rel, msg)

    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        qerr(1 + (mark.line if mark else 0), f"quiz is not valid YAML: {getattr(e, 'problem', None) or e}")
        return None
    if not isinstance(data, dict):
        qerr(1, "quiz must be a YAML mapping with id, type, question, ...")
        return None

    def key_line(key: str) -> int:
        for n, ln in enumerate(content.split("\n")):
            if ln.startswith(f"{key}:"):
                return n + 1
        return 1

    qid = data.get("id")
    if not isinstance(qid, str) or not ID_RE.match(qid):
        qerr(key_line("id"), f"quiz needs an id of lowercase letters, digits and '-', got {qid!r}")
        return None
    qtype = data.get("type")
    if qtype not in QUIZ_TYPES:
        qerr(key_line("type"), f"quiz {qid}: type must be one of {', '.join(QUIZ_TYPES)}, got {qtype!r}")
        return None
    for k in data:
        if k not in QUIZ_KEYS[qtype]:
            qerr(key_line(str(k)), f"quiz {qid}: unknown key {k!r} for type {qtype}")
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        qerr(key_line("question"), f"quiz {qid}: question text is missing")
        question = ""
    for k in ("hint", "explain"):
        if k in data and not isinstance(data[k], str):
            qerr(key_line(k), f"quiz {qid}: {k} must be text")
    q = Quiz(
        id=qid,
        type=qtype,
        question=question.strip(),
        line=line,
        hint=data.get("hint") if isinstance(data.get("hint"), str) else None,
        explain=data.get("explain") if isinstance(data.get("explain"), str) else None,
    )

    def read_choices(key: str, need_correct: bool) -> list[Choice]:
        raw = data.get(key)
        kl = key_line(key)
        if not isinstance(raw, list):
            qerr(kl, f"quiz {qid}: {key} must be a list")
            return []
        out = []
        for n, c in enumerate(raw, 1):
            if not isinstance(c, dict):
                qerr(kl, f"quiz {qid}: {key} #{n} must be a mapping with text{', correct' if need_correct else ''} and explain")
                continue
            allowed = {"text", "correct", "explain"} if need_correct else {"text", "explain"}
            for k in c:
                if k not in allowed:
                    qerr(kl, f"quiz {qid}: {key} #{n} has unknown key {k!r}")
            text = c.get("text")
            if text is None or (isinstance(text, str) and not text.strip()):
                qerr(kl, f"quiz {qid}: {key} #{n} has no text")
            if need_correct and not isinstance(c.get("correct"), bool):
                qerr(kl, f"quiz {qid}: {key} #{n} needs correct: true or false")
            ex = c.get("explain")
            if isinstance(ex, (int, float)) and not isinstance(ex, bool):
                ex = str(ex)
            if not isinstance(ex, str) or not ex.strip():
                qerr(kl, f"quiz {qid}: {key} #{n} needs an explain saying why it is right or wrong")
            out.append(Choice(str(text if text is not None else ""), c.get("correct") is True, str(ex or "")))
        return out

    if qtype in ("single", "multi"):
        q.choices = read_choices("choices", True)
        n_correct = sum(c.correct for c in q.choices)
        if len(q.choices) < 2:
            qerr(key_line("choices"), f"quiz {qid}: needs at least 2 choices")
        if qtype == "single" and n_correct != 1:
            qerr(key_line("choices"), f"quiz {qid}: a single-choice question needs exactly one correct choice, has {n_correct}")
        if qtype == "multi" and n_correct < 1:
            qerr(key_line("choices"), f"quiz {qid}: a multi-choice question needs at least one correct choice")
    elif qtype == "ordering":
        q.items = read_choices("items", False)
        if len(q.items) < 3:
            qerr(key_line("items"), f"quiz {qid}: an ordering question needs at least 3 items")
        texts = [c.text for c in q.items]
        if len(set(texts)) != len(texts):
            qerr(key_line("items"), f"quiz {qid}: ordering items must be distinct")
    elif qtype == "numeric":
        ans = _number(data.get("answer"))
        if isinstance(ans, bool) or not isinstance(ans, (int, float)):
            qerr(key_line("answer"), f"quiz {qid}: answer must be a number, got {ans!r}")
        else:
            q.answer = float(ans)
        for k in ("tolerance", "rel_tolerance"):
            if k in data:
                v = _number(data[k])
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or v != v:
                    qerr(key_line(k), f"quiz {qid}: {k} must be a number >= 0, got {v!r}")
                else:
                    setattr(q, k, float(v))
        if "tolerance" not in data and "rel_tolerance" not in data:
            qerr(key_line("answer"), f"quiz {qid}: a numeric question needs tolerance and/or rel_tolerance")
        if "unit" in data:
            q.unit = str(data["unit"])
        if not q.explain:
            qerr(1, f"quiz {qid}: a numeric question needs an explain (the worked answer)")
    elif qtype == "text":
        acc = data.get("accept", [])
        pats = data.get("patterns", [])
        if not isinstance(acc, list) or not all(isinstance(a, (str, int, float)) for a in acc):
            qerr(key_line("accept"), f"quiz {qid}: accept must be a list of strings")
            acc = []
        if not isinstance(pats, list) or not all(isinstance(a, str) for a in pats):
            qerr(key_line("patterns"), f"quiz {qid}: patterns must be a list of regexes")
            pats = []
        for pat in pats:
            try:
                re.compile(pat)
            except re.error as e:
                qerr(key_line("patterns"), f"quiz {qid}: invalid regex {pat!r}: {e}")
        q.accept = [str(a) for a in acc]
        q.patterns = list(pats)
        if not q.accept and not q.patterns:
            qerr(1, f"quiz {qid}: a text question needs a non-empty accept or patterns list")
        if not q.explain:
            qerr(1, f"quiz {qid}: a text question needs an explain (the model answer)")
    return q


def _check_lesson(lesson: Lesson, err) -> None:
    seen: dict[str, int] = {}
    for c in lesson.cells:
        if c.id in seen:
            err(c.line, f"duplicate cell id {c.id!r} (first at line {seen[c.id]})")
        seen.setdefault(c.id, c.line)
    qseen: dict[str, int] = {}
    for q in lesson.quizzes:
        if q.id in qseen:
            err(q.line, f"duplicate question id {q.id!r} (first at line {qseen[q.id]})")
        qseen.setdefault(q.id, q.line)
    cells = {c.id: c for c in lesson.cells}
    for c in lesson.cells:
        if c.exercise is not None:
            target = cells.get(c.exercise)
            if target is None:
                err(c.line, f"cell {c.id}: exercise {c.exercise!r} is not a cell of this lesson")
            elif not target.is_exercise:
                err(c.line, f"cell {c.id}: cell {c.exercise!r} is not tagged exercise")
        if c.cpu_twin is not None:
            if c.cpu_twin not in cells:
                err(c.line, f"cell {c.id}: cpu_twin {c.cpu_twin!r} is not a cell of this lesson")
            elif cells[c.cpu_twin].is_gpu:
                err(c.line, f"cell {c.id}: cpu_twin {c.cpu_twin!r} is itself a gpu cell")
        if c.is_exercise:
            checks = [x for x in lesson.cells if x.exercise == c.id and "check" in x.tags]
            sols = [x for x in lesson.cells if x.exercise == c.id and "solution" in x.tags]
            if len(checks) != 1 or len(sols) != 1:
                err(c.line, f"exercise {c.id} needs exactly one check and one solution cell (has {len(checks)} and {len(sols)})")
        if c.is_exercise and c.is_hidden:
            err(c.line, f"cell {c.id}: an exercise cannot also be a check or solution")


@dataclass(frozen=True)
class Fence:
    """A top-level fenced block of prose (a diagram, a plain-text table, code that is not a cell)."""
    info: str  # the fence's language ("text", "python", ...) or ""
    code: str


def split_prose(markdown: str, max_lines: int = 12, fences: bool = False) -> list:
    """Split prose into pieces of whole top-level blocks (paragraphs, lists, tables, quotes, fences), each about
    ``max_lines`` source lines or fewer unless one block is longer; the reader lays out the first pieces of a
    step before the rest. Joining the pieces with blank lines renders as the original. With ``fences``, each
    top-level fenced block is a piece of its own, a :class:`Fence` (the reader scrolls it sideways, unwrapped)."""
    lines = markdown.splitlines()
    blocks: list[tuple[int, int, object]] = []  # start, end, the fence token (with fences=True) or None
    for tok in _md().parse(markdown):
        if tok.level == 0 and tok.map is not None and tok.nesting in (0, 1):
            blocks.append((tok.map[0], tok.map[1], tok if fences and tok.type == "fence" else None))
    if len(blocks) <= 1 and not any(f is not None for _a, _b, f in blocks):
        return [markdown]
    pieces: list = []
    cur: list[int] | None = None  # the start and end line of the piece being gathered

    def flush() -> None:
        if cur is not None:
            pieces.append("\n".join(lines[cur[0]:cur[1]]).strip("\n"))

    for a, b, fence in blocks:
        if fence is not None:
            flush()
            cur = None
            pieces.append(Fence((fence.info or "").strip(), fence.content))
        elif cur is None:
            cur = [a, b]
        elif b - cur[0] > max_lines:
            flush()
            cur = [a, b]
        else:
            cur[1] = b
    flush()
    return [p for p in pieces if isinstance(p, Fence) or p.strip()] or [markdown]
