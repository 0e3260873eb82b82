"""Key facts in the topic guides, and the chunking structure of every guide in knowledge/guides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDES = ROOT / "knowledge" / "guides"

TOPIC_GUIDES = (
    "costs-and-tco.md",
    "hardware-sizing.md",
    "adaptation-methods.md",
    "privacy-and-regulation.md",
    "licences.md",
    "vendor-lifecycle.md",
)
OPTION_IDS = ("api", "open_weight", "pretrain", "small_model")
MAX_SECTION_WORDS = 300

# (guide, fact name, regex). A regex must stay specific enough that deleting the fact fails it;
# "[^\n]*" keeps multi-part facts on one line (one table row or one bullet).
FACTS: list[tuple[str, str, str]] = [
    ("costs-and-tco.md", "GPT-4.1 launch price", r"GPT-4\.1 \| \$2(\.00)? / \$8(\.00)?"),
    ("costs-and-tco.md", "GPT-4.1 mini launch price", r"GPT-4\.1 mini \| \$0\.40 / \$1\.60"),
    ("costs-and-tco.md", "GPT-4.1 nano launch price", r"GPT-4\.1 nano \| \$0\.10 / \$0\.40"),
    ("costs-and-tco.md", "o3 price cut", r"\bo3\b[^\n]*\$10 / \$40[^\n]*cut 80%[^\n]*\$2 / \$8"),
    ("costs-and-tco.md", "Claude Opus 4 price", r"Claude Opus 4 \| \$15 / \$75"),
    ("costs-and-tco.md", "Claude Sonnet 4 price", r"Claude Sonnet 4 \| \$3 / \$15"),
    (
        "costs-and-tco.md",
        "Gemini 2.5 Pro tiered price",
        r"Gemini 2\.5 Pro \| \$1\.25 / \$10[^\n]*"
        r"\$2\.50 / \$15",
    ),
    ("costs-and-tco.md", "Gemini 2.5 Flash GA price", r"Gemini 2\.5 Flash \| \$0\.30 / \$2\.50"),
    ("costs-and-tco.md", "DeepSeek chat price", r"deepseek-chat[^\n]*\$0\.27[^\n]*\$1\.10[^\n]*2025-09-05"),
    (
        "costs-and-tco.md",
        "H100 on-demand range",
        r"H100 SXM5 \| \$3\.50[–-]5\.00 \| "
        r"\$2\.50[–-]3\.50 \| \$1\.99[–-]2\.50",
    ),
    ("costs-and-tco.md", "A100 on-demand range", r"A100 80 GB \| \$1\.50[–-]3\.00 \| \$1\.10[–-]1\.50"),
    ("costs-and-tco.md", "DeepSeek-V3 GPU-hours and cost", r"2\.788M H800 GPU-hours[^\n]*\$5\.576M at \$2/h"),
    ("costs-and-tco.md", "DeepSeek-V3 final run only", r"final training run only"),
    ("costs-and-tco.md", "Llama 3.1 GPU-hours", r"1\.46M / 7\.0M / 30\.84M H100"),
    ("costs-and-tco.md", "Llama 4 GPU-hours", r"Llama 4 Scout / Maverick \| 5\.0M / 2\.38M H100"),
    ("costs-and-tco.md", "BloombergGPT GPU-hours", r"BloombergGPT[^\n]*1\.3M A100"),
    ("costs-and-tco.md", "Phi-3-mini compute", r"Phi-3-mini[^\n]*512 H100s × 7 days"),
    ("costs-and-tco.md", "Phi-4 compute", r"Phi-4[^\n]*1,920 H100s × 21 days"),
    (
        "costs-and-tco.md",
        "6·N·D rule",
        r"C ≈ 6·N·D floating-point operations, where N is the number of parameters",
    ),
    ("costs-and-tco.md", "Llama 3 MFU", r"38[–-]43% BF16 MFU"),
    ("costs-and-tco.md", "break-even arithmetic", r"against GPT-4\.1: about 3\.75 billion tokens a month"),
    ("hardware-sizing.md", "FP32 4 bytes", r"FP32 \| 4 \|"),
    ("hardware-sizing.md", "BF16 2 bytes", r"FP16 / BF16 \| 2 \|"),
    ("hardware-sizing.md", "FP8/INT8 1 byte", r"FP8 / INT8 \| 1 \|"),
    ("hardware-sizing.md", "INT4 half a byte", r"INT4[^\n|]*\| 0\.5 \|"),
    ("hardware-sizing.md", "405B weights by precision", r"405B \| 810 GB \| 405 GB \| 203 GB"),
    ("hardware-sizing.md", "Llama 3.1 8B KV per token", r"128 KiB per token"),
    (
        "hardware-sizing.md",
        "KV formula uses KV heads",
        r"2 \(K and V\) × bytes per element × "
        r"layers × KV heads",
    ),
    (
        "hardware-sizing.md",
        "Adam mixed precision memory",
        r"\*\*16 bytes per parameter\*\* before activations",
    ),
    ("hardware-sizing.md", "HF fine-tuning memory 8B", r"8B \| 60 GB \| 16 GB \| 6 GB"),
    ("hardware-sizing.md", "HF fine-tuning memory 70B", r"70B \| 500 GB \| 160 GB \| 48 GB"),
    ("hardware-sizing.md", "HF fine-tuning memory 405B", r"405B \| 3\.25 TB \| 950 GB \| 250 GB"),
    ("hardware-sizing.md", "gpt-oss-120b on one GPU", r"gpt-oss-120b[^\n]*single 80 GB GPU[^\n]*MXFP4"),
    (
        "hardware-sizing.md",
        "gpt-oss-20b in 16 GB",
        r"gpt-oss-20b\*\* \(21B total, 3\.6B active\) runs \*\*within 16 GB",
    ),
    ("hardware-sizing.md", "DeepSeek-V3 on 8×H200", r"FP8 weights: one node of \*\*8×H200\*\*"),
    ("hardware-sizing.md", "overhead margin", r"add about 20% to the weight memory"),
    ("hardware-sizing.md", "BitNet on CPU", r"BitNet b1\.58 2B4T[^\n]*0\.4 GB[^\n]*29 ms per token"),
    ("adaptation-methods.md", "R1 allows distillation", r"DeepSeek-R1[^\n]*MIT[^\n]*allows distillation"),
    ("adaptation-methods.md", "catastrophic forgetting", r"This is catastrophic forgetting"),
    ("adaptation-methods.md", "QLoRA 70B memory", r"QLoRA about 6 GB for 8B and 48 GB for 70B"),
    ("adaptation-methods.md", "continued pre-training cost", r"8B model on 10B tokens is 4\.8×10²⁰ FLOPs"),
    ("privacy-and-regulation.md", "HIPAA BAA", r"\*\*A business associate agreement \(BAA\)\*\* is required"),
    ("privacy-and-regulation.md", "GDPR processor contract", r"Article 28"),
    ("privacy-and-regulation.md", "GDPR transfers", r"standard contractual clauses"),
    (
        "privacy-and-regulation.md",
        "air-gapped",
        r"Air-gapped environments[^\n]*no connection to the internet",
    ),
    ("privacy-and-regulation.md", "no-training terms", r"No training on your data"),
    ("licences.md", "700M MAU clause", r"700 million monthly active users"),
    ("licences.md", "sole discretion", r"sole discretion"),
    ("licences.md", "Llama name prefix", r"name must start with \"Llama\""),
    ("licences.md", "Built with Llama", r"use or distribute Llama models must display \"Built with Llama\""),
    ("licences.md", "Llama 4 EU carve-out", r"multimodal[^\n]*domiciled in the European Union"),
    ("licences.md", "Qwen Research License sizes", r"Qwen2\.5-3B and Qwen2\.5-72B[^\n]*non-commercial"),
    ("licences.md", "LLM360 K2 fully open", r"LLM360 K2[^\n]*360 intermediate checkpoints"),
    ("licences.md", "Gemma prohibited use", r"\*\*Prohibited Use Policy:\*\*"),
    (
        "licences.md",
        "DeepSeek Model License commercial",
        r"DeepSeek Model License[^\n]*\n*[^\n]*"
        r"allows commercial use",
    ),
    ("vendor-lifecycle.md", "OpenAI GA notice", r"Generally available \(GA\) models \| at least 6 months"),
    ("vendor-lifecycle.md", "OpenAI specialised notice", r"Specialised variants \| at least 3 months"),
    ("vendor-lifecycle.md", "OpenAI preview notice", r"Preview models \| [^\n]*2 weeks"),
    ("vendor-lifecycle.md", "GPT-4.5 preview dates", r"2025-02-27[\s\S]{0,600}2025-07-14"),
    ("vendor-lifecycle.md", "Gemini 2.5 lifetime", r"\*\*2025-06-17\*\*[^\n]*\*\*2026-06-17\*\*"),
    ("vendor-lifecycle.md", "Magistral Medium retired", r"retired on 2025-11-30"),
    ("vendor-lifecycle.md", "Mistral Medium 3 deprecated", r"deprecated on 2026-05-22"),
    ("vendor-lifecycle.md", "DeepSeek stable names", r"new price list\*\* took effect from \*\*2025-09-05"),
]


def _sections(text: str) -> tuple[list[str], list[tuple[str, int, list[str]]]]:
    """Return (H1 titles, [(heading text, level, body lines)]) skipping fenced code blocks."""
    h1: list[str] = []
    sections: list[tuple[str, int, list[str]]] = [("(intro)", 1, [])]
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            sections[-1][2].append(line)
            continue
        match = None if in_fence else re.match(r"^(#{1,6})\s+(.+?)\s*#*\s*$", line)
        if match:
            level = len(match.group(1))
            if level == 1:
                h1.append(match.group(2))
            sections.append((match.group(2), level, []))
        else:
            sections[-1][2].append(line)
    return h1, sections


def _word_count(lines: list[str]) -> int:
    return sum(1 for token in " ".join(lines).split() if re.search(r"\w", token))


def _all_guides() -> list[Path]:
    return sorted(GUIDES.glob("*.md"))


def test_topic_guides_exist() -> None:
    missing = [name for name in TOPIC_GUIDES if not (GUIDES / name).is_file()]
    assert not missing, f"missing topic guides: {missing}"


@pytest.mark.parametrize(("guide", "name", "pattern"), FACTS, ids=[f"{g}:{n}" for g, n, _ in FACTS])
def test_key_fact_present(guide: str, name: str, pattern: str) -> None:
    text = (GUIDES / guide).read_text(encoding="utf-8")
    assert re.search(pattern, text, flags=re.IGNORECASE), f"{guide}: fact '{name}' not found ({pattern})"


@pytest.mark.parametrize("guide", TOPIC_GUIDES)
def test_topic_guide_links_to_all_options(guide: str) -> None:
    _, sections = _sections((GUIDES / guide).read_text(encoding="utf-8"))
    bodies = {heading: body for heading, _, body in sections}
    assert "How this affects the choice" in bodies, f"{guide}: no 'How this affects the choice' section"
    body = "\n".join(bodies["How this affects the choice"])
    for option in OPTION_IDS:
        assert f"`{option}`" in body, f"{guide}: 'How this affects the choice' does not mention `{option}`"


def test_guides_found() -> None:
    assert _all_guides(), f"no guides in {GUIDES}"


@pytest.mark.parametrize("path", _all_guides(), ids=lambda p: p.name)
def test_guide_structure(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    h1, sections = _sections(text)
    assert len(h1) == 1, f"{path.name}: expected exactly one H1, found {len(h1)}"
    assert text.lstrip().startswith("# "), f"{path.name}: the first line must be the H1"

    headings = [heading for heading, level, _ in sections if level >= 2]
    duplicates = sorted({h for h in headings if headings.count(h) > 1})
    assert not duplicates, f"{path.name}: duplicate headings {duplicates}"

    too_long = [
        (heading, words) for heading, _, body in sections if (words := _word_count(body)) > MAX_SECTION_WORDS
    ]
    assert not too_long, f"{path.name}: sections over {MAX_SECTION_WORDS} words: {too_long}"
