"""Classification-marking detection (spillage control): registry, scanner and stream guard."""

from accord.inspect.markings.registry import NATO_LEVELS, RegistryError
from accord.inspect.markings.results import ClassificationResult, MarkingHit, ceiling_rank
from accord.inspect.markings.scanner import MarkingScanner
from accord.inspect.markings.stream import MarkingDetected, StreamGuard

__all__ = [
    "NATO_LEVELS",
    "ClassificationResult",
    "MarkingDetected",
    "MarkingHit",
    "MarkingScanner",
    "RegistryError",
    "StreamGuard",
    "ceiling_rank",
]
