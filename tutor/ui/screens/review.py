"""Spaced review: the questions due today across all lessons, one card at a time (fsrs schedules them)."""
from __future__ import annotations

from datetime import datetime, timezone

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tutor.course.model import Quiz
from tutor.widgets.key_bar import KeyBar
from tutor.widgets.quiz_card import QuizCard


def when_next(due: str | None, now: datetime | None = None) -> str:
    """'The next card is due in 3 h (Tue 2 Dec 14:05).' in local time, or that there is none yet."""
    if not due:
        return "No card is scheduled yet."
    at = datetime.fromisoformat(due)
    now = now or datetime.now(timezone.utc)
    secs = max(0.0, (at - now).total_seconds())
    span = (f"{secs / 60:.0f} min" if secs < 3600 else f"{secs / 3600:.0f} h" if secs < 48 * 3600
            else f"{secs / 86400:.0f} days")
    return f"The next card is due in {span} ({at.astimezone().strftime('%a %d %b %H:%M')})."


class ReviewScreen(Screen):
    """Mixes every due question; a wrong answer comes back soon, a right one later."""

    BINDINGS = [
        Binding("n", "next_card", "Next card", id="review.next"),
        Binding("a", "rate('again')", "Again", id="review.again"),
        Binding("e", "rate('easy')", "Easy", id="review.easy"),
        Binding("d", "rate('hard')", "Hard", id="review.hard"),
        Binding("escape", "app.go_home", "Home", id="review.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[tuple[str, str, Quiz]] = []
        self.done = 0
        self.current: tuple[str, str, Quiz] | None = None
        self.answered_correct: bool | None = None
        self._shown = 0

    def compose(self) -> ComposeResult:
        yield Static(id="topbar", classes="topbar")
        yield VerticalScroll(id="review-body")
        yield KeyBar()

    def on_mount(self) -> None:
        self.load_queue()
        self.show_next()

    def load_queue(self) -> None:
        course = self.app.course
        store = self.app.store
        existing: set[str] = set()
        by_key: dict[str, tuple[str, Quiz]] = {}
        for lid in course.written_ids():
            les = course.lesson(lid)
            if les is None:
                continue
            for q in les.quizzes:
                key = f"{lid}:{q.id}"
                existing.add(key)
                by_key[key] = (lid, q)
        store.retire_missing(existing)
        self.queue = [(c["key"], by_key[c["key"]][0], by_key[c["key"]][1]) for c in store.due_cards() if c["key"] in by_key]

    def _top(self) -> None:
        t = Text()
        t.append(" Review ", style="bold reverse")
        t.append(f"  {len(self.queue)} due  ·  {self.done} reviewed this session")
        self.query_one("#topbar", Static).update(t)

    def show_next(self) -> None:
        body = self.query_one("#review-body", VerticalScroll)
        body.remove_children()
        self._shown += 1
        self.answered_correct = None
        self._top()
        if not self.queue:
            self.current = None
            nxt = self.app.store.due_count()
            text = (f"{nxt} due" if nxt else
                    "Nothing is due for review. " + when_next(self.app.store.next_due()) + " Questions you answer in "
                    "lessons come back here on a schedule: soon after a mistake, later and later as you keep getting "
                    "them right.")
            body.mount(Static(text,
                id=f"review-empty-{self._shown}", classes="review-empty",
            ))
            return
        self.current = self.queue.pop(0)
        key, lid, quiz = self.current
        entry = self.app.course.entries[lid]
        body.mount(Static(Text(f"From lesson {lid}, {entry.title}", style="dim"), classes="review-source"))
        card = QuizCard(quiz, id=f"review-card-{self._shown}")
        body.mount(card)
        body.mount(Static(Text("After answering: n next card · e it was easy · d it was hard · a forgot it", style="dim")))
        self.call_after_refresh(card.focus)

    def on_quiz_card_answered(self, event: QuizCard.Answered) -> None:
        if self.current is None:
            return
        key, lid, quiz = self.current
        self.answered_correct = event.grade.correct
        self.app.session.record_review_answer(lid, quiz.id, event.grade.answer, event.grade.correct, event.seconds)
        self.done += 1
        self._top()

    def _commit(self, rating: str | None = None) -> None:
        """Schedule the card just answered: wrong -> Again, right -> Good unless rated easy/hard/again."""
        if self.current is None or self.answered_correct is None:
            return
        key, lid, _ = self.current
        self.app.session.schedule_review(key, lid, self.answered_correct, rating=rating)
        self.answered_correct = None

    def action_rate(self, rating: str) -> None:
        if self.current is None or self.answered_correct is None:
            self.notify("Answer the question first.")
            return
        if not self.answered_correct and rating != "again":
            self.notify("A wrong answer is rated Again.")
            rating = "again"
        self._commit(rating)
        self.show_next()

    def action_next_card(self) -> None:
        self._commit()
        self.show_next()

    def on_unmount(self) -> None:
        self._commit()
