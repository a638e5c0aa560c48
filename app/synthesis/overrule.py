"""Where the final output went against what most parallel answers chose, said in plain words.

The agreement report already holds the numbers, but a planner who reads only ``output`` and
``warnings`` would never learn that the judge turned five KILLs into a GO. This module turns the
report (and the phase's weighted vote) into one finding per contradicted field; the response
carries each as a warning. Pure: it reads data the pipeline already has and calls nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.synthesis.agreement import AgreementReport
from app.synthesis.votes import Tally


@dataclass(frozen=True, slots=True)
class Overrule:
    """One categorical field on which the final output contradicts the answers' majority."""

    field: str
    chosen: str
    majority: str
    backers: int
    """Answers that chose ``majority``."""
    voters: int
    """Answers that set the field at all."""
    decision: bool
    """The phase's decision field (kill-test's verdict), counted by its weighted vote."""
    weighted: str | None = None
    """For a decision won by weight rather than by heads: ``"4 of 7"`` weighted votes."""

    @property
    def unanimous(self) -> bool:
        """Two or more answers set the field and every one of them chose ``majority``."""
        return self.voters >= 2 and self.backers == self.voters

    @property
    def degrades(self) -> bool:
        """Overturning a unanimous decision is not a judgement call any more: the answer is degraded."""
        return self.decision and self.unanimous

    def warning(self, chooser: str) -> str:
        counts = f"{self.backers} of {self.voters} answers"
        if self.weighted:
            counts += f", {self.weighted} weighted votes"
        return f"{self.field}: {chooser} chose {self.chosen} against the majority {self.majority} ({counts})"


def overrules(
    report: AgreementReport | None, tally: Tally | None, final: Mapping[str, Any]
) -> list[Overrule]:
    """Every field where ``final`` contradicts the majority: the decision field by ``tally``'s
    weighted rule (a tie involving the veto goes to the veto; other ties have no majority), every
    other enum or boolean by the report's single most common value."""
    found: list[Overrule] = []
    if tally is not None and tally.leader is not None:
        chosen = final.get(tally.field)
        if isinstance(chosen, str) and chosen != tally.leader:
            heads = Counter(tally.choices.values())
            backers = heads[tally.leader]
            by_heads = [option for option, n in heads.items() if n == max(heads.values())]
            # Named only when the veto's extra weight, not the head count, decided the vote.
            weighted = (
                f"{tally.weighted[tally.leader]:g} of {sum(tally.weighted.values()):g}"
                if by_heads != [tally.leader]
                else None
            )
            found.append(
                Overrule(tally.field, chosen, tally.leader, backers, len(tally.choices), True, weighted)
            )
    for field in report.fields if report is not None else []:
        if tally is not None and field.path == tally.field:
            continue  # the weighted vote above is the rule for the decision field
        if field.final is None or not field.distribution:
            continue  # the output left the field out: nothing was contradicted
        top = max(field.distribution.values())
        leaders = [value for value, count in field.distribution.items() if count == top]
        if len(leaders) == 1 and field.final != leaders[0]:
            voters = sum(field.distribution.values())
            found.append(Overrule(field.path, field.final, leaders[0], top, voters, False))
    return found
