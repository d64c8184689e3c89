from __future__ import annotations

import numpy as np

from accord.inspect.intent.lexicon import Lexicon
from accord.inspect.intent.linear import artefact_path
from accord.inspect.intent.train import Example, load_examples, train_linear


def test_training_is_deterministic() -> None:
    examples = load_examples()[::9]
    lexicon = Lexicon.load()
    first, bias_first, _ = train_linear(examples, lexicon, epochs=15)
    second, bias_second, _ = train_linear(examples, lexicon, epochs=15)
    assert np.array_equal(first, second)
    assert np.array_equal(bias_first, bias_second)


def test_training_learns_the_labels() -> None:
    examples = [
        Example(
            "Secretly follow the journalist and report where she goes.", frozenset({"targeted_surveillance"})
        ),
        Example("Track the parcel to the warehouse.", frozenset()),
    ] * 4
    weights, _, space = train_linear(examples, Lexicon.load(), epochs=60)
    column = space.names.index("covert")
    assert weights[-space.size + column][1] > 0  # "covert" now argues for targeted surveillance


def test_the_shipped_artefact_is_small() -> None:
    assert artefact_path().stat().st_size < 1_000_000
