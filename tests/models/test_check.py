"""``python -m app.models check`` against the fake upstream's model listings, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from app.models.__main__ import main
from app.models.check import served_as
from app.providers.fake import FakeProvider
from app.providers.listing import ListedModel
from app.settings import AnthropicSettings, Settings
from tests.fakes.upstream import FakeUpstream, running
from tests.support import make_settings, upstream_settings

TODAY = date(2026, 11, 28)
QWEN3 = "@cf/qwen/qwen3-30b-a3b-fp8"
SCOUT = "@cf/meta/llama-4-scout-17b-16e-instruct"
SECRET = "sk-very-secret-key-0042"


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    with running(fake):
        yield fake


def with_anthropic(upstream: FakeUpstream, *, api_key: SecretStr | None) -> Settings:
    """The fake-upstream settings with another Anthropic key (or none)."""
    anthropic = AnthropicSettings(_env_file=None, api_key=api_key, base_url=upstream.base_urls()["anthropic"])  # type: ignore[call-arg]
    return upstream_settings(upstream.base_urls()).model_copy(update={"anthropic": anthropic})


def check(
    upstream: FakeUpstream, capsys: pytest.CaptureFixture[str], **options: Any
) -> tuple[int, dict[str, str], str]:
    """Run the command; returns its exit code, STATUS by model id, and everything it printed."""
    settings: Settings = options.pop("settings", None) or upstream_settings(upstream.base_urls())
    code = main(["check"], settings=settings, today=TODAY, **options)
    out, err = capsys.readouterr()
    statuses = {}
    for line in out.splitlines()[1:]:
        if not line.strip():
            break
        _provider, model_id, rest = line.split(None, 2)
        statuses[model_id] = rest
    return code, statuses, out + err


def test_every_configured_id_listed_passes_and_each_row_names_provider_and_aliases(
    upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    code, statuses, out = check(upstream, capsys)
    assert code == 0, out
    assert set(statuses) == {
        "@cf/zai-org/glm-4.7-flash", SCOUT, QWEN3, "@cf/qwen/qwen2.5-coder-32b-instruct",
        "@cf/meta/llama-3.3-70b-instruct-fp8-fast", "@cf/meta/llama-3.1-8b-instruct-fast",
        "MiniMax-M2.7", "claude-sonnet-5-5", "local-gemma",
    }  # fmt: skip
    assert all(status.endswith("listed") for status in statuses.values()), statuses
    assert "workers_ai     @cf/zai-org/glm-4.7-flash" in out and "reasoner" in out
    assert "Every model id that could be checked is served." in out
    # One listing per provider, through each wire's real path and auth.
    assert sorted(c.path for c in upstream.listing_calls) == [
        "/anthropic/v1/models",
        "/client/v4/accounts/acct-1/ai/models/search",
        "/minimax/v1/models",
        "/openai/v1/models",
    ]
    assert all(c.ended == "answered" for c in upstream.listing_calls)
    assert upstream.calls == []  # no model was asked anything


def test_an_unknown_id_fails_the_check_and_is_named(
    upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream.listed_models["workers_ai"].remove(QWEN3)
    code, statuses, out = check(upstream, capsys)
    assert code == 1
    assert statuses[QWEN3].startswith("qwen3") and "NOT LISTED" in statuses[QWEN3]
    assert f"not served: workers_ai {QWEN3} (qwen3)" in out and "PHASES_CONFIG_FILE" in out
    assert statuses[SCOUT].endswith("listed")


def test_a_planned_deprecation_warns_and_a_past_one_fails(
    upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream.listing_deprecations[SCOUT] = "2026-12-20"
    code, statuses, _ = check(upstream, capsys)
    assert code == 0 and "retires it on 2026-12-20" in statuses[SCOUT]
    upstream.listing_deprecations[SCOUT] = "2026-11-20"
    code, statuses, out = check(upstream, capsys)
    assert code == 1 and "DEPRECATED since 2026-11-20" in statuses[SCOUT]
    assert f"workers_ai {SCOUT} (llama-scout)" in out


def test_a_provider_without_a_listing_api_is_said_so(
    upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    code, statuses, _ = check(upstream, capsys, providers={"minimax": FakeProvider("minimax")})
    assert code == 0
    assert statuses["MiniMax-M2.7"].endswith("provider has no listing API")
    assert not any(c.wire == "minimax" for c in upstream.listing_calls)


def test_an_unconfigured_provider_names_the_variable_to_set(
    upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = with_anthropic(upstream, api_key=None)
    code, statuses, _ = check(upstream, capsys, settings=settings)
    assert code == 0
    assert statuses["claude-sonnet-5-5"].endswith("provider not configured (set ANTHROPIC_API_KEY)")
    assert not any(c.wire == "anthropic" for c in upstream.listing_calls)


@pytest.mark.parametrize(
    ("status", "fix"),
    [(401, "check the provider's key"), (503, "run the check again later")],
)
def test_a_failed_listing_is_reported_with_its_fix_and_no_key(
    upstream: FakeUpstream, capsys: pytest.CaptureFixture[str], status: int, fix: str
) -> None:
    upstream.listing_errors["minimax"] = status
    settings = with_anthropic(upstream, api_key=SecretStr(SECRET))
    code, statuses, out = check(upstream, capsys, settings=settings)
    assert code == 2  # could not check, nothing known to be unserved
    assert statuses["MiniMax-M2.7"].startswith(f"minimax        listing failed: minimax: HTTP {status}")
    assert fix in statuses["MiniMax-M2.7"]
    assert "Could not check 1 model id(s)" in out
    assert SECRET not in out and "fake-key" not in out
    assert any(c.headers.get("x-api-key") == SECRET for c in upstream.listing_calls)  # it was sent


def test_an_unknown_id_outranks_a_failed_listing(
    upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream.listing_errors["minimax"] = 500
    upstream.listed_models["anthropic"] = ["claude-opus-5-5"]
    code, statuses, _ = check(upstream, capsys)
    assert code == 1 and "NOT LISTED" in statuses["claude-sonnet-5-5"]


def test_listings_are_read_page_by_page(upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]) -> None:
    # Bury the shipped ids behind more than a page of other models on both paginated wires.
    upstream.listed_models["workers_ai"] = [f"@cf/x/m{i}" for i in range(120)] + upstream.listed_models[
        "workers_ai"
    ]
    upstream.listed_models["anthropic"] = [f"claude-x-{i}" for i in range(1500)] + ["claude-sonnet-5-5"]
    code, statuses, out = check(upstream, capsys)
    assert code == 0, out
    assert statuses[QWEN3].endswith("listed") and statuses["claude-sonnet-5-5"].endswith("listed")
    pages = {
        wire: sum(c.wire == wire for c in upstream.listing_calls) for wire in ("workers_ai", "anthropic")
    }
    assert pages == {"workers_ai": 3, "anthropic": 2}


def test_a_configuration_error_is_one_line_naming_the_fix(
    tmp_path: Path, upstream: FakeUpstream, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "phases.toml"
    config.write_text('[phases.kill-test]\nparallel = [{ model = "gpt-17" }, { model = "reasoner" }]\n')
    settings = upstream_settings(upstream.base_urls(), phases_config_file=config)
    code = main(["check"], settings=settings, today=TODAY)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("configuration error:") and "gpt-17" in err
    assert len(err.strip().splitlines()) == 1


def test_an_alias_matches_its_dated_snapshot_and_nothing_looser() -> None:
    listed = [ListedModel("claude-sonnet-4-5-20250929"), ListedModel("claude-opus-4-8")]
    assert served_as("claude-sonnet-4-5", listed) == listed[0]
    assert served_as("claude-opus-4-8", listed) == listed[1]
    assert served_as("claude-sonnet-4", listed) is None  # a prefix is not an alias
    assert served_as("claude-opus-4", listed) is None


def test_with_no_provider_configured_nothing_is_claimed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"], settings=make_settings(), today=TODAY) == 0
    out = capsys.readouterr().out
    assert "Nothing was checked" in out and "served" not in out.splitlines()[-1]
    assert "provider not configured (set WORKERS_AI_ACCOUNT_ID, WORKERS_AI_API_TOKEN)" in out
