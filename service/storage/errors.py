"""What storage tells its callers: the database is down, or the feedback breaks an integrity rule."""

from __future__ import annotations


class StorageError(Exception):
    """The database could not be reached or written."""


class UnknownCard(Exception):
    """Feedback names a card (or suggestion) this service did not issue to this client."""

    def __init__(self, card: str) -> None:
        super().__init__(card)
        self.card = card


class ContradictoryFeedback(Exception):
    """Feedback gives a card an outcome other than the one already recorded for it."""

    def __init__(self, card: str) -> None:
        super().__init__(card)
        self.card = card
