"""The local model's pace: no retry of a timeout while it decodes, a 503 estimate before any call,
and progress from the first moment (the fake speaking llama.cpp: timings, /slots, streaming)."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.settings import LocalModelSettings
from tests.fakes.upstream import Call, FakeUpstream, Reply, running
from tests.support import client_for, make_settings, serve

IDEA = {"idea": "AI agent that audits freight invoices for small brokers"}
MODEL_ID = "gemma-3-270m"  # every local alias sends the same model id


def local_settings(url: str, **overrides: Any) -> LocalModelSettings:
    return LocalModelSettings(_env_file=None, url=url, **overrides)  # type: ignore[call-arg]


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    with running(fake):
        yield fake


def member_calls(upstream: FakeUpstream) -> list[Call]:
    return [c for c in upstream.calls if "## Your perspective" in c.user]


@pytest.mark.parametrize(("busy", "member_attempts"), [(2, 1), (0, 3)])
async def test_a_local_timeout_is_not_retried_while_the_server_decodes(
    upstream: FakeUpstream, busy: int, member_attempts: int
) -> None:
    # One member that never answers within its 0.5 s; the fan-out leaves room for retries (its
    # end is 8 - 4.5 s away), so only the server's state decides whether it is asked again.
    upstream.script(MODEL_ID, *[Reply(hang=True)] * 3)
    upstream.slots_busy = busy  # someone else keeps slots decoding, /health stays ok
    local = local_settings(upstream.base_urls()["openai_compat"], members=1, timeout_s=0.5, deadline_s=5)
    async with client_for(create_app(make_settings(local_model=local, retry_max_attempts=3))) as client:
        # merge: every member writes a whole answer, so the hanging call is a member's.
        body = {**IDEA, "options": {"deadline_s": 8, "strategy": "merge"}}
        response = await client.post("/phases/kill-test/orchestrate", json=body)
    answer = response.json()
    records = answer["models"] if response.status_code == 200 else answer["error"]["models"]
    member = next(m for m in records if m["model"] == "local-1")
    assert len(member_calls(upstream)) == member_attempts  # each attempt is one upstream call
    assert member["status"] == "timeout" and member["attempts"] == member_attempts
    if busy:
        assert "not retried" in member["error"] and f"{busy} of 4 slots are decoding" in member["error"]
    else:
        assert "not retried" not in member["error"]


async def test_the_estimate_past_the_deadline_is_an_immediate_503_with_retry_after(
    upstream: FakeUpstream,
) -> None:
    upstream.tokens_per_s = 1.0  # a machine so busy each slot decodes one token a second
    local = local_settings(upstream.base_urls()["openai_compat"])
    async with client_for(create_app(make_settings(local_model=local))) as client:
        first = await client.post("/phases/kill-test/orchestrate", json=IDEA)
        assert first.status_code == 200, first.text  # nothing known yet: it runs, and measures
        made = len(upstream.calls)

        refused = await client.post("/phases/kill-test/orchestrate", json=IDEA)
        assert refused.status_code == 503, refused.text
        assert len(upstream.calls) == made  # refused before any model call
        assert int(refused.headers["Retry-After"]) >= 5
        error = refused.json()["error"]
        estimate = error["details"]["estimate"]
        assert error["code"] == "too_slow_now" and error["details"]["deadline_s"] == 170
        assert estimate["tokens_per_s"] == 1.0 and estimate["seconds"] > 170
        assert "deadline_s" in error["hint"] and "single_model" in error["hint"]

        # The fix the hint names works: a deadline above the estimate is admitted and answered.
        roomy = {**IDEA, "options": {"deadline_s": math.ceil(estimate["seconds"]) + 10}}
        assert (await client.post("/phases/kill-test/orchestrate", json=roomy)).status_code == 200


async def test_a_busy_server_still_replays_a_stored_answer_and_refuses_new_work_at_once(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    # The estimate guards new work only: a resend under the same Idempotency-Key gets its stored
    # answer however slow the model is now, and nothing is lost to a 503.
    upstream.tokens_per_s = 1.0
    local = local_settings(upstream.base_urls()["openai_compat"])
    store = {"store_backend": "sqlite", "store_path": tmp_path / "store.sqlite3"}
    keyed = {"Idempotency-Key": "busy-machine-resend"}
    async with client_for(create_app(make_settings(local_model=local, **store))) as client:
        first = await client.post("/phases/kill-test/orchestrate", json=IDEA, headers=keyed)
        assert first.status_code == 200, first.text  # nothing known yet: it runs, and measures
        made = len(upstream.calls)

        resent = await client.post("/phases/kill-test/orchestrate", json=IDEA, headers=keyed)
        fresh = await client.post("/phases/kill-test/orchestrate", json=IDEA)
        queued = await client.post(
            "/phases/kill-test/orchestrate", json=IDEA, headers={"Prefer": "respond-async"}
        )
    assert resent.status_code == 200 and resent.content == first.content
    assert fresh.status_code == 503 and fresh.json()["error"]["code"] == "too_slow_now"
    assert queued.status_code == 503 and "Location" not in queued.headers  # no 202 for a doomed run
    assert len(upstream.calls) == made


async def test_members_cut_off_on_a_slow_server_teach_the_pace_and_the_next_request_is_a_503(
    upstream: FakeUpstream,
) -> None:
    # The case: a healthy server decoding far too slowly for the deadline. The first
    # request runs blind and its members are cut off mid-answer; what they decoded sets the pace.
    upstream.script(MODEL_ID, *[Reply(token_delay_s=0.05)] * 8)  # 20 tokens/s, no timings
    local = local_settings(upstream.base_urls()["openai_compat"], timeout_s=1, deadline_s=3)
    async with client_for(create_app(make_settings(local_model=local))) as client:
        first = await client.post("/phases/kill-test/orchestrate", json=IDEA)
        assert first.status_code in (502, 504), first.text
        made = len(upstream.calls)
        refused = await client.post("/phases/kill-test/orchestrate", json=IDEA)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "too_slow_now"
    assert "Retry-After" in refused.headers
    assert len(upstream.calls) == made


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    event = None
    for line in lines:
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event is not None:
            yield event, json.loads(line.split(":", 1)[1])
            event = None


def test_progress_starts_before_any_model_answers_and_tokens_stream_while_members_decode(
    upstream: FakeUpstream,
) -> None:
    gate = threading.Event()
    upstream.script(MODEL_ID, *[Reply(gate=gate, token_delay_s=0.001)] * 3)
    local = local_settings(upstream.base_urls()["openai_compat"])
    with serve(create_app(make_settings(local_model=local))) as origin, httpx.Client(timeout=60) as http:
        headers = {"Accept": "text/event-stream"}
        with http.stream("POST", f"{origin}/phases/kill-test/orchestrate", json=IDEA, headers=headers) as r:
            events = sse_events(r.iter_lines())
            first, data = next(events)
            # The first event came while every model call was still held back by the fake.
            # The writer (the single model) and the two members casting ballots (the default).
            assert first == "phase_started" and data["models"] == ["local", "local-1", "local-2"]
            assert data["deadline_s"] == 170 and data["estimate"] is None  # nothing measured yet
            assert all(c.ended == "" for c in upstream.calls)
            gate.set()
            rest = list(events)
    names = [name for name, _ in rest]
    assert names[-1] == "result"
    result = rest[-1][1]
    for alias in ("local", "local-1", "local-2"):
        mine = [(n, d) for n, d in rest if d.get("model") == alias]
        kinds = [n for n, _ in mine]
        assert kinds[0] == "model_started" and kinds[-1] == "model_finished"
        counts = [d["tokens"] for n, d in mine if n == "model_tokens"]
        assert counts == sorted(counts)
        # The writer's answer streams its growing count during the decode; a ballot is a few
        # tokens, within the first report's 16.
        assert len(counts) >= (2 if alias == "local" else 0), (alias, counts)
        finished = mine[-1][1]
        record = next(m for m in result["models"] if m["model"] == alias)
        # The streamed answer is accounted exactly as a plain one: the upstream's usage.
        assert finished["tokens_out"] == record["tokens_out"] and record["status"] == "ok"
    members = member_calls(upstream)
    assert len(members) == 2 and all(c.body.get("stream") is True for c in upstream.calls)
