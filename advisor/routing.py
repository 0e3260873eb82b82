"""Routing a message: on topic or not, a situation (scored recommendation) or a fact question, and what it asks for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advisor.retrieval import Hit

__all__ = ["OFF_TOPIC_REPLY", "is_on_topic", "is_situation", "wants_costs", "wants_models"]

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


_SITUATION = re.compile(
    r"\b(should (we|i|our)|shall we|what (should|would you) (we|i)|which (option|approach|path|route)|"
    r"recommend\w*|build (or|vs\.?|versus) buy|our (team|company|data|use case|product|startup|organi[sz]ation)|"
    r"we (have|need|want|are|handle|process|run|plan|must|can't|cannot|only)|we're|i'm building|"
    r"my (team|company|startup))\b", re.IGNORECASE)
_COSTS = re.compile(r"\b(costs?|pric\w*|budget|cheap\w*|expensive|break-?even|tco|spend|bill|\$)", re.IGNORECASE)
_MODELS = re.compile(r"\b(which|what) (open[- ]?weight |open |small |api )?models?\b|\bmodels? (fit|run|for)\b",
                     re.IGNORECASE)


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


def wants_costs(question: str) -> bool:
    """Whether a question asks about money."""
    return bool(_COSTS.search(question))


def wants_models(question: str) -> bool:
    """Whether a question asks which models to use."""
    return bool(_MODELS.search(question))
