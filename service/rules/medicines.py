"""Rules: medicines (being written)."""

from __future__ import annotations
