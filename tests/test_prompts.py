"""Every prompt template renders, and a missing variable is an error rather than an empty string."""

from __future__ import annotations

import jinja2
import pytest

from advisor.prompts import render, template_names
from advisor.retrieval import Hit

PASSAGE = Hit(id="g::0", title="Guide", path="guides/g.md", section="Costs", score=1.0, text="Text.", kind="guide",
              doc_id="guides/g.md")
VARIABLES = {
    "system": {},
    "condense": {"history": [type("T", (), {"user": "What is LoRA?", "answer": "A method."})()],
                 "message": "And QLoRA?"},
    "answer_fact": {"passages": [PASSAGE], "question": "Q?", "costs": "", "models": ""},
    "answer_situation": {"passages": [PASSAGE], "question": "Q?", "costs": "c", "models": "m",
                         "recommendation": "api", "label": "Commercial API", "scores": "recommended: api",
                         "also_fact": True},
}


def test_every_template_is_covered() -> None:
    assert set(template_names()) == set(VARIABLES)


@pytest.mark.parametrize("name", sorted(VARIABLES))
def test_template_renders(name: str) -> None:
    text = render(name, **VARIABLES[name])
    assert text and "{{" not in text and "{%" not in text
    if "passages" in VARIABLES[name]:
        assert '<passage id="1" source="guides/g.md § Costs">' in text


@pytest.mark.parametrize("name", [n for n in sorted(VARIABLES) if VARIABLES[n]])
def test_missing_variable_is_an_error(name: str) -> None:
    variables = dict(VARIABLES[name])
    variables.pop(sorted(variables)[-1])
    with pytest.raises(jinja2.UndefinedError):
        render(name, **variables)


def test_a_situation_with_a_fact_question_asks_for_the_answer_too() -> None:
    both = render("answer_situation", **VARIABLES["answer_situation"])
    only = render("answer_situation", **{**VARIABLES["answer_situation"], "also_fact": False})
    assert "**Your question**" in both and "four sections" in both
    assert "**Your question**" not in only and "three sections" in only
