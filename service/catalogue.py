"""The rule catalogue as markdown (``docs/rules.md``), generated from ``cards/`` so it cannot drift."""

from __future__ import annotations

from typing import Any

from .knowledge import KnowledgeBase


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def catalogue_markdown(kb: KnowledgeBase) -> str:
    """One table row per rule and a section per rule with its citation and parameters."""
    rules = sorted(kb.rules.values(), key=lambda r: r.id)
    lines = [
        "# Rule catalogue",
        "",
        "Generated from `cards/` by `python -m service catalogue > docs/rules.md`; do not edit by hand.",
        "Rule ids are stable: a card's `source.topic.code` is its rule id. Thresholds shared by several rules",
        "(`cards/_meta/params.json`) are overridden with the key `*` in `LBP_CDS_RULE_PARAMS`.",
        "",
        "| Rule | Version | Indicator | Hooks | Source | Lines |",
        "|---|---|---|---|---|---|",
    ]
    for r in rules:
        src = kb.sources[r.source["guideline"]]
        lines.append(
            f"| [{r.id}](#{r.id.lower()}) | {r.version} | {r.indicator} | {', '.join(r.hooks)} | "
            f"{_cell(src['label']['en'])} | {_cell(r.source['lines'])} |"
        )
    for r in rules:
        src = kb.sources[r.source["guideline"]]
        texts = r.data["texts"]
        lines += ["", f"## {r.id}", "", f"- **Title:** {r.data['title']['da']} / {r.data['title']['en']}",
                  f"- **Summary (da):** {_cell(texts['da']['summary'])}",
                  f"- **Summary (en):** {_cell(texts['en']['summary'])}",
                  f"- **Source:** {src['label']['en']}, {r.source['section']}, lines {r.source['lines']} "
                  f"of `{src['seed']}`" + ("" if src["in_force"] else " (no longer in force)")]
        if "strength" in r.source:
            lines.append(f"- **Strength:** {r.source['strength']['en']}")
        for extra in r.data.get("also_sources", ()):
            other = kb.sources[extra["guideline"]]
            lines.append(f"- **Also:** {other['label']['en']}, {extra['section']}, lines {extra['lines']}")
        own = r.data.get("params") or {}
        if own:
            params = ", ".join(f"`{k}` = {v}" for k, v in own.items())
            lines.append(f"- **Parameters** (`LBP_CDS_RULE_PARAMS`): {params}")
        if "inferred" in r.data:
            lines.append(f"- **Added by lbp-cds (not in the guideline text):** {_cell(r.data['inferred'])}")
    return "\n".join(lines) + "\n"


SYSTEM_NAMES = {
    "http://snomed.info/sct": "SNOMED CT",
    "http://hl7.org/fhir/sid/icd-10": "ICD-10",
    "urn:oid:1.2.208.176.2.4.12": "SKS-D",
    "http://hl7.org/fhir/sid/icpc-2": "ICPC-2",
    "http://www.whocc.no/atc": "ATC",
    "http://loinc.org": "LOINC",
    "http://www.ama-assn.org/go/cpt": "CPT",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "https://lbp-cds.org/fhir/CodeSystem/lbp-concepts": "lbp-concepts",
    "http://terminology.hl7.org/CodeSystem/v2-0136": "HL7 v2-0136",
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation": "HL7 interpretation",
}


def concept_table(valuesets: list[dict[str, Any]]) -> str:
    """The data contract's §5: one row per concept with its codes, from the ValueSets as shipped."""
    lines = ["| Concept | Codes |", "|---|---|"]
    for vs in sorted(valuesets, key=lambda v: str(v["id"])):
        codes = []
        for include in vs["compose"]["include"]:
            name = SYSTEM_NAMES.get(include["system"], include["system"])
            codes += [f"{name} `{c['code']}`" for c in include.get("concept", ())]
            codes += [f"{name} `{f['value']}`\\*" for f in include.get("filter", ())]
        lines.append(f"| `{vs['id']}` ({_cell(vs.get('title', vs['id']))}) | {', '.join(codes)} |")
    return "\n".join(lines) + "\n"
