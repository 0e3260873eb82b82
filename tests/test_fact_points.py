"""What a fact answer holds beyond the model's prose: the answering section's points, the catalog card of a named
model, and the terms the knowledge base has nothing on — with the real embedder, catalog and index."""

from __future__ import annotations

import pytest

from advisor.catalog import load_catalog
from advisor.fact_points import (
    catalog_card,
    cited_catalog_ids,
    covered,
    model_words,
    named_models,
    points_to_add,
    section_points,
)

DRAWBACKS = """- **Lock-in.** You depend on one vendor's pricing and terms.
- **Data leaves your network.** Sensitive records go to a third party.
- **Little transparency.** The model's internals and training data are hidden.
- **Rate limits.** Heavy use hits quotas and adds latency."""

PROSE = """Training a dense transformer takes roughly 6·N·D operations, where N is the parameter count and D the tokens.
For mixture-of-experts models use the active parameters per token.
| Model | FLOPs |
|---|---|
**Wall-clock time:** divide by the GPUs' peak throughput times the utilisation (MFU) actually achieved."""


LABELLED = """Full fine-tuning updates every weight of the model.

**Memory and hardware:** about 60 GB for an 8B model by the usual estimates.

**Data needed:** thousands to hundreds of thousands of examples.

**Cost:** each fine-tuned variant is a full copy of the model to store and serve.

**Risks:** more prone to catastrophic forgetting than LoRA."""


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


def test_a_section_s_points_are_its_list_items_or_else_its_sentences_without_tables() -> None:
    assert [p.split(".")[0] for p in section_points(DRAWBACKS)] == [
        "**Lock-in", "**Data leaves your network", "**Little transparency", "**Rate limits"]
    points = section_points(PROSE)
    assert len(points) == 3 and points[0].startswith("Training a dense") and points[2].startswith("**Wall-clock")
    assert not any("|" in p for p in points)


def test_paragraphs_that_open_with_a_bold_label_are_a_section_s_points(embedder) -> None:  # type: ignore[no-untyped-def]
    assert [p.split(":")[0] for p in section_points(LABELLED)] == [
        "**Memory and hardware", "**Data needed", "**Cost", "**Risks"]
    written = "Memory and hardware: about 60 GB for an 8B model by the usual estimates [1].\n"
    added = points_to_add("What are the downsides of full fine-tuning?", LABELLED, written, embed=embedder.encode,
                          want_list=True)
    assert [p.split(":")[0] for p in added] == ["**Data needed", "**Cost", "**Risks",
                                                "Full fine-tuning updates every weight of the model."]


RESIDENCY = """Where the data is processed and kept matters as much as who processes it:

- **Inference:** which region processes each request.
- **Storage:** logs, caches, fine-tuning files and backups.
- **Support access:** whether staff abroad can view data.

Residency rules that no provider region meets make the deployment decision for you: self-host or go air-gapped.
Vendors publish their regions on their trust pages, which change over time."""


def test_a_list_section_s_sentences_around_the_list_are_points_too(embedder) -> None:  # type: ignore[no-untyped-def]
    written = "- Inference: which region processes each request [1].\n- Storage: logs, caches and backups [1].\n"
    added = points_to_add("What does data residency cover for an LLM system, and what if no region fits?",
                          RESIDENCY, written, embed=embedder.encode, want_list=True)
    assert added[0].startswith("**Support access")
    assert any("air-gapped" in p for p in added) and len(added) <= 3
    assert not any(p.endswith(":") for p in added)  # the line leading into the list is no point


def test_a_point_is_not_given_until_its_figures_are() -> None:
    point = "**Launched** on 2025-02-27 as a research preview, priced at $75 per million input tokens."
    assert not covered(point, "It launched as a research preview, priced per million input tokens.")
    assert covered(point, "It launched on 2025-02-27 as a research preview at $75 per million input tokens.")


def test_a_list_question_gets_every_point_the_answer_left_out(embedder) -> None:  # type: ignore[no-untyped-def]
    written = "- You depend on one vendor's pricing and terms, which is lock-in [1].\n"
    added = points_to_add("What are the downsides of an API?", DRAWBACKS, written, embed=embedder.encode,
                          want_list=True)
    assert len(added) == 3 and not any("Lock-in" in p for p in added)


def test_any_other_question_gets_only_the_closest_points(embedder) -> None:  # type: ignore[no-untyped-def]
    added = points_to_add("How do I account for mixture-of-experts models?", PROSE, "", embed=embedder.encode,
                          want_list=False)
    assert added and len(added) <= 3 and any("active parameters" in p for p in added)
    everything = " ".join(section_points(PROSE))
    assert points_to_add("Anything?", PROSE, everything, embed=embedder.encode, want_list=False) == []


