"""The README's run command against the real local model: no keys, no network, real llama.cpp.

This is the one slow test (tens of seconds on 2 cores of its own, minutes on a busy shared one):
it starts `python -m app` exactly as `make run` does, which starts the bundled Gemma 3 270M
server, and runs kill-test through the full orchestration path over real HTTP. It needs the
`[local]` extra, which `make test` installs.
"""

from __future__ import annotations

import signal
import subprocess

import httpx
import pytest
from jsonschema import Draft202012Validator

from app.calls.request import perspective_section
from app.phases.local_roster import PERSPECTIVES
from app.prompts import phase_prompt
from app.synthesis.ballot import ballot_form, ballot_instruction
from tests.local_model.conftest import DEADLINE_S
from tests.support import catalog_for

pytestmark = pytest.mark.needs_local_model


def test_kill_test_on_the_real_local_model(service: tuple[str, str, subprocess.Popen[bytes]]) -> None:
    origin, model_url, process = service
    response = httpx.post(
        f"{origin}/phases/kill-test/orchestrate",
        content=b'{"idea": "AI agent that audits freight invoices for small logistics brokers"}',
        timeout=DEADLINE_S + 60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    schema = httpx.get(f"{origin}/phases/kill-test").json()["output_schema"]
    assert list(Draft202012Validator(schema).iter_errors(body["output"])) == []
    assert body["output"]["verdict"] in ("GO", "PIVOT", "KILL")
    assert body["roster"] == "local"
    parallel = {m["model"]: m for m in body["models"] if m["role"] == "parallel"}
    assert list(parallel) == ["local", "local-1", "local-2"]  # the writer and two members (the default)
    # Gemma 3 270M sometimes loops inside its JSON until the token budget: such a call is
    # recorded truncated (budget named, never repaired into a stub).
    for member in parallel.values():
        if member["status"] != "ok":
            assert member["error_kind"] == "truncated" and "max_tokens=" in member["error"], member
        assert member["tokens_out"] > 0, member
    # The shipped local decision (strategy ballot): the single model writes, the two members
    # vote on the verdict in a few tokens each.
    for alias in ("local-1", "local-2"):
        assert parallel[alias]["tokens_out"] <= 40 + 80, parallel[alias]  # its budget (and a re-ask)
    assert body["strategy"] == "ballot" and body["synthesizer"] is None, body
    if parallel["local"]["status"] == "ok":
        assert body["mode"] == "orchestrated", body
        assert body["merge"]["*"].endswith("the writer; the others cast ballots"), body["merge"]
        if body["votes"]["leader"] is not None:  # the phase's decision rule settles the verdict
            assert body["output"]["verdict"] == body["votes"]["leader"], body
    else:  # no whole answer to vote on: the single model, honestly marked
        assert body["mode"] == "fallback" and body["degraded"] is True, body

    # Every member writing a whole answer, merged field by field: one option away.
    merged = httpx.post(
        f"{origin}/phases/kill-test/orchestrate",
        json={"idea": "AI agent that audits freight invoices for small logistics brokers",
              "options": {"strategy": "merge"}},
        timeout=DEADLINE_S + 60,
    )  # fmt: skip
    assert merged.status_code == 200, merged.text
    answer = merged.json()
    assert list(Draft202012Validator(schema).iter_errors(answer["output"])) == []
    whole = [m for m in answer["models"] if m["role"] == "parallel" and m["status"] == "ok"]
    if len(whole) >= 2:
        assert answer["mode"] == "orchestrated" and answer["strategy"] == "merge", answer
        assert answer["merge"]["*"].endswith("the most central answer"), answer["merge"]
    else:
        assert answer["mode"] == "fallback" and answer["degraded"] is True, answer
        assert any("min_successes" in w for w in answer["warnings"]), answer["warnings"]

    # A slot reuses the prompt prefix it has read (LOCAL_MODEL_REUSE_PROMPTS): the phase's fixed
    # part comes first, so a second request reads only its own tokens, even when they are many
    # (a workflow's context): without whole-context caches, Gemma 3's sliding-window layers keep
    # only the last 512 positions, and llama.cpp read such a prompt from its first token again.
    system = (
        phase_prompt(catalog_for().get("kill-test"), idea="x", context={}, instructions=None).full().system
    )
    read = []
    for topic in ("freight", "dental"):
        context = " ".join(f"{topic} fact {i}." for i in range(200))  # about 1,000 tokens of its own
        chat = {"messages": [{"role": "system", "content": system}, {"role": "user", "content": context}],
                "max_tokens": 1}  # fmt: skip
        timings = httpx.post(f"{model_url}/chat/completions", json=chat, timeout=300).json()["timings"]
        read.append((timings["cache_n"], timings["prompt_n"]))
    assert read[1][0] > 1000, read  # the system prompt came from the cache

    # Ballots follow the writer on its server (the local models are ``serial``) and find its
    # prompt there: a ballot reads only its own text, the ballot's instruction and its
    # perspective. (With the perspective in the system prompt it read about 200 tokens.)
    phase = catalog_for().get("kill-test")
    task = phase_prompt(phase, idea="AI agent that checks dental claims", context={}, instructions=None)
    fields = ballot_form(phase.output, phase.config.decision).fields
    ballot = task.extended(ballot_instruction(fields)).fit(
        window=None, max_tokens=40, closing=perspective_section(PERSPECTIVES[0])
    )
    read = []
    for prompt in (task.full(), ballot.prompt):
        chat = {"messages": [{"role": "system", "content": prompt.system},
                             {"role": "user", "content": prompt.user}], "max_tokens": 8}  # fmt: skip
        timings = httpx.post(f"{model_url}/chat/completions", json=chat, timeout=300).json()["timings"]
        read.append((timings["cache_n"], timings["prompt_n"]))
    assert read[1][1] < 100 and read[1][0] > read[0][0], read

    # Ctrl-C stops both: the service and the model server it started.
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(model_url.removesuffix("/v1") + "/health", timeout=2)
