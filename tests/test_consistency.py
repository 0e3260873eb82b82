"""The guides agree with each other, with the catalog and with the scoring policy.

Each check was written after a contradiction of its kind was found (issue 13): present-tense "in 2025" framing,
a frontier named that the catalog does not hold, GPU-count claims that break the hardware-sizing rule, BitNet's
non-embedding figure quoted as its size, an output/input price ratio the catalog's own prices contradict, and
guide thresholds that differ from the thresholds the scorer uses.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from advisor.catalog import ModelEntry, load_catalog
from advisor.scoring import load_policy

GUIDES = Path(__file__).resolve().parents[1] / "knowledge" / "guides"
FRAMED = ("choosing-an-approach.md", "option-open-weight.md", "option-api.md")
MONTHS = {m: i for i, m in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
     "December"], start=1)}


def _guide(name: str) -> str:
    return (GUIDES / name).read_text(encoding="utf-8")


def _body_lines(text: str) -> Iterator[str]:
    """Lines that are not headings: a heading may name a dated snapshot ("... in 2025") and other sets cite it."""
    return (line for line in text.splitlines() if not line.startswith("#"))


def _section(name: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", _guide(name), re.M | re.S)
    assert match, f"{name} has no section {heading!r}"
    return match.group(1)


# --- dated facts, not "in 2025" ----------------------------------------------------------------------------------

PRESENT_YEAR = re.compile(r"\b(?:in|of|for|during) (20\d\d)\b(?![–-])")
AS_OF = re.compile(r"\bas of (" + "|".join(MONTHS) + r") (20\d\d)\b", re.I)


@pytest.mark.parametrize("name", sorted(p.name for p in GUIDES.glob("*.md")))
def test_no_guide_frames_advice_by_a_bare_year(name: str) -> None:
    """'For most teams in 2025' reads as today's advice whatever today is; a fact carries its own date instead."""
    framed = [line.strip()[:120] for line in _body_lines(_guide(name)) if PRESENT_YEAR.search(line)]
    assert not framed, f"{name}: say 'as of <month> <year>' or date the fact itself: {framed}"


def test_the_bare_year_check_would_have_caught_the_old_wording() -> None:
    assert PRESENT_YEAR.search("For most teams in 2025, adopting an open-weight model gives the best balance.")
    assert PRESENT_YEAR.search("The flagship commercial models of 2025 are the typical examples.")
    assert not PRESENT_YEAR.search("GPT-4.5 preview was retired in July 2025 (Azure, 2025-07-14).")


@pytest.mark.parametrize("name", FRAMED)
def test_the_recommendation_guides_say_as_of_when(name: str) -> None:
    dates = [dt.date(int(year), MONTHS[month.capitalize()], 1) for month, year in AS_OF.findall(_guide(name))]
    assert dates, f"{name}: no 'as of <month> <year>' statement"
    assert all(dt.date(2026, 1, 1) <= d <= dt.date.today() for d in dates), (name, dates)


# --- the frontier named in the guides is the catalog's -----------------------------------------------------------

API_NAME = re.compile(
    r"\b(GPT-\d+(?:\.\d+)?o?(?: (?:mini|nano|pro))?|Claude (?:Opus|Sonnet|Haiku) \d+(?:\.\d+)?"
    r"|Gemini \d+(?:\.\d+)? (?:Pro|Flash(?:-Lite)?))\b")


def _catalog_models() -> dict[str, ModelEntry]:
    """Catalog models by name, and by the name without a parenthesised suffix ("Gemini 3.1 Pro (preview)")."""
    models: dict[str, ModelEntry] = {}
    for model in load_catalog().models:
        models[model.name] = models[re.sub(r"\s*\(.*\)$", "", model.name)] = model
    return models


@pytest.mark.parametrize("name", (*FRAMED, "costs-and-tco.md", "vendor-lifecycle.md"))
def test_every_versioned_api_model_named_is_in_the_catalog(name: str) -> None:
    models = _catalog_models()
    unknown = sorted(n for n in set(API_NAME.findall(_guide(name))) if n not in models)
    assert not unknown, f"{name} names API models the catalog does not hold (name the family instead): {unknown}"


