"""The public contract of /v1/chat/completions and /v1/models: OpenAI's wire format, plus the
extension fields that carry the orchestration (``orchestration``, ``orchestration_event``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import OrchestrateOptions, OrchestrateResponse


class TextPart(BaseModel):
    """One part of a message's content given as a list; only text parts mean anything here."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """A message in; ``system`` / ``developer`` and one ``user`` message are read (README)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None


class JsonSchemaFormat(BaseModel):
    name: str = "output"
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None
    description: str | None = None


class ResponseFormat(BaseModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatRequest(BaseModel):
    """The body of POST /v1/chat/completions. OpenAI's other parameters (temperature, max_tokens,
    seed, user, …) are accepted and ignored: each phase's config sets its models' parameters."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="phase/<name> or phase/<name>:<strategy> (GET /v1/models lists them).")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    n: int = Field(default=1, ge=1, le=1, description="One answer per request: 1.")
    orchestration: OrchestrateOptions | None = Field(
        default=None,
        description="Extension: the phase endpoint's options (deadline_s, models, quorum, …); with the "
        "OpenAI SDK send it as extra_body={'orchestration': {...}}.",
    )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatUsage(BaseModel):
    prompt_tokens: int = Field(description="Every model call's input tokens, summed.")
    completion_tokens: int = Field(description="Every model call's output tokens, summed.")
    total_tokens: int


class ChatCompletion(BaseModel):
    """The answer: one assistant message whose content is the phase's validated JSON."""

    id: str = Field(description="chatcmpl-<request_id of the run>.")
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: ChatUsage
    orchestration: OrchestrateResponse = Field(
        description="Extension: the phase endpoint's whole answer (models, agreement, cost, timings)."
    )


class ProgressEvent(BaseModel):
    event: str = Field(description="phase_started, model_started, model_finished, synthesis_started, …")
    data: dict[str, Any]


class ChatCompletionChunk(BaseModel):
    """One streamed event. Progress chunks have empty ``choices`` and an ``orchestration_event``."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: ChatUsage | None = None
    orchestration_event: ProgressEvent | None = None
    orchestration: OrchestrateResponse | None = Field(
        default=None, description="On the chunk with finish_reason stop: the whole record."
    )


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "orchestrator"
    phase: str = Field(description="Extension: the phase this model name runs.")
    strategy: str | None = Field(description="Extension: the strategy; None: the phase's own.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None
    hint: str | None = Field(default=None, description="Extension: how to fix it.")
    request_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    models: list[dict[str, Any]] = Field(
        default_factory=list, description="Extension: on 502/504, every model's record."
    )


class OpenAIError(BaseModel):
    """Every error under /v1/, in OpenAI's shape (the service's hint and details ride along)."""

    error: OpenAIErrorBody
