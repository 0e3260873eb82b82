"""Slack bot ack latency: how long a signed Events API request POSTed to the bot in HTTP mode waits for its HTTP 200
while another answer is being written, against the same round trip to the app's 404 path measured in the same run.

    python benchmarks/bench_slack.py                 # 30 measured events
    python benchmarks/bench_slack.py --events 60

The bot is the real slack-bolt app over one Advisor (the shipped index and reader, `make index`), served by its own
threading WSGI server on 127.0.0.1 and posting to the tests' fake Slack Web API on loopback. The model is the
scripted one at the LLM seam, streaming one word every 50 ms: one long answer (a mention in another channel) is
being written during the whole measurement, and every measured event, a mention from its own user in a thread of
its own, is accepted and starts a turn of its own, so later events are acknowledged while earlier ones are read,
scored and written. Each measured request takes the full path before the ack: bolt's signature check, the retry
claim in the store, the message claim, the rate limiter and the queueing of its answer.

Raw: the same POST (same body and headers, a new connection each time, as Slack makes) to a path the bolt adapter
answers 404 without dispatching, on the same server in the same process, interleaved with the measured events; the
difference is bolt's dispatch and the bot's work before ack(). Target: median ack <= 100 ms (Slack gives up at
3 s and retries). Medians; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.config import REPO_ROOT, Settings, set_offline_env

set_offline_env()

SECRET = "bench-signing-secret"
TARGET_MS = 100.0
WORD_DELAY_S = 0.05
BACKGROUND = "Write the long background answer"  # the mention whose answer is written during the measurement
QUESTION = ("<@UBOT> We are a hospital group and patient records must stay on our own servers. Our ML engineers "
            "have fine-tuned models before. What should we do?")


def _reply(request: dict[str, Any]) -> str:
    """The scripted model: for the background turn a long grounded answer (every sentence of its prompt's
    passages, cited, one paragraph each, which the advisor passes on as each ends, ten times over), the tests'
    default replies for the rest."""
    from tests.fake_llm import FakeOpenAI

    prompt = request["messages"][-1]["content"]
    if request["stream"] and BACKGROUND in prompt:
        sentences = [f"{sentence.rstrip('.!?')} [{n}]."
                     for n, passage in re.findall(r'<passage id="(\d+)"[^>]*>\s*(.*?)</passage>', prompt, re.S)
                     for sentence in re.split(r"(?<=[.!?])\s+", " ".join(re.sub(r"[*#-]", " ", passage).split()))
                     if len(sentence) > 20]
        return "\n\n".join(sentences * 10)
    return str(FakeOpenAI.default_reply({"messages": request["messages"], "response_format": request["json_schema"]}))


def _event(n: int, text: str, *, channel: str, user: str) -> bytes:
    ts = f"1800000000.{n:06d}"
    return json.dumps({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": f"EvBench{n}", "event_time": int(time.time()),
                       "event": {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel,
                                 "channel_type": "channel", "event_ts": ts}}).encode()


def _post(url: str, body: bytes) -> tuple[int, float]:
    """POST a request signed as Slack signs it; the status and the seconds until the whole reply was read."""
    from slack_sdk.signature import SignatureVerifier

    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
               "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    return status, time.perf_counter() - started


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def main() -> int:
    """Run the benchmark; exit 1 when the median ack misses the target or a measured event went unanswered."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30, help="measured events (default 30)")
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between events (default 0.1)")
    args = parser.parse_args()
    from pydantic import SecretStr

    from advisor.advisor import Advisor
    from advisor.slack_bot import SlackBot
    from advisor.store import Store
    from tests.fake_llm import ScriptedLLM
    from tests.fake_slack import FakeSlack

    warmups = 3
    with FakeSlack() as slack, tempfile.TemporaryDirectory(prefix="advisor-bench-slack-") as tmp:
        settings = Settings(llm_max_retries=0, slack_api_url=slack.api_url)  # the shipped index and reader
        settings.slack_bot_token, settings.slack_signing_secret = SecretStr("xoxb-bench"), SecretStr(SECRET)
        llm = ScriptedLLM(default=_reply, piece_delay_s=WORD_DELAY_S)
        advisor = Advisor(settings, llm=llm, store=Store(Path(tmp) / "turns.sqlite3"))
        advisor.warm()
        bot = SlackBot(advisor)
        server = bot.http_server("127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        events_url, raw_url = f"{base}/slack/events", f"{base}/not-slack"
        try:
            # Warm both paths (bolt's first request checks the token with auth.test), then start the long answer.
            for i in range(warmups):
                assert _post(events_url, _event(i, QUESTION, channel="CWARM", user=f"UW{i}"))[0] == 200
                assert _post(raw_url, b"{}")[0] == 404
            assert bot.wait_idle(60), "the warm-up answers did not finish"
            assert _post(events_url, _event(99, f"<@UBOT> {BACKGROUND}: when does self-hosting pay off?",
                                            channel="CBG", user="UBG"))[0] == 200
            deadline = time.monotonic() + 60
            while not any(c["channel"] == "CBG" for c in slack.of("chat.startStream")):
                assert time.monotonic() < deadline, "the background answer never started streaming"
                time.sleep(0.05)

            acks: list[float] = []
            raws: list[float] = []
            for i in range(args.events):
                status, raw = _post(raw_url, b"{}")
                assert status == 404
                raws.append(raw)
                status, ack = _post(events_url, _event(100 + i, QUESTION, channel="CBENCH", user=f"UB{i:03d}"))
                assert status == 200, f"event {i} got HTTP {status}"
                acks.append(ack)
                time.sleep(args.gap)
            in_flight = not any(c["channel"] == "CBG" for c in slack.of("chat.stopStream"))
            llm.piece_delay_s = 0.0  # let the rest be written at once
            finished = bot.wait_idle(180)
        finally:
            llm.piece_delay_s = 0.0
            server.shutdown()
            server.server_close()
            bot.close()
        answered = len({c["thread_ts"] for c in slack.of("chat.startStream") if c["channel"] == "CBENCH"})
        failed = [c["text"] for c in slack.of("chat.postMessage") if "Sorry" in (c.get("text") or "")]

    ack_ms, ack_p90 = statistics.median(acks) * 1000, _p90(acks) * 1000
    raw_ms, raw_p90 = statistics.median(raws) * 1000, _p90(raws) * 1000
    ok = ack_ms <= TARGET_MS
    print(f"{args.events} signed app_mention events, each starting a turn, one every {args.gap:g} s, while another "
          f"answer was being written ({'still' if in_flight else 'NO LONGER'} writing at the end)")
    print(f"ack  median {ack_ms:6.1f} ms  p90 {ack_p90:6.1f} ms  (HTTP 200 back from /slack/events)")
    print(f"raw  median {raw_ms:6.1f} ms  p90 {raw_p90:6.1f} ms  (the same POST answered 404 on the same server)")
    print(f"ack / raw  {ack_ms / raw_ms:5.1f}x median, {ack_p90 / raw_p90:5.1f}x p90; bolt and the bot add "
          f"{ack_ms - raw_ms:.1f} ms at the median")
    print(f"answered   {answered} of {args.events} measured events" + (f", {len(failed)} failed" if failed else ""))
    print(f"{'PASS' if ok else 'FAIL'}: median ack {ack_ms:.1f} ms (target <= {TARGET_MS:.0f} ms)")
    out = REPO_ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "slack.json").write_text(json.dumps({
        "events": args.events, "ack_median_ms": ack_ms, "ack_p90_ms": ack_p90, "raw_median_ms": raw_ms,
        "raw_p90_ms": raw_p90, "ratio_median": ack_ms / raw_ms, "in_flight": in_flight, "answered": answered,
        "target_ms": TARGET_MS, "pass": ok}, indent=2), encoding="utf-8")
    complete = in_flight and finished and answered == args.events and not failed
    if not complete:
        print("the measurement is not valid: the background answer ended early, or an event went unanswered")
    return 0 if ok and complete else 1


if __name__ == "__main__":
    sys.exit(main())
