import asyncio
import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest

from accord.audit import MemoryAudit
from accord.config import Settings
from accord.policy.engine import PolicyEngine, PolicyError, PolicyInput, default_bundle_dir
from accord.policy.store import PolicyStore
from accord.principal import AgencyKind, Principal

MILITARY = Principal("u-mil", "FRA", "army", AgencyKind.MILITARY)
CIVIL = Principal("u-civ", "DEU", "ministry", AgencyKind.CIVIL)
SPY = Principal("u-int", "GBR", "agency", AgencyKind.INTELLIGENCE)


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.load()


def ask(principal: Principal = MILITARY, **kw: Any) -> PolicyInput:
    base = PolicyInput(principal, "chat", "llama", False, 0, "NU")
    return dataclasses.replace(base, **kw)


def test_benign_admin_work_is_allowed(engine: PolicyEngine) -> None:
    d = engine.decide(ask())
    assert d.outcome == "allow"
    assert d.policy_ids == ("allow_unclassified_work",)
    assert d.bundle_version == engine.version


@pytest.mark.parametrize(
    ("kw", "code", "policy_id"),
    [
        ({"classification_rank": 2}, "classification_exceeds_ceiling", "deny_classification_exceeds_ceiling"),
        (
            {"intent_categories": frozenset({"domestic_surveillance"})},
            "policy_domestic_surveillance",
            "deny_domestic_surveillance",
        ),
        ({"intent_scores": {"bulk_collection": 0.9}}, "policy_bulk_collection", "deny_bulk_collection"),
        ({"distinct_identifiers": 500}, "policy_bulk_collection", "deny_bulk_collection"),
        (
            {"volume_distinct": {"24h": 5000}, "distinct_identifiers": 3},
            "policy_bulk_collection",
            "deny_bulk_collection",
        ),
        (
            {"intent_categories": frozenset({"autonomous_weapons"})},
            "policy_autonomous_weapons",
            "deny_autonomous_weapons",
        ),
        (
            {"intent_categories": frozenset({"automated_decision"})},
            "policy_automated_decision",
            "deny_automated_decision",
        ),
        (
            {"intent_categories": frozenset({"targeted_surveillance"}), "us_person_signals": 2},
            "policy_domestic_surveillance",
            "deny_domestic_surveillance",
        ),
    ],
)
def test_red_lines_deny_with_their_code(
    engine: PolicyEngine, kw: dict[str, Any], code: str, policy_id: str
) -> None:
    d = engine.decide(ask(**kw))
    assert d.outcome == "deny"
    assert d.codes == (code,)
    assert d.policy_ids == (policy_id,)
    assert d.reasons


def test_over_the_window_only_requests_adding_identifiers_are_refused(engine: PolicyEngine) -> None:
    over: dict[str, Any] = {"volume_distinct": {"1h": 5000, "24h": 5000}}
    assert engine.decide(ask(**over, distinct_identifiers=1)).codes == ("policy_bulk_collection",)
    assert engine.decide(ask(**over, distinct_identifiers=0)).outcome == "allow"


def test_the_most_specific_red_line_leads_when_several_match(engine: PolicyEngine) -> None:
    intel = dataclasses.replace(MILITARY, agency_kind=AgencyKind.INTELLIGENCE)
    both = frozenset({"bulk_collection", "domestic_surveillance"})
    by_intel = engine.decide(ask(intel, intent_categories=both))
    assert by_intel.codes[0] == "policy_intelligence_surveillance"
    assert set(by_intel.codes) == {
        "policy_intelligence_surveillance",
        "policy_domestic_surveillance",
        "policy_bulk_collection",
    }
    assert engine.decide(ask(intent_categories=both)).codes == (
        "policy_domestic_surveillance",
        "policy_bulk_collection",
    )


def test_score_below_threshold_is_not_a_category(engine: PolicyEngine) -> None:
    assert engine.decide(ask(intent_scores={"bulk_collection": 0.1})).outcome == "allow"


@pytest.mark.parametrize("category", ["targeted_surveillance", "bulk_collection", "domestic_surveillance"])
def test_intelligence_denied_surveillance_and_collection(engine: PolicyEngine, category: str) -> None:
    d = engine.decide(ask(SPY, intent_categories=frozenset({category})))
    assert d.outcome == "deny"
    assert "policy_intelligence_surveillance" in d.codes


