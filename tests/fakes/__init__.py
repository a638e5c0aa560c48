"""Test doubles that run as real HTTP servers (see ``tests.fakes.upstream``)."""
