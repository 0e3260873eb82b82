"""The deterministic parts of an answer: input hygiene, topic and situation tests, what to ask, what to cite.

These decide and write everything that must not depend on the model: the recommendation line, assumptions,
what would change the verdict, follow-up questions, and which citations survive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advisor.config import Settings
    from advisor.profile import Profile
    from advisor.retrieval import Hit

__all__ = [
    "GATING_FIELDS",
    "OFF_TOPIC_REPLY",
    "as_data",
    "assemble_situation",
    "attribute_citations",
    "clean_message",
    "compact_costs",
    "compact_models",
    "compact_scores",
    "fit_passages",
    "gating_questions",
    "is_on_topic",
    "is_situation",
    "strip_overrides",
    "tidy_citations",
    "wants_costs",
    "wants_models",
]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
OFF_TOPIC_REPLY = (
    "I can only help with decisions about getting an LLM: calling a commercial API, adopting an open-weight "
    "model, pre-training your own, or training a small task-specific model, and the costs, hardware, licences "
    "and risks around them. Tell me about your use case (data, team, volume, where it must run), or ask, for "
    "example, \"What does it cost to self-host an open model at 2B tokens a month?\"")
_TOPIC = re.compile(
    r"\b(llms?|language models?|models?|gpt[\w.-]*|claude|gemini|llama[\w.-]*|qwen[\w.-]*|mistral|magistral|"
    r"deepseek[\w.-]*|phi-?\d|gemma|bitnet|smollm|apis?|gpus?|h100|a100|h200|fine[- ]?tun\w*|lora|qlora|"
    r"pre-?train\w*|train\w*|tokens?|tokenizer|inference|self[- ]?host\w*|open[- ]?weights?|open[- ]?source|"
    r"licen[cs]\w*|hosting|host|prompt\w*|rag|retrieval|embedding\w*|vendor|lock-?in|costs?|pric\w*|budget|"
    r"deploy\w*|on-?prem\w*|air-?gapped|edge|on-?device|chatbot|assistant|classif\w*|extract\w*|ai|ml|"
    r"machine learning|genai|moe|quantiz\w*|quantis\w*|vram|latency|throughput|distil\w*|hipaa|gdpr|pii|phi)\b",
    re.IGNORECASE)
_OVERRIDE = re.compile(
    r"[^.!?\n]*\b(ignore (all |any |the )?(previous|prior|above|earlier|your) (instructions|rules|prompts?)|"
    r"disregard (your|the|all) (instructions|rules)|you are now\b|pretend (to be|you are)|act as (a|an)\b|"
    r"forget (your|all|the) (instructions|rules)|reveal (your|the) (system )?prompt|new role|jailbreak|"
    r"developer mode)[^.!?\n]*[.!?]?", re.IGNORECASE)
_SITUATION = re.compile(
    r"\b(should (we|i|our)|shall we|what (should|would you) (we|i)|which (option|approach|path|route)|"
    r"recommend\w*|build (or|vs\.?|versus) buy|our (team|company|data|use case|product|startup|organi[sz]ation)|"
    r"we (have|need|want|are|handle|process|run|plan|must|can't|cannot|only)|we're|i'm building|"
    r"my (team|company|startup))\b", re.IGNORECASE)
_COSTS = re.compile(r"\b(costs?|pric\w*|budget|cheap\w*|expensive|break-?even|tco|spend|bill|\$)", re.IGNORECASE)
_MODELS = re.compile(r"\b(which|what) (open[- ]?weight |open |small |api )?models?\b|\bmodels? (fit|run|for)\b",
                     re.IGNORECASE)
# Gating facts: each can flip the recommendation on its own, so an unknown one makes the verdict provisional.
GATING_FIELDS = ("data_sensitivity", "deployment", "needs_custom_architecture")
_QUESTIONS = {
    "data_sensitivity": "Will the model see regulated data (personal, health, financial or classified) that must "
                        "stay on your own infrastructure?",
    "deployment": "Where must it run: a cloud service, your own servers, an air-gapped network, or on devices?",
    "task_scope": "Is the task narrow (fixed labels, routing, field extraction) or open-ended (chat, Q&A, "
                  "drafting)?",
    "needs_custom_architecture": "Do you need to change the tokenizer, vocabulary or model architecture?",
    "team_ml_expertise": "How much ML experience does your team have: none, some, ML engineers, or research?",
    "monthly_tokens": "Roughly how many tokens a month do you expect to process?",
    "labeled_examples": "How many labelled examples do you have?",
    "quality_bar": "Do you need the best quality available, or is good enough fine?",
}
_PRIORITY = ("data_sensitivity", "deployment", "task_scope", "needs_custom_architecture", "team_ml_expertise",
             "monthly_tokens", "labeled_examples", "quality_bar")


def as_data(text: str) -> str:
    """Passage text that cannot close or open the prompt's data blocks, whatever a document contains."""
    return re.sub(r"<(/?)\s*(passage|tool_result|user_text)", r"‹\1\2", text, flags=re.IGNORECASE)


