"""StepView: one step (H2 section) of a lesson — prose, cells and quiz blocks.

Prose is rendered with Rich's Markdown as one renderable per block (Textual's Markdown widget builds a widget
per paragraph and table cell, which costs 60-80 ms a section here); cells and quizzes get their own widgets,
created by factories the screen passes in so this widget knows nothing of kernels or the database.
"""
from __future__ import annotations

from typing import Callable

from rich.markdown import Markdown as RichMarkdown
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from tutor.course.model import Cell, Prose, Quiz, Step

WidgetFactory = Callable[[object], Widget]


class ProseBlock(Static):
    """A block of lesson prose."""

    DEFAULT_CSS = """
    ProseBlock { height: auto; padding: 0 1; margin: 0 0 1 0; }
    """

    def __init__(self, markdown: str, **kw) -> None:
        super().__init__(RichMarkdown(markdown, code_theme="ansi_dark", hyperlinks=False), **kw)
        self.markdown = markdown


class StepView(Vertical):
    """Shows one step. The screen supplies `cell_factory` and `quiz_factory`."""

    DEFAULT_CSS = """
    StepView { height: auto; }
    StepView > .step-title { text-style: bold; padding: 0 1; margin: 1 0; color: $accent; }
    """

    def __init__(
        self,
        step: Step,
        number: int,
        total: int,
        cell_factory: WidgetFactory,
        quiz_factory: WidgetFactory,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.step = step
        self.number = number
        self.total = total
        self.cell_factory = cell_factory
        self.quiz_factory = quiz_factory

    def compose(self) -> ComposeResult:
        yield Static(f"Step {self.number}/{self.total} · {self.step.title}", classes="step-title")
        for block in self.step.blocks:
            if isinstance(block, Prose):
                yield ProseBlock(block.markdown)
            elif isinstance(block, Cell):
                if block.is_hidden:
                    continue
                yield self.cell_factory(block)
            elif isinstance(block, Quiz):
                yield self.quiz_factory(block)
