"""The context as compact JSON, trimmed by priority to each model's window; skipped only when even
the prompt without context cannot fit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.context_fit import SHORT, RankedContext, estimate_tokens, shorten
from app.domain import CompletionRequest, Prompt
from app.phases.dependencies import DEPENDS_ON, WORKFLOW
from app.prompts import phase_prompt
from tests.blocks import parse
from tests.support import catalog_for, fake_app, fake_providers, fixture

CATALOG = catalog_for()
TECH_ARCH = CATALOG.get("tech-arch")
EARLIER = WORKFLOW[: WORKFLOW.index("tech-arch")]
NEEDED = ("content-engine", "product-design", "business-model", "gtm-marketing")
"""What tech-arch depends on most (app/phases/dependencies.py)."""


def big(value: Any) -> Any:
    """A fixture grown to a real run's size: longer texts, twice the list items."""
    if isinstance(value, str):
        return (value + " ") * 3 if len(value) > 40 else value
    if isinstance(value, list):
        return [big(item) for item in value] * 2
    if isinstance(value, dict):
        return {key: big(item) for key, item in value.items()}
    return value


def large_context() -> dict[str, Any]:
    context: dict[str, Any] = {name: big(fixture(name)) for name in EARLIER}
    context["search_results"] = [
        {"query": f"query {i}", "snippets": ["lorem ipsum dolor sit amet " * 25] * 3} for i in range(20)
    ]
    return context


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def tokens(prompt: Prompt) -> int:
    return estimate_tokens(len(prompt.system) + len(prompt.user))


def context_of(prompt: Prompt) -> tuple[dict[str, Any], str | None]:
    """The CONTEXT block as JSON, and the service's note after it (if any)."""
    fenced = parse(prompt.user)
    notes = [line for line in fenced.outside.split("\n") if line.startswith("Note:")]
    return json.loads(fenced.block("CONTEXT")), notes[0] if notes else None


def test_the_dependency_table_follows_the_workflow() -> None:
    assert tuple(CATALOG.names()) == WORKFLOW
    for phase, needs in DEPENDS_ON.items():
        before = WORKFLOW[: WORKFLOW.index(phase)]
        assert set(needs) <= set(before), phase
        if before:
            assert before[-1] in needs, f"{phase} must rank the phase just before it"


def test_tech_arch_ranks_its_inputs_then_the_callers_extras_then_the_nearest_phases() -> None:
    context = {name: {"x": name} for name in (*EARLIER, "analytics")}
    context["search_results"] = {"hits": ["a long snippet " * 20]}
    context["constraints"] = {"budget": "$0"}
    ranked = RankedContext("tech-arch", context)
    assert ranked.primary == list(DEPENDS_ON["tech-arch"])
    assert ranked.rest == [
        "constraints",  # extras, smallest first
        "search_results",
        "strategy",  # then the other phases, nearest earlier first
        "revenue-expansion",
        "kill-test",
        "competitive-intel",
        "market-research",
        "customer-intel",
        "opportunity",
        "analytics",  # a later phase's output (stale after a pivot) last
    ]


def test_shortening_cuts_long_texts_and_lists_and_says_so() -> None:
    value = {"a": "x" * 1000, "b": list(range(12)), "c": [{"d": "y" * 500}], "e": 7}
    cut = shorten(value, SHORT)
    assert cut["a"] == "x" * 400 + "… [600 more characters cut]"
    assert cut["b"] == [0, 1, 2, 3, 4, "… [7 more items cut]"]
    assert cut["c"][0]["d"].endswith("… [100 more characters cut]")
    assert cut["e"] == 7


def test_without_a_window_the_whole_context_goes_as_compact_json() -> None:
    context = large_context()
    prompt = phase_prompt(TECH_ARCH, idea="x", context=context, instructions=None).full()
    sent, note = context_of(prompt)
    assert sent == context and note is None
    assert compact(context) in prompt.user  # minified, not pretty-printed


def test_a_32k_model_gets_the_phases_tech_arch_depends_on_whole_and_a_note_on_the_rest() -> None:
    context = large_context()
    task = phase_prompt(
        TECH_ARCH, idea="An agent that audits freight invoices", context=context, instructions=None
    )
    assert tokens(task.full()) + 8192 > 32_768  # the test means something: it cannot all fit

    fitted = task.fit(window=32_768, max_tokens=8192)

    assert fitted.overflow is None
    assert tokens(fitted.prompt) + 8192 <= 32_768
    sent, note = context_of(fitted.prompt)
    assert note is not None
    for name in NEEDED:
        assert sent[name] == context[name], f"{name} should be whole"
    shortened = [name for name in context if name in sent and sent[name] != context[name]]
    dropped = [name for name in context if name not in sent]
    assert shortened and dropped
    said_shortened, _, rest = note.partition("Shortened")[2].partition("Left out entirely: ")
    for name in shortened:
        assert name in said_shortened
    for name in dropped:
        assert name in rest.partition(".")[0]
    assert all(name in note.partition("Kept whole: ")[2] for name in NEEDED)


