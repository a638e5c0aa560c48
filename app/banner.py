"""What ``python -m app`` tells a person once it listens: where, on which models, and a curl that works."""

from __future__ import annotations

import ipaddress
import json
import shlex

from app.settings import Settings

TRY_IDEA = "An AI agent that reconciles freight invoices for small brokers"


def banner(settings: Settings, *, roster: str, providers: list[str]) -> str:
    """Three lines for the terminal: the address, the roster (offline or which providers), a curl."""
    origin = f"http://{_host_to_call(settings.host)}:{settings.port}"
    if roster == "local":
        models = (
            f"local (offline: no provider key is set; every phase runs on {settings.local_model.model} "
            f"at {settings.local_model.url})"
        )
    else:
        models = f"cloud ({', '.join(providers) or 'no provider configured: phases answer 503'})"
    body = shlex.quote(json.dumps({"idea": TRY_IDEA}))
    key = " -H 'Authorization: Bearer <key>'" if settings.api_keys else ""
    return (
        f"orchestrator: listening on {origin}  (API docs: {origin}/docs)\n"
        f"  roster: {models}\n"
        f"  try:    curl -X POST {origin}/phases/kill-test/orchestrate{key} -d {body}"
    )


def _host_to_call(host: str) -> str:
    """The address a person on this machine calls: ``localhost`` for loopback or every interface."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    return "localhost" if address.is_loopback or address.is_unspecified else host
