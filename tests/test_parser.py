"""The one parser and validator: valid lessons, broken lessons (every error has a line), fuzzing."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tutor.course import parse_info, parse_lesson, validate_course
from tutor.course.parser import slugify

FIXTURE = Path(__file__).parent / "fixtures" / "lessons" / "01_Foundation_Model_Paradigm.md"
GOOD = FIXTURE.read_text()


def parse(text):
    return parse_lesson(textwrap.dedent(text), "lesson.md")


def test_fixture_parses_into_steps_cells_quizzes():
    les, problems = parse_lesson(GOOD, FIXTURE)
    assert problems == []
    assert [s.id for s in les.steps] == ["introduction", "what-a-foundation-model-is", "count", "quiz", "references"]
    assert les.steps[2].title == "Counting parameters"  # explicit {#count} stripped from the title
    cells = {c.id: c for c in les.cells}
    assert cells["setup"].is_setup and cells["big-run"].is_gpu and cells["big-run"].cpu_twin == "sqrt-two"
    assert cells["params-ex"].is_exercise and cells["params-check"].is_hidden
    assert les.exercise_parts("params-ex") == (cells["params-check"], cells["params-sol"])
    assert [q.type for q in les.quizzes] == ["single", "numeric", "multi", "text", "ordering"]
    assert [q.final for q in les.quizzes] == [False, True, True, True, True]
    assert les.quizzes[1].answer == 1.2e20 and les.quizzes[1].unit == "FLOPs"
    # cell line numbers point at the opening fence
    assert GOOD.split("\n")[cells["sqrt-two"].line - 1].startswith('```python id="sqrt-two"')


def test_parse_info_jupytext_metadata():
    assert parse_info('python id="a" tags=["gpu", "setup"] timeout=5') == ("python", {"id": "a", "tags": ["gpu", "setup"], "timeout": 5})
    assert parse_info("python") == ("python", None)
    with pytest.raises(ValueError, match="bare flag"):
        parse_info('python id="a" gpu')
    with pytest.raises(ValueError, match="JSON"):
        parse_info("python id='a'")


def test_slugify():
    assert slugify("3. In-context learning") == "3-in-context-learning"
    assert slugify("???") == "step"


def test_plain_fences_are_listings_not_cells():
    les, problems = parse('''\
        ---
        id: "01"
        title: T
        section: 1
        difficulty: 2
        minutes: 5
        objectives: [x]
        ---
        ## A
        ```python
        print("listing")
        ```
        ```bash
        ls
        ```
        - item

          ```python id="indented"
          print("inside a list: never a cell")
          ```
        ''')
    assert problems == []
    assert les.cells == []


BROKEN = [
    ("no front matter", "## A\ntext\n", 1, "missing front matter"),
    ("bad yaml", '---\nid: "01\ntitle: x\n---\n', None, "not valid YAML"),
    ("unknown key", '---\nid: "01"\ntitle: T\nsection: 1\ndifficulty: 2\nminutes: 5\nobjectives: [x]\nauthor: me\n---\n', 2, "unknown front matter key 'author'"),
    ("difficulty", '---\nid: "01"\ntitle: T\nsection: 1\ndifficulty: 9\nminutes: 5\nobjectives: [x]\n---\n', 2, "difficulty must be an integer 1-5"),
]

HEAD = '---\nid: "01"\ntitle: T\nsection: 1\ndifficulty: 2\nminutes: 5\nobjectives: [x]\n---\n## Step\n'


@pytest.mark.parametrize("name,text,line,msg", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_front_matter(name, text, line, msg):
    les, problems = parse_lesson(text, "l.md")
    assert any(msg in p.message for p in problems), problems
    if line:
        assert any(p.line == line for p in problems if msg in p.message)


BODY_CASES = [
    ('```python id="Bad Id"\nx\n```\n', 10, "needs an id"),
    ('```python id="a" gpu\nx\n```\n', 10, "bare flag"),
    ('```python id="a" tags=["gpus"]\nx\n```\n', 10, "unknown tag 'gpus'"),
    ('```python id="a" timeout=-1\nx\n```\n', 10, "timeout must be a positive"),
    ('```python id="a"\nx\n```\n```python id="a"\ny\n```\n', 13, "duplicate cell id 'a'"),
    ('```python id="e" tags=["exercise"]\nx\n```\n', 10, "exactly one check and one solution"),
    ('```python id="c" tags=["check"]\nx\n```\n', 10, "needs exercise="),
    ('```python id="c" tags=["check"] exercise="nope"\nx\n```\n', 10, "is not a cell of this lesson"),
    ('```python id="g" tags=["gpu"] cpu_twin="nope"\nx\n```\n', 10, "cpu_twin 'nope'"),
    ('```python id="r" requires="vllm"\nx\n```\n', 10, "requires must be a non-empty list of Python module names"),
    ('```python id="r" requires=[]\nx\n```\n', 10, "requires must be a non-empty list"),
    ('```python id="r" requires=["no such"]\nx\n```\n', 10, "requires must be a non-empty list"),
    ('```python id="r" requires=[3]\nx\n```\n', 10, "requires must be a non-empty list"),
    ("```quiz\nid: q\ntype: single\nquestion: Q\nchoices:\n  - text: a\n    correct: true\n    explain: e\n  - text: b\n    correct: true\n    explain: e\n```\n", 14, "exactly one correct choice"),
    ("```quiz\nid: q\ntype: multi\nquestion: Q\nchoices:\n  - text: a\n    correct: false\n    explain: e\n  - text: b\n    correct: false\n    explain: e\n```\n", 14, "at least one correct"),
    ("```quiz\nid: q\ntype: single\nquestion: Q\nchoices:\n  - text: a\n    correct: true\n  - text: b\n    correct: false\n    explain: e\n```\n", 14, "needs an explain"),
    ("```quiz\nid: q\ntype: numeric\nquestion: Q\nanswer: 3\ntolerance: -1\nexplain: e\n```\n", 15, "tolerance must be a number >= 0"),
    ("```quiz\nid: q\ntype: numeric\nquestion: Q\nanswer: 3\nexplain: e\n```\n", 14, "needs tolerance"),
    ("```quiz\nid: q\ntype: numeric\nquestion: Q\nanswer: three\ntolerance: 1\nexplain: e\n```\n", 14, "answer must be a number"),
    ("```quiz\nid: q\ntype: text\nquestion: Q\npatterns: ['(']\nexplain: e\n```\n", 14, "invalid regex"),
    ("```quiz\nid: q\ntype: text\nquestion: Q\nexplain: e\n```\n", 11, "non-empty accept or patterns"),
    ("```quiz\nid: q\ntype: essay\nquestion: Q\n```\n", 12, "type must be one of"),
    ("```quiz\nid: q\ntype: ordering\nquestion: Q\nitems:\n  - text: a\n    explain: e\n  - text: b\n    explain: e\n```\n", 14, "at least 3 items"),
    ("```quiz\nid: q\ntype: single\nquestion: [unclosed\n```\n", 14, "not valid YAML"),
    ("```quiz\nid: q\ntype: single\nquestion: Q\ncolor: red\nchoices: []\n```\n", 14, "unknown key 'color'"),
    ("```quiz\nid: q\ntype: text\nquestion: Q\naccept: [a]\nexplain: e\n```\n```quiz\nid: q\ntype: text\nquestion: Q\naccept: [a]\nexplain: e\n```\n", 17, "duplicate question id 'q'"),
]


@pytest.mark.parametrize("body,line,msg", BODY_CASES, ids=[c[2] for c in BODY_CASES])
def test_broken_blocks_report_file_and_line(body, line, msg):
    les, problems = parse_lesson(HEAD + body, "l.md")
    hits = [p for p in problems if msg in p.message]
    assert hits, problems
    assert hits[0].line == line, hits
    assert str(hits[0]).startswith(f"l.md:{line}: ")


def test_validator_course_level(fixture_course):
    course, problems = validate_course(fixture_course)
    errors = [p for p in problems if p.severity == "error"]
    assert errors == []
    warn = [p for p in problems if "not written yet" in p.message]
    assert len(warn) == 1 and "24 of 25 lessons" in warn[0].message


def test_validator_catches_cross_references(fixture_course):
    lesson = fixture_course / "lessons" / "01_Foundation_Model_Paradigm.md"
    lesson.write_text(GOOD.replace("difficulty: 2", "difficulty: 3").replace("prerequisites: []", 'prerequisites: ["02", "77"]'))
    (fixture_course / "lessons" / "02_Scaling_Laws.md").write_text(
        GOOD.replace('id: "01"', 'id: "02"').replace("prerequisites: []", 'prerequisites: ["01"]')
    )
    (fixture_course / "lessons" / "stray.md").write_text("x")
    toml = fixture_course / "course.toml"
    toml.write_text(toml.read_text().replace('lessons = ["01", "02", "08", "09", "19", "22"]', 'lessons = ["01", "02", "99"]'))
    course, problems = validate_course(fixture_course)
    msgs = [str(p) for p in problems]
    assert any("difficulty 3 but course.toml says 2" in m for m in msgs)
    assert any("prerequisite '77' is not a lesson" in m for m in msgs)
    assert any("prerequisite cycle" in m for m in msgs)
    assert any("unknown lesson '99'" in m and "course.toml:" in m for m in msgs)
    assert any("stray.md:1: warning: lesson file is not listed" in m for m in msgs)


def test_validator_checks_the_tutor_modules_and_names_a_cell_imports(fixture_course):
    torch_before = "torch" in sys.modules
    lesson = fixture_course / "lessons" / "01_Foundation_Model_Paradigm.md"
    good = ("from tutor.runtime import load_model, complete\nfrom tutor.course.model import Prose\n"
            "import tutor.core.procs\nfrom tutor import course\n")
    bad = ("from tutor.server import free_port\nfrom tutor.runtime import no_such_helper\n"
           "import tutor.nothing_here\n")
    fence = '```python id="sqrt-two"'
    assert fence in GOOD
    lesson.write_text(GOOD.replace(fence + "\n", fence + "\n" + good, 1))
    _, problems = validate_course(fixture_course)
    assert [str(p) for p in problems if "imports" in p.message] == []
    lesson.write_text(GOOD.replace(fence + "\n", fence + "\n" + bad, 1))
    _, problems = validate_course(fixture_course)
    msgs = [str(p) for p in problems if p.severity == "error"]
    line = GOOD.split("\n").index(next(x for x in GOOD.split("\n") if x.startswith(fence))) + 1
    assert msgs == [
        f"{lesson}:{line + 1}: cell sqrt-two: imports tutor.server, which this version of fm-tutor does not have",
        f"{lesson}:{line + 2}: cell sqrt-two: imports no_such_helper from tutor.runtime, which does not define it",
        f"{lesson}:{line + 3}: cell sqrt-two: imports tutor.nothing_here, which this version of fm-tutor does not have",
    ]
    assert torch_before or "torch" not in sys.modules  # found without importing the kernel-side runtime


def test_validator_warns_when_a_gpu_cell_rebinds_a_name_a_later_cell_reads(fixture_course):
    lesson = fixture_course / "lessons" / "01_Foundation_Model_Paradigm.md"
    gpu_cell = 'import torch\nprint(torch.cuda.get_device_name())\n```\n'
    assert gpu_cell in GOOD
    text = GOOD.replace('```python id="sqrt-two"\n', '```python id="sqrt-two"\ndocs = ["a page", "another"]\n', 1)
    text = text.replace(gpu_cell, 'import torch\ndocs = torch.zeros(3)  # the GPU cell\'s own corpus\n'
                        'for n in range(2):\n    pass\n```\n\n```python id="after"\nprint(len(docs))\nn = 1\n'
                        'print(n)\n```\n', 1)
    lesson.write_text(text)
    _, problems = validate_course(fixture_course)
    found = [p for p in problems if "rebinds" in p.message]
    assert [p.message for p in found] == [
        "gpu cell big-run rebinds docs, which cell after reads: on a GPU box it would get the GPU cell's value "
        "(rename it in the GPU cell)"]  # n is bound again in the later cell and torch is an import: no warning
    assert found[0].severity == "warning"


def test_check_cli_exit_codes(fixture_course, capsys):
    from tutor.cli import main

    assert main(["check", str(fixture_course)]) == 0
    out = capsys.readouterr().out
    assert "0 error(s)" in out and "24 of 25 lessons not written yet" in out
    lesson = fixture_course / "lessons" / "01_Foundation_Model_Paradigm.md"
    lesson.write_text(GOOD.replace("    correct: true\n    explain: That is the definition.", "    correct: false\n    explain: x"))
    assert main(["check", str(fixture_course)]) == 1
    out = capsys.readouterr().out
    assert "01_Foundation_Model_Paradigm.md:" in out and "exactly one correct choice" in out


def test_real_course_has_no_errors():
    course, problems = validate_course()
    assert [str(p) for p in problems if p.severity == "error"] == []


# ---------------------------------------------------------------- fuzzing

LINES = GOOD.split("\n")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(LINES) - 1), st.sampled_from(["delete", "dup", "garble", "insert", "swap"]),
                  st.text(alphabet="`-:#{}[]\"' \nabcxyz01=", max_size=12)),
        min_size=1, max_size=6,
    )
)
def test_mutated_lessons_never_crash_and_errors_have_lines(mutations):
    lines = list(LINES)
    for idx, op, junk in mutations:
        idx = min(idx, len(lines) - 1)
        if op == "delete" and len(lines) > 1:
            del lines[idx]
        elif op == "dup":
            lines.insert(idx, lines[idx])
        elif op == "garble":
            lines[idx] = lines[idx][: len(lines[idx]) // 2] + junk
        elif op == "insert":
            lines.insert(idx, junk)
        elif op == "swap" and idx + 1 < len(lines):
            lines[idx], lines[idx + 1] = lines[idx + 1], lines[idx]
    text = "\n".join(lines)
    les, problems = parse_lesson(text, "m.md")
    n = text.count("\n") + 1
    for p in problems:
        assert 1 <= p.line <= n + 1, p
        assert p.message
    if les is not None:
        assert les.steps


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_crashes(text):
    les, problems = parse_lesson(text, "x.md")
    assert all(p.line >= 1 for p in problems)


def test_split_prose_keeps_whole_blocks_and_all_text():
    from tutor.course.parser import split_prose

    md = "\n\n".join([
        "Para one\nstill one.",
        "- a\n- b\n\n  continued b\n- c",
        "| x | y |\n|---|---|\n| 1 | 2 |",
        "```python\nx = 1\n\ny = 2\n```",
        "> quote\n> more",
        "Last para.",
    ])
    pieces = split_prose(md, max_lines=3)
    assert len(pieces) > 3
    # every piece is a run of whole top-level blocks: the list, the table and the fence are never cut
    assert any(p.startswith("- a") and p.rstrip().endswith("- c") for p in pieces)
    assert any("```python" in p and p.rstrip().endswith("```") for p in pieces)
    assert any(p.startswith("| x |") and "| 1 | 2 |" in p for p in pieces)
    assert "\n\n".join(pieces).split() == md.split()
    assert split_prose("just one paragraph") == ["just one paragraph"]
    assert split_prose(md, max_lines=1000) == [md]


def test_requires_lists_modules_and_finds_the_missing_ones():
    les, problems = parse_lesson(HEAD + '```python id="r" requires=["vllm.entrypoints", "json", "fm_no_such_mod"]\nx\n```\n',
                                 "l.md")
    assert not [p for p in problems if p.severity == "error"], problems
    cell = les.cells[0]
    assert cell.requires == ("vllm.entrypoints", "json", "fm_no_such_mod")
    import importlib.util

    vllm_missing = importlib.util.find_spec("vllm") is None
    assert cell.missing_modules() == (("vllm.entrypoints",) if vllm_missing else ()) + ("fm_no_such_mod",)
    from tutor.course.model import requires_reason

    assert requires_reason(("a",)) == "needs the Python module a, which is not installed here"
    assert requires_reason(("a", "b")) == "needs the Python modules a, b, which are not installed here"
