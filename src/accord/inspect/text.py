"""The canonical text view of a request or response: every piece of text a model would see."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of text and where it came from, e.g. ``messages[2].content[0].text``."""

    path: str
    text: str


@dataclass(frozen=True, slots=True)
class TextView:
    segments: tuple[Segment, ...]

    @property
    def joined(self) -> str:
        """All segments joined by blank lines, so a marking never spans two segments by accident."""
        return "\n\n".join(segment.text for segment in self.segments)

    def locate(self, offset: int) -> tuple[str, int]:
        """Map an offset in `joined` back to (segment path, offset within that segment)."""
        position = 0
        for segment in self.segments:
            end = position + len(segment.text)
            if offset <= end:
                return segment.path, offset - position
            position = end + 2
        raise ValueError(f"offset {offset} is beyond the text view")
