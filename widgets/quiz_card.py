"""QuizCard: one question of any type, keyboard first (digits, space, enter), hint on request.

It grades with :func:`tutor.learning.quiz.grade` (pure) and posts :class:`QuizCard.Answered`; the screen records it.
"""
from __future__ import annotations

import time

from rich.console import Group
from rich.markdown import Markdown as RichMarkdown
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from tutor.core.glyphs import g
from tutor.course.model import Quiz
from tutor.learning.quiz import AnswerError, Grade, grade, presented_order

TYPE_LABEL = {
    "single": "single choice",
    "multi": "choose all that apply",
    "numeric": "number",
    "text": "short answer",
    "ordering": "put in order",
}


def _hanging(prefix: Text, body: Text) -> Table:
    """``prefix`` then ``body``, the body's wrapped lines indented under its first (not back at the card's edge)."""
    grid = Table.grid(expand=True)
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_row(prefix, body)
    return grid


class _AnswerInput(Input):
    """The answer box of a numeric or text question: esc leaves the box (to its card), not the lesson."""

    BINDINGS = [Binding("escape", "leave", "Leave the answer box", id="quiz.leave-input")]

    def action_leave(self) -> None:
        card = next((a for a in self.ancestors if isinstance(a, QuizCard)), None)
        if card is not None:
            card.leave_input()


