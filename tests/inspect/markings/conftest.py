from __future__ import annotations

import pytest

from accord.inspect.markings import MarkingScanner


@pytest.fixture(scope="session")
def scanner() -> MarkingScanner:
    """Compiling the automaton takes seconds, so one scanner serves the whole session."""
    return MarkingScanner.load()
