"""Intent detection: does a request ask for surveillance, bulk collection, autonomous weapons or
unreviewed high-stakes decisions about people? See docs/detectors.md for the cascade and its limits."""

from accord.inspect.intent.detector import IntentDetector
from accord.inspect.intent.errors import DetectorError
from accord.inspect.intent.judge import JudgeConfig
from accord.inspect.intent.result import INTENT_CATEGORIES, Evidence, IntentResult
from accord.inspect.intent.thresholds import IntentThresholds

__all__ = [
    "INTENT_CATEGORIES",
    "DetectorError",
    "Evidence",
    "IntentDetector",
    "IntentResult",
    "IntentThresholds",
    "JudgeConfig",
]
