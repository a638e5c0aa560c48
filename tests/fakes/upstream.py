"""A fake LLM upstream: one HTTP server on 127.0.0.1 speaking all four providers' wire formats.

The shapes follow ``shared/reference/provider-apis.md`` and what the adapters in
``app/providers/`` send and parse, so the real adapters (and the whole service) can run against it:

    wire           the adapter posts to                    ``base_urls()`` gives
    workers_ai     …/client/v4/accounts/<acct>/ai/run/<model>    …/client/v4/accounts/{account_id}/ai/run
    anthropic      …/anthropic/v1/messages                       …/anthropic
    minimax        …/minimax/v1/chat/completions                 …/minimax/v1
                   (also …/minimax/v1/text/chatcompletion_v2)
    openai_compat  …/openai/v1/chat/completions                  …/openai/v1

Every request is recorded as a ``Call``. The answer is the next ``Reply`` scripted for the model id
(FIFO), else the responder's text: by default the fixture of the fake's ``phase`` (kill-test unless
told otherwise), dressed the way that model family really answers (R1's reasoning with the opening
``<think>`` missing, Llama's prose and a fenced block). Like a real provider, the fake knows nothing
of the service's phases or roles and never reads the prompt to guess them: it is told which phase
to answer for. Auth headers and the request body are checked as the real APIs do; a
rejected request gets that wire's error shape and a line in ``problems``.

Each wire's model listing answers too (``GET …/ai/models/search``, ``/anthropic/v1/models``,
``/minimax/v1/models``, ``/openai/v1/models``), in that provider's shape, with ``listed_models``:
by default the ids ``app/phases/defaults.toml`` ships; tests drop one to make it unknown.

Faults for resilience tests: a ``Reply`` can be slow (``delay_s``), never answer (``hang``), reset
the connection before answering (``reset``) or cut its body short (``truncate``). Waiting replies
watch for the client going away and stop at once, so ``in_flight``, ``wait_idle`` and
``Call.ended`` can prove that a caller's timeouts and cancellations really release the upstream.

Run it by hand with ``python -m tests.fakes.upstream --port 9100`` (``--phase NAME`` for another
phase's answers).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
import struct
import threading
import time
import tomllib
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

Wire = Literal["workers_ai", "anthropic", "minimax", "openai_compat"]
WIRES: tuple[Wire, ...] = ("workers_ai", "anthropic", "minimax", "openai_compat")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "phase_outputs"
DEFAULT_PHASE = "kill-test"

WORKERS_AI_ACCOUNT = "fake-account"
FAKE_KEY = "fake-key"

POLL_S = 0.02
"""How often a waiting reply looks for a gone client or a stopping server."""

Ending = Literal["", "answered", "error", "disconnected", "reset", "truncated", "stopped"]
"""How the fake ended a request (``Call.ended``); ``""`` while it is still being handled."""


@dataclass
class Reply:
    """One scripted answer.

    In order: ``hang`` (never answer), ``delay_s``, ``reset`` (no answer either); then the body,
    by precedence ``raw_body``, ``error_body``, ``context_overflow``, ``model_not_found``, an error
    (``status`` >= 400 or ``error_code``), else a success carrying ``text`` (shaped by ``truncated``
    and ``reasoning_only``); ``truncate`` cuts whichever body that is short.

    The faults a real provider has on a bad day, each in that wire's own shape (what the adapters
    classify them as, in brackets):

    ============  =================================  ============================================
    field         wire                               what the fake sends
    ============  =================================  ============================================
    truncated     workers_ai (legacy result shape)   ``usage.completion_tokens`` = the request's
                                                     ``max_tokens``: the shape has no finish reason
                  workers_ai (``@cf/zai-org/``)      ``choices[0].finish_reason: "length"``
                  anthropic                          ``stop_reason: "max_tokens"``
                  minimax, openai_compat             ``choices[0].finish_reason: "length"``
                                                     [``Completion.truncated``]
    reasoning_    workers_ai (legacy)                ``response: "<think>\n" + text``, never closed
    only          workers_ai (``@cf/zai-org/``)      ``content: null``, ``reasoning_content: text``
                  anthropic                          one ``thinking`` block holding ``text``, no text
                  minimax                            ``content: null``, ``reasoning_details[0].text``
                                                     (with ``reasoning_split``; else an unclosed
                                                     inline ``<think>``)
                  openai_compat                      ``content: null``, ``reasoning_content: text``
                                                     [``Completion.reasoning_unfinished``]
    context_      workers_ai                         HTTP 400, ``errors[0].message`` "AiError: AiError:
    overflow                                         This model's maximum context length is …" (the
                                                     vLLM text; Cloudflare documents no code for it,
                                                     so none is sent)
                  anthropic                          HTTP 400 ``invalid_request_error`` "prompt is too
                                                     long: N tokens > M maximum"
                  minimax                            HTTP 400 "invalid params, context window exceeds
                                                     limit (2013)"
                  openai_compat                      HTTP 400 ``code: context_length_exceeded``
                                                     (OpenAI's body) [``ContextOverflow``]
    model_not_    workers_ai                         HTTP 400, code 5007 "No such model <id> or task"
    found         anthropic                          HTTP 404 ``not_found_error`` "model: <id>"
                  minimax                            HTTP 400 "invalid params, unknown model '<id>'
                                                     (2013)"
                  openai_compat                      HTTP 404 ``code: model_not_found``
                                                     [``ModelUnavailable``]
    ============  =================================  ============================================
    """

    text: str | None = None
    """The answer text; ``None`` means the responder's text."""
    status: int = 200
    error_body: dict[str, Any] | None = None
    """Sent verbatim as JSON with ``status``."""
    error_code: int | None = None
    """The provider's own code: Workers AI ``errors[].code`` (with ``success: false``), MiniMax
    ``base_resp.status_code`` (HTTP 200 when ``status`` is 200, else the OpenAI-like body whose
    message ends in ``(code)``), OpenAI-compatible ``error.code`` as an integer (vLLM, llama.cpp).
    Anthropic has no numeric codes: its ``error.type`` follows the status."""
    delay_s: float = 0.0
    """Wait this long before answering. A client that goes away meanwhile ends the request at once,
    with nothing sent (``ended == "disconnected"``); a stopping server makes it answer at once."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers, e.g. ``{"Retry-After": "7"}``."""
    raw_body: str | None = None
    """Sent verbatim (``application/json`` content type unless ``headers`` says otherwise)."""
    usage: tuple[int, int] | None = None
    """(input, output) tokens; by default about four characters a token, at least 1 each."""
    truncated: bool = False
    """Report the answer as cut off at ``max_tokens``: each wire's stop signal (table above) and an
    output count of ``max_tokens``. ``text`` is sent as given: script the cut-off text yourself. With
    ``usage`` given, Workers AI's legacy shape shows the cut only if that count reaches ``max_tokens``."""
    reasoning_only: bool = False
    """The model never got past its reasoning: ``text`` (or the responder's text) is sent as the
    reasoning, beside no answer (table above). With ``truncated`` the stop is the length stop (a
    model cut off mid-thought), else a normal one."""
    context_overflow: bool = False
    """Answer with the wire's context-length error (table above): the prompt does not fit the
    model's context window. Always an HTTP 400; ``headers`` are sent with it."""
    model_not_found: bool = False
    """Answer with the wire's "no such model" error (table above), as for a retired or mistyped id.
    ``headers`` are sent with it."""
    gate: threading.Event | None = None
    """Answer only once the test sets this event (a client going away still ends it at once):
    lets a test look at what the service did before any model answered."""
    token_delay_s: float = 0.0
    """Streamed answers (``stream: true``, the OpenAI-compatible wire): seconds between chunks."""
    hang: bool = False
    """Never answer: wait until the client disconnects (``ended == "disconnected"``) or the server
    stops (then reset the connection, ``ended == "stopped"``)."""
    reset: bool = False
    """Abort the TCP connection with a RST instead of answering (after ``delay_s``). httpx raises
    ``httpx.ReadError``: its cause chain ends in ``ConnectionResetError`` (errno 104); the message is
    "[Errno 104] Connection reset by peer" from ``httpx.Client`` but empty from ``AsyncClient``."""
    truncate: bool = False
    """Send the status, the headers (with the full ``Content-Length``) and the first half of the body,
    then close the connection: a broken transfer, unlike ``truncated``'s well-formed cut-off answer.
    httpx raises ``httpx.RemoteProtocolError`` ("peer closed connection without sending complete
    message body (received N bytes, expected 2N)")."""


@dataclass
class Call:
    """One request the fake received."""

    wire: Wire
    model: str
    system: str
    user: str
    body: dict[str, Any]
    """The parsed JSON body (``{}`` when it was not a JSON object)."""
    headers: dict[str, str]
    """Request headers, names lower-cased."""
    path: str = ""
    ended: Ending = ""
    """How the request ended: ``answered``; ``error`` (an error answer was sent: a rejected request,
    a scripted error, ``error_body``, ``raw_body`` with ``status`` >= 400, a failed responder;
    in-body errors with HTTP 200 included); ``disconnected`` (the client went away while the fake
    waited); ``reset``; ``truncated``; ``stopped`` (a hang ended by the server stopping). Set by the
    server's thread once the fake has decided, before the response's bytes go out."""


Responder = Callable[[Call], str]


def dress(model: str, text: str, phase: str = "planning") -> str:
    """``text`` as the model family really writes it: R1-distill on Workers AI thinks first and
    loses the opening ``<think>``; Llama chats before a fenced block; the rest answer bare."""
    if "deepseek-r1" in model:
        return (
            f"Okay, the planner wants the {phase} phase as one JSON object. Let me go through the idea, "
            "weigh the evidence in the context and check every field against the schema.\n"
            "</think>\n\n" + text
        )
    if "llama" in model:
        return f"Here is the {phase} analysis as a single JSON object.\n\n```json\n{text}\n```"
    return text


def default_responder(call: Call, *, phase: str = DEFAULT_PHASE, fixtures: Path = FIXTURES) -> str:
    """``phase``'s fixture (whatever the call: judge, ranker and wild-ideas calls get it too), dressed."""
    text = (fixtures / f"{phase}.json").read_text(encoding="utf-8").strip()
    return dress(call.model, within_schema(call, text), phase)


def within_schema(call: Call, text: str) -> str:
    """``text`` cut to the properties of the request's ``response_format`` schema when it is closed
    (``additionalProperties: false``), as llama.cpp's grammar would force: a ballot asking for
    ``verdict`` alone gets ``{"verdict": ...}``. Unchanged when nothing is cut or it would not fit."""
    format_ = call.body.get("response_format")
    schema = format_.get("json_schema", {}).get("schema") if isinstance(format_, dict) else None
    if not isinstance(schema, dict) or schema.get("additionalProperties") is not False:
        return text
    allowed = schema.get("properties")
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if not isinstance(allowed, dict) or not isinstance(value, dict):
        return text
    kept = {key: v for key, v in value.items() if key in allowed}
    if kept == value or not set(schema.get("required", [])) <= set(kept):
        return text
    return json.dumps(kept)


class FakeUpstream:
    """An ASGI app answering as Workers AI, Anthropic, MiniMax and any OpenAI-compatible server.

    Thread-safe where it matters: tests script and read ``calls`` from their thread while the
    server runs in another (see ``running``).
    """

    def __init__(
        self, responder: Responder | None = None, *, phase: str = DEFAULT_PHASE, fixtures: Path = FIXTURES
    ) -> None:
        self.calls: list[Call] = []
        self.phase = phase
        """Whose fixture the default responder answers with; a test may switch it between requests."""
        self.problems: list[str] = []
        """Requests the fake rejected (auth, body) and responder failures, in order."""
        self.origin: str | None = None
        self._responder = responder
        self._fixtures = fixtures
        self._queues: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._in_flight = 0
        self._server: uvicorn.Server | None = None
        """Set by ``running`` / the CLI: ``reset`` and ``truncate`` find the request's socket in it."""
        self._ids = itertools.count(1)
        self.health_status = 200
        self.tokens_per_s: float | None = None
        """llama.cpp mode: OpenAI-compatible answers carry ``timings`` at this decode speed."""
        self.slots = 4
        """What ``GET /openai/slots`` lists (llama.cpp's slots)."""
        self.slots_busy: int | None = None
        """Slots ``/openai/slots`` shows decoding; ``None``: one per chat request in flight.
        Set it to play a server kept busy by someone else."""
        self._decoding = 0
        """What ``GET /openai/health`` answers, as llama.cpp's server: 200 ready, 503 loading."""
        self.listed_models: dict[Wire, list[str]] = default_listing()
        """The ids each wire's model listing answers with; remove one to make it unknown."""
        self.listing_deprecations: dict[str, str] = {}
        """Workers AI's ``planned_deprecation_date`` (YYYY-MM-DD) by model id, in its listing."""
        self.listing_errors: dict[Wire, int] = {}
        """Make a wire's model listing answer this HTTP status, in that wire's error shape."""
        self.listing_calls: list[Call] = []
        """Model-listing requests (kept apart from ``calls``, which are model calls)."""
        self._app = Starlette(
            routes=[
                Route(
                    "/client/v4/accounts/{account_id}/ai/run/{model:path}",
                    self._workers_ai,
                    methods=["POST"],
                ),
                Route("/anthropic/v1/messages", self._anthropic, methods=["POST"]),
                Route("/minimax/v1/chat/completions", self._minimax, methods=["POST"]),
                Route("/minimax/v1/text/chatcompletion_v2", self._minimax, methods=["POST"]),
                Route("/openai/v1/chat/completions", self._openai_compat, methods=["POST"]),
                Route("/openai/health", self._health, methods=["GET"]),
                Route("/openai/slots", self._slots, methods=["GET"]),
                *listing_routes(self),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        # Counted around the whole app, response sending included, so that zero means no request
        # of any kind is still holding a connection here.
        with self._lock:
            self._in_flight += 1
        try:
            await self._app(scope, receive, send)
        finally:
            with self._lock:
                self._in_flight -= 1

    # ---- test-facing API ---------------------------------------------------------------------

    def script(self, model: str, *replies: Reply) -> None:
        """Queue replies for ``model`` (the provider's model id); used FIFO, then the responder."""
        with self._lock:
            self._queues.setdefault(model, deque()).extend(replies)

    def pending(self, model: str) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._queues.get(model, ()))

    def calls_for(self, model: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.model == model]

    @property
    def in_flight(self) -> int:
        """HTTP requests being handled right now (waiting, answering or failing)."""
        with self._lock:
            return self._in_flight

    def wait_idle(self, timeout_s: float) -> bool:
        """Block (no ``await``: the server runs in its own thread) until no request is in flight;
        ``False`` if some still are after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while self.in_flight:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def base_urls(self) -> dict[str, str]:
        """Base URLs in the form each adapter's settings take (the adapters append the rest)."""
        if self.origin is None:
            raise RuntimeError("the fake upstream is not running (use `with running(upstream):`)")
        return base_urls(self.origin)

    # ---- routes ------------------------------------------------------------------------------

    async def _health(self, request: Request) -> Response:
        if self.health_status == 200:
            return JSONResponse({"status": "ok"})
        body = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
        return JSONResponse(body, status_code=self.health_status)

    async def _slots(self, request: Request) -> Response:
        """llama.cpp's ``/slots`` as the bundled xllamacpp build shows it."""
        with self._lock:
            busy = self._decoding if self.slots_busy is None else self.slots_busy
        slots = [
            {"id": i, "n_ctx": 8192, "speculative": False, "is_processing": i < busy}
            for i in range(self.slots)
        ]
        return JSONResponse(slots)

    async def _workers_ai(self, request: Request) -> Response:
        return await self._handle(request, "workers_ai")

    async def _anthropic(self, request: Request) -> Response:
        return await self._handle(request, "anthropic")

    async def _minimax(self, request: Request) -> Response:
        return await self._handle(request, "minimax")

    async def _openai_compat(self, request: Request) -> Response:
        with self._lock:
            self._decoding += 1
        try:
            return await self._handle(request, "openai_compat")
        finally:
            with self._lock:
                self._decoding -= 1

    async def _handle(self, request: Request, wire: Wire) -> Response:
        try:
            parsed: Any = json.loads(await request.body())
        except ValueError:
            parsed = None
        body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        model = request.path_params["model"] if wire == "workers_ai" else body.get("model")
        system, user = _prompt_of(wire, body)
        call = Call(
            wire=wire,
            model=model if isinstance(model, str) else "",
            system=system,
            user=user,
            body=body,
            headers={k.lower(): v for k, v in request.headers.items()},
            path=request.url.path,
        )
        with self._lock:
            self.calls.append(call)

        rejected = _check_auth(wire, call.headers) or _check_body(wire, parsed)
        if rejected is not None:
            status, code, message = rejected
            self._problem(f"{wire} {call.model or '?'}: HTTP {status}: {message}")
            return self._end(
                call, "error", self._error(wire, call, status=status, code=code, message=message)
            )

        reply = self._next_reply(call.model)
        if reply.gate is not None and await self._wait(request, None, reply.gate) == "disconnected":
            return self._end(call, "disconnected", _Nothing())
        if reply.hang or reply.delay_s > 0:
            waited = await self._wait(request, None if reply.hang else reply.delay_s)
            if waited == "disconnected":
                return self._end(call, "disconnected", _Nothing())
            if reply.hang:  # only a stopping server ends a hang: vanish rather than answer
                await self._abort(request.scope, request.receive)
                return self._end(call, "stopped", _Nothing())
        if reply.reset:
            await self._abort(request.scope, request.receive)
            return self._end(call, "reset", _Nothing())
        ending, response = self._answer(wire, call, reply)
        if reply.truncate:
            return self._end(call, "truncated", _Truncated(response, self._transport_of))
        return self._end(call, ending, response)

    def _answer(self, wire: Wire, call: Call, reply: Reply) -> tuple[Ending, Response]:
        """The scripted (or responder's) answer, whole, and whether it is an error."""
        if reply.raw_body is not None:
            headers = {"content-type": "application/json", **reply.headers}
            raw = Response(reply.raw_body, status_code=reply.status, headers=headers)
            return ("error" if reply.status >= 400 else "answered"), raw
        if reply.error_body is not None:
            return "error", JSONResponse(reply.error_body, status_code=reply.status, headers=reply.headers)
        if reply.context_overflow:
            return "error", self._shaped_error(wire, call, _context_overflow(wire, call), reply.headers)
        if reply.model_not_found:
            return "error", self._shaped_error(wire, call, _model_not_found(wire, call), reply.headers)
        if reply.status >= 400 or reply.error_code is not None:
            return "error", self._error(
                wire, call, status=reply.status, code=reply.error_code, headers=reply.headers
            )

        text = reply.text
        if text is None:
            try:
                text = self._respond(call)
            except Exception as exc:  # a broken responder is a wire-shaped 500, and a problem
                message = f"fake upstream responder failed: {type(exc).__name__}: {exc}"
                self._problem(f"{wire} {call.model}: {message}")
                return "error", self._error(wire, call, status=500, message=message)
        return "answered", self._success(wire, call, text, reply)

    # ---- internals ---------------------------------------------------------------------------

    def _next_reply(self, model: str) -> Reply:
        with self._lock:
            queue = self._queues.get(model)
            return queue.popleft() if queue else Reply()

    def _respond(self, call: Call) -> str:
        if self._responder is not None:
            return self._responder(call)
        return default_responder(call, phase=self.phase, fixtures=self._fixtures)

    def _problem(self, line: str) -> None:
        with self._lock:
            self.problems.append(line)

    def _end(self, call: Call, ending: Ending, response: Response) -> Response:
        with self._lock:
            call.ended = ending
        return response

    async def _wait(
        self, request: Request, seconds: float | None, gate: threading.Event | None = None
    ) -> Literal["elapsed", "disconnected", "stopped"]:
        """Sleep ``seconds`` (``None``: for ever), but end at once when the client goes away or the
        server is stopping, so a caller's timeout or cancellation frees the fake straight away."""
        end = None if seconds is None else time.monotonic() + seconds
        # Polled: the stop signal is a threading.Event set from the test's thread, and uvicorn only
        # reports a disconnect through receive(), which Request.is_disconnected peeks at.
        while True:
            if await request.is_disconnected():
                return "disconnected"
            if self._stopping.is_set():
                return "stopped"
            if gate is not None and gate.is_set():
                return "elapsed"
            left = POLL_S if end is None else end - time.monotonic()
            if left <= 0:
                return "elapsed"
            await asyncio.sleep(min(left, POLL_S))

    def _transport_of(self, scope: Scope) -> asyncio.Transport:
        """The transport of the connection carrying ``scope``: uvicorn keeps each connection's
        protocol, whose ``scope`` is the very dict the app gets (httptools and h11 alike)."""
        if self._server is None:
            raise RuntimeError("reset and truncate need the server: serve with `running` or the CLI")
        connections = list(self._server.server_state.connections)
        for connection in connections:
            if getattr(connection, "scope", None) is scope:
                return connection.transport
        # Should uvicorn ever copy the scope: the client's address names the connection too.
        for connection in connections:
            transport: asyncio.Transport = connection.transport
            peer = transport.get_extra_info("peername")
            if peer is not None and tuple(peer[:2]) == tuple(scope.get("client") or ()):
                return transport
        raise LookupError(f"no uvicorn connection carries the request for {scope.get('path')!r}")

    async def _abort(self, scope: Scope, receive: Receive) -> None:
        """Reset the request's connection: a zero linger makes the close a RST, not a FIN."""
        transport = self._transport_of(scope)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        await _until_disconnected(scope, receive)

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def _success(self, wire: Wire, call: Call, text: str, reply: Reply) -> Response:
        n = self._next_id()
        max_tokens = _max_tokens(call.body)
        if wire == "workers_ai":
            return _workers_ai_success(call, text, reply, n, max_tokens)
        if wire == "anthropic":
            tokens_in, tokens_out = _usage(call, text, reply, max_tokens)
            block = (
                {"type": "thinking", "thinking": text, "signature": "fake-signature"}
                if reply.reasoning_only
                else {"type": "text", "text": text}
            )
            payload = {
                "id": f"msg_fake{n:06d}",
                "type": "message",
                "role": "assistant",
                "model": call.model,
                "content": [block],
                "stop_reason": "max_tokens" if reply.truncated else "end_turn",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": tokens_in,
                    "output_tokens": tokens_out,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            }
            return JSONResponse(payload, headers={"request-id": f"req_fake{n:06d}", **reply.headers})
        if wire == "minimax":
            return _minimax_success(call, text, reply, n, max_tokens)
        payload = _chat_completion(
            call, f"chatcmpl-fake{n:06d}", _chat_message(text, reply), text, reply, max_tokens
        )
        payload["system_fingerprint"] = "fp_fake"
        if self.tokens_per_s is not None:
            payload["timings"] = _timings(payload["usage"]["completion_tokens"], self.tokens_per_s)
        headers = {"x-request-id": f"req_fake{n:06d}", **reply.headers}
        if call.body.get("stream") is True:
            return self._streamed(call, payload, reply, headers)
        return JSONResponse(payload, headers=headers)

    def _streamed(
        self, call: Call, payload: dict[str, Any], reply: Reply, headers: dict[str, str]
    ) -> Response:
        """``payload`` as llama.cpp streams it: a role chunk, one chunk per token (about four
        characters), the finish reason, then usage and timings, then ``[DONE]``."""
        message = payload["choices"][0]["message"]
        field_, text = (
            ("content", message["content"])
            if message.get("content") is not None
            else ("reasoning_content", message.get("reasoning_content") or "")
        )
        base = {k: payload[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return b"data: " + json.dumps({**base, "choices": [choice], **extra}).encode() + b"\n\n"

        async def events() -> Any:
            yield chunk({"role": "assistant", "content": None})
            for start in range(0, len(text), 4):
                if reply.token_delay_s:
                    await asyncio.sleep(reply.token_delay_s)
                yield chunk({field_: text[start : start + 4]})
            yield chunk({}, payload["choices"][0]["finish_reason"])
            tail = {k: payload[k] for k in ("usage", "timings") if k in payload}
            yield b"data: " + json.dumps({**base, "choices": [], **tail}).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    def _shaped_error(self, wire: Wire, call: Call, shaped: _Shaped, headers: Mapping[str, str]) -> Response:
        """A fault's body (``_context_overflow``, ``_model_not_found``) with the wire's id header."""
        n = self._next_id()
        status, body = shaped
        id_header = {
            "workers_ai": ("cf-ray", _cf_ray(n)),
            "anthropic": ("request-id", f"req_fake{n:06d}"),
            "minimax": ("trace-id", f"trace-fake{n:06d}"),
            "openai_compat": ("x-request-id", f"req_fake{n:06d}"),
        }[wire]
        if wire == "anthropic":
            body["request_id"] = id_header[1]
        return JSONResponse(body, status_code=status, headers={id_header[0]: id_header[1], **headers})

    def _error(
        self,
        wire: Wire,
        call: Call,
        *,
        status: int,
        code: int | None = None,
        message: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        n = self._next_id()
        extra = dict(headers or {})
        if wire == "workers_ai":
            cf_code = (
                code if code is not None else _CF_STATUS_CODES.get(status, 3043 if status >= 500 else 3003)
            )
            body: dict[str, Any] = {
                "result": None,
                "success": False,
                "errors": [{"code": cf_code, "message": message or _CF_MESSAGES.get(cf_code, "AiError")}],
                "messages": [],
            }
            return JSONResponse(body, status_code=status, headers={"cf-ray": _cf_ray(n), **extra})
        if wire == "anthropic":
            kind = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
            text = message or _ANTHROPIC_MESSAGES.get(kind, "error")
            if code is not None:
                text = f"{text} ({code})"
            body = {
                "type": "error",
                "error": {"type": kind, "message": text},
                "request_id": f"req_fake{n:06d}",
            }
            return JSONResponse(body, status_code=status, headers={"request-id": f"req_fake{n:06d}", **extra})
        if wire == "minimax":
            mm_code = (
                code
                if code is not None
                else _MINIMAX_STATUS_CODES.get(status, 1000 if status >= 500 else 2013)
            )
            text = message or _MINIMAX_MESSAGES.get(mm_code, "error")
            if status < 400:  # the in-body error of HTTP 200: choices absent, base_resp says why
                body = {
                    "id": f"fake{n:06d}",
                    "choices": None,
                    "created": int(time.time()),
                    "model": call.model,
                    "object": "chat.completion",
                    "usage": {"total_tokens": 0},
                    "input_sensitive": False,
                    "output_sensitive": False,
                    "base_resp": {"status_code": mm_code, "status_msg": text},
                }
            else:
                kind = _MINIMAX_TYPES.get(status, "api_error" if status >= 500 else "bad_request_error")
                body = {"error": {"message": f"{text} ({mm_code})", "type": kind, "param": "", "code": None}}
            return JSONResponse(body, status_code=status, headers={"trace-id": f"trace-fake{n:06d}", **extra})
        kind, oa_code = _OPENAI_ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        text = message or _OPENAI_MESSAGES.get(status, "The server could not process the request.")
        body = {
            "error": {
                "message": text.replace("{model}", call.model),
                "type": kind,
                "param": None,
                "code": code if code is not None else oa_code,
            }
        }
        return JSONResponse(body, status_code=status, headers={"x-request-id": f"req_fake{n:06d}", **extra})


# ---- faulty responses --------------------------------------------------------------------------


class _Nothing(Response):
    """Send nothing: the client is gone (or its connection was reset), and uvicorn, seeing the
    disconnect, neither complains nor answers in our place."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


class _Truncated(Response):
    """``whole``'s status, headers (its full ``Content-Length``) and half its body, then a close.

    A clean close (FIN) rather than a RST: the client reads the partial body, then the end of the
    stream, which httpx reports as an incomplete body; a RST would surface as ``reset``'s ReadError."""

    def __init__(self, whole: Response, transport_of: Callable[[Scope], asyncio.Transport]) -> None:
        super().__init__(status_code=whole.status_code)
        self._whole = whole
        self._transport_of = transport_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self._whole(scope, receive, keep)
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        await send(messages[0])  # http.response.start
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        self._transport_of(scope).close()  # flushes what was written, then FIN
        await _until_disconnected(scope, receive)


async def _until_disconnected(scope: Scope, receive: Receive, timeout_s: float = 1.0) -> None:
    """Wait for uvicorn to notice the connection we closed (it does on the next loop turns), so the
    app returns as a disconnected request rather than one that 'returned without a response'."""
    request = Request(scope, receive)
    deadline = time.monotonic() + timeout_s
    while not await request.is_disconnected() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.001)


# ---- request checks ----------------------------------------------------------------------------

Rejection = tuple[int, int | None, str]  # (HTTP status, provider code, message)


def _bearer(headers: Mapping[str, str]) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _check_auth(wire: Wire, headers: Mapping[str, str]) -> Rejection | None:
    if wire == "workers_ai" and not _bearer(headers):
        return 401, 10000, "Authentication error"
    if wire == "anthropic":
        if not headers.get("x-api-key"):
            return 401, None, "x-api-key header is required"
        if not headers.get("anthropic-version"):
            return 400, None, "anthropic-version: header is required"
    if wire == "minimax" and not _bearer(headers):
        return 401, 1004, _MINIMAX_MESSAGES[1004]
    if wire == "openai_compat" and "authorization" in headers and not _bearer(headers):
        return 401, None, "Incorrect API key provided."  # optional, but well-formed when sent
    return None


def _check_body(wire: Wire, parsed: Any) -> Rejection | None:
    """What the real APIs reject outright (not everything they reject)."""
    if not isinstance(parsed, dict):
        return 400, _BAD_BODY_CODES[wire], "the request body is not a JSON object"
    messages = parsed.get("messages")
    if wire == "workers_ai":
        if not isinstance(parsed.get("prompt"), str) and not _is_message_list(messages):
            return 400, 3003, "Bad input: must have required property 'prompt' or 'messages'"
        return None
    if not isinstance(parsed.get("model"), str):
        return 400, _BAD_BODY_CODES[wire], "model: field required"
    if not _is_message_list(messages) or not messages:
        return 400, _BAD_BODY_CODES[wire], "messages: at least one message is required"
    roles = [m.get("role") for m in messages]
    temperature = parsed.get("temperature")
    if wire == "anthropic":
        if not isinstance(parsed.get("max_tokens"), int) or parsed["max_tokens"] < 1:
            return 400, None, "max_tokens: field required"
        if any(r not in ("user", "assistant") for r in roles):
            return 400, None, "messages: roles must be 'user' or 'assistant' (system is top-level)"
        if temperature is not None and "top_p" in parsed:
            return (
                400,
                None,
                "temperature and top_p cannot both be specified for this model. Please use only one.",
            )
        if temperature is not None and not 0 <= temperature <= 1:
            return 400, None, "temperature: range: 0..1"
    if wire == "minimax":
        if roles.count("system") > 1:
            return 400, 2013, "invalid params, invalid chat setting"
        if "system" in roles[1:]:
            return 400, 2013, "invalid params, chat content has invalid message role: system"
        if temperature is not None and not 0 < temperature <= 1:
            return 400, 2013, "invalid params, temperature must be in (0, 1]"
    return None


_BAD_BODY_CODES: dict[Wire, int | None] = {
    "workers_ai": 3003,
    "anthropic": None,
    "minimax": 2013,
    "openai_compat": None,
}


def _is_message_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(m, dict) for m in value)


def _content_text(content: Any) -> str:
    """A message's content: a string, or a list of text blocks / parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _prompt_of(wire: Wire, body: Mapping[str, Any]) -> tuple[str, str]:
    """(system, user) as the wire carries them."""
    messages = body.get("messages")
    turns = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    def joined(role: str) -> str:
        return "\n\n".join(_content_text(m.get("content")) for m in turns if m.get("role") == role)

    user = joined("user")
    if wire == "workers_ai" and not turns and isinstance(body.get("prompt"), str):
        user = body["prompt"]
    system = _content_text(body.get("system")) if wire == "anthropic" else joined("system")
    return system, user


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


# ---- success bodies ----------------------------------------------------------------------------


def _usage(call: Call, output: str, reply: Reply, max_tokens: int | None) -> tuple[int, int]:
    if reply.usage is not None:
        return reply.usage
    tokens_in = max(1, (len(call.system) + len(call.user)) // 4)
    tokens_out = max(1, len(output) // 4)
    if reply.truncated and max_tokens is not None:
        tokens_out = max_tokens
    return tokens_in, tokens_out


def _chat_completion(
    call: Call,
    completion_id: str,
    message: dict[str, Any],
    output: str,
    reply: Reply,
    max_tokens: int | None,
) -> dict[str, Any]:
    """OpenAI's ``chat.completion`` object (also MiniMax's and Workers AI's newer models')."""
    tokens_in, tokens_out = _usage(call, output, reply, max_tokens)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "refusal": None, **message},
                "finish_reason": "length" if reply.truncated else "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        },
    }


def _timings(tokens_out: int, tokens_per_s: float) -> dict[str, Any]:
    """llama.cpp's ``timings`` of one answer decoded at ``tokens_per_s``."""
    ms = tokens_out / tokens_per_s * 1000
    return {
        "cache_n": 0,
        "prompt_n": 100,
        "prompt_ms": 400.0,
        "predicted_n": tokens_out,
        "predicted_ms": ms,
        "predicted_per_token_ms": ms / max(1, tokens_out),
        "predicted_per_second": tokens_per_s,
    }


def _chat_message(text: str, reply: Reply) -> dict[str, Any]:
    """The chat message of an OpenAI-shaped answer: ``text`` as content, or as the reasoning only."""
    if reply.reasoning_only:
        return {"content": None, "reasoning_content": text}
    return {"content": text}


# Workers AI models whose result is a whole chat completion rather than ``{"response": …}``.
_WORKERS_AI_OPENAI_SHAPE = ("@cf/zai-org/",)


def _workers_ai_success(call: Call, text: str, reply: Reply, n: int, max_tokens: int | None) -> Response:
    headers = {"cf-ray": _cf_ray(n), **reply.headers}
    if call.model.startswith(_WORKERS_AI_OPENAI_SHAPE):
        result = _chat_completion(
            call, f"chatcmpl-fake{n:06d}", _chat_message(text, reply), text, reply, max_tokens
        )
    else:
        answer: Any = f"<think>\n{text}" if reply.reasoning_only else text
        if "response_format" in call.body and not reply.reasoning_only:  # JSON mode: the object itself
            try:
                answer = json.loads(text)
            except ValueError:
                answer = text
            if not isinstance(answer, dict | list):
                answer = text
        tokens_in, tokens_out = _usage(call, text, reply, max_tokens)
        result = {
            "response": answer,
            "tool_calls": [],
            "usage": {
                "prompt_tokens": tokens_in,
                "completion_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            },
        }
    payload = {"result": result, "success": True, "errors": [], "messages": []}
    return JSONResponse(payload, headers=headers)


MINIMAX_THOUGHT = "The planner asked for one JSON object that fits the schema; I will write exactly that."


def _minimax_success(call: Call, text: str, reply: Reply, n: int, max_tokens: int | None) -> Response:
    """M2.x/M3 think: inline ``<think>`` in content, or ``reasoning_details`` with ``reasoning_split``."""
    message: dict[str, Any] = {"content": text, "name": "MiniMax AI"}
    output = text
    if reply.reasoning_only:  # the thinking is all there is: ``text`` is it
        if call.body.get("reasoning_split") is True:
            message["content"] = None
            message["reasoning_details"] = [
                {"type": "reasoning.text", "id": "reasoning-text-1", "text": text}
            ]
        else:
            message["content"] = f"<think>\n{text}"
    elif call.model.startswith("MiniMax-M"):
        output = MINIMAX_THOUGHT + text
        if call.body.get("reasoning_split") is True:
            message["reasoning_details"] = [
                {
                    "type": "reasoning.text",
                    "id": "reasoning-text-1",
                    "format": "MiniMax-response-v1",
                    "index": 0,
                    "text": MINIMAX_THOUGHT,
                }
            ]
        else:
            message["content"] = f"<think>\n{MINIMAX_THOUGHT}\n</think>\n\n{text}"
    payload = _chat_completion(call, f"fake{n:06d}", message, output, reply, max_tokens)
    payload["input_sensitive"] = False
    payload["output_sensitive"] = False
    payload["base_resp"] = {"status_code": 0, "status_msg": "success"}
    return JSONResponse(payload, headers={"trace-id": f"trace-fake{n:06d}", **reply.headers})


def _cf_ray(n: int) -> str:
    return f"{n:016x}-SJC"


# ---- error vocabularies ------------------------------------------------------------------------

_CF_STATUS_CODES = {401: 10000, 403: 3023, 404: 3042, 408: 3007, 413: 3006, 429: 3040}
_CF_MESSAGES = {
    3003: "Bad input: incomplete request",
    3006: "Request is too large",
    3007: "Request timeout",
    3008: "Request aborted",
    3023: "Account blocked",
    3036: "You have used up your daily free allocation of 10,000 neurons, please upgrade to "
    "Cloudflare's Workers Paid plan if you would like to continue usage.",
    3040: "Capacity temporarily exceeded, please try again.",
    3042: "Invalid model ID",
    3043: "Internal server error",
    5007: "No such model or task",
    5035: "This model requires the Workers Paid plan",
    10000: "Authentication error",
}

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ANTHROPIC_MESSAGES = {
    "invalid_request_error": "Invalid request",
    "authentication_error": "invalid x-api-key",
    "billing_error": "Your credit balance is too low to access the Anthropic API.",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "model not found",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "rate_limit_error": "This request would exceed the rate limit for your organization.",
    "api_error": "Internal server error",
    "timeout_error": "Request timed out",
    "overloaded_error": "Overloaded",
}

_MINIMAX_STATUS_CODES = {400: 2013, 401: 1004, 402: 1008, 408: 1001, 429: 1002, 500: 1000, 503: 1033}
_MINIMAX_TYPES = {400: "bad_request_error", 401: "authentication_error", 429: "rate_limit_error"}
_MINIMAX_MESSAGES = {
    1000: "unknown error",
    1001: "request timeout",
    1002: "rate limit exceeded, please retry later",
    1004: "login fail: Please carry the API secret key in the 'Authorization' field of the request header",
    1008: "insufficient balance",
    1024: "internal error",
    1026: "input new_sensitive",
    1027: "output new_sensitive",
    1033: "system error",
    1039: "token limit exceeded",
    1041: "connection limit exceeded",
    1042: "illegal characters in input",
    2013: "invalid params",
    2049: "invalid api key",
    2056: "usage limit exceeded",
}

_OPENAI_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_OPENAI_MESSAGES = {
    400: "Invalid request.",
    401: "Incorrect API key provided.",
    403: "Country, region, or territory not supported.",
    404: "The model `{model}` does not exist or you do not have access to it.",
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The engine is currently overloaded, please try again later.",
}


# ---- faults in each wire's own shape -----------------------------------------------------------

_Shaped = tuple[int, dict[str, Any]]
"""(HTTP status, JSON body)."""

FAKE_CONTEXT_WINDOW = 32_768
"""The window the fake's context-overflow errors name."""


def _context_overflow(wire: Wire, call: Call) -> _Shaped:
    """The wire's 400 for a prompt beyond the context window (the adapters' documented shapes)."""
    prompt = max(FAKE_CONTEXT_WINDOW + 1, (len(call.system) + len(call.user)) // 4)
    output = _max_tokens(call.body) or 0
    if wire == "workers_ai":
        text = (
            f"AiError: AiError: This model's maximum context length is {FAKE_CONTEXT_WINDOW} tokens. "
            f"However, you requested {prompt + output} tokens ({prompt} in the messages, {output} in the "
            "completion). Please reduce the length of the messages or completion."
        )
        return 400, {"result": None, "success": False, "errors": [{"message": text}], "messages": []}
    if wire == "anthropic":
        text = f"prompt is too long: {prompt} tokens > {FAKE_CONTEXT_WINDOW} maximum"
        return 400, {"type": "error", "error": {"type": "invalid_request_error", "message": text}}
    if wire == "minimax":
        text = "invalid params, context window exceeds limit (2013)"
        return 400, {"error": {"message": text, "type": "bad_request_error", "param": "", "code": None}}
    text = (
        f"This model's maximum context length is {FAKE_CONTEXT_WINDOW} tokens. However, your messages "
        f"resulted in {prompt} tokens. Please reduce the length of the messages."
    )
    error = {
        "message": text,
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    return 400, {"error": error}


def _model_not_found(wire: Wire, call: Call) -> _Shaped:
    """The wire's answer for a model id it does not serve (unknown, retired)."""
    model = call.model
    if wire == "workers_ai":
        entry = {"code": 5007, "message": f"No such model {model} or task"}
        return 400, {"result": None, "success": False, "errors": [entry], "messages": []}
    if wire == "anthropic":
        return 404, {"type": "error", "error": {"type": "not_found_error", "message": f"model: {model}"}}
    if wire == "minimax":
        text = f"invalid params, unknown model '{model}' (2013)"
        return 400, {"error": {"message": text, "type": "bad_request_error", "param": "", "code": None}}
    text = _OPENAI_MESSAGES[404].replace("{model}", model)
    error = {"message": text, "type": "invalid_request_error", "param": None, "code": "model_not_found"}
    return 404, {"error": error}


# ---- model listings ----------------------------------------------------------------------------

LISTING_PATHS: dict[Wire, str] = {
    "workers_ai": "/client/v4/accounts/{account_id}/ai/models/search",
    "anthropic": "/anthropic/v1/models",
    "minimax": "/minimax/v1/models",
    "openai_compat": "/openai/v1/models",
}
OPENAI_COMPAT_MODELS = ("local-model", "local-gemma")
"""What the fake OpenAI-compatible server lists: the ids ``env_lines`` and the tests configure."""
DEFAULTS_TOML = Path(__file__).resolve().parents[2] / "app" / "phases" / "defaults.toml"


def default_listing() -> dict[Wire, list[str]]:
    """Every model id the shipped config names, by wire (read from the file, not from ``app``)."""
    shipped = tomllib.loads(DEFAULTS_TOML.read_text(encoding="utf-8")).get("models", {})
    listing: dict[Wire, list[str]] = {wire: [] for wire in WIRES}
    for spec in shipped.values():
        wire, model_id = spec.get("provider"), spec.get("model_id")
        if wire in listing and isinstance(model_id, str):
            listing[wire].append(model_id)
    listing["openai_compat"].extend(OPENAI_COMPAT_MODELS)
    return listing


def listing_routes(upstream: FakeUpstream) -> list[Route]:
    """One GET route per wire's model listing."""

    def endpoint(wire: Wire) -> Callable[[Request], Any]:
        async def listing(request: Request) -> Response:
            return _listing(upstream, request, wire)

        return listing

    return [Route(path, endpoint(wire), methods=["GET"]) for wire, path in LISTING_PATHS.items()]


def _listing(upstream: FakeUpstream, request: Request, wire: Wire) -> Response:
    headers = {k.lower(): v for k, v in request.headers.items()}
    call = Call(wire=wire, model="", system="", user="", body={}, headers=headers, path=request.url.path)
    with upstream._lock:
        upstream.listing_calls.append(call)
    rejected = _check_auth(wire, headers)
    status = upstream.listing_errors.get(wire)
    if rejected is not None or status is not None:
        code, message = (rejected[1], rejected[2]) if rejected else (None, None)
        response = upstream._error(
            wire, call, status=rejected[0] if rejected else status or 500, code=code, message=message
        )
        return upstream._end(call, "error", response)
    ids = list(upstream.listed_models.get(wire, []))
    query = request.query_params
    if wire == "workers_ai":
        body = _workers_ai_listing(
            ids, upstream.listing_deprecations, query.get("page"), query.get("per_page")
        )
    elif wire == "anthropic":
        body = _anthropic_listing(ids, query.get("after_id"), query.get("limit"))
    else:
        owner = "minimax" if wire == "minimax" else "fake"
        body = {
            "object": "list",
            "data": [{"id": i, "object": "model", "created": 1773799200, "owned_by": owner} for i in ids],
        }
    return upstream._end(call, "answered", JSONResponse(body))


def _workers_ai_listing(
    ids: list[str], deprecations: Mapping[str, str], page: str | None, per_page: str | None
) -> dict[str, Any]:
    """Cloudflare's envelope around one page of catalog entries (``name`` is the model id)."""
    size = int(per_page or 20)
    number = max(1, int(page or 1))
    chunk = ids[(number - 1) * size : number * size]
    entries = []
    for name in chunk:
        properties: list[dict[str, Any]] = [{"property_id": "context_window", "value": "131072"}]
        if name in deprecations:
            properties.append({"property_id": "planned_deprecation_date", "value": deprecations[name]})
        entries.append(
            {
                "id": f"{abs(hash(name)) % 10**12:012d}-fake",
                "name": name,
                "description": f"{name} (fake catalog entry)",
                "task": {"name": "Text Generation"},
                "properties": properties,
            }
        )
    return {
        "result": entries,
        "success": True,
        "errors": [],
        "messages": [],
        "result_info": {"page": number, "per_page": size, "count": len(entries), "total_count": len(ids)},
    }


def _anthropic_listing(ids: list[str], after_id: str | None, limit: str | None) -> dict[str, Any]:
    """Anthropic's page: ``data`` after ``after_id``, ``has_more`` and ``last_id`` for the next."""
    start = ids.index(after_id) + 1 if after_id in ids else 0
    chunk = ids[start : start + int(limit or 20)]
    return {
        "data": [
            {"type": "model", "id": i, "display_name": i, "created_at": "2026-09-29T00:00:00Z"} for i in chunk
        ],
        "has_more": start + len(chunk) < len(ids),
        "first_id": chunk[0] if chunk else None,
        "last_id": chunk[-1] if chunk else None,
    }


# ---- running it --------------------------------------------------------------------------------


def base_urls(origin: str) -> dict[str, str]:
    """The settings' base URLs for a fake at ``origin``."""
    return {
        "workers_ai": f"{origin}/client/v4/accounts/{{account_id}}/ai/run",
        "anthropic": f"{origin}/anthropic",
        "minimax": f"{origin}/minimax/v1",
        "openai_compat": f"{origin}/openai/v1",
    }


def env_lines(origin: str) -> list[str]:
    """``.env`` lines pointing the service at a fake at ``origin`` (any non-empty key passes)."""
    urls = base_urls(origin)
    return [
        f"WORKERS_AI_BASE_URL={urls['workers_ai']}",
        f"WORKERS_AI_ACCOUNT_ID={WORKERS_AI_ACCOUNT}",
        f"WORKERS_AI_API_TOKEN={FAKE_KEY}",
        f"ANTHROPIC_BASE_URL={urls['anthropic']}",
        f"ANTHROPIC_API_KEY={FAKE_KEY}",
        f"MINIMAX_BASE_URL={urls['minimax']}",
        f"MINIMAX_API_KEY={FAKE_KEY}",
        f"OPENAI_COMPAT_BASE_URL={urls['openai_compat']}",
        "OPENAI_COMPAT_MODEL=local-model",
    ]


@contextmanager
def running(upstream: FakeUpstream, *, port: int | None = None) -> Iterator[str]:
    """Serve ``upstream`` with uvicorn on 127.0.0.1 (a free port by default) in a thread; yields
    the origin, which ``upstream.base_urls()`` uses until the block ends."""
    config = _config(upstream, "127.0.0.1", port or _free_port(), log_config=None, access_log=False)
    server = uvicorn.Server(config)
    upstream._server = server
    upstream._stopping.clear()
    thread = threading.Thread(target=server.run, name="fake-upstream", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the fake upstream did not start within 15 s")
        time.sleep(0.02)
    upstream.origin = f"http://127.0.0.1:{config.port}"
    try:
        yield upstream.origin
    finally:
        upstream._stopping.set()  # delayed replies and hangs end now, so shutdown does not wait
        server.should_exit = True
        thread.join(timeout=10)
        upstream.origin = None
        upstream._server = None


def _config(upstream: FakeUpstream, host: str, port: int, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        upstream,
        host=host,
        port=port,
        lifespan="off",
        ws="none",
        # The stdlib loop: reset and truncate rely on its transports' abort/close and raw socket.
        loop="asyncio",
        # Forwarded headers could rewrite scope["client"], which names a request's connection.
        proxy_headers=False,
        timeout_graceful_shutdown=5,
        **options,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.upstream",
        description="Serve a fake Workers AI / Anthropic / MiniMax / OpenAI-compatible upstream.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9100, help="port to listen on (default: 9100)")
    parser.add_argument(
        "--phase",
        default=DEFAULT_PHASE,
        help=f"the phase whose fixture every model answers with (default: {DEFAULT_PHASE})",
    )
    parser.add_argument(
        "--fixtures", type=Path, default=FIXTURES, help=f"phase output fixtures (default: {FIXTURES})"
    )
    args = parser.parse_args(argv)
    if not (args.fixtures / f"{args.phase}.json").is_file():
        parser.error(f"no fixture {args.phase}.json in {args.fixtures}")
    upstream = FakeUpstream(phase=args.phase, fixtures=args.fixtures)
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host  # noqa: S104
    upstream.origin = f"http://{shown_host}:{args.port}"
    print(f"Fake LLM upstream on http://{args.host}:{args.port}, answering as {args.phase}", flush=True)
    for wire, url in upstream.base_urls().items():
        print(f"  {wire:<14} {url}", flush=True)
    print("\nPoint the service at it (.env lines, or export them):", flush=True)
    for line in env_lines(upstream.origin):
        print(line, flush=True)
    print(flush=True)
    server = uvicorn.Server(_config(upstream, args.host, args.port))
    upstream._server = server
    server.run()


if __name__ == "__main__":
    main()
