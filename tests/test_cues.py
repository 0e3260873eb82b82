"""The deterministic cue detector: per-field cues, negation, quantities, quotes, determinism, and the dev set."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.cues import Cue, all_cues, detect_cues
from advisor.profile import FIELD_ORDER, Profile
from advisor.quantities import parse_number
from advisor.scoring import OPTIONS, score_profile
from advisor.situations import Situation, load_situations, tally_fields, values_match

ABSENT = object()


def value(text: str, field: str) -> Any:
    cue = detect_cues(text).get(field)
    return ABSENT if cue is None else cue.value


# --- the number parser --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("phrase", "expected"), [
    ("8", 8), ("8.5", 8.5), ("1,200", 1200), ("8 billion", 8e9), ("1.5B", 1.5e9), ("500M", 5e8), ("500k", 5e5),
    ("2 million", 2e6), ("two million", 2e6), ("twenty-five", 25), ("a few", 3), ("several", 5), ("a couple", 2),
    ("a dozen", 12), ("half a million", 5e5), ("a million", 1e6), ("a few hundred", 300),
    ("a few hundred thousand", 3e5), ("several thousand", 5e3), ("tens of", 30), ("hundreds of", 300),
    ("hundreds of billions", 3e11), ("tens of billions", 3e10), ("millions", 3e6), ("dozens", 36), ("3 bn", 3e9),
])
def test_parse_number(phrase: str, expected: float) -> None:
    assert parse_number(phrase) == pytest.approx(expected)


@pytest.mark.parametrize("phrase", ["", "tokens", "of", "8 apples", "billion", "$"])
def test_parse_number_rejects_non_numbers(phrase: str) -> None:
    assert parse_number(phrase) is None


# --- quantities ---------------------------------------------------------------------------------------------------

QUANTITIES: list[tuple[str, str, float]] = [
    # the offline-stack errors: scale words and units the 1.5B model got wrong
    ("We have hundreds of billions of tokens of proprietary text.", "proprietary_data_tokens", 3e11),
    ("We process 8 billion tokens a month.", "monthly_tokens", 8e9),
    ("We have a few gigabytes of text from our support desk.", "proprietary_data_tokens", 7.5e8),
    ("There is 2 TB of text in the archive.", "proprietary_data_tokens", 5e11),
    ("We have 40 GB of support tickets.", "proprietary_data_tokens", 1e10),
    ("About 300 billion tokens of unique text.", "proprietary_data_tokens", 3e11),
    ("a corpus of 50B tokens", "proprietary_data_tokens", 5e10),
    ("a million documents of ~1,000 words", "proprietary_data_tokens", 1e9 * 4 / 3),
    ("2 billion words of legal text", "proprietary_data_tokens", 2e9 * 4 / 3),
    ("Volume is 8B tokens/month.", "monthly_tokens", 8e9),
    ("About 500M tokens per day.", "monthly_tokens", 1.5e10),
    ("tens of billions of tokens a month", "monthly_tokens", 3e10),
    ("roughly 2 billion tokens of customer-care traffic a day", "monthly_tokens", 6e10),
    ("10k requests a day of ~2k tokens", "monthly_tokens", 6e8),
    ("300k support emails a month, each about 500 tokens", "monthly_tokens", 1.5e8),
    ("monthly volume of about 40M tokens", "monthly_tokens", 4e7),
    ("5,000 labelled examples", "labeled_examples", 5000),
    ("10k annotated tickets", "labeled_examples", 10000),
    ("40,000 tickets that agents tagged by hand", "labeled_examples", 40000),
    ("12k reviews labelled by our analysts", "labeled_examples", 12000),
    ("millions of labelled moderation decisions", "labeled_examples", 3e6),
    ("roughly 50k reports with radiologist labels", "labeled_examples", 50000),
    ("We don't have any labelled data yet.", "labeled_examples", 0),
    ("It must answer in under 100 ms.", "latency_ms", 100),
    ("a p95 of 300 milliseconds", "latency_ms", 300),
    ("Replies must be drafted within 2 seconds.", "latency_ms", 2000),
    ("responses in sub-second time", "latency_ms", 1000),
    ("We have a $2M budget.", "budget_usd", 2e6),
    ("Our budget is 2 million dollars.", "budget_usd", 2e6),
    ("A budget of 50k.", "budget_usd", 5e4),
    ("Budget is €300k.", "budget_usd", 3e5),
    ("Our budget is $30k per month.", "budget_usd", 3.6e5),
    ("We could spend up to $200k this year.", "budget_usd", 2e5),
    ("Funding is €4M over three years.", "budget_usd", 4e6),
    ("I'd like to launch in 3 weeks.", "time_to_market_weeks", 3),
    ("We need to ship within two months.", "time_to_market_weeks", 9),
    ("Timeline: by next quarter.", "time_to_market_weeks", 13),
    ("We need it running in six months.", "time_to_market_weeks", 26),
    ("It is a multi-year program.", "time_to_market_weeks", 104),
    ("We want it live within a month.", "time_to_market_weeks", 4),
    ("a 6-week deadline", "time_to_market_weeks", 6),
    ("We have about 18 months to get this into production.", "time_to_market_weeks", 78),
    ("Needs to ship this quarter.", "time_to_market_weeks", 13),
    ("Must be live before Black Friday, about 5 weeks from now.", "time_to_market_weeks", 5),
    ("90k closed tickets have the escalation outcome recorded.", "labeled_examples", 90000),
    ("Budget isn't a constraint for the first year, up to $3M.", "budget_usd", 3e6),
]


@pytest.mark.parametrize(("text", "field", "expected"), QUANTITIES)
def test_quantities(text: str, field: str, expected: float) -> None:
    cue = detect_cues(text)[field]
    assert cue.value == pytest.approx(expected)
    assert cue.quote in text


@pytest.mark.parametrize(("text", "field"), [
    ("We have a 24 GB GPU and 80 GB of RAM.", "proprietary_data_tokens"),
    ("We have 2 TB of scanned images.", "proprietary_data_tokens"),
    ("How much would it cost to pre-train a 7B model on 1 trillion tokens?", "proprietary_data_tokens"),
    ("We have 5,000 documents, none of which are labelled.", "labeled_examples"),
    ("We have a dataset of tickets tagged by agents.", "labeled_examples"),
    ("The API costs $0.50 per million tokens.", "budget_usd"),
    ("We spend $20k a month on OpenAI right now.", "budget_usd"),
    ("The data was collected over 6 months.", "time_to_market_weeks"),
    ("It needs to decide in under 50 ms.", "time_to_market_weeks"),
    ("Would 5,000 labelled examples be enough?", "labeled_examples"),
    ("Would a 1.5B model answer in under 100 ms on a CPU?", "latency_ms"),
    ("We fine-tune a 7B model.", "monthly_tokens"),
    ("About 3 million comments a day; we need each one marked as ok or not.", "labeled_examples"),
])
def test_quantities_not_read_where_none_is_stated(text: str, field: str) -> None:
    assert value(text, field) is ABSENT


def test_scale_words_are_not_misread() -> None:
    """The model's errors: 'hundreds of billions' as 3e9, '8 billion' as 8e10."""
    assert value("hundreds of billions of tokens of text", "proprietary_data_tokens") == pytest.approx(3e11)
    assert value("8 billion tokens a month", "monthly_tokens") == pytest.approx(8e9)