def clean_message(message: str, *, max_chars: int, error: type[Exception]) -> str:
    """The message without control characters; `error` when it is empty or longer than max_chars."""
    text = _CONTROL.sub(" ", message.replace("\r\n", "\n")).strip()
    text = re.sub(r"[ \t]+", " ", text)
    if not text:
        raise error("the message is empty")
    if len(text) > max_chars:
        raise error(f"the message is too long ({len(text)} characters; the limit is {max_chars})")
    return text


def strip_overrides(text: str) -> tuple[str, str]:
    """The text without sentences that try to change the advisor's role, and a note when any were dropped."""
    cleaned = " ".join(_OVERRIDE.sub(" ", text).split())
    if cleaned == " ".join(text.split()):
        return text, ""
    return cleaned, "_I kept my role as an LLM adoption advisor and ignored a request to change my instructions._\n\n"


def is_on_topic(question: str, hits: Sequence[Hit], *, situation: bool) -> bool:
    """Whether a question is about getting or running an LLM: topic words, a situation, or a close passage."""
    if situation or _TOPIC.search(question):
        return True
    best = max((h.vector_score or 0.0 for h in hits), default=0.0)
    return best >= 0.45


def is_situation(text: str, *, has_history_profile: bool) -> bool:
    """Whether a message describes the user's own situation (so it gets a scored recommendation)."""
    from advisor.cues import detect_cues

    if _SITUATION.search(text):
        return True
    cues = detect_cues(text)
    # In a conversation that already has a profile, a short reply with a fact ("it's on-prem") completes it.
    return bool(cues) and (has_history_profile or len(cues) >= 2)


def gating_questions(profile: Profile, scores: dict[str, Any]) -> tuple[list[str], bool]:
    """At most two questions about unknown facts that matter, and whether the verdict is provisional.

    Provisional: where the data may go or where the model runs is unknown, or another gating fact is unknown
    and stating it would change the verdict.
    """
    stated = profile.stated()
    flipping = {f["field"] for f in scores["flips"]}
    unknown_gating = [f for f in GATING_FIELDS if f not in stated
                      and (f in ("data_sensitivity", "deployment") or f in flipping)]
    wanted = [f for f in _PRIORITY if f not in stated and f in flipping]
    wanted = [f for f in unknown_gating if f not in wanted] + wanted
    wanted = sorted(dict.fromkeys(wanted), key=_PRIORITY.index)
    return [_QUESTIONS[f] for f in wanted[:2]], bool(unknown_gating)


def _label(option: str | None, scores: dict[str, Any]) -> str:
    return next((r["label"] for r in scores["ranking"] if r["option"] == option), str(option))


def assemble_situation(recommendation: str | None, scores: dict[str, Any] | None, *, provisional: bool, part: str,
                       questions: Sequence[str] = ()) -> str:
    """The deterministic header (recommendation line) or footer (what-ifs, assumptions, questions)."""
    if scores is None:
        return ""
    if part == "header":
        if recommendation is None:
            return "**Recommendation: none of the four options fits every stated constraint.**\n\n"
        tag = " (provisional: some key facts are assumed)" if provisional else ""
        return f"**Recommendation: {_label(recommendation, scores)} (`{recommendation}`)**{tag}\n\n"
    blocks = ["**What would change the recommendation**\n" + (
        "\n".join(f"- {flip['change']} → {_label(flip['new_recommendation'], scores)}"
                  for flip in scores["flips"][:4])
        or "- No change to a single input would change it: the verdict is robust to each fact on its own.")]
    assumed = [a for a in scores["assumptions"] if a["field"] in GATING_FIELDS or provisional]
    if assumed:
        shown = ", ".join(f"{a['field']} = {'no limit' if a['assumed'] is None else a['assumed']}"
                          for a in assumed[:6])
        blocks.append(f"**Assumed (not stated):** {shown}.")
    if questions:
        blocks.append("**To firm this up:**\n" + "\n".join(f"- {q}" for q in questions))
    return "\n\n" + "\n\n".join(blocks)


