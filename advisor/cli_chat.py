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

__all__ = ["add_chat_parsers", "cmd_ask", "cmd_chat", "cmd_doctor", "cmd_feedback"]


class _Failure(Exception):
    """A one-line error for the user (exit 1)."""


def _build(model: str | None) -> Advisor:
    from advisor.advisor import Advisor
    from advisor.cli_base import load_settings

    return Advisor(load_settings(llm=model))


def _print_sources(answer: Answer) -> None:
    cited = [s for s in answer.sources if s.get("cited")] or answer.sources
    if cited:
        print("\nSources:")
        for s in cited:
            where = s["path"] + (f" § {s['section']}" if s["section"] else "")
            print(f"  [{s['n']}] {s['title']} — {where}")


def _run_turn(advisor: Advisor, message: str, *, conversation_id: str | None, conversation_key: str | None = None,
              mode: str) -> Answer | None:
    """One turn, shown as `mode` says: "text" (streamed prose), "json" (nothing until the end) or "events"."""
    from advisor.advisor import InputError
    from advisor.events import DoneEvent, ErrorEvent, StatusEvent, TextEvent

    try:
        stream = advisor.events(message, conversation_id=conversation_id, conversation_key=conversation_key)
    except InputError as exc:
        raise _Failure(str(exc)) from None
    answer = None
    show_steps = mode == "text" and sys.stderr.isatty()
    with stream:
        for event in stream:
            if mode == "events":
                sys.stdout.write(json.dumps(event.as_dict(), ensure_ascii=False) + "\n")
                sys.stdout.flush()
            elif mode == "text" and isinstance(event, TextEvent):
                sys.stdout.write(event.delta)
                sys.stdout.flush()
            elif show_steps and isinstance(event, StatusEvent) and event.step != "writing":
                sys.stderr.write(f"({event.message}…)\n")
            if isinstance(event, DoneEvent):
                answer = event.answer
            elif isinstance(event, ErrorEvent):
                if mode == "text":
                    sys.stdout.write("\n")
                raise _Failure(f"{event.message} (turn {event.turn_id})")
    if mode == "text":
        sys.stdout.write("\n")
    return answer


def cmd_ask(args: argparse.Namespace) -> int:
    """Ask the advisor one question (continuing a conversation with --conversation or --conversation-key)."""
    advisor = _build(args.llm)
    try:
        mode = "events" if args.events else "json" if args.json else "text"
        answer = _run_turn(advisor, args.question, conversation_id=args.conversation,
                           conversation_key=args.conversation_key, mode=mode)
    finally:
        advisor.close()
    if answer is None or args.events:
        return 0
    if args.json:
        sys.stdout.write(json.dumps(answer.as_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        _print_sources(answer)
        print(f"\n(conversation {answer.conversation_id}; turn {answer.turn_id}; {answer.latency_s:.1f} s; "
              f"{answer.model})")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    """Rate an answer by its turn id: up or down, with an optional comment."""
    from advisor.advisor import InputError

    advisor = _build(None)
    try:
        advisor.feedback(args.turn_id, 1 if args.rating == "up" else -1, args.comment, source="cli")
    except InputError as exc:
        raise _Failure(str(exc)) from None
    print(f"feedback recorded: {args.rating} on turn {args.turn_id}")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """Talk to the advisor in the terminal; /new starts over, /quit (or Ctrl-D) leaves."""
    advisor = _build(args.llm)
    try:
        return _chat(advisor, args.conversation)
    finally:
        advisor.close()


def _chat(advisor: Advisor, conversation: str | None) -> int:
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
            answer = _run_turn(advisor, message, conversation_id=conversation, mode="text")
        except _Failure as exc:
            print(f"\nadvisor: error: {exc}", file=sys.stderr)
            continue
        except KeyboardInterrupt:  # Ctrl-C stops this answer (kept as stopped), not the chat
            print("\n(stopped)")
            continue
        if answer is not None:
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
    from advisor.cli_base import load_settings

    settings = load_settings(llm=args.llm)
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
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    shown.add_argument("--events", action="store_true",
                       help="print the turn's events as JSON Lines as they happen (status, verdict, sources, text, "
                            "done or error)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--conversation", metavar="ID", help="continue this conversation")
    which.add_argument("--conversation-key", metavar="KEY",
                       help="continue (or start) the conversation with this external key")
    p.add_argument("--llm", metavar="MODEL", help="litellm model string, or 'local' (default: ADVISOR_LLM)")
    p.set_defaults(func=_guarded(cmd_ask))

    p = sub.add_parser("chat", help=cmd_chat.__doc__, description=cmd_chat.__doc__)
    p.add_argument("--conversation", metavar="ID", help="continue this conversation")
    p.add_argument("--llm", metavar="MODEL", help="litellm model string, or 'local'")
    p.set_defaults(func=_guarded(cmd_chat))

    p = sub.add_parser("feedback", help=cmd_feedback.__doc__, description=cmd_feedback.__doc__)
    p.add_argument("turn_id", metavar="TURN_ID", help="the turn id printed after an answer (or in --json)")
    p.add_argument("rating", choices=["up", "down"])
    p.add_argument("--comment", metavar="TEXT", help="what was good or wrong")
    p.set_defaults(func=_guarded(cmd_feedback))

    p = sub.add_parser("doctor", help=cmd_doctor.__doc__, description=cmd_doctor.__doc__)
    p.add_argument("--llm", metavar="MODEL", help="check this model instead of ADVISOR_LLM")
    p.set_defaults(func=_guarded(cmd_doctor))


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from advisor.cli_base import CliError

        try:
            return command(args)
        except _Failure as exc:
            raise CliError(str(exc)) from None

    run.__doc__ = command.__doc__
    return run
