"""The option guides cover every point of the seed build-vs-buy guide, in their own words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUIDES = REPO / "knowledge" / "guides"
SEED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "seed-guide.md"

OPTION_GUIDES = (
    "option-api.md",
    "option-open-weight.md",
    "option-pretrain.md",
    "option-small-model.md",
    "choosing-an-approach.md",
)

# (fact id, guide file, alternative regexes; at least one must match, case-insensitive)
SEED_FACTS: list[tuple[str, str, list[str]]] = [
    # --- Option 1: commercial API -------------------------------------------------------
    (
        "api example models",
        "option-api.md",
        [r"GPT-4\.1.*GPT-4\.5[\s\S]*Claude Opus 4[\s\S]*Gemini 2\.5 Pro"],
    ),
    (
        "api least ML skill",
        "option-api.md",
        [r"least machine-learning and model-training expertise", r"lowest skill barrier"],
    ),
    (
        "api low upfront cost, spend at inference",
        "option-api.md",
        [r"no training run or GPU purchase up front[\s\S]{0,200}inference charges"],
    ),
    ("api least data, zero/few-shot", "option-api.md", [r"smallest data requirement[\s\S]{0,120}zero-shot"]),
    (
        "api best-performing models, better UX",
        "option-api.md",
        [r"strongest models on the market[\s\S]{0,100}better experience"],
    ),
    (
        "api time-to-market and de-risking",
        "option-api.md",
        [r"time-to-market shrinks and the project is de-risked"],
    ),
    ("api cost at scale / TCO", "option-api.md", [r"total cost of ownership therefore rises quickly"]),
    (
        "api regulated industries restrict PII",
        "option-api.md",
        [r"healthcare and finance[\s\S]{0,80}(personally identifiable|personal)"],
    ),
    (
        "api lock-in, moat must come from elsewhere",
        "option-api.md",
        [r"defensibility has to come from elsewhere"],
    ),
    (
        "api costly fine-tuning",
        "option-api.md",
        [
            r"fine-tuning options are narrow and priced at a premium",
            r"comparatively expensive, and you never receive the resulting weights",
        ],
    ),
    (
        "api no edge deployment",
        "option-api.md",
        [r"cannot be deployed on edge devices", r"on-device, offline or edge scenarios[^.]*not possible"],
    ),
    (
        "api model improvements outside your control",
        "option-api.md",
        [r"improvements to the model arrive on the vendor's schedule"],
    ),
    ("api latency and rate limits", "option-api.md", [r"network latency and enforce rate limits"]),
    ("api third-party availability", "option-api.md", [r"outages at the provider become your outages"]),
    (
        "api limited internals/transparency",
        "option-api.md",
        [r"little visibility into or control over the model's internals"],
    ),
    (
        "api when: less technical teams, downstream apps",
        "option-api.md",
        [r"light on ML expertise\*\* but wants to build applications"],
    ),
    (
        "api when: best quality without infrastructure",
        "option-api.md",
        [r"best model quality available\*\* and have no wish to operate GPUs"],
    ),
    (
        "api when: very little training data",
        "option-api.md",
        [r"very little training data[\s\S]{0,120}zero-shot and few-shot"],
    ),
    (
        "api when: prototyping",
        "option-api.md",
        [r"prototyping or exploring[\s\S]{0,200}before you commit budget"],
    ),
    (
        "api when: small teams, internals not critical",
        "option-api.md",
        [r"internals are not critical[\s\S]{0,120}small teams"],
    ),
    (
        "api takeaway: speed/performance vs flexibility/cost control",
        "option-api.md",
        [r"optimised for speed and raw performance[\s\S]{0,200}flexibility and control over cost"],
    ),
    # --- Option 2: open-weight ---------------------------------------------------------------
    (
        "open example models",
        "option-open-weight.md",
        [
            r"gpt-oss \(120B and 20B\)[\s\S]*Llama 4 Scout and Maverick[\s\S]*Qwen 3[\s\S]*DeepSeek V3 and R1"
            r"[\s\S]*Magistral Small[\s\S]*BitNet b1\.58 2B4T[\s\S]*LLM360 K2"
        ],
    ),
    (
        "open Mistral Medium 3 is not open-weight",
        "option-open-weight.md",
        [r"Mistral Medium 3 and Magistral Medium are not open-weight"],
    ),
    (
        "open gpt-oss-120b fits one 80 GB GPU",
        "option-open-weight.md",
        [r"gpt-oss-120b[\s\S]{0,120}single 80 GB GPU"],
    ),
    ("open BitNet 1-bit efficiency", "option-open-weight.md", [r"native 1-bit \(ternary-weight\)"]),
    (
        "open K2 transparency",
        "option-open-weight.md",
        [r"LLM360 K2[\s\S]{0,200}(intermediate checkpoints|publish everything)"],
    ),
    (
        "open no per-inference fees",
        "option-open-weight.md",
        [r"without paying a provider for every inference"],
    ),
    (
        "open less dependent on vendor roadmap",
        "option-open-weight.md",
        [r"less exposed to a provider's roadmap"],
    ),
    (
        "open cheaper/faster than pre-training: less data, time, budget",
        "option-open-weight.md",
        [r"far less data, fewer GPU-hours and a much smaller budget"],
    ),
    (
        "open transparency and fine-tuning for domains",
        "option-open-weight.md",
        [r"inspect the weights[\s\S]{0,120}fine-tune or continue training the model for a specific domain"],
    ),
    (
        "open expertise to fine-tune, optimise and host",
        "option-open-weight.md",
        [r"fine-tuning well, optimising inference[\s\S]{0,120}hosting reliably"],
    ),
    ("open reproducibility challenge", "option-open-weight.md", [r"reproducibility is hard"]),
    (
        "open slower than API, vertical stack",
        "option-open-weight.md",
        [r"slower to market than an API[\s\S]{0,60}deeper vertical stack"],
    ),
    (
        "open integration and scaling challenges",
        "option-open-weight.md",
        [r"integration and scaling problems"],
    ),
    (
        "open performance lag of months to years",
        "option-open-weight.md",
        [r"by a few months for some capabilities and by a year or more"],
    ),
    (
        "open competitors on frontier APIs may gain",
        "option-open-weight.md",
        [r"competitor building on a cutting-edge API may ship a noticeably better"],
    ),
    ("open licence constraints", "option-open-weight.md", [r"legal and licence constraints"]),
    (
        "open: fine-tune rather than scratch if architecture unchanged",
        "option-open-weight.md",
        [r"not changing the model architecture[\s\S]{0,200}nearly always a better investment"],
    ),
    (
        "open: continue pre-training from existing weights",
        "option-open-weight.md",
        [r"continued pre-training from the existing weights"],
    ),
    ("open when: dataset not huge or diverse", "option-open-weight.md", [r"neither huge nor very diverse"]),
    (
        "open when: regulated / no external API",
        "option-open-weight.md",
        [r"regulated settings, or wherever user data may not be passed to an external API"],
    ),
    (
        "open when: edge for latency, cost, location",
        "option-open-weight.md",
        [r"edge or locally,?\*\*[^.]*latency[^.]*cost[^.]*location"],
    ),
    (
        "open takeaway: middle ground, maturity, performance gap",
        "option-open-weight.md",
        [r"middle ground[\s\S]{0,300}technical maturity[\s\S]{0,200}trail the best commercial"],
    ),
    (
        "open recommended as best balance",
        "option-open-weight.md",
        [r"most teams, as of [A-Z][a-z]+ 20\d\d, [^.]*best overall balance"],
    ),
    # --- Option 3: pre-training -------------------------------------------------------------
    ("pretrain most demanding", "option-pretrain.md", [r"most resource-hungry and technically demanding"]),
    (
        "pretrain precondition: massive unique data",
        "option-pretrain.md",
        [r"massive, distinctive, high-quality dataset"],
    ),
    (
        "pretrain precondition: custom architecture not supported",
        "option-pretrain.md",
        [r"something existing models cannot provide[\s\S]{0,100}custom architecture"],
    ),
    (
        "pretrain precondition: full ownership and auditability",
        "option-pretrain.md",
        [r"complete ownership of the stack[\s\S]{0,60}auditability"],
    ),
    (
        "pretrain via consultants / platforms / hybrid",
        "option-pretrain.md",
        [
            r"consultancies[\s\S]{0,600}managed LLM training platforms"
            r"[\s\S]{0,600}continued pre-training from an open checkpoint"
        ],
    ),
    (
        "pretrain control over performance, architecture, direction",
        "option-pretrain.md",
        [r"how the model performs, how it is built and where it goes next"],
    ),
    (
        "pretrain dataset control: quality, bias, safety",
        "option-pretrain.md",
        [r"quality, its biases and its safety"],
    ),
    ("pretrain moat and feedback loops", "option-pretrain.md", [r"usage generates new data and feedback"]),
    (
        "pretrain innovate on techniques",
        "option-pretrain.md",
        [r"experiment with new architectures, training techniques"],
    ),
    (
        "pretrain cross-domain expertise",
        "option-pretrain.md",
        [r"ML modelling, hardware and distributed-systems optimisation, and large-scale data engineering"],
    ),
    (
        "pretrain late errors irreversible",
        "option-pretrain.md",
        [r"mistakes surface late and are hard to undo"],
    ),
    (
        "pretrain millions for worse results",
        "option-pretrain.md",
        [r"spending millions and ending up with a model that is weaker"],
    ),
    (
        "pretrain less efficient, needs enormous diverse data",
        "option-pretrain.md",
        [r"enormous amounts of diverse, high-quality data[\s\S]{0,200}less efficient"],
    ),
    (
        "pretrain alter tokenizer, vocab, dims, heads, layers",
        "option-pretrain.md",
        [
            r"tokenizer or vocabulary size, changing hidden dimensions, "
            r"the number of attention heads or the number of layers"
        ],
    ),
    (
        "pretrain central to strategy, investment appetite",
        "option-pretrain.md",
        [r"core to the business and its moat[\s\S]{0,120}appetite for investment"],
    ),
    (
        "pretrain proprietary data + continuous improvement loop",
        "option-pretrain.md",
        [r"continuous improvement loop in which deployment feeds training"],
    ),
    (
        "pretrain suits scale, unique data, research goals",
        "option-pretrain.md",
        [r"research groups pursuing ambitious ML research"],
    ),
    (
        "pretrain DeepSeek-V3 cost figure",
        "option-pretrain.md",
        [r"2\.788M H800 GPU-hours[\s\S]{0,80}\$5\.6M[\s\S]{0,200}excludes"],
    ),
    (
        "pretrain takeaway: control vs resource-intensive risk",
        "option-pretrain.md",
        [r"most control and ownership, yet it consumes vast resources and carries high risk"],
    ),
    # --- Small model --------------------------------------------------------------------------
    (
        "small targeted tasks",
        "option-small-model.md",
        [r"classification with fixed labels[\s\S]*information extraction[\s\S]*routing"],
    ),
    (
        "small candidate LMs",
        "option-small-model.md",
        [r"Qwen2\.5-0\.5B[\s\S]*SmolLM2[\s\S]*Llama 3\.2 1B and 3B[\s\S]*Phi-4-mini[\s\S]*Gemma 3 1B and 4B"],
    ),
    (
        "small encoders and logistic regression",
        "option-small-model.md",
        [r"BERT-style[\s\S]{0,600}logistic regression on embeddings"],
    ),
    ("small distillation", "option-small-model.md", [r"distillation uses a large model as a teacher"]),
    (
        "small labelled data needs",
        "option-small-model.md",
        [r"hundreds to a few thousand labelled examples per class"],
    ),
    (
        "small less complexity, training time, ongoing cost",
        "option-small-model.md",
        [r"much less complexity[\s\S]{0,300}short training time[\s\S]{0,300}low ongoing cost"],
    ),
    (
        "small no general-purpose/generative need",
        "option-small-model.md",
        [r"do not need the general-purpose or generative capabilities"],
    ),
    # --- Decision overview --------------------------------------------------------------------
    (
        "choose comparison table rows",
        "choosing-an-approach.md",
        [r"^\| `api` \|[\s\S]*^\| `open_weight` \|[\s\S]*^\| `pretrain` \|[\s\S]*^\| `small_model` \|"],
    ),
    (
        "choose table: api fit",
        "choosing-an-approach.md",
        [r"prototypes and exploration, small or less technical teams[^|]*internals do not matter"],
    ),
    (
        "choose table: open fit",
        "choosing-an-approach.md",
        [r"customisation, privacy of sensitive data, or local"],
    ),
    (
        "choose table: pretrain fit",
        "choosing-an-approach.md",
        [r"large organisations with distinctive data or ambitious ML research agendas"],
    ),
    (
        "choose takeaways",
        "choosing-an-approach.md",
        [r"optimises for speed and performance[\s\S]*middle ground[\s\S]*maximises control and ownership"],
    ),
    (
        "choose recommendation open-weight",
        "choosing-an-approach.md",
        [r"recommend adopting an open or open-weight model[^.]*best overall balance"],
    ),
    (
        "choose pretrain only when no suitable model",
        "choosing-an-approach.md",
        [r"only if no published model fits your needs[\s\S]{0,160}well beyond"],
    ),
    (
        "choose small model for targeted use",
        "choosing-an-approach.md",
        [r"very targeted set[\s\S]{0,120}general-purpose or generative"],
    ),
    (
        "choose hybrid: prototype on API then open weights",
        "choosing-an-approach.md",
        [r"pilot on a commercial API[\s\S]{0,900}self-hosted open-weight model"],
    ),
    ("choose decision checklist", "choosing-an-approach.md", [r"^## Decision checklist"]),
]


def _read(name: str) -> str:
    return (GUIDES / name).read_text(encoding="utf-8")


def test_fact_table_is_substantial() -> None:
    assert len(SEED_FACTS) >= 35
    assert len({fact_id for fact_id, _, _ in SEED_FACTS}) == len(SEED_FACTS)


@pytest.mark.parametrize(("fact_id", "guide", "patterns"), SEED_FACTS, ids=[f[0] for f in SEED_FACTS])
def test_seed_fact_is_covered(fact_id: str, guide: str, patterns: list[str]) -> None:
    text = _read(guide)
    flags = re.IGNORECASE | re.MULTILINE
    assert any(re.search(p, text, flags) for p in patterns), f"{guide} lacks seed fact {fact_id!r}"


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", " ", text.lower()).split()


def test_guides_do_not_copy_seed_guide_verbatim() -> None:
    if not SEED.exists():
        pytest.skip(f"seed guide not found at {SEED} (shared/ sits beside the clone in CI)")
    seed = _words(SEED.read_text(encoding="utf-8"))
    runs = {tuple(seed[i : i + 12]) for i in range(len(seed) - 11)}
    copied = []
    for guide in OPTION_GUIDES:
        words = _words(_read(guide))
        copied += [
            f"{guide}: {' '.join(words[i : i + 12])}"
            for i in range(len(words) - 11)
            if tuple(words[i : i + 12]) in runs
        ]
    assert not copied, "12-word runs copied from the seed guide:\n" + "\n".join(copied)
