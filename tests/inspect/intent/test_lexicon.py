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


def _signals(text: str) -> set[str]:
    lexicon = Lexicon.load()
    return {lexicon.signals[m.signal].name for m in lexicon.match(normalise(text))}


def test_interception_of_communications_has_its_own_cues_in_every_language() -> None:
    for text in [
        "Wiretap his phone",
        "Mets sur écoute le téléphone",
        "Höre die Telefonate ab",
        "Pincha el teléfono",
        "Metti sotto controllo il telefono",
        "Załóż podsłuch",
        "Tap de telefoon af",
        "Coloque sob escuta",
        "Telefonunu dinle",
    ]:
        assert "intercept_comms" in _signals(text), text


def test_intercepting_a_delivery_is_not_a_communications_cue() -> None:
    for text in [
        "Intercept the delivery before it leaves the depot.",
        "Intercept any duplicate purchase orders.",
        "Intercetta le spedizioni al confine.",
        "Onderschep het pakket in het sorteercentrum.",
    ]:
        assert "intercept_comms" not in _signals(text), text


def test_new_cues_do_not_fire_inside_ordinary_words() -> None:
    # Every cue is matched against text of every language, so short cues need word boundaries.
    for text in [
        "This manual lists my expenses.",
        "Meine Excel-Tabelle",
        "Mi experiencia",
        "There is a bug here.",
        "Tap here to confirm.",
        "Mijn manager vraagt deze manier.",
    ]:
        assert not _signals(text) & {"intercept_comms", "comms_of_person", "surveil", "intrusion"}, text
