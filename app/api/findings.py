"""Maps what the pipeline concluded (agreement, vote, rankings, route, budget) to the public models.

Field by field on purpose: the public names are the contract, so renaming an internal field
changes this file, never the response.
"""

from __future__ import annotations

from app.api import schemas
from app.budget import BudgetCheck
from app.strategies.base import Rankings, RouteDecision
from app.synthesis.agreement import AgreementReport
from app.synthesis.votes import Tally


def agreement(report: AgreementReport) -> schemas.AgreementReport:
    """The agreement report, field by field and model by model."""
    return schemas.AgreementReport(
        fields=[
            schemas.FieldAgreement(
                path=f.path,
                distribution=dict(f.distribution),
                final=f.final,
                unanimous=f.unanimous,
                resolved=f.resolved,
            )
            for f in report.fields
        ],
        models=[
            schemas.ModelAgreement(
                model=m.model,
                compared=m.compared,
                agreed=m.agreed,
                agreement=m.agreement,
                disagreements=list(m.disagreements),
                usable=m.usable,
            )
            for m in report.models
        ],
        disagreements=[
            schemas.Disagreement(
                path=d.path,
                values={value: list(aliases) for value, aliases in d.values.items()},
                final=d.final,
                followed_majority=d.followed_majority,
            )
            for d in report.disagreements
        ],
        overall=report.overall,
    )


def votes(tally: Tally) -> schemas.VotesOut:
    """The decision field's vote: each model's choice, the weighted totals, the leader."""
    return schemas.VotesOut(
        field=tally.field, choices=dict(tally.choices), weighted=dict(tally.weighted), leader=tally.leader
    )


def rankings(ranked: Rankings) -> schemas.Rankings:
    """Strategy rank: who ranked whom, the scores, the answers judged."""
    return schemas.Rankings(
        by_ranker={ranker: list(order) for ranker, order in ranked.by_ranker.items()},
        scores=dict(ranked.scores),
        top=list(ranked.top),
    )


def route(decision: RouteDecision) -> schemas.RouteDecision:
    """Strategy route: the category and the models chosen."""
    return schemas.RouteDecision(
        category=decision.category, models=list(decision.models), decided_by=decision.decided_by
    )


def budget(check: BudgetCheck) -> schemas.BudgetCheck:
    """The worst-case estimate and the models dropped to stay under max_cost_usd."""
    return schemas.BudgetCheck(
        max_cost_usd=check.max_cost_usd, estimated_usd=check.estimated_usd, dropped=list(check.dropped)
    )
