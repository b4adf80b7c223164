"""Spaced repetition of quiz questions with FSRS (py-fsrs 6.x).

A card is keyed ``"<lesson_id>:<question_id>"``. A wrong answer is rated
Again, a right one Good, unless an explicit rating (again/hard/good/easy) is
given. Only UTC datetimes are used; naive datetimes are taken to be UTC.
The store keeps the card (``Card.to_dict()``) and one log row per review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fsrs import Rating, Scheduler

# fsrs (and what it imports) is loaded on the first review, not when the store opens: the home screen's first
# paint does not wait for it.
RATING_NAMES = ("again", "hard", "good", "easy")


def _ratings() -> dict[str, Rating]:
    from fsrs import Rating

    return {"again": Rating.Again, "hard": Rating.Hard, "good": Rating.Good, "easy": Rating.Easy}


def __getattr__(name: str) -> Any:
    """``RATINGS`` and ``ReviewLog`` as before, imported from fsrs when first asked for."""
    if name == "RATINGS":
        return _ratings()
    if name == "ReviewLog":
        from fsrs import ReviewLog

        return ReviewLog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def utc(dt: datetime | None = None) -> datetime:
    """``dt`` (or now) as an aware UTC datetime."""
    if dt is None:
        return datetime.now(timezone.utc)
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def iso(dt: datetime | None = None) -> str:
    """Fixed-width ISO-8601 UTC text, which sorts like the time it names."""
    return utc(dt).isoformat(timespec="microseconds")


def split_key(card_key: str) -> tuple[str, str]:
    """``"01:fm-def-1"`` -> ``("01", "fm-def-1")``."""
    lesson_id, sep, question_id = card_key.partition(":")
    if not sep or not lesson_id or not question_id:
        raise ValueError(f"card key {card_key!r} is not '<lesson_id>:<question_id>'")
    return lesson_id, question_id


def choose_rating(correct: bool, rating: str | None = None) -> tuple[str, Rating]:
    if rating is not None:
        name = rating.strip().lower()
        if name not in RATING_NAMES:
            raise ValueError(f"rating {rating!r} is not one of {sorted(RATING_NAMES)}")
    else:
        name = "good" if correct else "again"
    return name, _ratings()[name]


def check_rating(rating: str | None) -> None:
    """Raise ValueError for a rating that is not again/hard/good/easy (None is fine), without importing fsrs."""
    if rating is not None and rating.strip().lower() not in RATING_NAMES:
        raise ValueError(f"rating {rating!r} is not one of {sorted(RATING_NAMES)}")


@dataclass
class ReviewOutcome:
    card: dict  # Card.to_dict()
    due: str  # iso(card.due)
    log: dict  # ReviewLog.to_dict()
    rating: str  # again|hard|good|easy
    at: str  # iso(review time)


class Reviewer:
    """A thin, stateless wrapper round ``fsrs.Scheduler``."""

    def __init__(self, fuzz: bool = True) -> None:
        self._fuzz = fuzz
        self._scheduler: Scheduler | None = None

    @property
    def scheduler(self) -> Scheduler:
        """Built on first use (the writer thread's first review), so opening the store does not import fsrs."""
        if self._scheduler is None:
            from fsrs import Scheduler

            self._scheduler = Scheduler(enable_fuzzing=self._fuzz)
        return self._scheduler

    def review(
        self,
        card_dict: dict | None,
        correct: bool,
        rating: str | None = None,
        now: datetime | None = None,
    ) -> ReviewOutcome:
        """Review the card (a new one when ``card_dict`` is None) at ``now``."""
        from fsrs import Card

        when = utc(now)
        name, fsrs_rating = choose_rating(correct, rating)
        if card_dict is None:
            card = Card(card_id=int(when.timestamp() * 1000), due=when)
        else:
            card = Card.from_dict(card_dict)
        card, log = self.scheduler.review_card(card, fsrs_rating, review_datetime=when)
        return ReviewOutcome(card=card.to_dict(), due=iso(card.due), log=log.to_dict(), rating=name, at=iso(when))


__all__ = ["RATINGS", "RATING_NAMES", "ReviewLog", "ReviewOutcome", "Reviewer", "check_rating", "choose_rating", "iso",
           "split_key", "utc"]
