"""Guard streamed model output: hold back a small window so a marking split across chunks is caught."""

from __future__ import annotations

import re

from accord.inspect.markings.results import ClassificationResult
from accord.inspect.markings.scanner import SHORT_LINE, MarkingScanner, _Mode

_CONTEXT = 256  # released text kept so rules can see the start of the current line and the page top
_MAX_ENCODED_HOLD = 64 * 1024  # an encoded block longer than this is released in pieces
_TRAILING_ENCODED = re.compile(r"[A-Za-z0-9+/=%\\\r\n]{16,}\Z")


class MarkingDetected(Exception):
    """A marking above the ceiling was found; ``result`` lists the offending hits."""

    def __init__(self, result: ClassificationResult) -> None:
        super().__init__(f"classification marking above the ceiling: {result.level}")
        self.result = result


class StreamGuard:
    """Holds back a small window of streamed model output so a marking split across chunks is caught
    before release.

    Streaming rules are stricter than ``scan``: nothing after the current point is known, so marks
    that would need corroboration count on their own, and declassification notices are not honoured.
    """

    def __init__(self, scanner: MarkingScanner, ceiling_rank: int, window: int = 192) -> None:
        if window < 64:
            raise ValueError("window must be at least 64 characters to hold a whole marking")
        self._scanner = scanner
        self._ceiling = ceiling_rank
        self._window = window
        self._context = ""  # already released, kept for line context
        self._pending = ""  # not yet released
        self._released = 0
        self._failed: MarkingDetected | None = None

    def push(self, delta: str) -> str:
        self._raise_if_failed()
        self._pending += delta
        text = self._context + self._pending
        self._check(text, final=False)
        keep_from = self._hold_from(text)
        released = text[len(self._context) : keep_from]
        self._pending = text[keep_from:]
        self._context = (self._context + released)[-_CONTEXT:]
        self._released += len(released)
        return released

    def finish(self) -> str:
        self._raise_if_failed()
        self._check(self._context + self._pending, final=True)
        released, self._pending = self._pending, ""
        self._released += len(released)
        return released

    def _raise_if_failed(self) -> None:
        if self._failed is not None:
            raise self._failed

    def _check(self, text: str, *, final: bool) -> None:
        mode = _Mode(
            stream=True,
            final=final,
            at_start=self._released == len(self._context),
            skip_before=max(0, len(self._context) - 32),
        )
        hits = self._scanner._scan(text, mode)
        above = tuple(h for h in hits if h.rank > self._ceiling and h.end > len(self._context))
        if above:
            self._failed = MarkingDetected(ClassificationResult(above))
            raise self._failed

    def _hold_from(self, text: str) -> int:
        """Release all but the window, the current short line, and a trailing encoded-looking run."""
        keep_from = len(text) - self._window
        line_start = text.rfind("\n") + 1
        if len(text) - line_start <= SHORT_LINE:
            # The scanner judges markings on a short line only once the line is complete, so hold
            # the line from its first candidate marking on; the words before it cannot be part of a
            # marking, and they stay in the context the rules see. (Holding the whole line would
            # delay a streamed answer's first words by up to a line's worth of tokens.)
            first = self._first_candidate(text, max(line_start, len(self._context)))
            if first is not None:
                keep_from = min(keep_from, first)
        tail = text[-_MAX_ENCODED_HOLD:]
        encoded = _TRAILING_ENCODED.search(tail)
        if encoded is not None:
            keep_from = min(keep_from, len(text) - len(tail) + encoded.start())
        return max(len(self._context), keep_from)

    def _first_candidate(self, text: str, start: int) -> int | None:
        """Where the first candidate (marking, authority label, encoding) ending after ``start`` begins."""
        candidates = self._scanner._automaton.scan(text)
        starts = [c.start for c in candidates if c.end > start]
        return min(starts) if starts else None