# --- categorical and yes/no fields --------------------------------------------------------------------------------

CUES: list[tuple[str, str, Any]] = [
    # data_sensitivity
    ("We want to summarise patient records.", "data_sensitivity", "regulated"),
    ("The notes contain PHI.", "data_sensitivity", "regulated"),
    ("We're bound by HIPAA.", "data_sensitivity", "regulated"),
    ("Drivers' personal data falls under GDPR.", "data_sensitivity", "regulated"),
    ("We handle card data under PCI DSS.", "data_sensitivity", "regulated"),
    ("It runs on a classified network.", "data_sensitivity", "regulated"),
    ("Customer account data can't leave our own servers.", "data_sensitivity", "regulated"),
    ("The data must stay on our own infrastructure.", "data_sensitivity", "regulated"),
    ("We can't send patient records to OpenAI.", "data_sensitivity", "regulated"),
    ("We cannot use AWS because of HIPAA.", "data_sensitivity", "regulated"),
    ("It answers questions from our internal wiki.", "data_sensitivity", "internal"),
    ("The code is confidential but not regulated.", "data_sensitivity", "internal"),
    ("We scrape public product reviews.", "data_sensitivity", "public"),
    ("The sources are published court decisions.", "data_sensitivity", "public"),
    ("We use open datasets only.", "data_sensitivity", "public"),
    ("No patient data or medical records are involved.", "data_sensitivity", ABSENT),
    ("There is no PII in it.", "data_sensitivity", ABSENT),
    ("Privacy matters but we're not handling personal data.", "data_sensitivity", ABSENT),
    ("We extract adverse events from published medical literature.", "data_sensitivity", "public"),
    ("It's an internal tool.", "data_sensitivity", ABSENT),
    # deployment: on-device is edge, never air-gapped
    ("The system sits on an air-gapped network.", "deployment", "air_gapped"),
    ("Our factory network is completely disconnected from the internet.", "deployment", "air_gapped"),
    ("The plant's control network has no internet access.", "deployment", "air_gapped"),
    ("The model has to run on the device.", "deployment", "edge"),
    ("It must run on-device.", "deployment", "edge"),
    ("The app must work offline on Android phones.", "deployment", "edge"),
    ("No connectivity in the field; it's all on the tablets.", "deployment", "edge"),
    ("The voice assistant has to run in the car itself.", "deployment", "edge"),
    ("It runs on smartwatches.", "deployment", "edge"),
    ("It has to run on-prem.", "deployment", "on_prem"),
    ("We host everything in our own data center.", "deployment", "on_prem"),
    ("Keep the weights in our own racks.", "deployment", "on_prem"),
    ("Client documents can't leave our premises.", "deployment", "on_prem"),
    ("We're on AWS.", "deployment", "cloud"),
    ("It can run in our Google Cloud project.", "deployment", "cloud"),
    ("We're not air-gapped.", "deployment", ABSENT),
    ("It doesn't need to be on-prem.", "deployment", ABSENT),
    ("We run nightly offline batch processing.", "deployment", ABSENT),
    ("We looked at AWS Bedrock pricing and it seemed expensive.", "deployment", ABSENT),
    ("Our call-center agents are on the phone all day.", "deployment", ABSENT),
    # task_scope: open-ended work is broad
    ("We want a chatbot for our FAQ.", "task_scope", "broad"),
    ("It summarises discharge letters.", "task_scope", "broad"),
    ("It drafts replies to customer emails.", "task_scope", "broad"),
    ("Analysts want to ask questions about manuals and get answers.", "task_scope", "broad"),
    ("A writing assistant for estate agents.", "task_scope", "broad"),
    ("An assistant that writes and refactors code.", "task_scope", "broad"),
    ("We want to generate product descriptions.", "task_scope", "broad"),
    ("We need a model that can reason over long contracts.", "task_scope", "broad"),
    ("Classify each claim into one of 30 denial reasons.", "task_scope", "narrow"),
    ("Route incoming tickets to one of 14 queues.", "task_scope", "narrow"),
    ("Extract invoice numbers, dates and totals.", "task_scope", "narrow"),
    ("We need sentiment for product reviews.", "task_scope", "narrow"),
    ("Detect spam and phishing.", "task_scope", "narrow"),
    ("Tag articles with about 50 topic categories.", "task_scope", "narrow"),
    ("We don't need chat or summaries, just classify tickets into 8 categories.", "task_scope", "narrow"),
    ("Summarise each ticket and classify it.", "task_scope", "broad"),
    ("We have 5,000 labelled examples.", "task_scope", ABSENT),
    ("Can you summarise the options for us?", "task_scope", ABSENT),
    ("Our competitors use chatbots, but we want a classifier for tickets.", "task_scope", "narrow"),
    # quality_bar
    ("The answers need to be state-of-the-art.", "quality_bar", "frontier"),
    ("We want the best possible chatbot.", "quality_bar", "frontier"),
    ("It needs best-in-class accuracy.", "quality_bar", "frontier"),
    ("Good enough quality is fine.", "quality_bar", "standard"),
    ("Quality just needs to be decent.", "quality_bar", "standard"),
    ("Doesn't need to be perfect.", "quality_bar", "standard"),
    ("Doesn't need to be state-of-the-art.", "quality_bar", "standard"),
    ("We'd prefer state-of-the-art but good enough is fine for v1.", "quality_bar", "standard"),
    ("We need the best tools out there.", "quality_bar", ABSENT),
    ("We have a decent amount of data.", "quality_bar", ABSENT),
    # team_ml_expertise
    ("We have no ML experience.", "team_ml_expertise", "none"),
    ("I'm a web developer, no ML background at all.", "team_ml_expertise", "none"),
    ("We have no data scientists, just an IT admin.", "team_ml_expertise", "none"),
    ("We don't have ML engineers.", "team_ml_expertise", "none"),
    ("Nobody here has done any machine learning.", "team_ml_expertise", "none"),
    ("We're a non-technical team.", "team_ml_expertise", "none"),
    ("Our devs have used the ChatGPT API a bit.", "team_ml_expertise", "basic"),
    ("No ML team, but two of our backend devs have used the OpenAI API.", "team_ml_expertise", "basic"),
    ("We have two ML engineers who have fine-tuned BERT models.", "team_ml_expertise", "experienced"),
    ("We have an MLOps team that serves models on Kubernetes.", "team_ml_expertise", "experienced"),
    ("We are a research lab of PhDs who have pre-trained models from scratch.", "team_ml_expertise", "research"),
    ("Our team runs large-scale distributed training.", "team_ml_expertise", "research"),
    ("We'd need to hire ML engineers first.", "team_ml_expertise", ABSENT),
    ("We want to pre-train our own model from scratch.", "team_ml_expertise", ABSENT),
    ("Can we just use the OpenAI API for this?", "team_ml_expertise", ABSENT),
    ("We used to have a data science team but it was disbanded.", "team_ml_expertise", ABSENT),
    # needs_custom_architecture
    ("Existing tokenizers split our words into fragments.", "needs_custom_architecture", True),
    ("We need our own vocabulary.", "needs_custom_architecture", True),
    ("We need to change the attention layers.", "needs_custom_architecture", True),
    ("Current vocabularies simply don't contain these scripts.", "needs_custom_architecture", True),
    ("We do NOT need to change the tokenizer.", "needs_custom_architecture", False),
    ("The standard tokenizer is fine for us.", "needs_custom_architecture", False),
    ("Our domain vocabulary is very specialised.", "needs_custom_architecture", ABSENT),
    # strategic_moat
    ("The model is our competitive moat.", "strategic_moat", True),
    ("The assistant is our main differentiator.", "strategic_moat", True),
    ("It's the core of our product.", "strategic_moat", True),
    ("It's the heart of our product and what sets us apart.", "strategic_moat", True),
    ("The AI feature is a nice-to-have.", "strategic_moat", False),
    ("It's not core to our business.", "strategic_moat", False),
    ("Our key differentiator is our logistics network, not AI.", "strategic_moat", False),
    ("We deploy to edge devices.", "strategic_moat", ABSENT),
    # needs_model_control
    ("We must avoid vendor lock-in.", "needs_model_control", True),
    ("We'd like to own the weights.", "needs_model_control", True),
    ("We want full control over the model.", "needs_model_control", True),
    ("We want to inspect and modify the model ourselves.", "needs_model_control", True),
    ("We want to avoid depending on a single provider.", "needs_model_control", True),
    ("We don't want to be locked in to OpenAI.", "needs_model_control", True),
    ("We don't care about lock-in.", "needs_model_control", False),
    ("Lock-in is not a concern.", "needs_model_control", False),
    ("We're fine depending on an API provider.", "needs_model_control", False),
    ("We don't need full control over the model.", "needs_model_control", False),
    ("We want to own our data pipeline.", "needs_model_control", ABSENT),
    ("We care about not being locked into a single API vendor.", "needs_model_control", True),
    ("We don't mind which vendor we use.", "needs_model_control", False),
    # wording that once fooled the detector
    ("Robots need to plan multi-step pick routes on the robot itself.", "task_scope", ABSENT),
    ("Route each email to the right team.", "task_scope", "narrow"),
    ("Each one of our 3 teams uses a different tool.", "task_scope", ABSENT),
    ("We have no Wi-Fi in the office.", "deployment", ABSENT),
    ("The handheld scanner has no Wi-Fi in the warehouse.", "deployment", "edge"),
    ("Our drones fly out of range of any network.", "deployment", "edge"),
    ("The hospital will not allow it to be processed outside its network.", "data_sensitivity", "regulated"),
    ("Applications include SSNs and income details.", "data_sensitivity", "regulated"),
    ("Our offices are outside the city.", "data_sensitivity", ABSENT),
    ("It must be comparable to GPT-4 class models.", "quality_bar", "frontier"),
    ("We don't need anything cutting-edge.", "quality_bar", "standard"),
    ("We plan a model with a novel attention mechanism.", "needs_custom_architecture", True),
    ("We use pre-trained models from Hugging Face.", "team_ml_expertise", ABSENT),
    ("We're on board with the idea.", "deployment", ABSENT),
]


