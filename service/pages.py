"""Human-readable pages: the rule a card came from (``source.url``), in Danish or English.

A card carries the action and the record facts; everything else a GP or an editor may want —
the guideline sentences with their source and lines, the red-flag checklist, thresholds,
strength, in-force status and what lbp-cds adds — is here, one click away. The language is
``?lang=da|en``, else the browser's ``Accept-Language``, else Danish.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape
from typing import Any

from flask import Blueprint, abort, request

from .cardbook import has_screen, record_for_samples, sample_finding
from .knowledge import KnowledgeBase, RuleCard
from .render import TEXT_FIELDS, Renderer
from .rules.red_flags import SCREENED
from .runtime import runtime
from .wording import sentence_refs

bp = Blueprint("pages", __name__, url_prefix="/knowledge")
LANGUAGES = ("da", "en")

PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.45}}
dt{{font-weight:600;margin-top:.6rem}}blockquote{{border-left:3px solid #999;margin:0;padding-left:.8rem}}
.card{{border:1px solid #bbb;border-radius:6px;padding:.2rem 1rem;margin:.6rem 0}}small{{color:#555}}</style>
</head><body>{body}</body></html>"""


def page_language() -> str:
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        return str(wanted)
    return request.accept_languages.best_match(LANGUAGES) or "da"


def markdown_html(text: str) -> str:
    """The little markdown a card uses (bullets, bold, links) as HTML; everything escaped first."""
    html = escape(text)
    html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html)
    html = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', html)
    out, items = [], []
    for line in html.split("\n"):
        if line.startswith("- "):
            items.append(f"<li>{line[2:]}</li>")
            continue
        if items:
            out.append("<ul>" + "".join(items) + "</ul>")
            items = []
        if line:
            out.append(f"<p>{line}</p>")
    if items:
        out.append("<ul>" + "".join(items) + "</ul>")
    return "".join(out)


@bp.get("/rules")
def rule_index() -> Any:
    kb = runtime().knowledge
    lang = page_language()
    items = "".join(
        f'<li><a href="rules/{escape(r.id)}?lang={lang}">{escape(r.id)}</a> — {escape(r.data["title"][lang])} '
        f"({escape(r.indicator)}, {escape(', '.join(r.hooks))})</li>"
        for r in sorted(kb.rules.values(), key=lambda r: r.id)
    )
    title = kb.common[lang]["page"]["title"]
    return PAGE.format(lang=lang, title=escape(title), body=f"<h1>{escape(title)}</h1><ul>{items}</ul>")


def _sentences(kb: KnowledgeBase, rule: RuleCard) -> list[str]:
    """Library sentences the card uses (any language, any variant) and its page background, once each."""
    keys: list[str] = []
    texts = rule.data["texts"]["da"]
    for fields in (texts, *texts.get("variants", {}).values()):
        keys += [k for name in TEXT_FIELDS for k in sentence_refs(str(fields.get(name, "")))]
    return list(dict.fromkeys([*keys, *rule.data.get("page", ())]))


def _background(kb: KnowledgeBase, rule: RuleCard, lang: str) -> str:
    renderer = Renderer(kb, lang)
    items = []
    for key in _sentences(kb, rule):
        entry = kb.sentences[key]
        if not entry.get("source"):
            continue
        source = kb.sources[entry["source"]]
        text = renderer.fill(f"[[{key}]]", {}, rule) if not _needs_facts(entry, lang) else str(entry[lang])
        items.append(f"<li>{escape(text[:1].upper() + text[1:])}. <small>{escape(source['short'][lang])}, "
                     f"{escape(entry['lines'])}</small></li>")
    return "<ul>" + "".join(items) + "</ul>" if items else ""


def _needs_facts(entry: Mapping[str, Any], lang: str) -> bool:
    """A sentence with a patient fact in it (``{onset}``) is shown as written, not filled."""
    return bool(re.search(r"\{(onset|first_score|latest_score|weeks)\b", str(entry[lang])))


def _example(kb: KnowledgeBase, rule: RuleCard, lang: str) -> str:
    card = Renderer(kb, lang).card(rule, sample_finding(kb, rule, None), record_for_samples(), "page")
    return (f'<div class="card"><p><strong>{escape(card["summary"])}</strong> <small>({escape(card["indicator"])})'
            f"</small></p>{markdown_html(card['detail'])}</div>")


@bp.get("/rules/<rule_id>")
def rule_page(rule_id: str) -> Any:
    kb = runtime().knowledge
    rule = kb.rules.get(rule_id)
    if rule is None:
        abort(404)
    lang = page_language()
    words = kb.common[lang]["page"]
    citation = rule.source
    source = kb.sources[citation["guideline"]]
    rows = [
        (words["rule"], f"{rule.id} v{rule.version} · {rule.indicator} · {', '.join(rule.hooks)}"),
        (words["guideline"], f"{source['label'][lang]} — {source['title']}"),
        (words["section"], citation["section"]),
        (words["lines"], f"{citation['lines']} ({source['seed']})"),
        (words["status"], words["in_force"] if source["in_force"] else kb.common[lang]["not_in_force"]),
    ]
    if "strength" in citation:
        rows.append((words["strength"], citation["strength"][lang]))
    for extra in rule.data.get("also_sources", ()):
        other = kb.sources[extra["guideline"]]
        rows.append((words["also"], f"{other['short'][lang]}: {extra['section']} ({extra['lines']})"))
    own = rule.data.get("params") or {}
    if own:
        rows.append((words["params"], ", ".join(f"{k} = {v}" for k, v in own.items())))
    if "inferred" in rule.data:
        rows.append((words["inferred"], rule.data["inferred"]))
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in rows)
    parts = [f"<h1>{escape(rule.data['title'][lang])}</h1>",
             f'<p><small>{escape(rule.id)} · <a href="?lang={"en" if lang == "da" else "da"}">'
             f"{escape(words['other_lang'])}</a></small></p>",
             f"<h2>{escape(words['says'])}</h2>", _example(kb, rule, lang),
             f"<h2>{escape(words['background'])}</h2>", _background(kb, rule, lang)]
    if citation.get("quote"):
        parts.append(f"<h2>{escape(words['quote'])}</h2><blockquote>{escape(citation['quote'])}</blockquote>")
    if has_screen(rule):
        flags = "".join(f"<li>{escape(kb.label(c, lang) or c)}</li>" for c in SCREENED)
        parts.append(f"<h2>{escape(words['checklist'])}</h2><ul>{flags}</ul><p>{escape(words['checklist_note'])}</p>")
    parts.append(f"<dl>{dl}</dl>")
    return PAGE.format(lang=lang, title=escape(rule.id), body="".join(parts))
