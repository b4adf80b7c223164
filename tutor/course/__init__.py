"""Course model, loader, parser and validator (no Textual here)."""
from .loader import CourseError, default_content_dir, load_course, load_course_checked
from .model import Cell, Choice, Course, Lesson, LessonEntry, LearningPath, Phase, Problem, Prose, Quiz, Section, Step
from .parser import parse_info, parse_lesson, parse_lesson_file, slugify
from .validate import validate_course

__all__ = [
    "Cell", "Choice", "Course", "CourseError", "Lesson", "LessonEntry", "LearningPath", "Phase", "Problem",
    "Prose", "Quiz", "Section", "Step", "default_content_dir", "load_course", "load_course_checked",
    "parse_info", "parse_lesson", "parse_lesson_file", "slugify", "validate_course",
]
