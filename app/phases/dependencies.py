"""Which earlier phases' outputs each phase builds on, most important first.

When a prompt must shrink to fit a model's context window, these outputs are the last to be
shortened (see app/context_fit.py). The lists follow each phase's system prompt, which names the
earlier outputs it uses ("Use the context: product-design's pages, …", in app/phases/prompts/), and
the upstream readers in reference/upstream-planning-machine.md §12 (competitive-intel reads
market-research's pricing landscape and the opportunity variants; revenue-expansion reads
customer-intel's first profile). The immediately preceding phase is always on the list, since the
workflow hands each phase its predecessor's output to continue from. Opportunity sees no earlier
output upstream (its context is the idea and search results only).
"""

from __future__ import annotations

DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "opportunity": (),
    "customer-intel": ("opportunity",),
    "market-research": ("customer-intel", "opportunity"),
    "competitive-intel": ("market-research", "opportunity", "customer-intel"),
    "kill-test": ("competitive-intel", "market-research", "customer-intel", "opportunity"),
    "revenue-expansion": (
        "kill-test",
        "customer-intel",
        "market-research",
        "competitive-intel",
        "opportunity",
    ),
    "strategy": ("revenue-expansion", "customer-intel", "competitive-intel", "kill-test", "market-research"),
    "business-model": (
        "strategy",
        "revenue-expansion",
        "customer-intel",
        "market-research",
        "competitive-intel",
    ),
    "product-design": ("business-model", "strategy", "customer-intel", "kill-test"),
    "gtm-marketing": ("product-design", "customer-intel", "competitive-intel", "strategy", "business-model"),
    "content-engine": ("gtm-marketing", "strategy", "customer-intel", "product-design", "business-model"),
    "tech-arch": ("content-engine", "product-design", "business-model", "gtm-marketing"),
    "analytics": ("tech-arch", "gtm-marketing", "product-design", "business-model"),
    "launch-execution": (
        "analytics",
        "product-design",
        "tech-arch",
        "gtm-marketing",
        "content-engine",
        "business-model",
    ),
    # Synthesis reads everything; these carry what its prompt asks to keep visible: the 12-week
    # plan, the kill test's verdict and flaws, sourced market figures, prices, the build and risks.
    "synthesis": (
        "launch-execution",
        "kill-test",
        "market-research",
        "business-model",
        "tech-arch",
        "product-design",
        "gtm-marketing",
        "content-engine",
    ),
}
"""Phase -> the earlier phases it depends on most. Keys are in workflow order."""

WORKFLOW: tuple[str, ...] = tuple(DEPENDS_ON)
"""The planning phases in workflow order (a test checks it against the shipped catalog)."""


def depends_on(phase: str) -> tuple[str, ...]:
    """The phases ``phase`` builds on, most important first; none for a phase this table does not
    know (an operator's own): then every earlier output ranks by recency alone."""
    return DEPENDS_ON.get(phase, ())
