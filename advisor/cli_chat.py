"""The conversational commands: `advisor ask`, `advisor chat` and `advisor doctor`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advisor.advisor import Advisor, Answer
    from advisor.config import Settings

__all__ = ["add_chat_parsers", "cmd_ask", "cmd_chat", "cmd_doctor"]


class _Failure(Exception):
    """A one-line error for the user (exit 1)."""


def _settings(model: str | None) -> Settings:
    from advisor.cli import _settings as base_settings

    settings = base_settings()
    return settings.model_copy(update={"llm": model}) if model else settings


def _build(model: str | None) -> Advisor:
    from advisor.advisor import Advisor

    return Advisor(_settings(model))


def _print_sources(answer: Answer) -> None:
    cited = [s for s in answer.sources if s.get("cited")] or answer.sources
    if cited:
        print("\nSources:")
        for s in cited:
            where = s["path"] + (f" § {s['section']}" if s["section"] else "")
            print(f"  [{s['n']}] {s['title']} — {where}")


def _run_turn(advisor: Advisor, message: str, conversation_id: str | None, *, stream: bool) -> Answer:
    from advisor.advisor import AdvisorError, Answer, InputError
    from advisor.llm import LLMError

    try:
        if not stream:
            return advisor.ask(message, conversation_id=conversation_id)
        final = None
        for piece in advisor.ask_stream(message, conversation_id=conversation_id):
            if isinstance(piece, Answer):
                final = piece
            else:
                sys.stdout.write(piece)
                sys.stdout.flush()
        sys.stdout.write("\n")
        assert final is not None
        return final
    except (InputError, AdvisorError, LLMError) as exc:
        raise _Failure(str(exc)) from None


def cmd_ask(args: argparse.Namespace) -> int:
    """Ask the advisor one question (continuing a conversation with --conversation)."""
    advisor = _build(args.llm)
    answer = _run_turn(advisor, args.question, args.conversation, stream=not args.json)
    if args.json:
        sys.stdout.write(json.dumps(answer.as_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        _print_sources(answer)
        print(f"\n(conversation {answer.conversation_id}; {answer.latency_s:.1f} s; {answer.model})")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """Talk to the advisor in the terminal; /new starts over, /quit (or Ctrl-D) leaves."""
    advisor = _build(args.llm)
    conversation = args.conversation
    print("Advisor: describe your situation or ask about LLM options. /new starts over, /quit leaves.")
    while True:
        try:
            message = input("\nyou> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        command = message.strip().lower()
        if command in ("/quit", "/exit", "/q"):
            return 0
        if command == "/new":
            conversation = None
            print("(new conversation)")
            continue
        if not command:
            continue
        print("advisor> ", end="", flush=True)
        try:
            answer = _run_turn(advisor, message, conversation, stream=True)
        except _Failure as exc:
            print(f"\nadvisor: error: {exc}", file=sys.stderr)
            continue
        conversation = answer.conversation_id
        _print_sources(answer)


def _check(name: str, run: Callable[[], str]) -> bool:
    started = time.perf_counter()
    try:
        detail = run()
    except Exception as exc:
        print(f"  FAIL  {name}: {' '.join(str(exc).split())[:300]}")
        return False
    print(f"  ok    {name}: {detail} ({time.perf_counter() - started:.1f} s)")
    return True


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the embedder, the index, the local model and the configured provider, and say what to fix."""
    settings = _settings(args.llm)
    print(f"advisor doctor (data in {settings.data_dir}, model {settings.llm})")
    results = [
        _check("embedding model", lambda: _doctor_embedder(settings)),
        _check("index", lambda: _doctor_index(settings)),
    ]
    if settings.llm == "local":
        results.append(_check("local model file", lambda: _doctor_local_file(settings)))
    results.append(_check("model answers", lambda: _doctor_llm(settings)))
    ok = all(results)
    print("all good" if ok else "fix the FAIL lines above and run `advisor doctor` again")
    return 0 if ok else 1


def _doctor_embedder(settings: Settings) -> str:
    from advisor.embedding import load_embedder

    path = settings.resolved_embed_model_path()
    if not path.is_dir():
        raise RuntimeError(f"no model folder at {path}; run `make run` or set ADVISOR_EMBED_MODEL_PATH")
    embedder = load_embedder(path)
    vector = embedder.get_query_embedding("doctor")
    return f"{path.name}, {len(vector)} dimensions"


def _doctor_index(settings: Settings) -> str:
    from advisor.index import open_index

    index = open_index(settings)
    count = index.count()
    if count == 0:
        raise RuntimeError("the index is empty; run `advisor ingest`")
    return f"{count} passages ({'server ' + str(settings.chroma_host) if settings.chroma_host else 'embedded'})"


def _doctor_local_file(settings: Settings) -> str:
    from advisor.local_model import MODEL_FILE, assemble_model

    path = assemble_model(settings.models_dir)
    return f"{MODEL_FILE} verified ({path.stat().st_size / 1e9:.2f} GB)"


def _doctor_llm(settings: Settings) -> str:
    from advisor.llm import LLMError, open_llm

    try:
        llm = open_llm(settings)
        reply = llm.complete([{"role": "user", "content": "Reply with the word ready."}], max_tokens=5)
    except LLMError as exc:
        hint = {"auth": "set the provider's API key variable", "unavailable": "start the model server or check "
                "ADVISOR_LLM_API_BASE", "provider": "check ADVISOR_LLM"}.get(exc.kind, "see the message")
        raise RuntimeError(f"{exc} — {hint}") from None
    return f"{llm.name} replied {reply.text.strip()[:20]!r}"


def add_chat_parsers(sub: Any) -> None:
    """Add ask, chat and doctor to the CLI's subcommands."""
    p = sub.add_parser("ask", help=cmd_ask.__doc__, description=cmd_ask.__doc__)
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    p.add_argument("--conversation", metavar="ID", help="continue this conversation")
    p.add_argument("--llm", metavar="MODEL", help="litellm model string, or 'local' (default: ADVISOR_LLM)")
    p.set_defaults(func=_guarded(cmd_ask))

    p = sub.add_parser("chat", help=cmd_chat.__doc__, description=cmd_chat.__doc__)
    p.add_argument("--conversation", metavar="ID", help="continue this conversation")
    p.add_argument("--llm", metavar="MODEL", help="litellm model string, or 'local'")
    p.set_defaults(func=_guarded(cmd_chat))

    p = sub.add_parser("doctor", help=cmd_doctor.__doc__, description=cmd_doctor.__doc__)
    p.add_argument("--llm", metavar="MODEL", help="check this model instead of ADVISOR_LLM")
    p.set_defaults(func=_guarded(cmd_doctor))


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from advisor.cli import CliError

        try:
            return command(args)
        except _Failure as exc:
            raise CliError(str(exc)) from None

    run.__doc__ = command.__doc__
    return run