@pytest.mark.parametrize(("text", "field", "expected"), CUES)
def test_cue(text: str, field: str, expected: Any) -> None:
    assert value(text, field) == expected if expected is not ABSENT else value(text, field) is ABSENT


def test_every_field_has_cues() -> None:
    covered = {f for _, f, v in CUES + [(t, f, 1) for t, f, _ in QUANTITIES] if v is not ABSENT}
    assert covered == set(FIELD_ORDER)


def test_negated_cue_is_marked_in_the_rule() -> None:
    cue = detect_cues("We do NOT need to change the tokenizer or architecture.")["needs_custom_architecture"]
    assert cue == Cue("needs_custom_architecture", False, "tokenizer", "tokenizer_or_vocabulary:negated", 29)


def test_typographic_apostrophes_and_hyphens_keep_exact_quotes() -> None:
    text = "We don’t need to change the tokenizer; it must run on‑device."
    cues = detect_cues(text)
    assert cues["needs_custom_architecture"].value is False
    assert cues["deployment"].value == "edge"
    for cue in cues.values():
        assert text[cue.start:cue.start + len(cue.quote)] == cue.quote


def test_all_cues_keeps_the_weaker_ones() -> None:
    text = "We host in our own data centre. It also runs on the device."
    assert detect_cues(text)["deployment"].value == "edge"
    assert [c.value for c in all_cues(text) if c.field == "deployment"] == ["on_prem", "edge"]


