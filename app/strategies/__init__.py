"""How a phase turns several models into one answer: seven strategies, one shape.

Each strategy is an object (``base.Strategy``) with two steps. ``propose`` makes the model calls
that produce candidate answers; ``decide`` turns them into the final output (always through the
judge, so the output is reconciled and validated the same way). Every call either step makes is
returned, so the extra calls of a strategy show up in the per-model records and in the cost; and
``planned_calls`` says beforehand which calls it will make, so the budget prices every strategy
the same way.

- synthesize        parallel answers -> judge
- vote              parallel answers -> weighted majority on the decision field -> judge writes the
                    reasoning for the voted option (the vote is kept even if the judge strays)
- self_consistency  every model n times at rising temperatures -> majority per decision field -> judge
- rank              parallel answers -> every model ranks the others' anonymised answers -> judge
                    builds on the top-ranked ones; the rankings are returned
- route             a cheap classifier picks 2-4 fitting models -> synthesize
- self_moa          the single best model n times -> judge
- moa               proposers -> layers of refiners who see all previous answers -> judge (aggregator)

``names`` is the leaf every layer may read (the phase config validates against it);
``registry`` maps each name to its object. This module imports nothing, so reading the names
never loads the strategies.
"""
