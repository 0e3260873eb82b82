"""What the web page shows, as HTML and Markdown strings: the verdict card, the sources list, step titles, the
scorer's reasons and error notices. Pure functions of the Advisor's events and results, no Gradio here.

Everything that came from a user or a document is escaped: an ingested page must not inject markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "OPTION_NAMES",
    "error_notice",
    "field_label",
    "human_value",
    "reasons_markdown",
    "sources_markdown",
    "status_title",
    "verdict_card",
]

OPTION_NAMES = {"api": "Commercial API", "open_weight": "Open-weight model", "pretrain": "Pre-train your own",
                "small_model": "Small task-specific model"}
_FIELD_LABELS = {"team_ml_expertise": "Team ML expertise", "data_sensitivity": "Data sensitivity",
                 "deployment": "Where it runs", "task_scope": "Task scope", "quality_bar": "Quality bar",
                 "proprietary_data_tokens": "Proprietary training text (tokens)",
                 "labeled_examples": "Labelled examples", "monthly_tokens": "Tokens a month",
                 "latency_ms": "Latency budget (ms)", "budget_usd": "First-year budget (USD)",
                 "time_to_market_weeks": "Weeks to production", "needs_custom_architecture": "Custom architecture",
                 "strategic_moat": "Strategic moat", "needs_model_control": "Must control the weights"}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def field_label(field: str) -> str:
    """A profile field's name for people ("data_sensitivity" -> "Data sensitivity")."""
    return _FIELD_LABELS.get(field, field.replace("_", " ").capitalize())


def human_value(value: Any) -> str:
    """A profile value for people: yes/no, 8e9 -> 8 billion, None -> no limit."""
    if value is None:
        return "no limit"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
            if abs(value) >= size:
                return f"{value / size:.3g} {word}"
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return str(value).replace("_", " ")


def verdict_card(verdict: Mapping[str, Any] | None) -> str:
    """The verdict as a card: recommendation, provisional flag, the user's words behind each stated fact, the
    assumptions and what would change it."""
    if not verdict:
        return ('<div id="verdict-card" class="verdict-card empty"><p>The verdict appears here as soon as the advisor '
                "has read a situation: describe your team, data and workload in the chat.</p></div>")
    option = verdict.get("recommendation")
    label = verdict.get("label") or OPTION_NAMES.get(str(option), "none")
    provisional = bool(verdict.get("provisional"))
    badge = ('<span class="badge provisional">Provisional: some key facts are assumed</span>' if provisional
             else '<span class="badge firm">Based on what you stated</span>')
    head = (f'<div class="verdict-label">{_e(label)} <code>{_e(option)}</code></div>' if option else
            '<div class="verdict-label">None of the four options fits every stated constraint</div>')
    facts = []
    quotes = verdict.get("quotes") or {}
    for field, value in (verdict.get("profile") or {}).items():
        quote = quotes.get(field)
        words = f' <span class="quote">“{_e(quote)}”</span>' if quote else ""
        facts.append(f"<li><b>{_e(field_label(field))}</b>: {_e(human_value(value))}{words}</li>")
    parts = [f'<div id="verdict-card" class="verdict-card" data-recommendation="{_e(option)}" '
             f'data-provisional="{str(provisional).lower()}">',
             '<div class="verdict-head">Recommendation</div>', head, badge]
    parts.append("<h4>What you told us</h4><ul class=\"facts\">" + "".join(facts) + "</ul>" if facts else
                 "<p class=\"facts none\">No facts stated yet.</p>")
    assumed = verdict.get("assumptions") or []
    if assumed:
        items = "".join(f"<li><b>{_e(field_label(a['field']))}</b> = {_e(human_value(a['assumed']))}: "
                        f"{_e(a['why'])}</li>" for a in assumed)
        parts.append(f"<details><summary>Assumed, not stated ({len(assumed)})</summary><ul>{items}</ul></details>")
    flips = verdict.get("flips") or []
    if flips:
        items = "".join(f"<li>{_e(f['change'])} → {_e(OPTION_NAMES.get(str(f['new_recommendation']), 'none'))}"
                        "</li>" for f in flips)
        parts.append(f"<details><summary>What would change it ({len(flips)})</summary><ul>{items}</ul></details>")
    parts.append("</div>")
    return "".join(parts)


def sources_markdown(sources: Iterable[Mapping[str, Any]], cited: set[int] | None = None) -> str:
    """The passages an answer was given, numbered as it cites them: title, section and whether it was cited; the
    passage text opens on demand. Each entry is one HTML line, so Markdown inside a passage stays inert."""
    lines = []
    for source in sources:
        n = int(source.get("n", 0))
        was_cited = cited is not None and n in cited
        mark = ' <span class="cited">cited</span>' if was_cited else ""
        where = _e(source.get("section") or source.get("path") or "")
        text = "<br>".join(_e(line) for line in str(source.get("text") or "").splitlines() if line.strip())
        body = f'<div class="passage">{text}</div>' if text else ""
        # Classes, not data attributes: the chat's HTML sanitizer keeps only the former.
        kind = "source cited" if was_cited else "source"
        lines.append(f'<details class="{kind}"><summary>'
                     f'<span class="title">[{n}] {_e(source.get("title", ""))}</span> — {where}{mark}</summary>'
                     f"{body}"
                     f'<div class="path">{_e(source.get("path", ""))}</div></details>')
    return "\n".join(lines)


def status_title(step: str, message: str, position: int | None) -> str:
    """A step as the page names it; while queued, how many turns are ahead."""
    if step == "waiting" and position is not None:
        ahead = position - 1
        return ("Waiting for the local model: you are next" if ahead == 0
                else f"Waiting for the local model: {ahead} ahead")
    return message


def error_notice(message: str, hint: str) -> str:
    """A failed turn for people: what went wrong and how to fix it (never a stack trace)."""
    return f"⚠️ **The advisor could not answer:** {message}\n\n{hint}"


def reasons_markdown(ranking: Iterable[Mapping[str, Any]]) -> str:
    """The scorer's reasons per option as Markdown: each rule's effect, the input behind it, why, and the guide
    section that justifies it."""
    blocks = []
    for option in ranking:
        state = "" if option.get("eligible", True) else " — ruled out"
        lines = [f"#### {option['label']} (`{option['option']}`): {option['score']:.1f}{state}"]
        for r in option.get("reasons", []):
            effect = "**ruled out**" if r["effect"] == "excluded" else f"**{r['effect']:+d}**"
            lines.append(f"- {effect} `{r['factor']}` ({r.get('input', '')}): {r['why']} — _{r['source']}_")
        if len(lines) == 1:
            lines.append("- no rule moved this option")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
