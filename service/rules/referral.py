"""Rules: referral (being written)."""

from __future__ import annotations
