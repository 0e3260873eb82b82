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
