"""Rules: red_flags (being written)."""

from __future__ import annotations
