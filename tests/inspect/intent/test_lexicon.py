from __future__ import annotations

import yaml

from accord.inspect.intent.lexicon import Lexicon, normalise
from accord.inspect.intent.result import INTENT_CATEGORIES

LANGUAGES = {"en", "fr", "de", "es", "it", "pl", "nl", "pt", "tr"}


def test_every_intent_signal_has_cues_in_every_language() -> None:
    from importlib import resources

    data = yaml.safe_load(resources.files("accord.data.intent").joinpath("lexicon.yaml").read_text("utf-8"))
    for name, spec in data["signals"].items():
        assert set(spec["categories"]) <= {*INTENT_CATEGORIES, "benign"}, name
        if name != "us_places":  # place names are shared across languages
            assert set(spec["cues"]) >= LANGUAGES, name


def test_cues_match_on_word_boundaries_only() -> None:
    lexicon = Lexicon.load()
    names = [
        lexicon.signals[m.signal].name for m in lexicon.match(normalise("The skill of a mass-produced gun."))
    ]
    assert "weapon" in names  # "gun$" matches the whole word
    assert "target_engagement" not in names  # "kill$" does not match inside "skill"
    names = [lexicon.signals[m.signal].name for m in lexicon.match(normalise("A gunner checks the shotgun"))]
    assert "weapon" not in names  # "gun$" needs a word end; no match inside "gunner" or "shotgun"


def test_normalise_keeps_offsets() -> None:
    text = "İstanbul’da GÖZETİM"
    assert normalise(text) == "istanbul'da gözetim"
    lexicon = Lexicon.load()
    assert "surveil" in [lexicon.signals[m.signal].name for m in lexicon.match(normalise(text))]
