"""StepView: one step (H2 section) of a lesson — prose, cells and quiz blocks.

Prose is rendered with Rich's Markdown as one renderable per block (Textual's Markdown widget builds a widget
per paragraph and table cell, which costs 60-80 ms a section here); cells and quizzes get their own widgets,
created by factories the screen passes in so this widget knows nothing of kernels or the database.
"""
from __future__ import annotations

from typing import Callable

from rich.markdown import Markdown as RichMarkdown
from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static
from tutor.widgets.rendered import RenderedBlock, WideBlock

from tutor.course.model import Cell, Prose, Quiz, Step
from tutor.course.parser import Fence, split_prose

WidgetFactory = Callable[[object], Widget]


class ProseBlock(RenderedBlock):
    """A block of lesson prose (rendered once per width; see tutor.widgets.rendered)."""

    DEFAULT_CSS = """
    ProseBlock { height: auto; padding: 0 1; margin: 0 0 1 0; }
    """

    def __init__(self, markdown: str, **kw) -> None:
        super().__init__(RichMarkdown(markdown, code_theme="ansi_dark", hyperlinks=False), **kw)
        self.markdown = markdown


class FenceBlock(WideBlock):
    """A fenced block of the prose (a diagram, a plain-text table): never wrapped. Wider than the reader, it
    takes focus (tab) and scrolls sideways with right/left; its lines end in a "→" where they continue."""

    DEFAULT_CSS = """
    FenceBlock { height: auto; padding: 0 2; margin: 0 0 1 0; }
    FenceBlock:focus { background: $boost; }
    """

    BINDINGS = [
        Binding("right", "scroll_sideways(1)", "Scroll", id="fence.scroll-right"),
        Binding("left", "scroll_sideways(-1)", "Scroll back", show=False, id="fence.scroll-left"),
    ]

    def __init__(self, fence: Fence, **kw) -> None:
        lexer = (fence.info.split() or ["text"])[0]
        code = fence.code.rstrip("\n") or " "
        text = Syntax(code, lexer, theme="ansi_dark", background_color="default", word_wrap=False).highlight(code)
        text.rstrip()
        text.no_wrap = True
        super().__init__(text, **kw)
        self.markdown = fence.code  # what a search matches (as ProseBlock.markdown)
        self.can_focus = False  # until it is wider than the reader

    def on_resize(self) -> None:
        self.can_focus = self.overflows  # a tab stop only where there is something to scroll to

    def action_scroll_sideways(self, direction: int) -> None:
        self.scroll_sideways(direction)

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "scroll_sideways":
            return self.overflows
        return True


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
        on_ready: Callable[[StepView], None] | None = None,
        label: str | None = None,
        **kw,
    ) -> None:
        """``on_ready(view)`` is called once the step's first screenful is composed (mounted, not yet painted);
        the owner then calls :meth:`mount_rest` after the paint. Without it the view does that itself."""
        super().__init__(**kw)
        self.step = step
        self.number = number
        self.total = total
        self.label = label  # the title line ('Step 11/12 · Homogenization'); default 'Step number/total · title'
        self.cell_factory = cell_factory
        self.quiz_factory = quiz_factory
        self._split = 0
        self.blocks: list = []  # prose pieces (str), cells and quizzes, in order; set in compose
        self.on_ready = on_ready

    def _pieces(self) -> list:
        """The step's blocks, with long prose split into pieces of whole paragraphs/lists/tables."""
        out: list = []
        for block in self.step.blocks:
            if isinstance(block, Prose):
                out.extend(split_prose(block.markdown, fences=True))
            else:
                out.append(block)
        return out

    def _widget(self, block) -> Widget | None:
        if isinstance(block, str):
            return ProseBlock(block)
        if isinstance(block, Fence):
            return FenceBlock(block)
        if isinstance(block, Prose):
            return ProseBlock(block.markdown)
        if isinstance(block, Cell):
            return None if block.is_hidden else self.cell_factory(block)
        if isinstance(block, Quiz):
            return self.quiz_factory(block)
        return None

    def _first_screenful(self) -> int:
        """How many blocks fill the first screen (an estimate from the text, generous by half a screen)."""
        width = max(20, (self.app.size.width if self.is_attached else 80) - 4)
        budget = (self.app.size.height if self.is_attached else 24) * 1.5
        rows = 2.0
        for i, block in enumerate(self.blocks):
            if rows > budget:
                return i
            if isinstance(block, str):
                rows += 1 + sum(len(line) // width + 1 for line in block.splitlines())
            elif isinstance(block, Fence):
                rows += 1 + block.code.count("\n")
            elif isinstance(block, Cell):
                rows += 0 if block.is_hidden else block.code.count("\n") + 4
            else:
                rows += 12
        return len(self.blocks)

    def compose(self) -> ComposeResult:
        yield Static(self.label or f"Step {self.number}/{self.total} · {self.step.title}", classes="step-title")
        # Only what fills the first screen is built before the first paint; the rest is mounted right after it
        # (Textual lays out every widget of a page, visible or not, before it can paint any of it).
        self.blocks = self._pieces()
        self._split = self.first_screen_blocks = self._first_screenful()
        for block in self.blocks[: self._split]:
            w = self._widget(block)
            if w is not None:
                yield w

    def on_mount(self) -> None:  # the composed children are mounted by now
        if self.on_ready is not None:
            self.on_ready(self)  # the owner paints, then calls mount_rest()
        elif self._split < len(self.blocks):
            self.call_after_refresh(self.mount_rest)

    def mount_rest(self) -> None:
        """Mount the blocks after the first screenful (call once the first screenful has been painted)."""
        rest = [w for w in (self._widget(b) for b in self.blocks[self._split:]) if w is not None]
        self._split = len(self.blocks)
        if rest:
            self.mount_all(rest)

    def block_widget_count(self) -> int:
        """How many widgets the whole step mounts (hidden cells have none)."""
        return sum(1 for b in self.blocks if not (isinstance(b, Cell) and b.is_hidden))

    def widget_matching(self, terms) -> Widget | None:
        """The first mounted block widget whose text mentions one of ``terms`` (a search's words; roughly their
        stems, so "scaling" finds "scaled"), or None."""
        stems = [t.lower()[: max(3, len(t) - 2)] for t in terms if t]
        for w in self.children:
            if isinstance(w, (ProseBlock, FenceBlock)):
                text = w.markdown
            elif getattr(w, "cell", None) is not None:
                text = w.cell.code
            elif getattr(w, "quiz", None) is not None:
                q = w.quiz
                text = " ".join([q.question] + [c.text for c in q.choices] + [c.text for c in q.items])
            else:
                continue
            low = text.lower()
            if any(s in low for s in stems):
                return w
        return None

    @staticmethod
    def warm_up_widget() -> Widget:
        """A small step title, prose and fenced block, for warming the stylesheet (see ReaderScreen.warm_up)."""
        return Vertical(Static("warm-up", classes="step-title"), ProseBlock("*warm-up*"),
                        FenceBlock(Fence("text", "warm-up")), classes="step-view")

    def block_widths(self) -> dict[type, int]:
        """The content width of each kind of text block shown in this view (a view on screen)."""
        widths: dict[type, int] = {}
        for w in self.query(RenderedBlock):
            if w.display and w.content_size.width > 0:
                widths.setdefault(type(w), w.content_size.width)
        return widths

    def prerender(self, widths: dict[type, int]) -> int:
        """Render this (hidden) view's text blocks now, each kind at its width in ``widths`` (:meth:`block_widths`
        of the view on screen in the same place): when this one is shown, its layout finds them rendered.
        -> how many blocks were rendered."""
        done = 0
        for w in self.query(RenderedBlock):
            width = widths.get(type(w), 0)
            if width:
                w.prerender(width)
                done += 1
        return done

    @property
    def complete(self) -> bool:
        """True once every block of the step is mounted."""
        return self._split >= len(self.blocks)