# --- invariants ---------------------------------------------------------------------------------------------------

_PHRASES = [p for p, _, _ in CUES[:40]] + [p for p, _, _ in QUANTITIES[:20]] + [
    "not", "no", "we don't", "but", "?", ".", "\n", "hundreds of", "tokens", "a month", "on the", "’", "‑", "can you"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_PHRASES), min_size=1, max_size=8), st.text(max_size=30))
def test_quotes_are_exact_substrings_and_detection_is_deterministic(parts: list[str], noise: str) -> None:
    text = " ".join(parts) + noise
    first = detect_cues(text)
    assert detect_cues(text) == first
    assert list(first) == [f for f in FIELD_ORDER if f in first]
    for field, cue in first.items():
        assert cue.field == field
        assert cue.quote and text[cue.start:cue.start + len(cue.quote)] == cue.quote
        Profile(**{field: cue.value})  # every value is a valid Profile value


def test_detection_is_linear_on_hostile_input() -> None:
    for text in ("hundreds of " * 2000, "5 labelled " * 3000, "not patient data " * 2000, "a " * 10000 + "tokens"):
        begun = time.perf_counter()
        detect_cues(text)
        assert time.perf_counter() - begun < 5.0


# --- the dev set --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def situations() -> list[Situation]:
    return load_situations()


