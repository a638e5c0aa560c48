"""The model-call layer: one call, the fan-out, the validated call with repair, hedging, the judge's calls.

Everything here makes model calls and records them as outcomes; what the answers mean is
``app.synthesis``'s business (pure functions), and which calls a phase makes is its strategy's.
"""
