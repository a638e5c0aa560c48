"""A tiny, fast fake LLM upstream for the benchmark (``bench/compare.py``), in its own process.

It answers the four wire formats the service's adapters speak, on the paths of
``tests.fakes.upstream.base_urls`` (origin ``http://127.0.0.1:<port>``):

    workers_ai     POST /client/v4/accounts/<acct>/ai/run/<model>
    anthropic      POST /anthropic/v1/messages
    minimax        POST /minimax/v1/chat/completions   (and /minimax/v1/text/chatcompletion_v2)
    openai_compat  POST /openai/v1/chat/completions    (what the floors and LiteLLM use)

Every answer comes after a fixed latency (``--latency-ms``) and carries, as content, a valid
kill-test output (``tests/fixtures/phase_outputs/kill-test.json``), optionally padded to about
``--pad-bytes`` (e.g. 8192) by lengthening one reasoning string, so it stays schema-valid.

Unlike ``tests.fakes.upstream`` it checks, records and scripts nothing: the bodies are serialised once
at start-up and the request body is read but not parsed, so the fake costs as little CPU as possible
and is not the bottleneck. aiohttp.web on uvloop (when installed) is used for the same reason.

    .venv/bin/python bench/fake_llm.py --port 9200 --latency-ms 50 --pad-bytes 8192
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "phase_outputs" / "kill-test.json"
PAD_SENTENCE = "The broker interviews confirm the pain, the volumes and the willingness to pay. "


def answer_text(pad_bytes: int = 0) -> str:
    """The kill-test fixture as compact JSON; padded (one reasoning string lengthened) to about
    ``pad_bytes`` when that is larger than the fixture."""
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    text = json.dumps(data, ensure_ascii=False)
    if pad_bytes > len(text):
        feasibility = data["bootstrapFeasibility"]
        missing = pad_bytes - len(text)
        repeats = missing // len(PAD_SENTENCE) + 1
        feasibility["canOneSoloFounderBuildReasoning"] += " " + (PAD_SENTENCE * repeats)[:missing].strip()
        text = json.dumps(data, ensure_ascii=False)
    return text


def _usage(text: str) -> tuple[int, int]:
    return 1200, max(1, len(text) // 4)


def _chat_completion(text: str, model: str) -> dict[str, Any]:
    tokens_in, tokens_out = _usage(text)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        },
    }


def bodies(text: str) -> dict[str, bytes]:
    """Each wire's success body, serialised once."""
    tokens_in, tokens_out = _usage(text)
    openai = _chat_completion(text, "fake-model")
    openai["system_fingerprint"] = "fp_fake"
    minimax = _chat_completion(text, "fake-model")
    minimax["base_resp"] = {"status_code": 0, "status_msg": "success"}
    minimax["choices"][0]["message"]["name"] = "MiniMax AI"
    anthropic = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": "fake-model",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    workers_ai = {
        "result": {
            "response": text,
            "tool_calls": [],
            "usage": {
                "prompt_tokens": tokens_in,
                "completion_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            },
        },
        "success": True,
        "errors": [],
        "messages": [],
    }
    shapes = {"openai_compat": openai, "minimax": minimax, "anthropic": anthropic, "workers_ai": workers_ai}
    return {wire: json.dumps(shape, ensure_ascii=False).encode() for wire, shape in shapes.items()}


Handler = Callable[[web.Request], Awaitable[web.Response]]


def make_app(latency_ms: float, pad_bytes: int) -> web.Application:
    delay = latency_ms / 1000
    prepared = bodies(answer_text(pad_bytes))

    def handler(wire: str) -> Handler:
        body = prepared[wire]

        async def handle(request: web.Request) -> web.Response:
            await request.read()
            if delay > 0:
                await asyncio.sleep(delay)
            return web.Response(body=body, content_type="application/json")

        return handle

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/client/v4/accounts/{account_id}/ai/run/{model:.+}", handler("workers_ai"))
    app.router.add_post("/anthropic/v1/messages", handler("anthropic"))
    app.router.add_post("/minimax/v1/chat/completions", handler("minimax"))
    app.router.add_post("/minimax/v1/text/chatcompletion_v2", handler("minimax"))
    app.router.add_post("/openai/v1/chat/completions", handler("openai_compat"))
    app.router.add_get("/openai/health", health)
    app.router.add_get("/health", health)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/fake_llm.py", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="fixed latency of every answer")
    parser.add_argument("--pad-bytes", type=int, default=0, help="pad the answer to about this size")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        pass
    web.run_app(
        make_app(args.latency_ms, args.pad_bytes),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        backlog=1024,
    )


if __name__ == "__main__":
    main()
