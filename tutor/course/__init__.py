"""Course model, loader, parser and validator (no Textual here)."""
from tutor.course.loader import CourseError, default_content_dir, load_course, load_course_checked
from tutor.course.model import (
    Cell,
    Choice,
    Course,
    LearningPath,
    Lesson,
    LessonEntry,
    Phase,
    Problem,
    Prose,
    Quiz,
    Section,
    Step,
)


def __getattr__(name: str):
    # the parser (markdown-it-py, PyYAML) and the validator load on first use, not at start-up
    if name in ("parse_info", "parse_lesson", "parse_lesson_file", "slugify"):
        from tutor.course import parser

        return getattr(parser, name)
    if name == "validate_course":
        from tutor.course.validate import validate_course

        return validate_course
    raise AttributeError(name)


__all__ = [
    "Cell", "Choice", "Course", "CourseError", "Lesson", "LessonEntry", "LearningPath", "Phase", "Problem",
    "Prose", "Quiz", "Section", "Step", "default_content_dir", "load_course", "load_course_checked",
    "parse_info", "parse_lesson", "parse_lesson_file", "slugify", "validate_course",
]
