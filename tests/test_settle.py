"""After start-up the collector leaves start-up's objects alone and collects young objects less often."""

from __future__ import annotations

import gc

from service.settle import YOUNG_THRESHOLD, settle


def test_settle_freezes_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        settle()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_wsgi_entry_point_settles() -> None:
    from pathlib import Path

    source = (Path(__file__).resolve().parent.parent / "service" / "wsgi.py").read_text(encoding="utf-8")
    assert "settle()" in source