def tidy_citations(text: str, available: int) -> tuple[str, set[int]]:
    """The text without citations to passages that were not given, and the numbers that remain."""
    cited: set[int] = set()

    def keep(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if 1 <= number <= available:
            cited.add(number)
            return match.group(0)
        return ""

    return re.sub(r"\[(\d{1,3})\]", keep, text).strip(), cited


_WORD = re.compile(r"[a-z0-9][a-z0-9.\-]*")
_STOP = frozenset((
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "with", "is", "are", "be", "it", "this",
    "that", "as", "by", "at", "from", "your", "you", "we", "our", "can", "will", "may", "not", "more",
    "than", "which", "what", "when", "how", "their", "they", "its",
))


def attribute_citations(text: str, passages: Sequence[Hit], *, min_overlap: float = 0.35) -> str:
    """When an answer cites nothing, cite each sentence's best-matching passage (by shared words) if the match
    is strong enough; a model that forgets to cite still gets only citations that point at what it used."""
    if re.search(r"\[\d{1,3}\]", text) or not passages:
        return text
    vocab = [{w for w in _WORD.findall(p.text.lower()) if w not in _STOP} for p in passages]

    def cite(sentence: str) -> str:
        words = {w for w in _WORD.findall(sentence.lower()) if w not in _STOP}
        if len(words) < 4:
            return sentence
        overlaps = [len(words & v) / len(words) for v in vocab]
        best = max(range(len(passages)), key=lambda i: overlaps[i])
        if overlaps[best] < min_overlap:
            return sentence
        stripped = sentence.rstrip()
        end = stripped[-1] if stripped[-1:] in ".!?" else ""
        return f"{stripped[: len(stripped) - len(end)]} [{best + 1}]{end}" + sentence[len(stripped):]

    return "".join(cite(part) for part in re.split(r"(?<=[.!?])(\s+)", text))


def fit_passages(passages: list[Hit], build: Callable[[list[Hit]], list[dict[str, str]]],
                 count: Callable[[list[dict[str, str]]], int], *, budget: int) -> list[Hit]:
    """As many passages (in order) as fit the token budget with the rest of the prompt; the last one is cut if
    that lets it fit, so nothing is silently truncated by the server."""
    from dataclasses import replace

    kept: list[Hit] = []
    for passage in passages:
        trial = [*kept, passage]
        if count(build(trial)) <= budget:
            kept = trial
            continue
        words = passage.text.split()
        while len(words) > 40:
            words = words[: len(words) * 2 // 3]
            shorter = replace(passage, text=" ".join(words) + " …")
            if count(build([*kept, shorter])) <= budget:
                kept.append(shorter)
                break
        break
    return kept


def compact_scores(scores: dict[str, Any]) -> str:
    """The scorer's result in a few lines a small model can read."""
    lines = [f"recommended: {scores['recommended']}"]
    for option in scores["ranking"]:
        status = "" if option["eligible"] else " (ruled out)"
        reasons = sorted((r for r in option["reasons"]), key=lambda r: r["effect"] != "excluded")[:3]
        why = "; ".join(f"{r['effect']} {r['input']}: {r['why']}" for r in reasons)
        lines.append(f"- {option['option']} score {option['score']}{status}: {why}")
    return "\n".join(lines)


def wants_costs(question: str) -> bool:
    """Whether a question asks about money."""
    return bool(_COSTS.search(question))


def wants_models(question: str) -> bool:
    """Whether a question asks which models to use."""
    return bool(_MODELS.search(question))


def compact_costs(monthly_tokens: float) -> str:
    """API vs self-hosting at a volume, with the break-even, in a few short lines."""
    from advisor.costs import compare

    d = compare("gpt-4.1-mini", "gpt-oss-120b", monthly_tokens).as_dict()
    api, own, even = d["api"], d["self_host"], d["break_even"]
    crossing = (f"{even['monthly_tokens']:.3g} tokens a month" if even.get("monthly_tokens")
                else f"none ({even.get('reason') or 'never cheaper'})")
    return "\n".join([
        f"volume: {monthly_tokens:.3g} tokens a month; horizon {d['years']:g} years",
        f"API {api['model_id']}: ${api['monthly_usd']:,.0f} a month, ${api['total_usd']:,.0f} in total",
        f"self-host {own['model_id']} on {own['gpus']} x {own['gpu']}: ${own['monthly_usd']:,.0f} a month "
        f"(GPUs ${own['gpu_usd']:,.0f} + staff ${own['staff_usd']:,.0f}), ${own['total_usd']:,.0f} in total",
        f"break-even: {crossing}; cheaper now: {d['cheaper_monthly']}",
        "prices and rates are dated assumptions from knowledge/costs.yaml",
    ])


def compact_models(question: str, profile: Profile | None, settings: Settings) -> str:
    """A few catalog models that fit the question and situation, one line each with sources' date."""
    from advisor.catalog import load_catalog
    from advisor.catalog_query import query_catalog

    criteria: dict[str, Any] = {"limit": 5, "sort_by": "release", "descending": True}
    if profile is not None and (profile.deployment in ("on_prem", "air_gapped", "edge")
                                or profile.data_sensitivity == "regulated" or profile.needs_model_control):
        criteria["open_weights"] = True
    if re.search(r"\bopen\b|open[- ]weight", question, re.IGNORECASE):
        criteria["open_weights"] = True
    result = query_catalog(load_catalog(settings.knowledge_dir / "models.yaml"), criteria,
                           stale_after_days=settings.catalog_stale_days)
    lines = []
    for hit in result.hits:
        m = hit.model
        params = f"{m.params_total_b:g}B" if m.params_total_b else "undisclosed size"
        memory = m.min_hardware.gpu_memory_gb if m.min_hardware else None
        gpu = f", min {memory:g} GB GPU" if memory else ""
        lines.append(f"- {m.name} ({m.vendor}, {params}, licence {m.license}{gpu}; facts as of {hit.as_of})")
    return "\n".join(lines)