@pytest.mark.parametrize("name", FRAMED)
def test_what_the_guides_call_current_is_not_retired(name: str) -> None:
    """A paragraph that says 'as of <month> <year>' names no model the catalog has retired by then."""
    models = _catalog_models()
    current = [p for p in re.split(r"\n\s*\n", _guide(name)) if AS_OF.search(p)]
    assert current
    for paragraph in current:
        month, year = AS_OF.findall(paragraph)[0]
        when = dt.date(int(year), MONTHS[month.capitalize()], 28)
        retired = [m for m in API_NAME.findall(paragraph) if models[m].is_retired(when)]
        assert not retired, f"{name}: retired models named as current: {retired}: {paragraph[:120]}"


def test_the_retired_check_would_have_caught_gemini_2_5_pro_as_todays_frontier() -> None:
    assert _catalog_models()["Gemini 2.5 Pro"].is_retired(dt.date(2026, 12, 28))


# --- GPU-count claims follow the hardware-sizing rule ------------------------------------------------------------

# hardware-sizing.md: weights = parameters x bytes per parameter (BF16 2, FP8 1, 4-bit 0.5), plus about 20% overhead.
BYTES = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "8-bit": 1.0, "4-bit": 0.5, "int4": 0.5, "mxfp4": 0.5,
         "qlora": 0.5, "q4_k_m": 0.5}
OVERHEAD = 1.2
PRECISION = re.compile(r"\b(BF16|FP16|FP8|INT8|8-bit|4-bit|int4|MXFP4|QLoRA|Q4_K_M)\b", re.I)
ONE_GPU = re.compile(r"\b(?:one|a single|single)\s+(?:(?P<mem>\d+)\s*GB\s+)?(?:or \d+\s*GB\s+)?"
                     r"(?:[a-z-]+\s+)?(?P<unit>GPUs?|cards?|H100|H200)\b", re.I)
SIZE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)B\b(?!\s*(?:active|tokens?\b))", re.I)


def _clauses(text: str) -> Iterator[str]:
    text = re.sub(r"\*\*|`", "", text)
    for block in re.split(r"\n\s*\n|\n(?=\s*[-*] |\s*\d+\. |\|)", text):
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z])", block):
            yield from (c.strip() for c in re.split(r";|, while |, but |, and the |, (?=\d+(?:\.\d+)?B\b)", sentence))


def single_gpu_claims(text: str) -> Iterator[tuple[str, float, float, float]]:
    """(clause, billions of parameters, bytes per parameter, GB of the one GPU) for each 'fits one GPU' claim."""
    for clause in _clauses(text):
        for match in ONE_GPU.finditer(clause):
            sizes = [(m.start(), float(m.group(1))) for m in SIZE.finditer(clause) if m.start() < match.start()]
            if not sizes:
                continue
            size = sizes[-1][1]  # the model size named nearest before the claim
            # the precision named nearest the claim, on either side (after it on a tie: "one 24 GB card at 4-bit")
            precisions = [(match.start() - m.end() if m.end() <= match.start() else m.start() - match.end(),
                           m.start() < match.start(), BYTES[m.group(1).lower()]) for m in PRECISION.finditer(clause)]
            bytes_per = min(precisions)[2] if precisions else BYTES["bf16"]
            unit = match.group("unit").upper()
            memory = float(match.group("mem") or (141 if unit == "H200" else 80))
            yield clause, size, bytes_per, memory


def _violations(text: str) -> list[str]:
    return [f"{size:g}B x {b:g} B/param x {OVERHEAD} = {size * b * OVERHEAD:.0f} GB > {mem:g} GB: {clause[:140]}"
            for clause, size, b, mem in single_gpu_claims(text) if size * b * OVERHEAD > mem]