@pytest.mark.parametrize(("question", "expected"), [
    ("What is the context window of Qwen3-235B?", ["qwen3-235b-a22b"]),  # a leading part naming one model
    ("Tell me about BitNet.", ["bitnet-b1.58-2b-4t"]),
    ("What licence does DeepSeek R1 use?", ["deepseek-r1"]),
    ("How big is Llama 4 Scout?", ["llama-4-scout"]),
    ("Is GPT-4.1 cheaper than GPT-4.1 mini?", ["gpt-4.1-mini", "gpt-4.1"]),
    ("Which Qwen3 model fits one GPU?", []),  # a family names no one model
    ("Is Mistral's API fine under GDPR?", []),  # nor does a vendor
    ("We have 3 GPUs and 8B tokens a month.", []),
])
def test_models_a_question_names(catalog, question: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert [m.id for m in named_models(question, catalog)] == expected


def test_a_catalog_card_gives_the_facts_their_date_and_source(catalog) -> None:  # type: ignore[no-untyped-def]
    model = catalog.get("bitnet-b1.58-2b-4t")
    card = catalog_card(model)
    assert any(line.startswith("Context: 4,096 tokens") for line in card)
    assert any("bitnet.cpp" in line for line in card)
    assert card[-1] == f"Facts as of {model.as_of}; source: {model.sources[0]}."
    assert "stale age" in catalog_card(model, stale=True)[-1]
    assert {"bitnet", "b1.58", "2b4t"} <= model_words([model])


def test_a_retired_models_card_says_so_and_names_only_a_current_replacement(catalog) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    opus_4 = catalog_card(catalog.get("claude-opus-4"), catalog=catalog, today=dt.date(2026, 12, 4))
    assert opus_4[0].startswith("Retired on 2026-06-15: shut down") and "replacement" not in opus_4[0]
    flash = catalog_card(catalog.get("gemini-2.5-flash"), catalog=catalog, today=dt.date(2026, 12, 4))
    assert flash[0].endswith("Its current replacement: Gemini 3 Flash (preview) (gemini-3-flash-preview).")
    # GPT-4.5's named successor GPT-4.1 shuts down on 2027-01-14: after that the card suggests neither.
    before = catalog_card(catalog.get("gpt-4.5-preview"), catalog=catalog, today=dt.date(2026, 12, 4))
    after = catalog_card(catalog.get("gpt-4.5-preview"), catalog=catalog, today=dt.date(2027, 2, 1))
    assert "(gpt-4.1)" in before[0]
    assert after[0].startswith("Retired on 2025-07-14") and "replacement" not in after[0]
    assert not any("Replacement: gpt-4.1" in line for line in after)  # the passage's own status line is replaced
    # An announced shutdown is stated, and a current model's card has no retirement line.
    mini = catalog_card(catalog.get("gpt-4.1-mini"), catalog=catalog, today=dt.date(2026, 12, 4))
    assert "Status: available; shutdown announced for 2027-01-14." in mini
    assert not any(line.startswith("Retired") for line in mini)
    assert not any("Retired" in line or "Status:" in line for line in catalog_card(catalog.get("claude-opus-5")))


def test_the_catalog_models_a_text_cites() -> None:
    from types import SimpleNamespace

    passages = [SimpleNamespace(kind="guide", doc_id="option-api.md#x"),
                SimpleNamespace(kind="catalog", doc_id="models.yaml#claude-opus-4"),
                SimpleNamespace(kind="catalog", doc_id="models.yaml#qwen3-32b")]
    assert cited_catalog_ids("A [1][3]. B [2], again [3] and [9].", passages) == ["qwen3-32b", "claude-opus-4"]
    assert cited_catalog_ids("no citations", passages) == []


def test_terms_the_knowledge_base_has_nothing_on(retriever) -> None:  # type: ignore[no-untyped-def]
    assert retriever.unknown_terms("What does a TPU cost per hour, and how much CO2 does training emit?") == [
        "TPU", "CO2"]
    # a standard is named by its number: a body the guides mention ("ISO") does not make it known
    assert retriever.unknown_terms("How do we get ISO 27001 certified, and does IEC 62304 apply to us?") == [
        "ISO 27001", "IEC 62304"]
    assert retriever.unknown_terms("We serve 30000 chats a day on EUR 5000 a month; does GDPR Article 22 apply?") == []
    # roman numerals and two common words written as one are no unknown names
    assert retriever.unknown_terms("What does SOC 2 Type II require of our chatbot vendor?") == []
    assert retriever.unknown_terms("Should we pick Pinecone?") == ["Pinecone"]  # a name, though pine + cone
    # common words, plurals of common words, the guides' own terms and words the guides put otherwise are known
    assert retriever.unknown_terms("What are the downsides of QLoRA for our 70B model's VRAM?") == []


def test_a_catalog_entry_is_a_section_of_its_own(retriever) -> None:  # type: ignore[no-untyped-def]
    entry = retriever.section("models.yaml#bitnet-b1.58-2b-4t")
    assert entry is not None and entry.kind == "catalog" and "bitnet.cpp" in entry.text
    assert retriever.section("models.yaml#no-such-model") is None


def test_an_answer_that_gives_part_of_the_list_gets_the_rest(embedder) -> None:  # type: ignore[no-untyped-def]
    written = ("- You depend on one vendor's pricing and terms [1].\n"
               "- Sensitive records go to a third party, so data leaves your network [1].\n")
    added = points_to_add("How do vendors affect us?", DRAWBACKS, written, embed=embedder.encode, want_list=False)
    assert [p.split(".")[0] for p in added] == ["**Little transparency", "**Rate limits"]


@pytest.mark.parametrize(("message", "choice"), [
    ("Should we use an API or open weights?", True),
    ("We're a bank with regulated data. Which approach fits us?", True),
    ("Our team of three devs wants a support bot. API or self-host, and what does it cost?", True),
    ("We have 16 A100s and an MLOps team. Self-host a chat model? Which open model is strongest?", True),
    ("What would you recommend for a tutoring bot?", True),
    ("Is pre-training realistic for a lab like ours?", True),
    ("Why do organisations forbid external LLM providers?", False),
    ("Would it be crazy to train our own tokenizer, or is that a rabbit hole?", False),
    ("How much memory does a 70B model need in FP8?", False),
])
def test_a_message_asks_for_a_choice_or_for_an_explanation(message: str, choice: bool) -> None:
    from advisor.routing import asks_for_a_choice

    assert asks_for_a_choice(message) is choice
