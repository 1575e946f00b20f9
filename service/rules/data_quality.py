"""Orders no rule could check: said on a card, because a silent miss looks like "no advice needed".

The official CDS Hooks sandbox's medication screens sent draft orders the parser refused; the
GP saw "No recommendations" while the reason sat in an extension only developers see. This rule
turns an unreadable draft order into a visible info card naming what could not be read.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..record import PatientRecord
from .base import Finding, Params, rule


@rule("ORDER-UNREADABLE")
def order_unreadable(record: PatientRecord, params: Params) -> Iterator[Finding]:
    """One card per selected draft order that could not be read even leniently."""
    for order in record.unreadable_orders:
        if order.selected:
            yield Finding("ORDER-UNREADABLE", facts={"order": order.ref, "reason": order.reason},
                          order_ref=order.ref)