def test_every_single_gpu_claim_fits_by_the_sizing_rule() -> None:
    texts = {p.name: p.read_text(encoding="utf-8") for p in GUIDES.glob("*.md")}
    claims = [c for text in texts.values() for c in single_gpu_claims(text)]
    assert len(claims) >= 10, claims  # the scan finds the claims it is meant to check
    bad = [f"{name}: {v}" for name, text in texts.items() for v in _violations(text)]
    assert not bad, "\n".join(bad)


def _catalog_texts(entry: ModelEntry) -> list[str]:
    """Every free-text field of a catalog entry that can state a hardware claim."""
    texts = [entry.notes, entry.license_notes, entry.deprecation, entry.architecture, *entry.strengths]
    if entry.min_hardware is not None:
        texts.append(entry.min_hardware.description)
    return [t for t in texts if t]


def test_every_single_gpu_claim_in_the_catalog_fits_by_the_sizing_rule() -> None:
    """The catalog's notes follow hardware-sizing.md too (the R1 entry once said its 70B distill ran on one GPU)."""
    bad = [f"{m.id}: {v}" for m in load_catalog().models for text in _catalog_texts(m) for v in _violations(text)]
    assert not bad, "\n".join(bad)
    r1 = load_catalog().get("deepseek-r1")
    assert r1.min_hardware and "70B distill needs two 80 GB GPUs in BF16" in r1.min_hardware.description


def test_the_gpu_check_would_have_caught_the_r1_distill_claim() -> None:
    assert _violations("distilled 1.5B-70B dense variants run on single GPUs")  # the catalog's old wording
    old = ("- The DeepSeek-R1 distilled models (1.5B to 70B, built on Qwen and Llama bases) run on single GPUs "
           "(DeepSeek-R1 README, Jan 2025).")
    assert _violations(old)
    assert not _violations("- 70B in 4-bit fits one 48 GB or 80 GB card.")
    assert not _violations("gpt-oss-120b (117B total) fits on a single 80 GB GPU because it ships in MXFP4.")


def test_seventy_b_in_bf16_is_never_said_to_fit_one_gpu() -> None:
    rule = _section("hardware-sizing.md", "Weight memory worked examples")
    assert re.search(r"70B\*\* in BF16 needs at least two 80 GB GPUs", rule)
    assert 70 * BYTES["bf16"] * OVERHEAD > 80  # the rule itself: why two


def test_bitnet_is_sized_as_non_embedding_weights_plus_a_one_gb_file() -> None:
    """0.4 GB is BitNet's non-embedding weight memory; the packed file with its embeddings is about 1 GB."""
    for path in GUIDES.glob("*.md"):
        for clause in _clauses(path.read_text(encoding="utf-8")):
            if "BitNet" in clause and re.search(r"\b0\.4 GB\b", clause):
                assert "non-embedding" in clause, f"{path.name}: {clause[:140]}"
    hardware = _section("option-open-weight.md", "Hardware needs of smaller open models")
    assert re.search(r"BitNet[^\n]*non-embedding[^\n]*packed model file[^\n]*about 1 GB", hardware)
    entry = next(m for m in load_catalog().models if m.id == "bitnet-b1.58-2b-4t")
    assert entry.min_hardware and "non-embedding" in entry.min_hardware.description
    assert "1.0 GB" in entry.min_hardware.description


# --- output / input price ratio ----------------------------------------------------------------------------------

def test_the_stated_output_input_ratio_is_the_catalogs_range() -> None:
    text = _section("costs-and-tco.md", "Reading token prices correctly")
    match = re.search(r"Output costs more than input\*\*, from about (\d+(?:\.\d+)?)× to about (\d+(?:\.\d+)?)×", text)
    assert match, "the costs guide no longer states the output/input range in the checked form"
    low, high = float(match.group(1)), float(match.group(2))
    ratios = [m.price.output_per_mtok / m.price.input_per_mtok for m in load_catalog().models
              if m.price and m.price.input_per_mtok]
    assert len(ratios) >= 5
    # "about": within half a unit of the catalog's extremes (a little more room below, where 1.4x and 2x sit)
    assert min(ratios) - 0.6 <= low <= min(ratios) + 0.6, (low, min(ratios))
    assert max(ratios) - 0.5 <= high <= max(ratios) + 0.5, (high, max(ratios))
    assert "four to five times" not in text


