"""Checking the configured model ids against what each provider still serves."""
