"""The Slack bot: the real slack-bolt app in HTTP mode, signed requests over real HTTP, a fake Slack Web API on
loopback and the scripted model, with the shipped index and a real SQLite store."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from advisor.advisor import Advisor
from advisor.llm import LLMError
from advisor.slack_bot import SlackBot, conversation_key
from advisor.store import Store
from tests.fake_llm import ScriptedLLM
from tests.fake_slack import FakeSlack

SECRET = "test-signing-secret-0123456789"
TOKEN = "xoxb-test-token-secret-value"
HOSPITAL = ("<@UBOT> We are a hospital group. Patient records must stay on our own servers, and our ML engineers "
            "have fine-tuned models before. What should we do?")


class Running:
    """A SlackBot served in HTTP mode on 127.0.0.1 with its own Advisor."""

    def __init__(self, settings: Any, retriever: Any, reader: Any, db: Path, slack: FakeSlack,
                 llm: ScriptedLLM | None = None) -> None:
        self.settings = settings.model_copy(update={
            "slack_bot_token": TOKEN, "slack_signing_secret": SECRET, "slack_api_url": slack.api_url,
            "slack_rate_per_minute": 3})
        from pydantic import SecretStr

        self.settings.slack_bot_token = SecretStr(TOKEN)
        self.settings.slack_signing_secret = SecretStr(SECRET)
        self.llm = llm or ScriptedLLM()
        self.advisor = Advisor(self.settings, llm=self.llm, retriever=retriever, reader=reader, store=Store(db))
        self.bot = SlackBot(self.advisor, update_interval_s=0.0)
        self.server = self.bot.http_server("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def settle(self, timeout_s: float = 30.0) -> bool:
        """Wait until every accepted message is answered (bolt runs the listener just after the HTTP reply)."""
        time.sleep(0.3)
        return self.bot.wait_idle(timeout_s)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.bot.close()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def running(shipped_settings, retriever, reader, tmp_path: Path, slack: FakeSlack) -> Iterator[Running]:  # type: ignore[no-untyped-def]
    bot = Running(shipped_settings, retriever, reader, tmp_path / "advisor.sqlite3", slack)
    yield bot
    bot.close()


def send(url: str, body: bytes, *, content_type: str = "application/json", secret: str = SECRET,
         age_s: float = 0.0, headers: dict[str, str] | None = None, sign: bool = True) -> tuple[int, bytes]:
    """POST a request signed as Slack signs it."""
    ts = str(int(time.time() - age_s))
    all_headers = {"Content-Type": content_type, **(headers or {})}
    if sign:
        all_headers["X-Slack-Request-Timestamp"] = ts
        all_headers["X-Slack-Signature"] = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    request = urllib.request.Request(url, data=body, headers=all_headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def event(text: str, *, event_id: str = "Ev1", ts: str = "1700000000.000100", channel: str = "C1",
          thread_ts: str | None = None, kind: str = "app_mention", channel_type: str = "channel",
          user: str = "U1", **extra: Any) -> bytes:
    inner: dict[str, Any] = {"type": kind, "user": user, "text": text, "ts": ts, "channel": channel,
                             "channel_type": channel_type, "event_ts": ts, **extra}
    if thread_ts:
        inner["thread_ts"] = thread_ts
    return json.dumps({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": event_id, "event_time": int(time.time()), "event": inner}).encode()


def posted_text(slack: FakeSlack) -> str:
    parts = [json.dumps(a) for m in ("chat.postMessage", "chat.startStream", "chat.appendStream", "chat.update",
                                     "chat.stopStream") for a in slack.of(m)]
    return "\n".join(parts)


def test_mention_is_answered_in_its_thread_with_status_verdict_stream_and_feedback(
        running: Running, slack: FakeSlack) -> None:
    status, _ = send(running.url, event(HOSPITAL))
    assert status == 200
    assert running.settle(30)
    statuses = [c["status"] for c in slack.of("assistant.threads.setStatus")]
    assert statuses, slack.calls
    assert statuses[0] == "Reading your situation…" and "Writing…" in statuses and statuses[-1] == ""
    assert all(c["thread_ts"] == "1700000000.000100" for c in slack.of("assistant.threads.setStatus"))
    verdict = slack.of("chat.postMessage")[0]
    assert verdict["thread_ts"] == "1700000000.000100" and "open_weight" in json.dumps(verdict["blocks"])
    start = slack.of("chat.startStream")[0]
    assert start["thread_ts"] == "1700000000.000100" and start["recipient_user_id"] == "U1"
    stop = slack.of("chat.stopStream")[-1]
    assert "feedback_buttons" in json.dumps(stop["blocks"]) and "Sources" in json.dumps(stop["blocks"])
    methods = slack.methods()
    assert methods.index("chat.postMessage") < methods.index("chat.startStream") < methods.index("chat.stopStream")
    turns = running.advisor.history(conversation_key=conversation_key("C1", "1700000000.000100"))
    assert len(turns) == 1 and turns[0]["recommendation"] == "open_weight"


def test_a_thread_follow_up_continues_the_conversation_and_a_dm_is_answered(
        running: Running, slack: FakeSlack) -> None:
    send(running.url, event(HOSPITAL))
    assert running.settle(30)
    send(running.url, event("<@UBOT> And what would it cost at 500M tokens a month?", event_id="Ev2",
                            ts="1700000000.000200", thread_ts="1700000000.000100"))
    assert running.settle(30)
    turns = running.advisor.history(conversation_key=conversation_key("C1", "1700000000.000100"))
    assert len(turns) == 2 and turns[0]["conversation_id"] == turns[1]["conversation_id"]
    assert "Patient records" in running.llm.answer_prompts()[-1] or len(running.llm.history) > 2
    send(running.url, event("What is LoRA?", event_id="Ev3", ts="1700000000.000300", channel="D1",
                            kind="message", channel_type="im"))
    assert running.settle(30)
    assert running.advisor.history(conversation_key=conversation_key("D1", "1700000000.000300"))
    assert any(c["channel"] == "D1" for c in slack.of("chat.startStream"))


def test_bots_edits_and_own_messages_are_ignored(running: Running, slack: FakeSlack) -> None:
    send(running.url, event("hello", event_id="Ev4", kind="message", channel_type="im", bot_id="B2"))
    send(running.url, event("hello", event_id="Ev5", kind="message", channel_type="im", subtype="message_changed"))
    send(running.url, event("hello", event_id="Ev6", kind="message", channel_type="im", user="UBOT"))
    assert running.settle(10)
    assert not slack.of("chat.postMessage") and not slack.of("chat.startStream")


def test_a_retry_is_answered_once_also_by_two_replicas_sharing_the_store(
        running: Running, shipped_settings, retriever, reader, tmp_path: Path, slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    other = Running(shipped_settings, retriever, reader, tmp_path / "advisor.sqlite3", slack)
    try:
        body = event("<@UBOT> What is QLoRA?", event_id="EvR")
        assert send(running.url, body)[0] == 200
        assert send(running.url, body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
                    )[0] == 200
        assert send(other.url, body, headers={"X-Slack-Retry-Num": "2"})[0] == 200
        assert running.settle(30) and other.settle(30)
    finally:
        other.close()
    assert len(slack.of("chat.startStream")) == 1
    assert len(running.advisor.history(conversation_key=conversation_key("C1", "1700000000.000100"))) == 1


@pytest.mark.parametrize("how", ["forged", "stale", "missing"])
def test_bad_signatures_get_401_and_nothing_is_posted_or_stored(running: Running, slack: FakeSlack, how: str) -> None:
    body = event(HOSPITAL, event_id=f"Ev-{how}")
    options: dict[str, Any] = {"forged": {"secret": "wrong"}, "stale": {"age_s": 301}, "missing": {"sign": False}}
    status, _ = send(running.url, body, **options[how])
    assert status == 401
    time.sleep(0.2)
    assert running.settle(5)
    assert slack.calls == [] and running.advisor.store.list_conversations() == []


def test_slash_command_answers_ephemerally(running: Running, slack: FakeSlack) -> None:
    def command(text: str) -> dict[str, Any]:
        body = urlencode({"command": "/advisor", "text": text, "user_id": "U1", "channel_id": "C1", "team_id": "T1",
                          "trigger_id": "tr", "response_url": "https://hooks.slack.invalid/x"}).encode()
        status, raw = send(running.url, body, content_type="application/x-www-form-urlencoded")
        assert status == 200
        return dict(json.loads(raw))

    assert "score" in command("help")["text"]
    scored = command("score data_sensitivity=regulated deployment=on_prem team_ml_expertise=experienced")
    assert scored["response_type"] == "ephemeral" and "open_weight" in scored["text"]
    assert "unknown field" in command("score colour=blue")["text"]
    assert "models" in command("models open_weights=true limit=3")["text"]
    assert "Break-even" in command("costs monthly_tokens=500M")["text"]
    assert not slack.of("chat.postMessage")


def test_feedback_click_is_stored_and_a_comment_modal_opens(running: Running, slack: FakeSlack) -> None:
    send(running.url, event("<@UBOT> What is QLoRA?"))
    assert running.settle(30)
    turn_id = running.advisor.history(conversation_key=conversation_key("C1", "1700000000.000100"))[0]["turn_id"]
    payload = {"type": "block_actions", "user": {"id": "U1"}, "team": {"id": "T1"}, "trigger_id": "trig",
               "api_app_id": "A1", "token": "x", "container": {"type": "message"},
               "channel": {"id": "C1"}, "actions": [{"type": "feedback_buttons", "action_id": "advisor_feedback",
                                                     "block_id": "advisor_feedback", "value": f"down:{turn_id}"}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    assert send(running.url, body, content_type="application/x-www-form-urlencoded")[0] == 200
    deadline = time.time() + 5
    while not slack.of("views.open") and time.time() < deadline:
        time.sleep(0.05)
    stored = running.advisor.store.feedback(turn_id=turn_id)
    assert [(f.rating, f.source) for f in stored] == [(-1, "slack")]
    view = slack.of("views.open")[0]["view"]
    submit = {"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"}, "api_app_id": "A1",
              "token": "x", "view": {**view, "id": "V1", "state": {"values": {"comment": {"text": {
                  "type": "plain_text_input", "value": "too vague"}}}}}}
    body = urlencode({"payload": json.dumps(submit)}).encode()
    assert send(running.url, body, content_type="application/x-www-form-urlencoded")[0] == 200
    deadline = time.time() + 5
    while running.advisor.store.feedback(turn_id=turn_id)[0].comment is None and time.time() < deadline:
        time.sleep(0.05)
    assert running.advisor.store.feedback(turn_id=turn_id)[0].comment == "too vague"


def test_model_down_gives_a_short_message_and_clears_the_status(running: Running, slack: FakeSlack) -> None:
    running.llm.default = lambda request: LLMError("cannot reach the model: connection refused", kind="unavailable")
    send(running.url, event("<@UBOT> What is QLoRA?"))
    assert running.settle(30)
    messages = [m["text"] for m in slack.of("chat.postMessage")]
    assert any("not reachable" in m for m in messages) and all(len(m) < 200 for m in messages)
    assert slack.of("assistant.threads.setStatus")[-1]["status"] == ""


def test_rate_limit_is_polite_and_streaming_falls_back_to_updates(running: Running, slack: FakeSlack) -> None:
    slack.unavailable.add("chat.startStream")
    for i in range(4):
        send(running.url, event("<@UBOT> What is LoRA?", event_id=f"EvL{i}", ts=f"1700000001.00000{i}"))
    assert running.settle(30)
    ephemeral = slack.of("chat.postEphemeral")
    assert len(ephemeral) == 1 and "wait" in ephemeral[0]["text"] and ephemeral[0]["user"] == "U1"
    assert len(slack.of("chat.update")) >= 3 and "feedback_buttons" in json.dumps(slack.of("chat.update")[-1])


def test_tokens_never_reach_the_logs(running: Running, slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    send(running.url, event("<@UBOT> What is LoRA?"))
    send(running.url, event("x", event_id="Evbad"), secret="wrong")
    assert running.settle(30)
    assert slack.of("auth.test") and TOKEN not in caplog.text and SECRET not in caplog.text


@pytest.mark.slow
def test_socket_mode_answers_an_envelope_and_acks_it(shipped_settings, retriever, reader, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                     slack: FakeSlack) -> None:
    from pydantic import SecretStr
    from websockets.sync.server import serve

    acks: list[dict[str, Any]] = []
    envelope = {"envelope_id": "env-1", "type": "events_api", "accepts_response_payload": False,
                "payload": json.loads(event("<@UBOT> What is LoRA?", event_id="EvS"))}

    def handler(ws: Any) -> None:
        ws.send(json.dumps(envelope))
        for message in ws:
            acks.append(json.loads(message))

    with serve(handler, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        slack.socket_url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/link"
        settings = shipped_settings.model_copy(update={"slack_api_url": slack.api_url})
        settings.slack_bot_token, settings.slack_app_token = SecretStr(TOKEN), SecretStr("xapp-test-app-token")
        advisor = Advisor(settings, llm=ScriptedLLM(), retriever=retriever, reader=reader,
                          store=Store(tmp_path / "advisor.sqlite3"))
        bot = SlackBot(advisor, update_interval_s=0.0)
        handler_ = bot.socket_handler()
        handler_.connect()
        try:
            deadline = time.time() + 20
            while not slack.of("chat.stopStream") and time.time() < deadline:
                time.sleep(0.05)
            assert bot.wait_idle(30)
        finally:
            handler_.close()
            server.shutdown()
            bot.close()
    assert {"envelope_id": "env-1"} in acks and slack.of("apps.connections.open")
    assert len(slack.of("chat.startStream")) == 1


def interact(url: str, payload: dict[str, Any]) -> int:
    """POST an interactivity payload (a click, a modal's submission) signed as Slack signs it."""
    body = urlencode({"payload": json.dumps({"api_app_id": "A1", "token": "x", "team": {"id": "T1"}, **payload})})
    return send(url, body.encode(), content_type="application/x-www-form-urlencoded")[0]


def wait_for(predicate: Any, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


CHATBOT = "<@UBOT> Our team has experienced ML engineers and we want a chatbot for our support docs. What should we do?"


def test_clarifying_questions_are_buttons_whose_answer_continues_the_thread(
        running: Running, slack: FakeSlack) -> None:
    from advisor.verdict import QUESTIONS

    send(running.url, event(CHATBOT))
    assert running.settle(30)
    key = conversation_key("C1", "1700000000.000100")
    first = running.advisor.history(conversation_key=key)
    assert len(first) == 1 and "data_sensitivity" not in first[0]["verdict"]["profile"]
    questions = first[0]["verdict"]["questions"]
    assert QUESTIONS["data_sensitivity"] in questions
    verdict = slack.of("chat.postMessage")[0]
    buttons = [e for b in verdict["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == [f"advisor_question_{i}" for i in range(len(questions))]
    assert all(b["type"] == "button" and 0 < len(b["text"]["text"]) <= 75 for b in buttons)

    def press(button: dict[str, Any], trigger: str) -> dict[str, Any]:
        """Click a question button; the modal Slack would open for it."""
        before = len(slack.of("views.open"))
        assert interact(running.url, {
            "type": "block_actions", "user": {"id": "U1"}, "trigger_id": trigger, "channel": {"id": "C1"},
            "container": {"type": "message", "channel_id": "C1", "message_ts": "1700000000.000900",
                          "thread_ts": "1700000000.000100"},
            "actions": [{"type": "button", "action_id": button["action_id"], "block_id": "advisor_questions",
                         "value": button["value"], "action_ts": "1700000001.0"}]}) == 200
        assert wait_for(lambda: len(slack.of("views.open")) > before)
        opened = slack.of("views.open")[-1]
        assert opened["trigger_id"] == trigger
        return dict(opened["view"])

    def submit(view: dict[str, Any], values: dict[str, Any]) -> None:
        assert interact(running.url, {"type": "view_submission", "user": {"id": "U1"},
                                      "view": {**view, "id": "V1", "state": {"values": values}}}) == 200

    # Pressing a question opens a modal that asks it and offers the replies for it ...
    view = press(buttons[questions.index(QUESTIONS["data_sensitivity"])], "trig-1")
    assert QUESTIONS["data_sensitivity"] in json.dumps(view["blocks"])
    radios = [b["element"] for b in view["blocks"] if b.get("element", {}).get("type") == "radio_buttons"]
    public = next(o for o in radios[0]["options"] if o["text"]["text"] == "Public data only")
    assert len(running.advisor.history(conversation_key=key)) == 1  # the click only asks

    # ... and the reply goes to the same thread as the user's next message: a new turn of the same conversation.
    submit(view, {"choice": {"choice": {"type": "radio_buttons", "selected_option": public}}})
    assert wait_for(lambda: len(running.advisor.history(conversation_key=key)) == 2, 30)
    assert running.settle(30)
    turns = running.advisor.history(conversation_key=key)
    assert turns[0]["conversation_id"] == turns[1]["conversation_id"]
    assert turns[1]["user"] == "It only sees public data."
    second = turns[1]["verdict"]
    assert second["profile"]["data_sensitivity"] == "public"
    # The question's own words ("regulated data", "your own infrastructure") are not facts the user stated.
    assert "deployment" not in second["profile"]
    assert QUESTIONS["data_sensitivity"] not in second["questions"]
    echoed = [m for m in slack.of("chat.postMessage") if "answered" in m.get("text", "")]
    assert len(echoed) == 1 and echoed[0]["thread_ts"] == "1700000000.000100"
    assert "public data" in echoed[0]["text"] and "<@U1>" in echoed[0]["text"]
    streams = slack.of("chat.startStream")
    assert len(streams) == 2 and all(s["thread_ts"] == "1700000000.000100" for s in streams)

    # A question answered in the user's own words: the next verdict's buttons, the typed answer read as said.
    verdict = [m for m in slack.of("chat.postMessage") if m.get("blocks")][-1]
    buttons = [e for b in verdict["blocks"] if b["type"] == "actions" for e in b["elements"]]
    deployment = next(b for b in buttons if json.loads(b["value"])["q"] == QUESTIONS["deployment"])
    view = press(deployment, "trig-2")
    submit(view, {"choice": {"choice": {"type": "radio_buttons", "selected_option": None}},
                  "answer": {"text": {"type": "plain_text_input", "value": "It can run in the cloud."}}})
    assert wait_for(lambda: len(running.advisor.history(conversation_key=key)) == 3, 30)
    assert running.settle(30)
    third = running.advisor.history(conversation_key=key)[2]
    assert third["user"] == "It can run in the cloud."
    assert third["verdict"]["profile"]["deployment"] == "cloud"
    assert third["verdict"]["profile"]["data_sensitivity"] == "public"  # still the conversation's facts


def test_a_bad_question_button_or_an_empty_answer_changes_nothing(running: Running, slack: FakeSlack) -> None:
    from advisor.slack_blocks import answer_modal

    assert interact(running.url, {
        "type": "block_actions", "user": {"id": "U1"}, "trigger_id": "trig-x", "channel": {"id": "C1"},
        "actions": [{"type": "button", "action_id": "advisor_question_0", "block_id": "advisor_questions",
                     "value": "not json", "action_ts": "1700000001.0"}]}) == 200
    assert interact(running.url, {
        "type": "view_submission", "user": {"id": "U1"},
        "view": {"id": "V2", "type": "modal", "callback_id": "advisor_answer", "private_metadata": "[1]",
                 "state": {"values": {"answer": {"text": {"type": "plain_text_input", "value": "cloud"}}}}}}) == 200
    # Nothing picked and nothing typed: the modal stays open with a hint, and nothing is asked.
    view = answer_modal("Where must it run?", channel="C1", thread_ts="1700000000.000100")
    payload = {"type": "view_submission", "user": {"id": "U1"}, "api_app_id": "A1", "token": "x",
               "team": {"id": "T1"}, "view": {**view, "id": "V3", "state": {"values": {
                   "answer": {"text": {"type": "plain_text_input", "value": "  "}}}}}}
    status, raw = send(running.url, urlencode({"payload": json.dumps(payload)}).encode(),
                       content_type="application/x-www-form-urlencoded")
    assert status == 200 and json.loads(raw)["response_action"] == "errors"
    time.sleep(0.3)
    assert running.settle(5)
    assert [m for m in slack.methods() if m != "auth.test"] == []  # bolt's own token check aside
    assert running.advisor.store.list_conversations() == []


def _long_answer(request: dict[str, Any]) -> str:
    """For the streamed (answer) request, every sentence of every passage in the prompt, cited, five times over: a
    long answer the claim check keeps; the default replies for the rest."""
    import re

    from tests.fake_llm import FakeOpenAI

    if not request["stream"]:
        return str(FakeOpenAI.default_reply({"messages": request["messages"],
                                             "response_format": request["json_schema"]}))
    paragraphs = []
    passages = re.findall(r'<passage id="(\d+)"[^>]*>\s*(.*?)</passage>', request["messages"][-1]["content"], re.S)
    for n, passage in passages:
        text = " ".join(re.sub(r"^\s*(?:[-*#]+|\d+[.)])\s+|\*\*", " ", passage, flags=re.M).split())
        sentences = [s.rstrip(".!?") for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 20]
        paragraphs.append(" ".join(f"{s} [{n}]." for s in sentences))
    return "\n\n".join(paragraphs * 5)


@pytest.mark.parametrize("streaming", [False, True], ids=["posted-and-updated", "streamed"])
def test_a_long_answer_is_split_within_slacks_limits_and_loses_no_text(
        running: Running, slack: FakeSlack, streaming: bool) -> None:
    from advisor.slack_blocks import mrkdwn

    running.llm.default = _long_answer
    if not streaming:
        slack.unavailable.add("chat.startStream")
    send(running.url, event("<@UBOT> How should we roll out a support assistant?"))
    assert running.settle(60)
    assert slack.rejected == []  # no call broke a limit (the fake refuses them as Slack does)
    stored = running.advisor.history(conversation_key=conversation_key("C1", "1700000000.000100"))[0]["answer"]
    assert len(stored) > 3 * 3000
    for method in ("chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream"):
        for call in slack.of(method):
            assert len(call.get("blocks") or []) <= 50
            assert all(len(text) <= 3000 for text in FakeSlack.sections(call))
            assert len(call.get("markdown_text") or "") <= 12000
    updates = slack.of("chat.update")
    if streaming and not updates:  # the checked answer is what was streamed, so the stream stands as it is
        shown = "".join(c["markdown_text"] for m in ("chat.startStream", "chat.appendStream") for c in slack.of(m))
        assert " ".join(shown.split()) == " ".join(stored.split())
        assert "feedback_buttons" in json.dumps(slack.of("chat.stopStream")[-1]["blocks"])
        return
    # The answer message ends as the checked answer in sections of at most 3,000 characters, nothing lost.
    assert updates
    final = updates[-1]
    sections = FakeSlack.sections(final)
    assert len(sections) >= 4
    assert " ".join(" ".join(sections).split()) == " ".join(mrkdwn(stored).split())
    assert "feedback_buttons" in json.dumps(final["blocks"]) and "Sources" in json.dumps(final["blocks"])


def test_an_answer_over_fifty_blocks_continues_in_more_messages_of_the_thread(slack: FakeSlack) -> None:
    from slack_sdk import WebClient

    from advisor.slack_blocks import footer_blocks, mrkdwn
    from advisor.slack_stream import AnswerWriter

    client = WebClient(token=TOKEN, base_url=slack.api_url)
    answer = "\n\n".join(f"Paragraph {i}: " + "the **adapter** keeps the base model frozen and trains little. " * 20
                          for i in range(150))
    assert len(answer) > 50 * 3000
    writer = AnswerWriter(client, channel="C1", thread_ts="1.1", team="T1", user="U1", interval_s=0.0)
    writer.append(answer[:500])
    writer.finish(answer, footer_blocks([{"n": 1, "title": "LoRA guide"}], turn_id="t1"))
    assert slack.rejected == []
    final = slack.of("chat.update")[-1]
    continued = [m for m in slack.of("chat.postMessage") if m["text"] == "(continued)"]
    assert continued and all(m["thread_ts"] == "1.1" for m in continued)
    messages = [final, *continued]
    assert all(len(m["blocks"]) <= 50 for m in messages) and len(final["blocks"]) == 50
    sections = [t for m in messages for t in FakeSlack.sections(m)]
    assert all(len(t) <= 3000 for t in sections)
    assert " ".join(" ".join(sections).split()) == " ".join(mrkdwn(answer).split())
    assert "feedback_buttons" in json.dumps(continued[-1]["blocks"])
    assert "feedback_buttons" not in json.dumps(final["blocks"])


@pytest.mark.parametrize("streamed_first", [True, False], ids=["fast-model", "nothing-streamed"])
def test_streamed_markdown_goes_in_calls_of_at_most_12000_characters(slack: FakeSlack, streamed_first: bool) -> None:
    from slack_sdk import WebClient

    from advisor.slack_blocks import footer_blocks
    from advisor.slack_stream import AnswerWriter

    client = WebClient(token=TOKEN, base_url=slack.api_url)
    answer = "".join(f"Sentence {i} about adapters and quantisation keeps the base model frozen. " for i in range(600))
    assert len(answer) > 3 * 12000
    writer = AnswerWriter(client, channel="C1", thread_ts="1.1", team="T1", user="U1", interval_s=3600.0)
    if streamed_first:  # the first words go at once, then a fast model writes the rest within one interval
        writer.append(answer[:80])
        writer.append(answer[80:])
    writer.finish(answer, footer_blocks([], turn_id="t1"))
    assert slack.rejected == [] and not slack.of("chat.postMessage") and not slack.of("chat.update")
    streamed = [c["markdown_text"] for m in ("chat.startStream", "chat.appendStream") for c in slack.of(m)]
    assert len(streamed) >= 4 and all(len(piece) <= 12000 for piece in streamed)
    assert "".join(streamed) == answer
    assert "feedback_buttons" in json.dumps(slack.of("chat.stopStream")[-1]["blocks"])


def test_split_text_and_chunk_blocks_keep_every_word_within_the_limits() -> None:
    from advisor.slack_blocks import answer_blocks, chunk_blocks, split_text

    words = [f"w{i}" for i in range(4000)]
    text = "\n\n".join(" ".join(words[i:i + 150]) for i in range(0, len(words), 150))
    pieces = split_text(text, 3000)
    assert len(pieces) > 5 and all(len(p) <= 3000 for p in pieces)
    assert " ".join(pieces).split() == words  # nothing lost, no word cut in two
    assert split_text("x" * 7000, 3000) == ["x" * 3000, "x" * 3000, "x" * 1000]  # no boundary: a hard cut
    assert split_text("  short  ") == ["short"] and split_text("   ") == []
    blocks = answer_blocks("a " * 80000)
    assert len(blocks) > 50
    groups = chunk_blocks(blocks)
    assert all(len(g) <= 50 for g in groups) and [b for g in groups for b in g] == blocks
    assert chunk_blocks([]) == [[]]


def test_suggested_prompts_are_set_when_an_assistant_thread_starts_and_the_messages_tab_opens(
        running: Running, slack: FakeSlack) -> None:
    started = {"type": "assistant_thread_started", "event_ts": "1700000002.000100", "assistant_thread": {
        "user_id": "U1", "channel_id": "D1", "thread_ts": "1700000002.000050",
        "context": {"channel_id": "C1", "team_id": "T1", "enterprise_id": None}}}
    body = json.dumps({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": "EvT", "event_time": int(time.time()), "event": started}).encode()
    assert send(running.url, body)[0] == 200
    assert wait_for(lambda: slack.of("assistant.threads.setSuggestedPrompts"))
    call = slack.of("assistant.threads.setSuggestedPrompts")[0]
    assert call["channel_id"] == "D1" and call["thread_ts"] == "1700000002.000050" and call["title"]
    prompts = call["prompts"]
    assert 1 <= len(prompts) <= 4  # Slack shows at most four
    assert len({p["title"] for p in prompts}) == len(prompts)
    assert all(0 < len(p["title"]) <= 75 and 20 < len(p["message"]) < 500 for p in prompts)
    # Each prompt is one the advisor answers (none is taken for off-topic), and the situations get a verdict.
    answers = [running.advisor.ask(prompt["message"]) for prompt in prompts]
    assert all(a.kind in ("situation", "fact") and a.answer.strip() for a in answers), answers
    assert sum(a.recommendation is not None for a in answers) >= 2

    home = {"type": "app_home_opened", "user": "U1", "channel": "D2", "tab": "messages",
            "event_ts": "1700000003.000100"}
    body = json.dumps({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": "EvH", "event_time": int(time.time()), "event": home}).encode()
    assert send(running.url, body)[0] == 200
    assert wait_for(lambda: len(slack.of("assistant.threads.setSuggestedPrompts")) == 2)
    on_home = slack.of("assistant.threads.setSuggestedPrompts")[1]
    assert on_home["channel_id"] == "D2" and on_home["prompts"] == prompts
    # The app home's other tab is not the chat: no prompts there.
    body = json.dumps({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": "EvH2", "event_time": int(time.time()),
                       "event": {**home, "tab": "home", "channel": "D3"}}).encode()
    assert send(running.url, body)[0] == 200
    time.sleep(0.5)
    assert len(slack.of("assistant.threads.setSuggestedPrompts")) == 2


def test_the_costs_command_never_prices_a_retired_default(tmp_path: Path, retired_catalog: Any) -> None:
    from advisor.catalog import load_catalog
    from advisor.catalog_query import DEFAULT_API_MODEL, suggested_model
    from advisor.config import Settings
    from advisor.slack_commands import run_command

    settings = Settings(data_dir=tmp_path, catalog_file=retired_catalog(DEFAULT_API_MODEL))
    instead = suggested_model(load_catalog(settings.catalog_path), DEFAULT_API_MODEL).id
    assert instead != DEFAULT_API_MODEL
    reply = run_command("costs monthly_tokens=500M", settings)
    assert "Break-even" in reply and f"API {instead}" in reply and DEFAULT_API_MODEL not in reply
    named = run_command("costs api_model=claude-opus-4", settings)  # a retired model asked for by name: refused
    assert "was retired on 2026-06-15" in named and "Break-even" not in named
