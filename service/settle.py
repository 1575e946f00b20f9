"""After start-up, before serving: keep the garbage collector off what lives as long as the process.

Start-up builds objects that live as long as the process (knowledge, value sets, the FHIR models'
validators, schemas). ``gc.freeze()`` moves them out of the collector's sight, so a full
collection never walks them again, and with gunicorn's ``preload_app`` forked workers do not
write to (and so copy) their pages when the collector runs.

A request makes many short-lived containers (decoded JSON: about 60 per resource, 300,000 for
a 5,000-resource record) and almost no reference cycles. At CPython's default young-generation
threshold of 700 allocations, decoding a 3 MB record ran about 40 collections, which took over
half of the decoding time (docs/performance.md); 10,000 keeps cycles collected promptly while
the decoded body no longer trips collection after collection.
"""

from __future__ import annotations

import gc

#: Allocations (net of frees) of tracked objects between young-generation collections (CPython: 700).
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Collect once, freeze what start-up built, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
