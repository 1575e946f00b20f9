"""Rules: imaging (being written)."""

from __future__ import annotations
