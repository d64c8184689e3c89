from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from accord.inspect.markings import NATO_LEVELS, MarkingScanner, RegistryError
from accord.inspect.markings.registry import PACKAGED_REGISTRY, json_schemas, load_registry

NATO_MEMBERS = {
    "ALB", "BEL", "BGR", "CAN", "HRV", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN", "ISL", "ITA",
    "LVA", "LTU", "LUX", "MNE", "NLD", "MKD", "NOR", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE", "TUR",
    "UK", "US",
}  # fmt: skip


def test_every_member_and_the_international_schemes_have_a_file() -> None:
    codes = {scheme.scheme for scheme in load_registry().schemes}
    assert len(NATO_MEMBERS) == 32
    assert codes == NATO_MEMBERS | {"NATO", "EU"}


def test_every_entry_maps_onto_the_nato_scale_with_a_source() -> None:
    for scheme in load_registry().schemes:
        for entry in scheme.markings:
            assert entry.level in NATO_LEVELS
            assert entry.sources and all(key in scheme.sources for key in entry.sources)
            assert entry.classified == (NATO_LEVELS[entry.level] > 0)


def test_marks_that_are_not_classified_are_rank_zero() -> None:
    registry = load_registry()
    not_classified = {(s.scheme, e.name) for s in registry.schemes for e in s.markings if not e.classified}
    assert {("US", "CUI"), ("UK", "OFFICIAL"), ("UK", "OFFICIAL-SENSITIVE"), ("CAN", "PROTECTED B"),
            ("NATO", "NATO UNCLASSIFIED")} <= not_classified  # fmt: skip


def test_unverified_equivalences_keep_their_flag() -> None:
    poland = load_registry().scheme("POL")
    assert all(not entry.verified for entry in poland.markings)
    germany = load_registry().scheme("DEU")
    assert all(entry.verified for entry in germany.markings)


def test_every_spelling_is_recognised_as_a_banner_at_its_level(scanner: MarkingScanner) -> None:
    for scheme in load_registry().schemes:
        for entry in scheme.markings:
            for spelling in entry.strings:
                text = (
                    f"{spelling}\n\n{' '.join(scheme.country_words[:1])} report on fuel stocks.\n\n{spelling}"
                )
                result = scanner.scan(text)
                assert result.hits, (scheme.scheme, spelling)
                assert result.level == entry.level, (scheme.scheme, spelling, result.to_json())


def test_the_committed_json_schema_matches_the_models() -> None:
    committed = json.loads((PACKAGED_REGISTRY / "schema.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(json_schemas()))


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    target = tmp_path / "registry"
    shutil.copytree(PACKAGED_REGISTRY, target)
    path = target / "schemes" / "deu.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    return target


def test_a_bad_level_names_the_file_and_the_entry(tmp_path: Path) -> None:
    registry = _broken_copy(tmp_path, "{name: VS-VERTRAULICH, level: NC", "{name: VS-VERTRAULICH, level: XX")
    with pytest.raises(RegistryError, match=r"deu\.yaml(.|\n)*VS-VERTRAULICH"):
        MarkingScanner.load(registry)


def test_an_unknown_source_key_is_refused(tmp_path: Path) -> None:
    registry = _broken_copy(tmp_path, "sources: [EU-CS, DE-VSA]", "sources: [NOWHERE]")
    with pytest.raises(RegistryError, match="unknown sources"):
        load_registry(registry)


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no scheme files"):
        load_registry(tmp_path)
