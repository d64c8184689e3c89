"""The policy engine: the agreement's terms as a Cedar bundle, evaluated once per outcome level.

Forbid policies decide ``deny`` (forbid overrides permit, so one matching red line is enough);
policies annotated ``@outcome("review")`` or ``@outcome("redact")`` live in their own sets and are
asked only when nothing was denied. A request no permit covers is denied (fail closed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import cedarpy
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accord.principal import AgencyKind, Principal

Outcome = Literal["allow", "deny", "review", "redact"]
INTENT_CATEGORIES = (
    "domestic_surveillance",
    "targeted_surveillance",
    "bulk_collection",
    "autonomous_weapons",
    "automated_decision",
)
ACTIONS = frozenset({"chat", "completions", "embeddings", "responses"})


class PolicyError(Exception):
    """The bundle could not be loaded or a decision could not be made: the caller must refuse."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class BulkThresholds(_Strict):
    distinct_identifiers_per_request: int = Field(ge=1)
    distinct_identifiers_per_window: dict[str, int]


class RedactionSettings(_Strict):
    redact_personal_data_for_external_backends: bool


class BundleSettings(_Strict):
    """``bundle.yaml``: the numbers that turn detector output into Cedar context booleans."""

    ceiling: str
    ceiling_rank: int = Field(ge=0, le=4)
    exclude_intelligence_agencies: bool
    intent_thresholds: dict[str, float]
    bulk_collection: BulkThresholds
    redaction: RedactionSettings

    def model_post_init(self, __context: Any) -> None:
        missing = set(INTENT_CATEGORIES) - set(self.intent_thresholds)
        if missing:
            raise ValueError(f"intent_thresholds lacks {sorted(missing)}")
        for name, value in self.intent_thresholds.items():
            if not 0.0 < value <= 1.0:
                raise ValueError(f"intent_thresholds.{name} must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class PolicyInput:
    principal: Principal
    action: str
    model: str
    backend_external: bool
    classification_rank: int
    classification_level: str
    ceiling_rank: int | None = None
    intent_scores: Mapping[str, float] = field(default_factory=dict)
    intent_categories: frozenset[str] = frozenset()
    intent_uncertain: frozenset[str] = frozenset()
    personal_data_counts: Mapping[str, int] = field(default_factory=dict)
    us_person_signals: int = 0
    distinct_identifiers: int = 0
    volume_distinct: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    codes: tuple[str, ...]
    policy_ids: tuple[str, ...]
    reasons: tuple[str, ...]
    bundle_version: str

    def to_json(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "codes": list(self.codes),
            "policy_ids": list(self.policy_ids),
            "reasons": list(self.reasons),
            "bundle_version": self.bundle_version,
        }


_REASONS = {
    "classification_exceeds_ceiling": "The request carries a marking above this network's ceiling.",
    "policy_domestic_surveillance": "The agreement forbids domestic surveillance of U.S. persons.",
    "policy_bulk_collection": "The agreement forbids bulk collection of personal data.",
    "policy_autonomous_weapons": "The agreement forbids directing autonomous weapons.",
    "policy_automated_decision": "The agreement forbids high-stakes automated decisions on people.",
    "policy_intelligence_surveillance": "Intelligence agencies are barred from surveillance and collection.",
    "policy_intelligence_excluded": "Intelligence agencies are excluded from this service.",
    "policy_targeted_surveillance_review": "Targeted surveillance requires human review.",
    "policy_uncertain_intent_review": "The request's purpose is uncertain; a human will review it.",
    "policy_redact_personal_data": "Personal data is redacted before reaching an external model.",
    "policy_no_permit": "No policy permits this request.",
}


_MEMO_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class _Rule:
    policy_id: str
    code: str
    order: int = 0  # position in the bundle: when several rules match, the first one's code leads


class PolicyEngine:
    """A loaded, validated bundle. Immutable: reloading builds a new engine."""

    def __init__(
        self,
        settings: BundleSettings,
        schema: str,
        sets: Mapping[str, tuple[cedarpy.PolicySet, Mapping[str, _Rule]]],
        version: str,
        source: str,
    ) -> None:
        self.settings = settings
        self.version = version
        self.source = source
        self._schema = cedarpy.Schema.from_str(schema)
        self._sets = sets
        # Decisions are a pure function of the Cedar request, and the engine never changes: memoise
        # them (bounded) so a hot bundle answers repeated shapes of request without asking Cedar.
        self._memo: dict[tuple[object, ...], Decision] = {}

    @property
    def intent_thresholds(self) -> dict[str, float]:
        return dict(self.settings.intent_thresholds)

    @property
    def policy_ids(self) -> tuple[str, ...]:
        return tuple(rule.policy_id for _, rules in self._sets.values() for rule in rules.values())

    @classmethod
    def load(cls, bundle_dir: Path | None = None) -> PolicyEngine:
        directory = bundle_dir if bundle_dir is not None else default_bundle_dir()
        try:
            return _load(directory)
        except PolicyError:
            raise
        except (OSError, ValueError, RuntimeError) as exc:
            raise PolicyError(f"{directory}: {exc}") from exc

    def decide(self, inp: PolicyInput) -> Decision:
        if inp.action not in ACTIONS:
            raise PolicyError(f"unknown action {inp.action!r}")
        context = self._context(inp)
        principal = inp.principal
        roles = sorted(str(r) for r in principal.roles)
        # The memo key must hold everything `_evaluate` reads: the Cedar request and entities.
        key = (
            principal.id,
            principal.nation,
            principal.organisation,
            str(principal.agency_kind),
            *roles,
            "",  # ends the variable-length roles
            inp.action,
            inp.model,
            inp.backend_external,
            *context.values(),
        )
        try:
            decision = self._memo.get(key)
        except TypeError:  # a context value that cannot be a key: decide without the memo
            return self._evaluate(inp, context, roles)
        if decision is None:
            decision = self._evaluate(inp, context, roles)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = decision
        return decision

    def _evaluate(self, inp: PolicyInput, context: dict[str, object], roles: list[str]) -> Decision:
        request = {
            "principal": {"type": "Accord::Principal", "id": inp.principal.id},
            "action": {"type": "Accord::Action", "id": inp.action},
            "resource": {"type": "Accord::Model", "id": inp.model},
            "context": context,
        }
        entities = [
            {
                "uid": {"type": "Accord::Principal", "id": inp.principal.id},
                "attrs": {
                    "nation": inp.principal.nation,
                    "organisation": inp.principal.organisation,
                    "agency_kind": str(inp.principal.agency_kind),
                    "roles": roles,
                },
                "parents": [],
            },
            {
                "uid": {"type": "Accord::Model", "id": inp.model},
                "attrs": {"name": inp.model, "external": inp.backend_external},
                "parents": [],
            },
        ]
        deny_set, deny_rules = self._sets["deny"]
        base = self._ask(request, deny_set, entities)
        if not base.allowed:
            rules = [deny_rules[r] for r in base.diagnostics.reasons if r in deny_rules]
            forbids = [r for r in rules if r.code]
            if forbids:
                return self._decision("deny", forbids)
            return self._decision("deny", [_Rule("", "policy_no_permit")])
        for outcome in ("review", "redact"):
            if outcome not in self._sets:
                continue
            policy_set, rules_by_id = self._sets[outcome]
            result = self._ask(request, policy_set, entities)
            if result.allowed:
                matched = [rules_by_id[r] for r in result.diagnostics.reasons if r in rules_by_id]
                return self._decision("review" if outcome == "review" else "redact", matched)
        return self._decision("allow", [deny_rules[r] for r in base.diagnostics.reasons if r in deny_rules])

    def _ask(
        self, request: dict[str, Any], policies: cedarpy.PolicySet, entities: list[dict[str, Any]]
    ) -> Any:
        result = cedarpy.is_authorized(request, policies, entities, self._schema)
        if result.diagnostics.errors:
            raise PolicyError(f"policy evaluation failed: {result.diagnostics.errors}")
        return result

    def _decision(self, outcome: Outcome, rules: list[_Rule]) -> Decision:
        rules = sorted(rules, key=lambda r: (r.order, r.policy_id))
        codes = tuple(dict.fromkeys(r.code for r in rules if r.code))
        return Decision(
            outcome=outcome,
            codes=codes,
            policy_ids=tuple(r.policy_id for r in rules if r.policy_id),
            reasons=tuple(_REASONS.get(c, c) for c in codes),
            bundle_version=self.version,
        )

    def _context(self, inp: PolicyInput) -> dict[str, object]:
        s = self.settings
        categories = {
            name: name in inp.intent_categories
            or inp.intent_scores.get(name, 0.0) >= s.intent_thresholds[name]
            for name in INTENT_CATEGORIES
        }
        windows = s.bulk_collection.distinct_identifiers_per_window
        # Over a window's limit, a request that adds person identifiers is refused; one without
        # personal data is not (the principal may still do its other work).
        volume_exceeded = inp.distinct_identifiers >= s.bulk_collection.distinct_identifiers_per_request or (
            inp.distinct_identifiers > 0
            and any(inp.volume_distinct.get(window, 0) >= limit for window, limit in windows.items())
        )
        return {
            "classification_rank": inp.classification_rank,
            "ceiling_rank": s.ceiling_rank
            if inp.ceiling_rank is None
            else min(inp.ceiling_rank, s.ceiling_rank),
            **categories,
            "uncertain": bool(inp.intent_uncertain),
            "us_person_signals": inp.us_person_signals,
            "volume_exceeded": volume_exceeded,
            "personal_data_present": any(v > 0 for v in inp.personal_data_counts.values()),
            "redact_external": s.redaction.redact_personal_data_for_external_backends,
            "intelligence_excluded": s.exclude_intelligence_agencies,
        }


def default_bundle_dir() -> Path:
    return Path(str(resources.files("accord.data").joinpath("policy")))


def _load(directory: Path) -> PolicyEngine:
    if not directory.is_dir():
        raise PolicyError(f"{directory}: policy bundle directory not found")
    schema_path = directory / "schema.cedarschema"
    yaml_path = directory / "bundle.yaml"
    cedar_paths = sorted(directory.glob("*.cedar"))
    if not schema_path.is_file() or not yaml_path.is_file() or not cedar_paths:
        raise PolicyError(f"{directory}: needs schema.cedarschema, bundle.yaml and *.cedar files")
    settings = _load_settings(yaml_path)
    schema = schema_path.read_text(encoding="utf-8")
    digest = hashlib.sha256()
    for path in [schema_path, yaml_path, *cedar_paths]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    grouped: dict[str, dict[str, Any]] = {}
    seen_ids: set[str] = set()
    for path in cedar_paths:
        text = path.read_text(encoding="utf-8")
        result = cedarpy.validate_policies(text, schema)
        if not result.validation_passed:
            raise PolicyError(f"{path}: " + "; ".join(str(e) for e in result.errors))
        try:
            parsed = json.loads(cedarpy.policies_to_json_str(text))
        except (ValueError, RuntimeError) as exc:
            raise PolicyError(f"{path}: {exc}") from exc
        for key, policy in parsed["staticPolicies"].items():
            notes = policy.get("annotations", {})
            policy_id = notes.get("id")
            if not policy_id:
                raise PolicyError(f"{path}: policy {key} lacks an @id annotation")
            if policy_id in seen_ids:
                raise PolicyError(f"{path}: duplicate @id {policy_id!r}")
            seen_ids.add(policy_id)
            outcome = notes.get("outcome", "deny")
            if outcome not in ("deny", "review", "redact"):
                raise PolicyError(f"{path}: {policy_id}: @outcome must be review or redact")
            if policy["effect"] == "forbid" and (outcome != "deny" or not notes.get("code")):
                raise PolicyError(f"{path}: {policy_id}: forbid policies need @code and no @outcome")
            if outcome != "deny" and (policy["effect"] != "permit" or not notes.get("code")):
                raise PolicyError(f"{path}: {policy_id}: @outcome policies must be permits with @code")
            grouped.setdefault(outcome, {})[policy_id] = policy
    if "deny" not in grouped:
        raise PolicyError(f"{directory}: no permit/forbid policies: every request would be denied")
    sets: dict[str, tuple[cedarpy.PolicySet, Mapping[str, _Rule]]] = {}
    for outcome, policies in grouped.items():
        doc = {"templates": {}, "staticPolicies": policies, "templateLinks": []}
        text = cedarpy.policies_from_json_str(json.dumps(doc))
        # Cedar renumbers policies policy0.. in text order; map those ids back to the @id annotations.
        reparsed = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
        rules = {
            key: _Rule(p["annotations"]["id"], p["annotations"].get("code", ""), order)
            for order, (key, p) in enumerate(reparsed.items())
        }
        sets[outcome] = (cedarpy.PolicySet.from_str(text), rules)
    return PolicyEngine(settings, schema, sets, digest.hexdigest(), str(directory))


def _load_settings(path: Path) -> BundleSettings:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{path}{where}: invalid YAML: {exc}") from exc
    try:
        return BundleSettings.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(f"{path}: {exc}") from exc


__all__ = ["AgencyKind", "Decision", "PolicyEngine", "PolicyError", "PolicyInput", "default_bundle_dir"]
