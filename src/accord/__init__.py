"""Accord: a self-hosted AI gateway that enforces an alliance's usage agreement and proves it."""

__version__ = "0.1.0"