def test_dev_set_shape(situations: list[Situation]) -> None:
    assert len(situations) >= 32
    assert {s.expected_recommendation for s in situations} == set(OPTIONS)
    stated = {f for s in situations for f in s.profile.stated()}
    assert stated == set(FIELD_ORDER)
    assert sum(1 for s in situations if s.turns) >= 3
    assert all(isinstance(s.profile, Profile) for s in situations)


def test_expected_recommendation_is_the_scorers_verdict(situations: list[Situation]) -> None:
    wrong = [(s.id, s.expected_recommendation, score_profile(s.profile).recommended) for s in situations
             if s.expected_recommendation != score_profile(s.profile).recommended]
    assert not wrong


def test_user_text_leaves_out_the_advisor(situations: list[Situation]) -> None:
    case = next(s for s in situations if s.id == "sit-40")
    assert "air-gapped?" not in case.user_text and "Azure" in case.user_text
    assert case.messages[1]["role"] == "assistant"


def test_cue_detector_on_the_dev_set(situations: list[Situation]) -> None:
    """Precision >= 95% of detected values, <= 3% of unstated fields invented; recall is reported, not required."""
    pairs = [(s.id, s.profile, {f: c.value for f, c in detect_cues(s.user_text).items()}) for s in situations]
    tally = tally_fields(pairs)
    print(f"\ncue detector on {len(situations)} dev situations")
    print(f"{'field':28s} {'stated':>6s} {'right':>5s} {'wrong':>5s} {'invented':>10s} {'precision':>9s} "
          f"{'recall':>6s}")
    for f in FIELD_ORDER:
        got = tally.right[f] + tally.wrong[f] + tally.invented[f]
        precision = tally.right[f] / got if got else 1.0
        recall = tally.right[f] / tally.stated[f] if tally.stated[f] else 1.0
        print(f"{f:28s} {tally.stated[f]:6d} {tally.right[f]:5d} {tally.wrong[f]:5d} "
              f"{tally.invented[f]:4d}/{tally.unstated[f]:<5d} {precision:9.2f} {recall:6.2f}")
    totals = tally.totals()
    print(f"overall: precision {totals['precision']:.3f}, recall {totals['recall']:.3f}, "
          f"invented {totals['invented_rate']:.3f} of {totals['unstated']} unstated fields")
    for line in tally.errors:
        print("  ", line)
    assert totals["invented_rate"] <= 0.03
    assert totals["precision"] >= 0.95


