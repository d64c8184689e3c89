"""The one exception every detector raises, so a caller can fail closed with a single ``except``."""

from __future__ import annotations


class DetectorError(Exception):
    """A detector could not produce a trustworthy result; the caller must refuse or send to review."""
