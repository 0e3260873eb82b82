"""Agent mode for capable models: a llama-index FunctionAgent that chooses the advisor's tools itself.

The deterministic pipeline stays the default and the only mode for the small local model. Here the model decides
when to search, score or price, but the same rules hold: passages are numbered as the tools return them and only
those numbers may be cited, and a recommendation comes from the scorer's output, never from the model's prose.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advisor.config import Settings
    from advisor.llm import LiteLLM
    from advisor.retrieval import Hit, HybridRetriever

__all__ = ["AgentTurn", "run_agent"]

_INSTRUCTIONS = """
Work like this: call search_guidance to find passages before answering, and cite them as [n] using the numbers
the tool gives. When the user describes their own situation, call score_options with ONLY the facts they stated,
and present its `recommended` option as your recommendation, with why, risks, rough cost and what would change it
(from its `flips`). Use estimate_costs for money questions and search_models for questions about specific models.
"""


@dataclass
class AgentTurn:
    """What the agent produced in one turn."""

    text: str
    passages: list[Hit] = field(default_factory=list)
    scores: dict[str, Any] | None = None
    tool_calls: list[str] = field(default_factory=list)


def run_agent(settings: Settings, llm: LiteLLM, retriever: HybridRetriever, question: str,
              history: Sequence[tuple[str, str]], *, max_iterations: int = 8) -> AgentTurn:
    """Let the model answer with free tool choice; returns its text, the passages it saw and any scorer result."""
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.llms import ChatMessage
    from llama_index.core.tools import FunctionTool

    from advisor.prompts import render
    from advisor.tools import SearchArgs, build_tools

    turn = AgentTurn(text="")

    def search(**kwargs: Any) -> Any:
        try:
            args = SearchArgs.model_validate(kwargs)
        except ValueError as exc:
            return {"error": " ".join(str(exc).split())[:300]}
        out = []
        for hit in retriever.search(args.query, k=args.k, kind=args.kind):
            turn.passages.append(hit)
            out.append({"n": len(turn.passages), "title": hit.title, "source": f"{hit.path} § {hit.section}",
                        "text": hit.text})
        turn.tool_calls.append("search_guidance")
        return out

    def capture(tool: Any) -> Any:
        def call(**kwargs: Any) -> Any:
            result = tool.fn(**kwargs)
            turn.tool_calls.append(tool.metadata.name)
            if tool.metadata.name == "score_options" and "error" not in result:
                turn.scores = result
            return result

        return FunctionTool.from_defaults(fn=call, name=tool.metadata.name, description=tool.metadata.description,
                                          fn_schema=tool.metadata.fn_schema, callback=_json)

    tools = [capture(t) for t in build_tools(settings)]
    tools.append(FunctionTool.from_defaults(
        fn=search, name="search_guidance", fn_schema=SearchArgs, callback=_json,
        description="Search the build-vs-buy guides and the model catalog; returns numbered passages to cite."))
    agent = FunctionAgent(tools=tools, llm=llm.as_llama_index(),
                          system_prompt=render("system", settings.prompts_dir) + _INSTRUCTIONS)
    chat_history = [m for user, answer in history for m in (ChatMessage(role="user", content=user),
                                                            ChatMessage(role="assistant", content=answer))]

    async def go() -> Any:
        return await agent.run(user_msg=question, chat_history=chat_history, max_iterations=max_iterations)

    result = asyncio.run(go())
    turn.text = str(getattr(result, "response", result).content or "")
    return turn


def _json(output: Any) -> str:
    return json.dumps(output, ensure_ascii=False, default=str)
