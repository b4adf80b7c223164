"""The course index holds the facts of the course (sections, lessons, paths, roadmap, tables)."""
from __future__ import annotations

from tutor.course import load_course


def test_sections_and_lessons():
    c = load_course()
    assert len(c.sections) == 8
    assert len(c.entries) == 25
    assert [len(s.lessons) for s in c.sections] == [3, 4, 4, 4, 3, 3, 3, 1]
    assert list(c.entries) == [f"{i:02d}" for i in range(1, 26)]
    assert c.entries["08"].key_content == ["LLaMA 1/2/3", "RoPE", "RMSNorm", "SwiGLU", "GQA"]
    assert c.entries["06"].difficulty == 4 and c.entries["01"].difficulty == 2
    assert all(e.section for e in c.entries.values())


def test_paths():
    c = load_course()
    got = {p.id: (p.title, p.duration, p.lessons) for p in c.paths}
    assert got["quick"] == ("Quick Practical Application", "2 weeks", ["01", "02", "08", "09", "19", "22"])
    assert got["vision"] == ("Vision Foundation Focus", "2 weeks", ["01", "03", "12", "13", "14", "15"])
    assert got["multimodal"] == ("Multimodal Specialist", "3 weeks", ["01", "02", "03", "12", "16", "17", "18", "23"])
    assert got["complete"][1] == "6-7 weeks" and got["complete"][2] == [f"{i:02d}" for i in range(1, 26)]


def test_roadmap_and_tables():
    c = load_course()
    assert [p.lessons for p in c.roadmap if not p.branches] == [
        ["01", "02", "03"], ["16", "17", "18"], ["19", "20", "21", "22", "23", "24"], ["25"]]
    branch = next(p for p in c.roadmap if p.branches)
    assert {b.id: b.lessons for b in branch.branches} == {
        "A": ["04", "05", "06", "07", "08", "09", "10", "11"], "B": ["12", "13", "14", "15"]}
    gm = {g["id"]: (g["min_gb"], g["recommended_gb"]) for g in c.data["gpu_memory"]}
    assert gm == {"infer-7b-4bit": (6, 8), "infer-7b-fp16": (14, 16), "lora": (8, 16), "sam": (8, 12)}
    assert {p["topic"] for p in c.data["prerequisites"]} == {"Deep_Learning", "LLM_and_NLP"}
    assert len(c.data["relationships"]) == 2 and all(len(r["links"]) == 4 for r in c.data["relationships"])


def test_resolve_ids():
    c = load_course()
    assert c.resolve_lesson_id("8") == "08"
    assert c.resolve_lesson_id("08_LLaMA_Family.md") == "08"
    assert c.resolve_lesson_id("segment anything") == "13"
    assert c.resolve_lesson_id("99") is None
    assert c.resolve_path_id("quick") == "quick"
    assert c.resolve_path_id("Vision Foundation Focus") == "vision"


def test_lesson_if_read_never_reads_and_is_read_says_when_lesson_has(fixture_course):
    """What the home screen asks on the UI thread: the lesson if it was read already, never a read of the file."""
    c = load_course(fixture_course)  # lesson 01 written, the others not
    lid = c.written_ids()[0]
    assert not c.is_read(lid) and c.lesson_if_read(lid) is None  # not read by asking
    assert not c.is_read(lid)
    les = c.lesson(lid)
    assert les is not None and c.is_read(lid) and c.lesson_if_read(lid) is les
    unwritten = next(i for i in c.entries if not c.is_written(i))
    assert c.lesson(unwritten) is None and c.is_read(unwritten) and c.lesson_if_read(unwritten) is None
