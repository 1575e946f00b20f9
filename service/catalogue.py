"""The rule catalogue as markdown (``docs/rules.md``), generated from ``cards/`` so it cannot drift."""

from __future__ import annotations

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
