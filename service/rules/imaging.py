"""Lumbar imaging orders (MRI, CT, X-ray) against DSAM 2026 "Hvornår er billeddiagnostik indiceret?".

For each selected imaging order exactly one rule speaks, the most specific one:

1. a red flag documented → ``IMG-INDICATED-RED-FLAG`` (critical when acute referral is due);
2. an X-ray → ``IMG-XRAY-NO-INDICATION`` unless fracture, listhesis or spondylolysis is suspected;
3. nerve-root pain → ``IMG-NERVE-ROOT-EARLY`` / ``-INDICATED`` (6–8 weeks, L398);
4. spinal stenosis with walking-related leg pain → ``IMG-STENOSIS-EARLY`` / ``-INDICATED`` (8–12 weeks, L399);
5. otherwise → ``IMG-NOT-INDICATED`` (L387).

Each order is judged on the record *as that order sees it*: its ``reasonCode`` and
``reasonReference`` count as current findings (an MRI "for cauda equina" is judged as cauda
equina whatever the problem list says). Orders for patients with no open back-pain episode
(problem list or the order's reason) and no red flag are left alone: the guideline is about
patients with low back pain.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..concepts import EPISODE_CONCEPTS, IMAGING_CONCEPTS, Concept
from ..record import DraftOrder, PatientRecord
from .base import Finding, Params, rule
from .common import (
    back_pain_duration,
    conservative_treatment,
    duration_facts,
    episode_duration,
    improvement,
    nerve_root_involvement,
)
from .red_flags import acute_flags, imaging_red_flags, red_flag_screen, suspected_flags

#: Findings that make a plain X-ray relevant (DSAM L402-L403), or suggest it is (osteoporosis).
XRAY_INDICATIONS = (Concept.FRACTURE, Concept.SPONDYLOLISTHESIS, Concept.SPONDYLOLYSIS, Concept.OSTEOPOROSIS)
#: Order of modality words on cards.
MODALITIES = (Concept.LUMBAR_MRI, Concept.LUMBAR_CT, Concept.LUMBAR_XRAY)


def _modality(order: DraftOrder) -> str:
    return next(c for c in MODALITIES if c in order.concepts)


def _orders(record: PatientRecord, params: Params) -> list[tuple[DraftOrder, PatientRecord]]:
    """Selected imaging orders, each with the record as it sees it (its reasons added).

    Only for a patient with an open back-pain episode — or a red flag, which is reason
    enough to speak about a scan.
    """
    out = []
    for order in record.orders_of(IMAGING_CONCEPTS):
        if not order.selected:
            continue
        view = record.for_order(order, EPISODE_CONCEPTS)
        if view.episodes_of(EPISODE_CONCEPTS) or imaging_red_flags(view, params):
            out.append((order, view))
    return out


def _stenosis(record: PatientRecord) -> bool:
    return bool(record.episodes_of([Concept.SPINAL_STENOSIS])) or record.has(Concept.WALKING_LEG_PAIN)


def _category(record: PatientRecord, order: DraftOrder, params: Params) -> str:
    """Which rule speaks for this order (see the module docstring)."""
    if imaging_red_flags(record, params):
        return "red-flag"
    if _modality(order) == Concept.LUMBAR_XRAY:
        return "xray-ok" if any(record.has(c) for c in XRAY_INDICATIONS) else "xray"
    if nerve_root_involvement(record):
        return "nerve-root"
    if _stenosis(record):
        return "stenosis"
    return "not-indicated"


@rule("IMG-INDICATED-RED-FLAG")
def indicated_red_flag(record: PatientRecord, params: Params) -> Iterator[Finding]:
    for order, view in _orders(record, params):
        if _category(view, order, params) != "red-flag":
            continue
        acute = acute_flags(view, params) or suspected_flags(view)
        flags = tuple(imaging_red_flags(view, params))
        yield Finding(
            "IMG-INDICATED-RED-FLAG",
            facts={"imaging": _modality(order), "flags": flags},
            screen=red_flag_screen(view, params),
            order_ref=order.ref,
            indicator="critical" if acute else None,
            variant="acute" if acute else None,
        )


@rule("IMG-XRAY-NO-INDICATION")
def xray_without_indication(record: PatientRecord, params: Params) -> Iterator[Finding]:
    for order, view in _orders(record, params):
        if _category(view, order, params) != "xray":
            continue
        duration = back_pain_duration(view)
        facts, notes = duration_facts(duration), duration.notes()
        yield Finding(
            "IMG-XRAY-NO-INDICATION",
            facts={**facts, "checked": XRAY_INDICATIONS},
            screen=red_flag_screen(view, params),
            order_ref=order.ref,
            suggestions=("remove-order",),
            notes=notes,
            variant=None if facts else "onset_unknown",
        )


def _conservative_window(record: PatientRecord, params: Params, concepts: frozenset[str], rule_early: str,
                         rule_indicated: str, category: str, want: str) -> Iterator[Finding]:
    """Shared logic of the nerve-root and stenosis windows: early, or indicated after treatment.

    The windows are shared parameters (``nerve_root_min_weeks`` …) so that the early and the
    indicated card can never disagree about where the window opens.
    """
    prefix = "nerve_root" if category == "nerve-root" else "stenosis"
    min_weeks, max_weeks = int(params[f"{prefix}_min_weeks"]), int(params[f"{prefix}_max_weeks"])
    for order, view in _orders(record, params):
        if _category(view, order, params) != category:
            continue
        yield from _window_finding(view, order, params, concepts, (rule_early, rule_indicated), want,
                                   (min_weeks, max_weeks))


def _window_finding(record: PatientRecord, order: DraftOrder, params: Params, concepts: frozenset[str],
                    rules: tuple[str, str], want: str, window: tuple[int, int]) -> Iterator[Finding]:
    """The early or indicated card for one order; "indicated" only when the whole duration range is past the window."""
    rule_early, rule_indicated = rules
    min_weeks, max_weeks = window
    duration = episode_duration(record)
    facts, notes, weeks = duration_facts(duration), duration.notes(), duration.whole_weeks
    improved = improvement(record, since=duration.onset, min_fall=float(params["min_pain_fall"]))
    treatment = conservative_treatment(record, since=duration.onset)
    base = {**facts, "min_weeks": min_weeks, "max_weeks": max_weeks, "imaging": _modality(order)}
    if treatment:
        base["treatment"] = tuple(dict.fromkeys(c for e in treatment for c in sorted(e.concepts)))
    indicated = isinstance(weeks, int) and weeks >= min_weeks and improved.unsatisfactory is True
    if indicated:
        if want == "indicated":
            variant = "pain_scores" if improved.basis == "pain-scores" else None
            if improved.first and improved.latest:
                base |= {"first_score": improved.first.value, "latest_score": improved.latest.value}
            yield Finding(rule_indicated, facts=base, screen=red_flag_screen(record, params), order_ref=order.ref,
                          notes=notes, variant=variant)
        return
    if want != "early":
        return
    longest = duration.weeks_max
    if weeks is None:
        variant = "onset_unknown"
    elif longest is not None and longest < min_weeks:
        variant = None  # "too early" only when the whole duration range is
    elif weeks < min_weeks:
        variant = "onset_uncertain"  # a month-only onset, or documentation resumed after a gap
    else:
        variant = "improvement_not_documented" if improved.unsatisfactory is None else "improving"
    suggestions: tuple[str, ...] = ("remove-order", "replace-with-exercise" if not treatment else "plan-follow-up")
    indicator = None
    if variant in ("improvement_not_documented", "onset_unknown", "onset_uncertain"):
        # The scan is indicated once improvement fails to come after the window (DSAM L398-L399). When the record
        # does not say whether the window has passed or whether improvement came, the card informs and asks; it
        # does not discourage or offer a removal: missing data is not a reason against the scan.
        suggestions, indicator = (), "info"
    yield Finding(rule_early, facts=base, screen=red_flag_screen(record, params), order_ref=order.ref, notes=notes,
                  variant=variant, suggestions=suggestions, indicator=indicator)


def _register_window(category: str, concept: str, early: str, indicated: str) -> None:
    """Register the early/indicated pair of rules for one conservative-treatment window."""
    concepts = frozenset({concept})
    for rule_id, want in ((early, "early"), (indicated, "indicated")):

        def check(record: PatientRecord, params: Params, want: str = want) -> Iterator[Finding]:
            yield from _conservative_window(record, params, concepts, early, indicated, category, want)

        check.__name__ = rule_id.lower().replace("-", "_")
        rule(rule_id)(check)


_register_window("nerve-root", Concept.NERVE_ROOT, "IMG-NERVE-ROOT-EARLY", "IMG-NERVE-ROOT-INDICATED")
_register_window("stenosis", Concept.SPINAL_STENOSIS, "IMG-STENOSIS-EARLY", "IMG-STENOSIS-INDICATED")


@rule("IMG-NOT-INDICATED")
def not_indicated(record: PatientRecord, params: Params) -> Iterator[Finding]:
    exercise_weeks = int(params["exercise_weeks"])
    for order, view in _orders(record, params):
        if _category(view, order, params) != "not-indicated":
            continue
        duration = back_pain_duration(view)
        facts, notes, weeks = duration_facts(duration), duration.notes(), duration.whole_weeks
        if weeks is None:
            variant, offer = "onset_unknown", ("remove-order", "plan-follow-up")
        elif weeks >= exercise_weeks:
            variant, offer = "subacute", ("remove-order", "replace-with-exercise")
        else:
            variant, offer = None, ("remove-order", "plan-follow-up")
        yield Finding(
            "IMG-NOT-INDICATED",
            facts={**facts, "imaging": _modality(order), "exercise_weeks": exercise_weeks},
            screen=red_flag_screen(view, params),
            order_ref=order.ref,
            suggestions=offer,
            notes=notes,
            variant=variant,
        )
