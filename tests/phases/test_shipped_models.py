"""The shipped models: each one's context window, and when and where its id was last checked."""

from __future__ import annotations

import re
import tomllib

import pytest

from app.assembly import assemble
from app.phases.catalog import DEFAULTS_FILE
from app.phases.local_roster import local_models
from app.providers.registry import PROVIDER_NAMES
from app.settings import LocalModelSettings, OpenAICompatSettings
from app.upstream_http import upstream_client
from tests.support import catalog_for, make_settings

SHIPPED = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))["models"]
CHECKED = re.compile(r"^# checked (\d{4}-\d{2}-\d{2}): \S", re.MULTILINE)
RETIRED = {
    "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b": "planned deprecation 2026-11-20 (Cloudflare)",
    "@cf/meta/llama-3.1-8b-instruct": "deprecated 2026-05-30 (Cloudflare)",
    "claude-sonnet-4-5": "retires 2026-11-30 (Anthropic)",
    "claude-3-5-sonnet-20241022": "retired 2025-10-22 (Anthropic)",
}


def block(alias: str) -> str:
    """The text of ``[models.<alias>]`` up to the next table, comments included."""
    text = DEFAULTS_FILE.read_text(encoding="utf-8")
    start = text.index(f"[models.{alias}]\n")
    following = text.find("\n[", start + 1)
    return text[start : following if following != -1 else len(text)]


@pytest.mark.parametrize("alias", sorted(SHIPPED))
def test_each_shipped_model_says_when_and_against_what_its_id_was_checked(alias: str) -> None:
    found = CHECKED.search(block(alias))
    assert found, f"[models.{alias}] needs a '# checked YYYY-MM-DD: <source>' comment"
    assert found.group(1) >= "2026-11-28"


@pytest.mark.parametrize("alias", sorted(SHIPPED))
def test_each_shipped_model_has_its_documented_context_window(alias: str) -> None:
    spec = SHIPPED[alias]
    if spec["provider"] == "openai_compat" and "model_id" not in spec:
        # Whatever the operator's server loaded: only OPENAI_COMPAT_CONTEXT_WINDOW can say.
        assert "context_window" not in spec
        return
    assert isinstance(spec.get("context_window"), int) and spec["context_window"] >= 8192


def test_no_shipped_id_is_one_its_provider_retired() -> None:
    shipped = {spec.get("model_id") for spec in SHIPPED.values()}
    assert not shipped & set(RETIRED), {i: RETIRED[i] for i in shipped & set(RETIRED)}


def test_the_local_roster_window_is_one_llama_cpp_slot() -> None:
    settings = LocalModelSettings(_env_file=None, context_per_slot=12288)  # type: ignore[call-arg]
    assert {spec.context_window for spec in local_models(settings).values()} == {12288}


@pytest.mark.parametrize("window", [None, 32768])
async def test_the_openai_compatible_window_comes_from_its_setting(window: int | None) -> None:
    settings = make_settings(
        openai_compat=OpenAICompatSettings(  # type: ignore[call-arg]
            _env_file=None, base_url="http://127.0.0.1:9/v1", context_window=window
        )
    )
    catalog = catalog_for(known_providers=PROVIDER_NAMES)
    async with upstream_client(settings) as transport:
        built = assemble(settings, transport, catalog)
    assert built.roster.member("openai-compat").spec.context_window == window
    assert built.catalog.models["openai-compat"].context_window == window
    assert built.roster.member("qwen3").spec.context_window == 32768  # stated windows are kept
