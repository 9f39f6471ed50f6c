"""Test doubles that run for real at the network boundary (see each module's docstring)."""
