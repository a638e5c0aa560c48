"""Where results outlive a request: idempotency records, the response cache, single-flight locks."""
