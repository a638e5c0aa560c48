"""The real redis-server fixtures of tests/store, for the queued runs' tests."""

from tests.store.conftest import own_redis, redis_server

__all__ = ["own_redis", "redis_server"]
