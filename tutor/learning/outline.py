"""The outline of a lesson that is not written yet: what the course index says about it (topic, key content,
where it stands, the prior courses' lessons that lead to it, papers) and the next written lesson of a path."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from tutor.course.model import Course


def readable(name: str) -> str:
    """A course.toml id for people: 'Deep_Learning' -> 'Deep Learning', 'LLM_and_NLP' -> 'LLM and NLP',
    '19_ViT' -> '19 ViT'."""
    return re.sub(r"\s+", " ", name.replace("_", " ")).strip()


@dataclass
class Outline:
    lesson_id: str
    title: str
    topic: str
    key_content: list[str]
    difficulty: int
    section: str  # "3 State-of-the-art LLM Architectures"
    prerequisites: list[str] = field(default_factory=list)  # "Deep Learning course, 19 ViT: ViT-based extensions"
    earlier: list[str] = field(default_factory=list)  # the lessons before it in its section: "08 The LLaMA Family"
    papers: list[str] = field(default_factory=list)  # "LLaMA: Touvron et al. 2023, arXiv:2302.13971"
    next_written: str | None = None  # the next written lesson of the active path (after this one, else the first)


def _matches(paper_topic: str, words: list[str]) -> bool:
    parts = [p.strip().lower() for p in paper_topic.split("/") if p.strip()]
    text = " ".join(w.lower() for w in words)
    return any(p in text for p in parts)


def lesson_outline(course: Course, lesson_id: str, path_lessons: list[str] | None = None) -> Outline:
    """The outline of ``lesson_id`` from the course index; ``path_lessons``: the active path's lessons."""
    e = course.entries[lesson_id]
    sec = course.section_of(lesson_id)
    out = Outline(lesson_id, e.title, e.topic, list(e.key_content), e.difficulty,
                  f"{sec.number} {sec.title}" if sec else "")
    if sec is not None:
        before = sec.lessons[: sec.lessons.index(lesson_id)]
        out.earlier = [f"{lid} {course.entries[lid].title}" for lid in before if lid in course.entries]
    for rel in course.data.get("relationships", []):
        for link in rel.get("links", []):
            if link.get("to") == lesson_id:
                note = f": {link['note']}" if link.get("note") else ""
                out.prerequisites.append(f"{readable(rel.get('course', ''))} course, {readable(link.get('from', ''))}{note}")
    words = [e.title, e.topic, *e.key_content]
    for p in course.data.get("papers", []):
        if _matches(p.get("topic", ""), words):
            out.papers += [f"{p['topic']}: {c}" for c in p.get("cites", [])]
    path = list(path_lessons or [])
    after = path[path.index(lesson_id) + 1:] if lesson_id in path else []
    out.next_written = next((lid for lid in after + path if lid != lesson_id and course.is_written(lid)), None)
    return out
