"""``synthesize``: every parallel member answers once and the judge reconciles the answers."""

from __future__ import annotations

from app.strategies.base import Strategy


class Synthesize(Strategy):
    """The base strategy's steps, unchanged: the default of every phase."""
