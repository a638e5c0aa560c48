"""The pipeline's reading of a finished result: how far the answers agreed, and where the output
went against their majority.

Computed once, when the result is made, so the API only maps it to the public response. Pure: it
reads data the pipeline already has and calls nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from app.synthesis.agreement import AgreementReport, build_report
from app.synthesis.overrule import overrules
from app.synthesis.votes import Tally


@dataclass(frozen=True, slots=True)
class Review:
    """The agreement report, and one warning per field the output decided against the majority."""

    agreement: AgreementReport | None = None
    """``None`` when no parallel answer came back (a single-model run)."""
    warnings: tuple[str, ...] = ()
    degrades: bool = False
    """The output overturned a decision every answer agreed on."""


def review(
    schema: Mapping[str, Any],
    answers: Mapping[str, Mapping[str, Any] | None],
    tally: Tally | None,
    output: Mapping[str, Any],
    *,
    mode: Literal["orchestrated", "single", "fallback"],
) -> Review:
    """Compare the parallel ``answers`` (alias -> parsed JSON) with the ``output`` that ``mode`` chose."""
    agreement = build_report(schema, answers, output) if answers else None
    contradicted = overrules(agreement, tally, output)
    chooser = "the judge" if mode == "orchestrated" else "the fallback answer"
    return Review(
        agreement=agreement,
        warnings=tuple(o.warning(chooser) for o in contradicted),
        degrades=any(o.degrades for o in contradicted),
    )
