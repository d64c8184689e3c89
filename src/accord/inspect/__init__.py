"""Detectors that turn request and response text into findings; they know nothing of HTTP."""
