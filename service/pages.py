"""Human-readable pages: the rule a card came from, with its citation (``source.url``)."""

from __future__ import annotations

from html import escape
from typing import Any

from flask import Blueprint, abort

from .runtime import runtime

bp = Blueprint("pages", __name__, url_prefix="/knowledge")

PAGE = """<!doctype html><html lang="da"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.45}}
dt{{font-weight:600;margin-top:.6rem}}blockquote{{border-left:3px solid #999;margin:0;padding-left:.8rem}}</style>
</head><body>{body}</body></html>"""


@bp.get("/rules")
def rule_index() -> Any:
    kb = runtime().knowledge
    items = "".join(
        f'<li><a href="rules/{escape(r.id)}">{escape(r.id)}</a> ({escape(r.indicator)}, '
        f"{escape(', '.join(r.hooks))})</li>"
        for r in sorted(kb.rules.values(), key=lambda r: r.id)
    )
    return PAGE.format(title="lbp-cds rules", body=f"<h1>lbp-cds: regler</h1><ul>{items}</ul>")


@bp.get("/rules/<rule_id>")
def rule_page(rule_id: str) -> Any:
    kb = runtime().knowledge
    rule = kb.rules.get(rule_id)
    if rule is None:
        abort(404)
    citation = rule.source
    source = kb.sources[citation["guideline"]]
    rows = [
        ("Regel / rule", f"{rule.id} v{rule.version}"),
        ("Retningslinje / guideline", f"{source['label']['da']} — {source['title']}"),
        ("Afsnit / section", citation["section"]),
        ("Linjer / lines", f"{citation['lines']} ({source['seed']})"),
    ]
    if "strength" in citation:
        rows.append(("Styrke / strength", citation["strength"]["da"]))
    if not source["in_force"]:
        rows.append(("Status", kb.common["da"]["not_in_force"]))
    if "inferred" in rule.data:
        rows.append(("Tilføjet af lbp-cds / added by lbp-cds", rule.data["inferred"]))
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in rows)
    quote = f"<blockquote>{escape(citation['quote'])}</blockquote>" if citation.get("quote") else ""
    body = f"<h1>{escape(rule.id)}</h1><dl>{dl}</dl>{quote}"
    return PAGE.format(title=escape(rule.id), body=body)
