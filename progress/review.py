"""Spaced repetition of quiz questions with FSRS (py-fsrs 6.x).

A card is keyed ``"<lesson_id>:<question_id>"``. A wrong answer is rated
Again, a right one Good, unless an explicit rating (again/hard/good/easy) is
given. Only UTC datetimes are used; naive datetimes are taken to be UTC.
The store keeps the card (``Card.to_dict()``) and one log row per review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from fsrs import Card, Rating, ReviewLog, Scheduler

RATINGS: dict[str, Rating] = {
    "again": Rating.Again,
    "hard": Rating.Hard,
    "good": Rating.Good,
    "easy": Rating.Easy,
}


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
        if name not in RATINGS:
            raise ValueError(f"rating {rating!r} is not one of {sorted(RATINGS)}")
        return name, RATINGS[name]
    return ("good", Rating.Good) if correct else ("again", Rating.Again)


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
        self.scheduler = Scheduler(enable_fuzzing=fuzz)

    def review(
        self,
        card_dict: dict | None,
        correct: bool,
        rating: str | None = None,
        now: datetime | None = None,
    ) -> ReviewOutcome:
        """Review the card (a new one when ``card_dict`` is None) at ``now``."""
        when = utc(now)
        name, fsrs_rating = choose_rating(correct, rating)
        if card_dict is None:
            card = Card(card_id=int(when.timestamp() * 1000), due=when)
        else:
            card = Card.from_dict(card_dict)
        card, log = self.scheduler.review_card(card, fsrs_rating, review_datetime=when)
        return ReviewOutcome(card=card.to_dict(), due=iso(card.due), log=log.to_dict(), rating=name, at=iso(when))


__all__ = ["RATINGS", "ReviewLog", "ReviewOutcome", "Reviewer", "choose_rating", "iso", "split_key", "utc"]
