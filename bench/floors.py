"""The comparison servers of ``bench/compare.py``: the same orchestration done the least costly ways.

Each serves ``POST /phases/kill-test/orchestrate`` (body ``{"idea": …}``) on uvicorn (one worker): it
asks ``--models`` chat completions at once on the OpenAI-compatible API at ``--base-url``
(``asyncio.gather``), hands the answers to one synthesis call, ``json.loads`` its content and
returns it. Kinds:

    httpx     one shared ``httpx.AsyncClient``                        (floor)
    aiohttp   one shared ``aiohttp.ClientSession``                    (floor)
    litellm   ``litellm.acompletion(model="openai/<id>", api_base=…)``  (how one would write it with LiteLLM)

    .venv/bin/python bench/floors.py --kind aiohttp --port 9301 --base-url http://127.0.0.1:9200/openai/v1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SYSTEM = "You are a startup analyst. Answer with one JSON object for the kill-test phase."
Chat = Callable[[str, list[dict[str, str]]], Awaitable[str]]


def _messages(user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _content(payload: dict[str, Any]) -> str:
    content: str = payload["choices"][0]["message"]["content"]
    return content


def make_app(kind: str, base_url: str, models: int) -> Starlette:
    url = f"{base_url.rstrip('/')}/chat/completions"
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if kind == "httpx":
            import httpx

            limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
            state["client"] = httpx.AsyncClient(limits=limits, timeout=60)
        elif kind == "aiohttp":
            import aiohttp

            connector = aiohttp.TCPConnector(limit=1000)
            state["session"] = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=60)
            )
        elif kind == "litellm":
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm

            litellm.telemetry = False
            litellm.suppress_debug_info = True
            state["litellm"] = litellm
        else:
            raise ValueError(f"unknown kind {kind!r}")
        yield
        if "client" in state:
            await state["client"].aclose()
        if "session" in state:
            await state["session"].close()

    async def chat(model: str, messages: list[dict[str, str]]) -> str:
        body = {"model": model, "messages": messages, "temperature": 0.5, "max_tokens": 4096}
        if kind == "httpx":
            response = await state["client"].post(url, json=body, headers={"Authorization": "Bearer fake"})
            response.raise_for_status()
            return _content(response.json())
        if kind == "aiohttp":
            async with state["session"].post(url, json=body, headers={"Authorization": "Bearer fake"}) as r:
                r.raise_for_status()
                return _content(await r.json())
        result = await state["litellm"].acompletion(
            model=f"openai/{model}",
            messages=messages,
            api_base=base_url,
            api_key="fake",
            temperature=0.5,
            max_tokens=4096,
        )
        content: str = result.choices[0].message.content
        return content

    async def orchestrate(request: Request) -> JSONResponse:
        idea = (await request.json())["idea"]
        user = f"Planning phase: kill-test\n\nIdea: {idea}"
        answers = await asyncio.gather(*(chat(f"bench-m{i + 1}", _messages(user)) for i in range(models)))
        judge = user + "\n\n" + "\n\n".join(f"Answer {i + 1}:\n{a}" for i, a in enumerate(answers))
        output = json.loads(await chat("bench-judge", _messages(judge)))
        return JSONResponse({"phase": "kill-test", "output": output})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/phases/kill-test/orchestrate", orchestrate, methods=["POST"]),
            Route("/healthz", health),
        ],
        lifespan=lifespan,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/floors.py")
    parser.add_argument("--kind", choices=["httpx", "aiohttp", "litellm"], required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--base-url", required=True, help="the fake's OpenAI-compatible base URL (…/v1)")
    parser.add_argument("--models", type=int, default=4, help="parallel models per orchestration")
    args = parser.parse_args(argv)
    app = make_app(args.kind, args.base_url, args.models)
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
