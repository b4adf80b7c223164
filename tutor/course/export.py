"""A lesson as a Jupyter notebook (nbformat v4): prose and quizzes as markdown cells, code cells with their ids and
tags (check and solution cells included, tagged and source-hidden). No kernel, no Textual."""
from __future__ import annotations

import os
from pathlib import Path

from tutor.course.model import Cell, Lesson, Prose, Quiz, requires_reason


# ---------------------------------------------------------------------------- notebook export
def _quiz_markdown(q: Quiz) -> str:
    lines = [f"**Question ({q.type})** — {q.question}", ""]
    if q.type in ("single", "multi"):
        lines += [f"- [ ] {c.text}" for c in q.choices]
    elif q.type == "ordering":
        lines.append("Put in order:")
        items = sorted(q.items, key=lambda c: c.text)  # do not give the order away
        lines += [f"- {c.text}" for c in items]
    elif q.type == "numeric":
        lines.append("Answer: a number" + (f" ({q.unit})" if q.unit else ""))
    else:
        lines.append("Answer: a short text")
    if q.hint:
        lines += ["", f"*Hint:* {q.hint}"]
    return "\n".join(lines)


def lesson_to_notebook(les: Lesson, edits: dict[str, str] | None = None):
    """The lesson as an nbformat v4 notebook (prose and quizzes as markdown; cells with tags and ids).
    ``edits``: {cell id: code}, the learner's version of those cells (``export --mine``), marked in metadata."""
    edits = edits or {}
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    cells = []
    md_n = 0

    def md(text: str, extra: dict | None = None) -> None:
        nonlocal md_n
        md_n += 1
        c = new_markdown_cell(text, metadata=extra or {})
        c["id"] = f"md-{md_n}"
        cells.append(c)

    md(f"# {les.title}\n\nLesson {les.id} · difficulty {les.difficulty}/5 · about {les.minutes} min\n\n"
       + "**Objectives**\n\n" + "\n".join(f"- {o}" for o in les.objectives))
    for i, step in enumerate(les.steps):
        if i > 0 or step.id != "introduction":
            md(f"## {step.title}", {"fm_tutor": {"step": step.id}})
        for b in step.blocks:
            if isinstance(b, Prose):
                if b.markdown.strip():
                    md(b.markdown.strip())
            elif isinstance(b, Quiz):
                md(_quiz_markdown(b), {"tags": ["quiz"], "fm_tutor": {"quiz": b.id}})
            elif isinstance(b, Cell):
                meta: dict = {"tags": list(b.tags), "fm_tutor": {"id": b.id, "timeout": b.timeout}}
                if b.exercise:
                    meta["fm_tutor"]["exercise"] = b.exercise
                if b.cpu_twin:
                    meta["fm_tutor"]["cpu_twin"] = b.cpu_twin
                if b.requires:
                    meta["fm_tutor"]["requires"] = list(b.requires)
                    missing = b.missing_modules()
                    note = (f"*This cell needs the Python module(s) {', '.join(b.requires)}.*" if not missing else
                            f"*Skipped where exported: this cell {requires_reason(missing)}.*")
                    md(note, {"fm_tutor": {"requires_note": b.id}})
                if b.is_hidden:
                    meta["jupyter"] = {"source_hidden": True}
                if b.id in edits:
                    meta["fm_tutor"]["edited"] = True
                c = new_code_cell(edits.get(b.id, b.code), metadata=meta)
                c["id"] = b.id[:64]
                cells.append(c)
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "fm_tutor": {"lesson": les.id, "title": les.title},
    })
    nbformat.validate(nb)
    return nb


def export_notebook(les: Lesson, path: str | os.PathLike, edits: dict[str, str] | None = None) -> Path:
    import nbformat

    nb = lesson_to_notebook(les, edits)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(p))
    return p
