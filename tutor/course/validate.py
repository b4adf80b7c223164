"""The one validator: a course directory -> a list of problems (``file:line: message``)."""
from __future__ import annotations

import ast
import importlib.util
from functools import lru_cache
from pathlib import Path

from tutor.course.loader import load_course_checked
from tutor.course.model import Course, Lesson, Problem


def validate_course(root: Path | None = None) -> tuple[Course | None, list[Problem]]:
    course, problems = load_course_checked(root)
    if course is None:
        return None, problems
    lessons: dict[str, Lesson] = {}
    missing = []
    for lid in course.entries:
        if not course.is_written(lid):
            missing.append(lid)
            continue
        lesson = course.lesson(lid)
        problems.extend(lesson.problems)
        trees = _cell_trees(lesson)
        problems.extend(_tutor_imports(lesson, trees))
        problems.extend(_gpu_rebinds(lesson, trees))
        if lesson.steps or not lesson.errors:
            lessons[lid] = lesson

    # lesson files in lessons/ that course.toml does not list
    listed = {e.file for e in course.entries.values()}
    ldir = course.root / "lessons"
    if ldir.is_dir():
        for p in sorted(ldir.glob("*.md")):
            if p.name not in listed:
                problems.append(Problem(str(p), 1, "lesson file is not listed in course.toml", "warning"))

    problems.extend(_cycles(course, lessons))
    if missing:
        problems.append(
            Problem(
                str(course.root / "course.toml"),
                1,
                f"{len(missing)} of {len(course.entries)} lessons not written yet: {', '.join(missing)}",
                "warning",
            )
        )
    return course, problems


def _cycles(course: Course, lessons: dict[str, Lesson]) -> list[Problem]:
    graph = {lid: [p for p in les.prerequisites if p in course.entries] for lid, les in lessons.items()}
    out: list[Problem] = []
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                cyc = stack[stack.index(m):] + [m]
                key = frozenset(cyc)
                if key not in reported:
                    reported.add(key)
                    out.append(Problem(str(lessons[n].path), 2, "prerequisite cycle: " + " -> ".join(cyc)))
            elif m not in state:
                visit(m, stack)
        stack.pop()
        state[n] = 2

    for n in graph:
        if n not in state:
            visit(n, [])
    return out


def _cell_trees(lesson: Lesson) -> list[ast.AST | None]:
    """Each cell's syntax tree, None for a cell in IPython syntax (magics, !commands: the kernel judges it)."""
    trees: list[ast.AST | None] = []
    for cell in lesson.cells:
        try:
            trees.append(ast.parse(cell.code))
        except SyntaxError:
            trees.append(None)
    return trees


@lru_cache(maxsize=None)
def _module_source(name: str) -> tuple[Path | None, bool]:
    """The source file of a ``tutor`` module and whether it is a package, found without importing it (a lesson's
    cells may name the kernel-side runtime, whose imports are heavy); (None, False) when there is no such module."""
    import tutor

    parts = name.split(".")
    dirs = [Path(d) for d in tutor.__path__]
    src: Path | None = Path(tutor.__file__)
    for i, part in enumerate(parts[1:], 1):
        found = None
        for d in dirs:
            if (d / part / "__init__.py").is_file():
                found = (d / part / "__init__.py", [d / part])
            elif (d / f"{part}.py").is_file():
                found = (d / f"{part}.py", [])
            if found:
                break
        if found is None:  # a package mapped from elsewhere (tutor.widgets, tutor.progress, tutor.content)
            spec = importlib.util.find_spec(".".join(parts[: i + 1])) if i == 1 else None
            if spec is None or spec.origin is None:
                return None, False
            found = (Path(spec.origin), [Path(x) for x in (spec.submodule_search_locations or [])])
        src, dirs = found
    return src, bool(dirs) or (src is not None and src.name == "__init__.py")


@lru_cache(maxsize=None)
def _top_level_names(src: Path) -> frozenset[str] | None:
    """The names a module binds at its top level (None: it defines ``__getattr__``, so any name may exist)."""
    tree = ast.parse(src.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == "__getattr__":
                return None
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.If, ast.Try)):  # e.g. a fallback import
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    names.update((a.asname or a.name).split(".")[0] for a in sub.names)
                elif isinstance(sub, (ast.FunctionDef, ast.ClassDef)):
                    names.add(sub.name)
                elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
    return frozenset(names)


def _tutor_imports(lesson: Lesson, trees: list[ast.AST | None]) -> list[Problem]:
    """Every ``tutor`` module and name a cell imports must exist in this install: a cell written against an old
    layout of the project (``from tutor.server import ...``) would otherwise fail only when a learner runs it."""
    out: list[Problem] = []
    for cell, tree in zip(lesson.cells, trees):
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                wanted = [(a.name, None) for a in node.names if a.name.split(".")[0] == "tutor"]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "tutor":
                wanted = [(node.module, a.name) for a in node.names]
            else:
                continue
            for module, name in wanted:
                src, is_pkg = _module_source(module)
                line = cell.line + node.lineno
                if src is None:
                    out.append(Problem(str(lesson.path), line, f"cell {cell.id}: imports {module}, which this "
                                       "version of fm-tutor does not have"))
                    continue
                if name is None or name == "*":
                    continue
                if is_pkg and _module_source(f"{module}.{name}")[0] is not None:
                    continue
                names = _top_level_names(src)
                if names is not None and name not in names:
                    out.append(Problem(str(lesson.path), line, f"cell {cell.id}: imports {name} from {module}, "
                                       "which does not define it"))
    return out


def _bound(tree: ast.AST, imports: bool = True) -> set[str]:
    """The names a cell binds (assignments, loop targets, function and class names, arguments; imports if asked)."""
    out = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    out |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    out |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    if imports:
        out |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in n.names}
    return out


def _gpu_rebinds(lesson: Lesson, trees: list[ast.AST | None]) -> list[Problem]:
    """A GPU cell must not rebind a name that the CPU cells before it define and a later cell reads: on a GPU box the
    later cell would get the GPU cell's value (lesson 05's GPU MinHash once replaced the corpus ``docs`` with a
    tensor, and the next cells failed there only)."""
    out: list[Problem] = []
    for i, cell in enumerate(lesson.cells):
        if not cell.is_gpu or trees[i] is None:
            continue
        mine = _bound(trees[i], imports=False)
        before: set[str] = set()
        for c, t in zip(lesson.cells[:i], trees[:i]):
            if t is not None and not c.is_gpu:
                before |= _bound(t)
        for c, t in zip(lesson.cells[i + 1:], trees[i + 1:]):
            if t is None:
                continue
            reads = {n.id for n in ast.walk(t) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - _bound(t)
            clash = sorted(mine & before & reads)
            if clash:
                out.append(Problem(str(lesson.path), cell.line, f"gpu cell {cell.id} rebinds {', '.join(clash)}, which "
                                   f"cell {c.id} reads: on a GPU box it would get the GPU cell's value (rename it "
                                   "in the GPU cell)", "warning"))
    return out
