"""A JSON request body parsed into its model by hand, whatever the content type says."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


async def parse_body(request: Request, model: type[M]) -> M:
    """``model`` from the body; a problem is a ``RequestValidationError`` naming ``body.<field>``."""
    # By hand so that `curl -d '{...}'` works without a JSON content type: curl sends form
    # encoding by default, and a debugging session should not fail on that.
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"")
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
