"""Rules: follow_up (being written)."""

from __future__ import annotations
