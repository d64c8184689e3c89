"""Test doubles that speak real protocols, for tests and benchmarks."""
