"""The situation reader and the router: the frozen held-out set and its targets, corrections, quotes, negation,
routing, determinism and the training cache. The classifiers are real (trained from the banks in evals/)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from advisor.banks import HOLDOUT_PATH, ROUTING_BANKS, STATEMENT_BANKS, load_routes, load_statements
from advisor.config import REPO_ROOT
from advisor.reader import CATEGORICAL, NUMERIC, Reader, units_of
from advisor.understanding_eval import TARGETS, dev_cases, evaluate_understanding, holdout_cases

# The held-out set was written from the guides before any training and committed first; it must never change.
HOLDOUT_SHA256 = "a1d232cee2791fc001968d59a1f571bc10a5175ceac7c349768d1e90b2ae7d53"


def test_the_held_out_set_is_frozen() -> None:
    assert hashlib.sha256(HOLDOUT_PATH.read_bytes()).hexdigest() == HOLDOUT_SHA256


def test_the_held_out_set_shares_nothing_with_the_training_banks() -> None:
    held = {" ".join(m.lower().split()) for c in holdout_cases() for m in c.messages}
    trained = {" ".join(s.text.lower().split()) for s in load_statements()}
    trained |= {" ".join(r.text.lower().split()) for r in load_routes()}
    assert {t for t in held & trained if len(t.split()) >= 8} == set()  # a short "What's the capital of ...?"
    kinds = [c.kind for c in holdout_cases()]
    assert kinds.count("situation") >= 40 and kinds.count("fact") >= 40


@pytest.fixture(scope="module")
def holdout(reader):  # type: ignore[no-untyped-def]
    return evaluate_understanding(reader, holdout_cases())


def test_targets_on_the_held_out_set(holdout) -> None:  # type: ignore[no-untyped-def]
    figures = {k: holdout[k] for k in TARGETS}
    print("\nheld-out:", {k: round(v, 3) for k, v in figures.items()}, f"{holdout['read_ms_median']:.0f} ms/message")
    assert holdout["situations_routed"] >= TARGETS["situations_routed"]
    assert holdout["facts_routed"] >= TARGETS["facts_routed"]
    assert holdout["fields_right"] >= TARGETS["fields_right"]
    assert holdout["invented"] <= TARGETS["invented"]
    assert holdout["recommendation"] >= TARGETS["recommendation"]


def test_a_message_with_a_situation_and_a_fact_question_is_mixed(holdout) -> None:  # type: ignore[no-untyped-def]
    assert holdout["routing"]["mixed"]["share"] >= 0.6


def test_the_development_situations_as_a_second_report(reader) -> None:  # type: ignore[no-untyped-def]
    dev = evaluate_understanding(reader, dev_cases())
    print("\ndev:", {k: round(dev[k], 3) for k in ("fields_right", "invented", "recommendation")})
    assert dev["situations_routed"] >= 0.97 and dev["fields_right"] >= 0.85 and dev["invented"] <= 0.03


def test_a_later_message_corrects_an_earlier_one(reader) -> None:  # type: ignore[no-untyped-def]
    first = "We're a clinic and our patient records must stay on our own servers."
    reading = reader.read([first, "Sorry, I was wrong: the data is all public, published trial results."])
    assert reading.profile.data_sensitivity == "public"
    assert "public" in reading.quotes["data_sensitivity"]
    assert reader.read([first]).profile.data_sensitivity == "regulated"


def test_every_value_keeps_the_users_words(reader) -> None:  # type: ignore[no-untyped-def]
    message = ("We're a hospital network. Nothing with PHI may leave our own data centre, so it has to run on-prem. "
               "We have about 40,000 discharge letters our doctors wrote, and we need drafts within 6 weeks.")
    reading = reader.read([message])
    stated = reading.profile.stated()
    assert stated["data_sensitivity"] == "regulated" and stated["deployment"] == "on_prem"
    assert stated["time_to_market_weeks"] == 6
    for name in stated:
        assert reading.quotes[name] in message and 0 < reading.confidence[name] <= 1


@pytest.mark.parametrize(("text", "field", "value"), [
    ("Nobody on the team has ever trained or fine-tuned a model.", "team_ml_expertise", "none"),
    ("We don't need to change the tokenizer or the architecture.", "needs_custom_architecture", False),
    ("Vendor lock-in doesn't worry us at all.", "needs_model_control", False),
    ("It has to work offline on the technicians' tablets.", "deployment", "edge"),
    ("The plant network has no connection to the internet whatsoever.", "deployment", "air_gapped"),
    ("We want to route each incoming email to one of 9 departments.", "task_scope", "narrow"),
    ("Agents need an assistant that drafts replies to tenants' complaints.", "task_scope", "broad"),
])
def test_negations_and_indirect_statements(reader, text: str, field: str, value: object) -> None:  # type: ignore[no-untyped-def]
    assert getattr(reader.read([text]).profile, field) == value


DISTRACTORS = [  # statements that mention a field without stating the user's own value (none is in a bank)
    "We might hire an ML engineer next year.",
    "Our competitor self-hosts Llama on their own servers.",
    "I read that regulated industries often avoid hosted APIs.",
    "The company was founded in 2009 and has 14 offices.",
    "Is it true that fine-tuning needs thousands of examples?",
    "A friend's startup spent $2M pre-training a model and regretted it.",
    "If we ever moved on-prem, would that change anything?",
    "Some banks keep everything air-gapped, I hear.",
    "Our parent company has a research lab that trains foundation models.",
    "Years ago we ran everything in our own data centre.",
    "The conference talk was about latency under 100 ms on phones.",
    "Our old vendor promised frontier quality and never delivered.",
]


def test_hypotheticals_and_distractors_state_nothing(reader) -> None:  # type: ignore[no-untyped-def]
    # A learned reader is judged on a share, like the held-out figures: at most two of these may state something
    # (five did before the reader learned whether a statement is the user's own situation).
    stated = {text: reader.read([text]).profile.stated() for text in DISTRACTORS}
    wrong = {text: got for text, got in stated.items() if got}
    assert len(wrong) <= 2, wrong


@pytest.mark.parametrize(("text", "route"), [
    ("We're a 20-person insurer; claims notes contain medical details and can't leave our servers. Where do we "
     "start?", "situation"),
    ("How much GPU memory do a 70B model's weights need in 4-bit?", "fact"),
    ("Give me a recipe for banana bread.", "offtopic"),
    ("Actually, the data is public.", "followup"),
])
def test_routes(reader, text: str, route: str) -> None:  # type: ignore[no-untyped-def]
    assert reader.route(text).route == route


def test_units_are_sentences_and_clauses_of_the_text() -> None:
    text = "We are a bank; card data can't leave our racks, and we have no ML staff. Budget: $200k!"
    units = [text[a:b] for a, b in units_of(text)]
    assert "card data can't leave our racks" in units and "Budget: $200k!" in units
    assert all(u in text for u in units)
    assert units_of("") == [] and units_of(" . ! ") == []


def test_training_is_deterministic(reader) -> None:  # type: ignore[no-untyped-def]
    statements = load_statements()[::6]
    routes = load_routes()[::3]
    first = Reader(reader.encoder, statements, routes)
    second = Reader(reader.encoder, statements, routes)
    text = "Our two ML engineers fine-tuned Llama; patient data must stay on our servers; 5,000 labelled notes."
    assert first.read([text]) .profile == second.read([text]).profile
    assert first.route(text) == second.route(text)
    for name in CATEGORICAL:
        assert (first._fields[name].coef_ == second._fields[name].coef_).all()


def test_the_cache_key_follows_the_training_data(tmp_path: Path) -> None:
    from advisor.reader import _training_key

    bank = tmp_path / "bank.yaml"
    bank.write_text("- text: We have no ML staff.\n  labels: {team_ml_expertise: none}\n"
                    "  quotes: {team_ml_expertise: no ML staff}\n", encoding="utf-8")
    before = _training_key([bank])
    assert _training_key([bank]) == before
    bank.write_text(bank.read_text(encoding="utf-8") + "- text: Nothing.\n  labels: {}\n", encoding="utf-8")
    assert _training_key([bank]) != before


def test_the_banks_are_valid_and_cover_every_field() -> None:
    statements = load_statements()
    assert len(statements) >= 800 and all(p.is_file() for p in STATEMENT_BANKS)
    stated = {name for s in statements for name in s.labels}
    assert stated == set(CATEGORICAL) | set(NUMERIC)
    assert {r.route for r in load_routes()} == {"situation", "fact", "offtopic", "mixed", "followup"}
    assert all(p.is_file() for p in ROUTING_BANKS)
    assert REPO_ROOT / "evals" in {p.parent for p in STATEMENT_BANKS}


def test_a_bad_bank_item_names_the_file_and_item(tmp_path: Path) -> None:
    from advisor.banks import load_statements as load

    bad = tmp_path / "bank.yaml"
    bad.write_text("- text: We run on the moon.\n  labels: {deployment: moon}\n  quotes: {deployment: moon}\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match=r"bank.yaml: case 0 \(labels"):
        load((bad,))
    bad.write_text("- text: We have no ML staff.\n  labels: {team_ml_expertise: none}\n"
                   "  quotes: {team_ml_expertise: no ML people}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="words of the text"):
        load((bad,))


def test_the_encoder_remembers_texts_and_keeps_their_order() -> None:
    import numpy as np

    from advisor.reader import _encoder

    encode = _encoder()
    fresh = encode(["we are a bank", "our data is regulated"])
    again = encode(["our data is regulated", "a new sentence about GPUs", "we are a bank"])
    assert again.shape == (3, fresh.shape[1])
    assert np.allclose(again[0], fresh[1]) and np.allclose(again[2], fresh[0])
    assert not np.allclose(again[1], fresh[0]) and encode([]).shape[0] == 0