# --- thresholds stated in the guides are the scorer's ------------------------------------------------------------

_WORDS = {"five": 5, "thirteen": 13, "a": 1}
_SCALE = {"million": 1e6, "billion": 1e9, "trillion": 1e12, "weeks": 1, "labelled": 1, "": 1}


def _number(text: str) -> float:
    """'100 million' -> 1e8, '1,000' -> 1000, 'five weeks' -> 5, 'a trillion' -> 1e12."""
    match = re.fullmatch(r"(?:about )?([\d,]+|five|thirteen|a) ?(million|billion|trillion|weeks|labelled|)\b.*",
                         text.strip())
    assert match, text
    head = match.group(1)
    value = float(head.replace(",", "")) if head[0].isdigit() else _WORDS[head]
    return value * _SCALE[match.group(2)]


# (guide, section, regex whose group 1 is the stated number, rule id, the rule's bound on its field)
THRESHOLDS: list[tuple[str, str, str, str, str]] = [
    ("choosing-an-approach.md", "Decision checklist: data, privacy and deployment",
     r"Under (\d+) labelled examples", "labels-few", "max"),
    ("choosing-an-approach.md", "Decision checklist: data, privacy and deployment",
     r"from about ([\d,]+) \(a few hundred per class", "labels-many", "min"),
    ("choosing-an-approach.md", "Decision checklist: data, privacy and deployment",
     r"From about (\d+ million) tokens of unique domain text, continued pre-training", "data-domain", "min"),
    ("choosing-an-approach.md", "Decision checklist: data, privacy and deployment",
     r"from about (\d+ billion) unique, high-quality tokens, pre-training from scratch", "data-massive", "min"),
    ("choosing-an-approach.md", "Decision checklist: data, privacy and deployment",
     r"(a trillion) or more is a data moat", "data-web-scale", "min"),
    ("choosing-an-approach.md", "Decision checklist: team, budget and time",
     r"about a month or less \(under (five) weeks\) points to an API", "deadline-weeks", "max"),
    ("choosing-an-approach.md", "Decision checklist: team, budget and time",
     r"inside a quarter \(under (\d+) weeks\) still leans", "deadline-quarter", "max"),
    ("choosing-an-approach.md", "Decision checklist: team, budget and time",
     r"pre-training needs more than half a year \((\d+) weeks\)", "deadline-too-soon-to-pretrain", "max"),
    ("option-open-weight.md", "When to avoid the open-weight route",
     r"about a month or less \(under (five) weeks\)", "deadline-weeks", "max"),
    ("option-small-model.md", "Labelled data requirements", r"under (\d+) labelled examples", "labels-few", "max"),
    ("option-small-model.md", "Labelled data requirements", r"from (\d+) to [\d,]+, try", "labels-some", "min"),
    ("option-small-model.md", "Labelled data requirements", r"from \d+ to ([\d,]+), try", "labels-some", "max"),
    ("option-small-model.md", "Labelled data requirements", r"from about ([\d,]+) \(a few hundred per class",
     "labels-many", "min"),
    ("option-small-model.md", "When to choose a small model", r"about ([\d,]+) or more in total", "labels-many",
     "min"),
    ("adaptation-methods.md", "Continued pre-training from open weights", r"from (about \d+ million) tokens",
     "data-domain", "min"),
    ("adaptation-methods.md", "Data needed per method",
     r"Continued pre-training \| (about \d+ million) to", "data-domain", "min"),
    ("adaptation-methods.md", "Data needed per method",
     r"Continued pre-training \| about \d+ million to (\d+ billion)", "data-domain", "max"),
    ("option-pretrain.md", "Preconditions for pre-training", r"from (about \d+ billion) unique tokens",
     "data-massive", "min"),
    ("option-pretrain.md", "When not to pre-train", r"below (about \d+ billion) unique tokens", "data-massive", "min"),
]


