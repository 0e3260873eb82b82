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
    "answer_why": {"label": "Commercial API", "question": "Q?",
                   "reasons": [{"why": "No ML team.", "input": "team_ml_expertise=none", "n": 1,
                                "source": "guides/g.md § Costs", "excerpt": "Text."}]},
    "answer_risks": {"label": "Commercial API", "n": 1, "source": "guides/g.md § Costs", "text": "Text.",
                     "situation": "team_ml_expertise=none"},
}


def test_every_template_is_covered() -> None:
    assert set(template_names()) == set(VARIABLES)


@pytest.mark.parametrize("name", sorted(VARIABLES))
def test_template_renders(name: str) -> None:
    text = render(name, **VARIABLES[name])
    assert text and "{{" not in text and "{%" not in text
    if name.startswith("answer_"):
        assert '<passage id="1" source="guides/g.md § Costs">' in text


@pytest.mark.parametrize("name", [n for n in sorted(VARIABLES) if VARIABLES[n]])
def test_missing_variable_is_an_error(name: str) -> None:
    variables = dict(VARIABLES[name])
    variables.pop(sorted(variables)[-1])
    with pytest.raises(jinja2.UndefinedError):
        render(name, **variables)


@pytest.mark.parametrize("name", ["answer_fact", "answer_why", "answer_risks"])
def test_answer_prompts_put_their_fixed_instructions_first(name: str) -> None:
    """The server reuses the cached prefix of a prompt: the instructions, the same on every turn, come before the
    passages and the user's words, which change."""
    one = render(name, **VARIABLES[name])
    other = render(name, **{**VARIABLES[name], **({"question": "Something else entirely?"}
                                                  if "question" in VARIABLES[name] else {"situation": "other"})})
    common = next(i for i, (a, b) in enumerate(zip(one, other, strict=False)) if a != b)
    assert common > one.index("<passage") > 200
