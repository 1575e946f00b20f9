"""What the app builds once at start-up and every request reads: knowledge, codes, storage."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from .intake import BodyAllowance
from .knowledge import KnowledgeBase
from .memory import MemorySettings
from .storage import Storage
from .terminology import Terminology
from .validate import Validators

EXTENSION_KEY = "lbp_cds"


@dataclass(frozen=True)
class Runtime:
    knowledge: KnowledgeBase
    terminology: Terminology
    validators: Validators
    storage: Storage
    #: ``None`` when the card memory is off (CARD_MEMORY = off).
    memory: MemorySettings | None = None
    #: Request-body bytes this process holds at once (LBP_CDS_REQUEST_BYTES_IN_FLIGHT).
    intake: BodyAllowance = field(default_factory=lambda: BodyAllowance(16_000_000))


def runtime() -> Runtime:
    """The current app's runtime state (built by :func:`service.create_app`)."""
    state: Runtime = current_app.extensions[EXTENSION_KEY]
    return state
