"""The provider layer: one adapter per wire API; the only code that makes outbound HTTP."""
