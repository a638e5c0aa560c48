"""Keeping a phase moving when providers misbehave: retries, circuit breakers, concurrency limits."""
