"""The marking registry: classification strings kept as data files, validated when loaded.

Facts (strings, NATO equivalents, sources) live in YAML under ``accord/data/markings`` so an
operator can add a national marking without touching code; the models here are the schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

NATO_LEVELS: dict[str, int] = {"NU": 0, "NR": 1, "NC": 2, "NS": 3, "CTS": 4}
NatoLevel = Literal["NU", "NR", "NC", "NS", "CTS"]
PACKAGED_REGISTRY = Path(__file__).resolve().parents[2] / "data" / "markings"


class RegistryError(ValueError):
    """The registry data is invalid; the scanner refuses to start rather than scan with a partial list."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MarkingEntry(_Strict):
    name: str = Field(min_length=1, description="canonical marking string")
    level: NatoLevel = Field(description="equivalent on the NATO scale")
    variants: tuple[str, ...] = Field(default=(), description="other spellings; the name is always included")
    classified: bool = True
    sensitive: bool = Field(
        default=False, description="not classified but controlled (CUI, OFFICIAL-SENSITIVE)"
    )
    distinctive: bool = Field(
        default=True, description="False for ordinary words (SECRET, GEHEIM) that need strong context"
    )
    sources: tuple[str, ...] = Field(min_length=1, description="keys into the file's sources map")
    verified: bool = Field(description="False where the reference flags the equivalence as unverified")
    note: str | None = None

    @model_validator(mode="after")
    def _check_level(self) -> MarkingEntry:
        if self.classified and self.level == "NU":
            raise ValueError("a classified marking cannot have level NU")
        if not self.classified and self.level != "NU":
            raise ValueError("a marking that is not classified must have level NU (rank 0)")
        return self

    @property
    def strings(self) -> tuple[str, ...]:
        return (self.name, *[v for v in self.variants if v != self.name])


class SchemeFile(_Strict):
    scheme: str = Field(pattern=r"^(NATO|EU|US|UK|CAN|[A-Z]{3})$")
    name: str
    languages: tuple[str, ...] = Field(min_length=1)
    country_words: tuple[str, ...] = ()
    priority: int = Field(default=10, description="tie-break between schemes sharing a string; lower wins")
    sources: dict[str, str] = Field(min_length=1)
    note: str | None = None
    markings: tuple[MarkingEntry, ...]

    @model_validator(mode="after")
    def _check_sources(self) -> SchemeFile:
        for entry in self.markings:
            unknown = [key for key in entry.sources if key not in self.sources]
            if unknown:
                raise ValueError(f"marking {entry.name!r} cites unknown sources {unknown}")
        return self


class PortionCode(_Strict):
    code: str
    scheme: str
    marking: str
    level: NatoLevel
    classified: bool = True


class AuthorityLabel(_Strict):
    label: str
    weight: int = Field(ge=0, le=1)


class ContextFile(_Strict):
    sources: dict[str, str]
    labels: tuple[str, ...]
    authority_labels: tuple[AuthorityLabel, ...]
    authority_block_level: NatoLevel
    declassification: tuple[str, ...]
    discussion_words: tuple[str, ...]
    everyday_words: tuple[str, ...]
    glossary_words: tuple[str, ...]
    portion_codes: tuple[PortionCode, ...]
    languages: dict[str, tuple[str, ...]]

    @model_validator(mode="after")
    def _check_patterns(self) -> ContextFile:
        for pattern in self.declassification:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad declassification pattern {pattern!r}: {exc}") from exc
        return self


@dataclass(frozen=True, slots=True)
class Registry:
    schemes: tuple[SchemeFile, ...]
    context: ContextFile

    def scheme(self, code: str) -> SchemeFile:
        for scheme in self.schemes:
            if scheme.scheme == code:
                return scheme
        raise KeyError(code)


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"{path}: cannot read: {exc}") from exc


def _describe(path: Path, data: object, exc: ValidationError) -> str:
    lines = [f"{path}: invalid marking registry data"]
    for error in exc.errors():
        where = list(error["loc"])
        if (
            len(where) >= 2
            and where[0] == "markings"
            and isinstance(where[1], int)
            and isinstance(data, dict)
        ):
            entries = data.get("markings") or []
            if where[1] < len(entries) and isinstance(entries[where[1]], dict):
                where[1] = f"{where[1]} ({entries[where[1]].get('name')!r})"
        lines.append(f"  at {'.'.join(str(part) for part in where)}: {error['msg']}")
    return "\n".join(lines)


def load_registry(directory: Path | None = None) -> Registry:
    """Load and validate every scheme file; any error names the file and the entry."""
    root = directory if directory is not None else PACKAGED_REGISTRY
    scheme_paths = sorted((root / "schemes").glob("*.yaml"))
    if not scheme_paths:
        raise RegistryError(f"{root / 'schemes'}: no scheme files found")
    schemes: list[SchemeFile] = []
    for path in scheme_paths:
        data = _read_yaml(path)
        try:
            schemes.append(SchemeFile.model_validate(data))
        except ValidationError as exc:
            raise RegistryError(_describe(path, data, exc)) from exc
    codes = [s.scheme for s in schemes]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise RegistryError(f"{root / 'schemes'}: scheme codes defined twice: {duplicates}")
    context_path = root / "context.yaml"
    data = _read_yaml(context_path)
    try:
        context = ContextFile.model_validate(data)
    except ValidationError as exc:
        raise RegistryError(_describe(context_path, data, exc)) from exc
    return Registry(schemes=tuple(schemes), context=context)


def json_schemas() -> dict[str, object]:
    """The JSON Schemas of the two data-file kinds, committed next to the data for editors and CI."""
    return {"scheme_file": SchemeFile.model_json_schema(), "context_file": ContextFile.model_json_schema()}