@pytest.mark.parametrize(("guide", "section", "pattern", "rule_id", "bound"), THRESHOLDS,
                         ids=[f"{t[0]}:{t[3]}.{t[4]}" for t in THRESHOLDS])
def test_a_threshold_in_a_guide_is_the_scorers(guide: str, section: str, pattern: str, rule_id: str,
                                               bound: str) -> None:
    match = re.search(pattern, _section(guide, section))
    assert match, f"{guide}#{section}: the threshold sentence ({pattern}) is gone"
    [rule] = [r for r in load_policy().rules if r.id == rule_id]
    [condition] = [c for c in rule.when.values() if getattr(c, bound, None) is not None]
    assert _number(match.group(1)) == getattr(condition, bound), (guide, match.group(0), rule_id, condition)


def test_the_number_reader() -> None:
    assert _number("100 million") == 1e8 and _number("about 100 billion") == 1e11
    assert _number("1,000") == 1000 and _number("five") == 5 and _number("a trillion") == 1e12


def test_no_guide_still_says_only_trillions_justify_pre_training() -> None:
    for path in GUIDES.glob("*.md"):
        assert not re.search(r"only trillions", path.read_text(encoding="utf-8"), re.I), path.name


# --- Llama 4's EU limit reaches a European user asking about multimodal open weights -----------------------------

# The Profile has no region or modality field, and the limit concerns one model family rather than the open-weight
# option, so no scoring rule carries it: retrieval must bring the passage to the answer instead.
EU_MULTIMODAL = [
    "We are a company headquartered in Germany and want to self-host an open-weight multimodal model that reads "
    "scanned invoices and photos. Which models can we use?",
    "Our startup is based in France. Can we fine-tune Llama 4 on images of our products?",
]
EU_PASSAGES = {("guides/option-open-weight.md", "Llama 4 and EU-based companies: a regional licence limit"),
               ("guides/licences.md", "Llama 4 multimodal EU carve-out")}


def test_the_open_weight_guide_states_the_llama_4_eu_limit() -> None:
    text = _section("option-open-weight.md", "Llama 4 and EU-based companies: a regional licence limit")
    assert re.search(r"multimodal Llama 4 models[^.]*European Union[^.]*principal place of business", text)
    assert "end users" in text and "Gemma 3" in text
    assert "EU" in _section("option-open-weight.md", "Example models")  # the family's bullet points to it


@pytest.mark.parametrize("question", EU_MULTIMODAL)
def test_a_european_multimodal_question_retrieves_the_eu_limit(retriever, question: str) -> None:  # type: ignore[no-untyped-def]
    hits = retriever.search(question, k=5)
    found = {(h.path, h.section) for h in hits}
    assert found & EU_PASSAGES, [(h.path, h.section) for h in hits]


# --- the EU AI Act section is current ----------------------------------------------------------------------------

def test_the_ai_act_timeline_is_brought_to_today() -> None:
    """It stopped at the August 2025 GPAI duties; the 2026 enforcement date and the Omnibus dates must be there."""
    when = _section("privacy-and-regulation.md", "EU AI Act: what applies when")
    [(month, year)] = AS_OF.findall(when)[:1]
    assert dt.date(int(year), MONTHS[month.capitalize()], 1) >= dt.date(2026, 8, 1)
    for date in ("2 August 2025", "2 August 2026", "2 August 2027", "2 December 2027", "2 August 2028"):
        assert date in when, date
    assert "2026/1744" in when and "COM(2025) 836" in when
    means = _section("privacy-and-regulation.md", "EU AI Act: what it means for each option")
    assert "a third of the original model's training compute" in means and "Code of Practice" in means