class QuizCard(Vertical, can_focus=True):
    """One question."""

    DEFAULT_CSS = """
    QuizCard { height: auto; border: round $secondary; padding: 0 1; margin: 0 1 1 1; }
    QuizCard:focus-within, QuizCard:focus { border: round $accent; }
    QuizCard.correct { border: round $success; }
    QuizCard.wrong { border: round $error; }
    QuizCard > Input { margin: 0; }
    """

    BINDINGS = [
        Binding("1,2,3,4,5,6,7,8,9", "digit", "Choose", show=False, id="quiz.digit"),
        Binding("space", "toggle", "Toggle", show=False, id="quiz.toggle"),
        Binding("up", "move(-1)", "Up", show=False, id="quiz.up"),
        Binding("down", "move(1)", "Down", show=False, id="quiz.down"),
        Binding("enter", "submit", "Submit", id="quiz.submit"),
        Binding("backspace", "undo", "Undo", show=False, id="quiz.undo"),
        Binding("h", "hint", "Hint", id="quiz.hint"),
        Binding("x", "retry", "Retry", id="quiz.retry"),
    ]

    class Answered(Message):
        def __init__(self, card: "QuizCard", quiz: Quiz, grade: Grade, seconds: float) -> None:
            super().__init__()
            self.card = card
            self.quiz = quiz
            self.grade = grade
            self.seconds = seconds

    def __init__(self, quiz: Quiz, previous: bool | None = None, **kw) -> None:
        super().__init__(id=kw.pop("id", f"quiz-{quiz.id}"), **kw)
        self.quiz = quiz
        self.previous = previous  # result of an earlier attempt (from the store), shown as a mark
        self.cursor = 0
        self.selected: set[int] = set()
        self.order: list[int] = []
        self.result: Grade | None = None
        self.show_hint = False
        self.error: str | None = None
        self.started = time.monotonic()
        self._input_left = False  # esc left the answer box: focusing the card does not jump back into it
        self.presented = presented_order(quiz) if quiz.type == "ordering" else []
        kind = TYPE_LABEL[quiz.type]
        mark = ""
        if previous is not None:
            mark = f" · last time {g('check') if previous else g('cross')}"
        self.border_title = f"{'Quiz' if quiz.final else 'Check yourself'} · {kind}{mark}"

    def compose(self) -> ComposeResult:
        yield Static(id="q-body")
        if self.quiz.type in ("numeric", "text"):
            yield _AnswerInput(placeholder="your answer" + (f" ({self.quiz.unit})" if self.quiz.unit else ""), id="q-input")
        yield Static(id="q-verdict")

    def on_mount(self) -> None:
        self._redraw()

    # ------------------------------------------------------------------ rendering
    def _redraw(self) -> None:
        if not self.query("#q-body"):
            return  # not composed yet: on_mount draws
        q = self.quiz
        parts: list = [RichMarkdown(q.question, hyperlinks=False)]
        answered = self.result is not None
        if q.type in ("single", "multi"):
            for i, c in enumerate(q.choices):
                on = i in self.selected
                box = ("(•)" if on else "( )") if q.type == "single" else ("[x]" if on else "[ ]")
                cur = ">" if (i == self.cursor and not answered and self.has_focus) else " "
                style = "bold" if on else ""
                if answered:
                    style = "green" if c.correct else ("red" if on else "dim")
                text = Text(c.text, style=style)
                if answered:
                    text.append(f"  {g('check') if c.correct else g('cross')} ", style="green" if c.correct else "red")
                    text.append(c.explain, style="italic")
                parts.append(_hanging(Text(f"{cur}{i + 1} {box} ", style=style), text))
        elif q.type == "ordering":
            if not answered:
                for n, i in enumerate(self.presented, 1):
                    used = i in self.order
                    parts.append(_hanging(Text(f" {n}. ", style="dim" if used else ""),
                                          Text(q.items[i].text, style="dim" if used else "")))
                parts.append(_hanging(Text("Your order: ", style="bold"),
                                      Text(f" {g('arrow')} ".join(q.items[i].text for i in self.order)
                                           or "(press the numbers in order)")))
            else:
                parts.append(Text("Correct order:", style="bold"))
                for pos, it in enumerate(q.items):
                    ok = pos < len(self.order) and self.order[pos] == pos
                    text = Text(it.text, style="green" if ok else "yellow")
                    text.append(f"  {it.explain}", style="italic")
                    parts.append(_hanging(Text(f" {pos + 1}. ", style="green" if ok else "yellow"), text))
        if self.show_hint and q.hint:
            parts.append(_hanging(Text("Hint: ", style="cyan"), Text(q.hint, style="cyan")))
        if self.error:
            parts.append(Text(self.error, style="bold red"))
        self.query_one("#q-body", Static).update(Group(*parts))
        # the verdict (or the keys) under the answer box: a widget of its own, so it can be scrolled into view
        if answered:
            r = self.result
            mark = f"{g('check') if r.correct else g('cross')} "
            style = "bold green" if r.correct else "bold red"
            verdict: list = [_hanging(Text(mark, style=style), Text(r.summary, style=style))]
            if q.explain:
                verdict.append(Text(q.explain, style="italic"))
            verdict.append(Text("x: try again", style="dim"))
        else:
            keys = {
                "single": "1-9 or ↑↓ space: choose · enter: submit",
                "multi": "1-9 or ↑↓ space: toggle · enter: submit",
                "numeric": "type a number · enter: submit",
                "text": "type · enter: submit",
                "ordering": "press numbers in order · backspace: undo · enter: submit",
            }[q.type]
            verdict = [Text(keys + (" · h: hint" if q.hint else ""), style="dim")]
        self.query_one("#q-verdict", Static).update(Group(*verdict))
        self.set_class(answered and self.result.correct, "correct")
        self.set_class(answered and not self.result.correct, "wrong")

    def leave_input(self) -> None:
        """esc in the answer box: focus the card itself (a second esc then goes back, as everywhere)."""
        self._input_left = True
        self.focus(scroll_visible=False)

    def on_focus(self) -> None:
        left, self._input_left = self._input_left, False
        if self.quiz.type in ("numeric", "text") and self.result is None and not left:
            inputs = self.query("#q-input")
            if inputs:
                inputs.first(Input).focus()  # typing goes straight into the answer box
            else:  # focused while still composing (a key pressed as the step appears)
                self.call_after_refresh(self._focus_input)
        self._redraw()

    def _focus_input(self) -> None:
        inputs = self.query("#q-input")
        if inputs and self.result is None:
            inputs.first(Input).focus()

    def on_blur(self) -> None:
        self._redraw()

    # ------------------------------------------------------------------ actions
    def action_digit(self) -> None:  # replaced per key in _on_key (the binding only documents it)
        pass

    def on_key(self, event) -> None:
        if self.result is not None or not event.character or not event.character.isdigit():
            return
        if self.quiz.type in ("numeric", "text"):
            return
        n = int(event.character)
        if n == 0:
            return
        event.stop()
        event.prevent_default()
        i = n - 1
        if self.quiz.type in ("single", "multi") and i < len(self.quiz.choices):
            self.cursor = i
            self._toggle(i)
        elif self.quiz.type == "ordering" and i < len(self.presented):
            item = self.presented[i]
            if item not in self.order:
                self.order.append(item)
        self.error = None
        self._redraw()

    def _toggle(self, i: int) -> None:
        if self.quiz.type == "single":
            self.selected = {i}
        elif i in self.selected:
            self.selected.discard(i)
        else:
            self.selected.add(i)

    def action_toggle(self) -> None:
        if self.result is None and self.quiz.type in ("single", "multi"):
            self._toggle(self.cursor)
            self._redraw()

    def action_move(self, delta: int) -> None:
        if self.quiz.type in ("single", "multi") and self.result is None:
            self.cursor = max(0, min(len(self.quiz.choices) - 1, self.cursor + delta))
            self._redraw()
        else:
            self.screen.focus_next() if delta > 0 else self.screen.focus_previous()

    def action_undo(self) -> None:
        if self.quiz.type == "ordering" and self.order and self.result is None:
            self.order.pop()
            self._redraw()

    def action_hint(self) -> None:
        if self.quiz.hint:
            self.show_hint = True
            self._redraw()
        else:
            self.notify("No hint for this question.")

    def check_action(self, action: str, parameters) -> bool | None:
        """The footer offers what the card can do now: submit until it is answered, retry once it is."""
        if action == "submit":
            return self.result is None
        if action == "retry":
            return self.result is not None
        return True

    def action_retry(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.result = None
        self.selected = set()
        self.order = []
        self.error = None
        self.started = time.monotonic()
        if self.quiz.type in ("numeric", "text"):
            inp = self.query_one("#q-input", Input)
            inp.value = ""
            inp.disabled = False
        self._redraw()
        self.refresh_bindings()

    def action_submit(self) -> None:
        if self.result is not None:
            return
        q = self.quiz
        if q.type == "single":
            answer = next(iter(self.selected), None)
        elif q.type == "multi":
            answer = sorted(self.selected)
        elif q.type == "ordering":
            answer = list(self.order)
        else:
            answer = self.query_one("#q-input", Input).value
        self.submit(answer)

    def submit(self, answer) -> Grade | None:
        try:
            result = grade(self.quiz, answer)
        except AnswerError as e:
            self.error = str(e)
            self._redraw()
            return None
        self.result = result
        self.error = None
        if self.quiz.type == "single":
            self.selected = {answer}
        if self.quiz.type in ("numeric", "text"):
            self.query_one("#q-input", Input).disabled = True
        self._redraw()
        self.refresh_bindings()
        self.post_message(self.Answered(self, self.quiz, result, time.monotonic() - self.started))
        if self.quiz.type in ("numeric", "text"):
            self.focus(scroll_visible=False)
        self.call_after_refresh(self._show_verdict)

        return result

    def _show_verdict(self) -> None:
        """Scroll the verdict (the card's last lines) into view: below the fold after enter on a long card."""
        if self.is_attached:
            self.query_one("#q-verdict", Static).scroll_visible(animate=False)

    @on(Input.Submitted, "#q-input")
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit(event.value)