@pytest.mark.parametrize("principal", [MILITARY, CIVIL])
def test_targeted_foreign_surveillance_goes_to_review(engine: PolicyEngine, principal: Principal) -> None:
    d = engine.decide(ask(principal, intent_categories=frozenset({"targeted_surveillance"})))
    assert d.outcome == "review"
    assert d.codes == ("policy_targeted_surveillance_review",)
    assert d.policy_ids == ("review_targeted_surveillance",)


def test_uncertain_intent_goes_to_review(engine: PolicyEngine) -> None:
    d = engine.decide(ask(intent_uncertain=frozenset({"automated_decision"})))
    assert (d.outcome, d.codes) == ("review", ("policy_uncertain_intent_review",))


def test_personal_data_redacted_only_for_external_models(engine: PolicyEngine) -> None:
    assert engine.decide(ask(personal_data_counts={"email": 1}, backend_external=True)).outcome == "redact"
    assert engine.decide(ask(personal_data_counts={"email": 1}, backend_external=False)).outcome == "allow"


def test_intelligence_allowed_admin_work_unless_excluded(engine: PolicyEngine, tmp_path: Path) -> None:
    assert engine.decide(ask(SPY)).outcome == "allow"
    bundle = copy_bundle(tmp_path)
    yaml_path = bundle / "bundle.yaml"
    yaml_path.write_text(
        yaml_path.read_text().replace(
            "exclude_intelligence_agencies: false", "exclude_intelligence_agencies: true"
        )
    )
    excluded = PolicyEngine.load(bundle)
    d = excluded.decide(ask(SPY))
    assert (d.outcome, d.codes) == ("deny", ("policy_intelligence_excluded",))
    assert excluded.decide(ask(MILITARY)).outcome == "allow"


def test_unknown_action_fails_closed(engine: PolicyEngine) -> None:
    with pytest.raises(PolicyError):
        engine.decide(ask(action="delete"))


def copy_bundle(tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(default_bundle_dir(), target)
    return target


def test_version_changes_when_a_file_changes(tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    before = PolicyEngine.load(bundle).version
    assert before == PolicyEngine.load().version
    with (bundle / "review.cedar").open("a") as fh:
        fh.write("\n// a comment\n")
    assert PolicyEngine.load(bundle).version != before


def test_bad_policy_names_the_file(tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    (bundle / "extra.cedar").write_text(
        '@id("x")\n@code("x")\nforbid (principal, action, resource) when { context.nope };'
    )
    with pytest.raises(PolicyError, match=r"extra\.cedar"):
        PolicyEngine.load(bundle)


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    (bundle / "bundle.yaml").write_text("ceiling: NU\nceiling_rank: 9\n")
    with pytest.raises(PolicyError, match=r"bundle\.yaml"):
        PolicyEngine.load(bundle)


async def test_malformed_bundle_refused_and_old_one_stays(tmp_path: Path) -> None:
    bundle = tmp_path / "policy"
    shutil.copytree(default_bundle_dir(), bundle)
    audit = MemoryAudit()
    store = PolicyStore(Settings(home=tmp_path, database_url="sqlite://", redis_url=None), audit)
    await store.start(watch=False)
    old = store.current
    (bundle / "deny.cedar").write_text("forbid (principal, action resource);")
    with pytest.raises(PolicyError):
        await store.reload()
    assert store.current is old
    assert audit.acts[-1][1] == "policy.bundle_refused"
    shutil.copy(default_bundle_dir() / "deny.cedar", bundle / "deny.cedar")
    (bundle / "review.cedar").write_text("// no review policies\n")
    new = await store.reload()
    assert store.current is new and new.version != old.version
    assert audit.acts[-1][1] == "policy.bundle_loaded"
    assert (
        store.current.decide(ask(intent_categories=frozenset({"targeted_surveillance"}))).outcome == "allow"
    )


async def test_watcher_reloads_on_change(tmp_path: Path) -> None:
    bundle = tmp_path / "policy"
    shutil.copytree(default_bundle_dir(), bundle)
    store = PolicyStore(Settings(home=tmp_path, database_url="sqlite://", redis_url=None), MemoryAudit())
    await store.start(watch=False)
    old = store.current.version
    task = asyncio.create_task(store.watch(interval=0.05))
    try:
        await asyncio.sleep(0.1)
        with (bundle / "redact.cedar").open("a") as fh:
            fh.write("\n// changed\n")
        for _ in range(200):
            if store.current.version != old:
                break
            await asyncio.sleep(0.05)
        assert store.current.version != old
    finally:
        task.cancel()
