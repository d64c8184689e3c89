"""The engine memoises decisions; a memoised answer must be exactly what Cedar would say afresh."""

import dataclasses

from accord.policy.engine import PolicyEngine, PolicyInput
from accord.principal import AgencyKind, Principal, Role

MILITARY = Principal("u-1", "FRA", "army", AgencyKind.MILITARY)
# Same id, different attributes: the memo must key on every attribute Cedar sees, not the id alone.
SAME_ID_SPY = Principal("u-1", "FRA", "army", AgencyKind.INTELLIGENCE)
SAME_ID_ADMIN = Principal("u-1", "FRA", "army", AgencyKind.MILITARY, frozenset({Role.TENANT_ADMIN}))
BASE = PolicyInput(MILITARY, "chat", "llama", False, 0, "NU")

CASES = [
    BASE,
    dataclasses.replace(BASE, classification_rank=2),
    dataclasses.replace(BASE, intent_categories=frozenset({"bulk_collection"})),
    dataclasses.replace(BASE, intent_scores={"autonomous_weapons": 0.99}),
    dataclasses.replace(BASE, intent_categories=frozenset({"targeted_surveillance"})),
    dataclasses.replace(BASE, intent_uncertain=frozenset({"automated_decision"})),
    dataclasses.replace(BASE, personal_data_counts={"email": 1}, backend_external=True),
    dataclasses.replace(BASE, personal_data_counts={"email": 1}, backend_external=False),
    dataclasses.replace(BASE, distinct_identifiers=10_000),
    dataclasses.replace(BASE, principal=SAME_ID_SPY, intent_categories=frozenset({"targeted_surveillance"})),
    dataclasses.replace(BASE, principal=SAME_ID_ADMIN),
    dataclasses.replace(BASE, action="embeddings"),
    dataclasses.replace(BASE, model="other-model", backend_external=True),
]


def test_memoised_decisions_match_fresh_ones_in_any_order() -> None:
    fresh = [PolicyEngine.load().decide(case) for case in CASES]
    assert len({d.outcome for d in fresh}) >= 3, "the cases should cover several outcomes"
    shared = PolicyEngine.load()
    forwards = [shared.decide(case) for case in CASES]
    backwards = [shared.decide(case) for case in reversed(CASES)][::-1]
    assert forwards == fresh
    assert backwards == fresh


def test_the_memo_is_bounded() -> None:
    engine = PolicyEngine.load()
    for signals in range(5000):
        engine.decide(dataclasses.replace(BASE, us_person_signals=signals))
    assert len(engine._memo) <= 4096
    assert engine.decide(dataclasses.replace(BASE, us_person_signals=3)) == PolicyEngine.load().decide(
        dataclasses.replace(BASE, us_person_signals=3)
    )
