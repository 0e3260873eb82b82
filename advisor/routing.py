"""What the pipeline does with a routed message, and what a question asks for (costs, models)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["OFF_TOPIC_REPLY", "Decision", "asks_for_a_choice", "asks_its_own_question", "decide", "wants_costs",
           "wants_list", "wants_models"]

OFF_TOPIC_REPLY = (
    "I can only help with decisions about getting an LLM: calling a commercial API, adopting an open-weight "
    "model, pre-training your own, or training a small task-specific model, and the costs, hardware, licences "
    "and risks around them. Tell me about your use case (data, team, volume, where it must run), or ask, for "
    "example, \"What does it cost to self-host an open model at 2B tokens a month?\"")


_COSTS = re.compile(r"\b(costs?|pric\w*|budget|cheap\w*|expensive|break-?even|tco|spend|bill|\$)", re.IGNORECASE)
_MODELS = re.compile(r"\b(which|what) (open[- ]?weight |open |small |api )?models?\b|\bmodels? (fit|run|for)\b",
                     re.IGNORECASE)


@dataclass(frozen=True)
class Decision:
    """What the pipeline does with a message: `kind` is situation, fact or offtopic; `also_fact` asks the
    situation answer to answer the message's fact question too; `condense` rewrites a follow-up question first."""

    kind: str
    also_fact: bool = False
    condense: bool = False


def decide(route: str, *, has_history: bool, has_profile: bool) -> Decision:
    """The pipeline's decision from the router's route and the conversation so far.

    A follow-up that only changes a fact completes the situation already described (or, with no situation yet,
    starts one); a fact question in a conversation is condensed with it first; an off-topic reading of a short
    follow-up is checked again once condensed.
    """
    if route in ("situation", "mixed", "followup") and (route != "followup" or has_profile or not has_history):
        return Decision("situation", also_fact=route == "mixed")
    if route == "followup":  # a conversation with no situation yet: read it as a question about the last answer
        return Decision("fact", condense=True)
    if route == "offtopic":
        return Decision("offtopic", condense=has_history)
    return Decision("fact", condense=has_history)


_LIST = re.compile(r"\b(downsides?|drawbacks?|disadvantages?|cons|risks?|risky|pitfalls?|limits?|limitations?|"
                   r"challenges?|weakness\w*|reasons?|why|steps?|ways?|what are|which|list|hidden|factors?|"
                   r"requirements?|demand\w*|need\w*|take)\b", re.IGNORECASE)


def wants_list(question: str) -> bool:
    """The question asks for several things (downsides, reasons, steps, requirements): a list answers it."""
    return bool(_LIST.search(question))


_CHOICE = re.compile(
    r"\b(should (?:we|i|our|my|the)|shall (?:we|i)|which (?:option|approach|path|route|way|one|of (?:these|the))|"
    r"what (?:option|approach|path|route)|what (?:should|would|do) (?:we|i|you)\b|how (?:should|would|do) (?:we|i|you)"
    r" (?:approach|start|go about|tackle)|where (?:do|should) (?:we|i) start|recommend\w*|advi[cs]e|suggest\w*|"
    r"best (?:option|approach|way|path|choice|fit|bet)|build or buy|buy or build|(?:go|stick) with|fits?\b|suits?\b|"
    r"makes? (?:more )?sense|worth it|right (?:choice|approach|option)|realistic|enough for us|off the table|"
    r"(?:api|open weights?|self-?host\w*|fine-?tun\w*|pre-?train\w*|small model|our own)\s*,?\s*(?:or|vs\.?|versus)\b|"
    r"\bor (?:an? |the |our )?(?:api|open|self-?host|fine-?tun|pre-?train|small|own|prompt|custom|buy|build))|"
    r"(?:^|[.?!]\s+)(?:self-?host|fine-?tune|pre-?train|train|use|build|buy|switch|start)\b[^.?!]*\?",
    re.IGNORECASE)


def asks_for_a_choice(message: str) -> bool:
    """Whether the message asks which way to go ("Should we use an API?", "Which approach
    fits?"), rather than for an explanation ("Why do organisations ban external providers?")."""
    return bool(_CHOICE.search(message.strip()))


def asks_its_own_question(message: str) -> bool:
    """Whether the message closes with a question other than which way to go ("Our security team bans outside
    providers. Why do organisations do that?"): one a fact answer answers."""
    return message.rstrip().endswith("?") and not asks_for_a_choice(message)


def wants_costs(question: str) -> bool:
    """Whether a question asks about money."""
    return bool(_COSTS.search(question))


def wants_models(question: str) -> bool:
    """Whether a question asks which models to use."""
    return bool(_MODELS.search(question))