def test_holdout_set_is_consistent() -> None:
    """The held-out set is measured, never tuned on: only its shape and verdicts are checked here."""
    holdout = load_situations(Path(__file__).resolve().parents[1] / "evals" / "situations_holdout.yaml")
    assert len(holdout) >= 15
    assert all(s.expected_recommendation == score_profile(s.profile).recommended for s in holdout)
    assert not {s.id for s in holdout} & {s.id for s in load_situations()}


def test_values_match_tolerates_estimates_but_not_other_kinds() -> None:
    assert values_match("time_to_market_weeks", 9, 8)
    assert values_match("proprietary_data_tokens", 2.1e9, 2.13e9)
    assert not values_match("proprietary_data_tokens", 3e11, 3e9)
    assert values_match("labeled_examples", 0, 0)
    assert not values_match("labeled_examples", 0, 5)
    assert not values_match("needs_model_control", False, 0)
    assert values_match("deployment", "edge", "edge")


def test_loader_names_the_bad_case(tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("- id: a\n  text: hi\n  profile: {deployment: moon}\n  expected_recommendation: api\n")
    with pytest.raises(ValueError, match=r"case a \(profile.deployment\)"):
        load_situations(bad)
    bad.write_text("- id: a\n  text: hi\n  turns: [{role: user, content: hi}]\n  profile: {}\n"
                   "  expected_recommendation: api\n")
    with pytest.raises(ValueError, match="exactly one of text or turns"):
        load_situations(bad)