def test_a_200k_model_gets_everything() -> None:
    context = large_context()
    task = phase_prompt(TECH_ARCH, idea="x", context=context, instructions=None)
    fitted = task.fit(window=200_000, max_tokens=8192)
    sent, note = context_of(fitted.prompt)
    assert fitted.overflow is None and sent == context and note is None


def test_each_window_gets_the_largest_context_that_fits() -> None:
    task = phase_prompt(TECH_ARCH, idea="x", context=large_context(), instructions=None)
    sizes = [len(task.fit(window=w, max_tokens=8192).prompt.user) for w in (24_000, 32_768, 48_000, 80_000)]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4


def test_when_even_the_bare_prompt_cannot_fit_the_overflow_names_its_numbers() -> None:
    task = phase_prompt(TECH_ARCH, idea="x", context=large_context(), instructions=None)
    fitted = task.fit(window=12_000, max_tokens=8192)
    assert fitted.overflow is not None
    assert "12,000-token context window" in fitted.overflow and "max_tokens=8,192" in fitted.overflow
    bare = tokens(fitted.prompt)
    assert f"about {bare:,} tokens" in fitted.overflow and bare + 8192 > 12_000


# ---- through the app: every model gets its own fit; an impossible one is never called ----------


def windows_config(tmp_path: Path, *, judges: str = '["claude-sonnet"]') -> Path:
    config = tmp_path / "phases.toml"
    config.write_text(
        f"""
[models.small]
provider = "workers_ai"
model_id = "@cf/test/small-32k"
context_window = 32768

[models.tiny]
provider = "workers_ai"
model_id = "@cf/test/tiny-9k"
context_window = 9000

[models.large]
provider = "minimax"
model_id = "MiniMax-test-200k"
context_window = 200000

[models.tiny-judge]
provider = "anthropic"
model_id = "claude-test-tiny"
context_window = 16000

[phases.tech-arch]
parallel = [
    {{ model = "small", max_tokens = 8192 }},
    {{ model = "tiny", max_tokens = 8192 }},
    {{ model = "large", max_tokens = 8192 }},
]
min_successes = 2
synthesis = {{ models = {judges}, max_tokens = 8192 }}
""",
        encoding="utf-8",
    )
    return config


def calls_to(fakes: Any, model_id: str) -> list[CompletionRequest]:
    return [c for f in fakes.values() for c in f.calls_for(model_id)]


async def test_each_member_gets_its_windows_prompt_and_one_that_cannot_fit_is_skipped_uncalled(
    tmp_path: Path,
) -> None:
    context = large_context()
    fakes = fake_providers()
    settings = {"phases_config_file": windows_config(tmp_path), "max_context_bytes": 2_000_000}
    async with fake_app(fakes, **settings) as (client, _):
        response = await client.post(
            "/phases/tech-arch/orchestrate",
            json={"idea": "An agent that audits freight invoices", "context": context},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "orchestrated"

    tiny = next(m for m in body["models"] if m["model"] == "tiny")
    assert (tiny["status"], tiny["error_kind"]) == ("skipped", "context_overflow")
    assert "9,000-token context window" in tiny["error"] and "max_tokens=8,192" in tiny["error"]
    assert calls_to(fakes, "@cf/test/tiny-9k") == []  # never sent

    (small,) = calls_to(fakes, "@cf/test/small-32k")
    sent, note = context_of(small.prompt)
    assert note is not None and all(sent[name] == context[name] for name in NEEDED)
    (large,) = calls_to(fakes, "MiniMax-test-200k")
    assert context_of(large.prompt) == (context, None)


async def test_a_judge_whose_window_is_too_small_is_skipped_and_the_next_judge_runs(tmp_path: Path) -> None:
    fakes = fake_providers()
    config = windows_config(tmp_path, judges='["tiny-judge", "claude-sonnet"]')
    async with fake_app(fakes, phases_config_file=config, max_context_bytes=2_000_000) as (client, _):
        response = await client.post(
            "/phases/tech-arch/orchestrate", json={"idea": "x", "context": large_context()}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    judges = [m for m in body["models"] if m["role"] == "synthesizer"]
    assert [(m["model"], m["status"], m["error_kind"]) for m in judges] == [
        ("tiny-judge", "skipped", "context_overflow"),
        ("claude-sonnet", "ok", None),
    ]
    assert calls_to(fakes, "claude-test-tiny") == []
    assert body["mode"] == "orchestrated"
