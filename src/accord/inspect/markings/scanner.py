"""Find classification markings by context: banner lines, stamps, portion marks, authority blocks.

The automaton proposes candidates; the rules below decide whether a candidate is *used as a marking*
(a line of its own at the top of a document, "(S) The convoy..." at a paragraph start) or merely
*mentioned* ("the secret to good logistics", "a TOP SECRET clearance"). See docs/markings.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from accord.inspect.markings.automaton import (
    ENCODED_TRIGGERS,
    Automaton,
    Candidate,
    CandidateKind,
    marking_key,
)
from accord.inspect.markings.decode import find_encoded
from accord.inspect.markings.fold import LEET, fold, is_invisible, script_of
from accord.inspect.markings.registry import (
    NATO_LEVELS,
    MarkingEntry,
    PortionCode,
    Registry,
    RegistryError,
    SchemeFile,
    load_registry,
)
from accord.inspect.markings.results import ClassificationResult, MarkingHit

SHORT_LINE = 160  # banner, stamp and header/footer rules only apply to lines up to this length
MAX_DEPTH = 2  # encoded blocks inside encoded blocks are decoded this many times
MAX_DECODED_CHARS = 1024 * 1024
_DECORATION = set(" \t\r*=#-_~[]|<>•·—–")
_BULLETS = {"-", "*", "•", "+", "·", "–"}
_SEPARATOR = re.compile(r"^\s*(?:[-–—|:/]|\s{2,}|\t)")
_FIELD_SEPARATED = re.compile(r"(?:\s{3,}|\t|\s[|–—-]\s)\s*$")
_CONTROL_WORDS = frozenset(
    {
        "NOFORN",
        "NF",
        "ORCON",
        "OC",
        "REL",
        "RELIDO",
        "FOUO",
        "PROPIN",
        "IMCON",
        "SI",
        "TK",
        "HCS",
        "KDK",
        "COMINT",
        "RD",
        "FRD",
        "CNWDI",
        "ATOMAL",
        "EYES",
        "ONLY",
        "RELEASABLE",
        "SENSITIVE",
        "COMMERCIAL",
        "PERSONAL",
        "LOCSEN",
        "FED",
        "FEDCON",
        "NOCON",
        "DL",
        "DISPLAY",
        "JOINT",
        "SAR",
        "BOHEMIA",
        "BALK",
        "LIMDIS",
        "EXDIS",
        "NODIS",
        "SBU",
        "LES",
    }
)
_CONTROL_TAIL = re.compile(r"^[/,\s]*[A-Z0-9][A-Z0-9 ,/\-.()]*$")
_WORD = re.compile(r"\w+")
_ENUMERATION = re.compile(r"(?m)^[ \t]*\(([A-Z])\)")
_STRIKE = {"\u0335", "\u0336", "\u0337", "\u0338"}


@dataclass(frozen=True, slots=True)
class _Option:
    scheme: SchemeFile
    entry: MarkingEntry
    exact: frozenset[str]  # case-folded NFC spellings, to prefer TAJNÉ (CZE) over TAJNE (POL)


@dataclass(frozen=True, slots=True)
class _Group:
    key: str
    options: tuple[_Option, ...]
    distinctive: bool


@dataclass(slots=True)
class _Mode:
    stream: bool = False  # streaming output: no corroboration or declassification, decide early
    final: bool = True  # the text ends here (False while a stream is still arriving)
    at_start: bool = True  # the text begins at the document start
    depth: int = 0
    skip_before: int = 0  # streaming: candidates ending here or earlier were judged on an earlier push
    budget: list[int] = field(default_factory=lambda: [MAX_DECODED_CHARS])


@dataclass(frozen=True, slots=True)
class _Found:
    hit: MarkingHit
    strong: bool  # False: only counts when something else in the document corroborates it


def _casing(text: str) -> str:
    if text.isupper() or not any(c.isalpha() for c in text):
        return "upper"
    if text.islower():
        return "lower"
    return "title" if text.istitle() else "mixed"


def _visible(text: str) -> str:
    return text if text.isascii() else "".join(c for c in text if not is_invisible(c))


def _evasion(original: str, variant: str) -> str | None:
    tags: list[str] = []
    native = next((script_of(c) for c in variant if c.isalpha()), "latin")
    if any(c.isalpha() and script_of(c) not in (native, "other") for c in original):
        tags.append("homoglyph")
    if any(c in LEET and not c.isalpha() for c in original):
        tags.append("leetspeak")
    body = "".join(c for c in original if not is_invisible(c))
    runs = len(re.findall(r"[^\W_]+|[0-9@$€!|]+", body)) if body else 0
    if "\n" in original and "\n" not in variant:
        tags.append("split_lines")
    elif runs > len(re.findall(r"[^\W_]+", variant)):
        tags.append("spaced")
    if any(c in _STRIKE for c in original):
        tags.append("strikethrough")
    elif any(is_invisible(c) and not unicodedata.combining(c) for c in original):
        tags.append("zero_width")
    if any(c.isalnum() and not c.isascii() and unicodedata.normalize("NFKC", c) != c for c in original):
        tags.append("unicode_compat")
    return "+".join(tags) or None


class _Document:
    """Lazily computed facts about the scanned text shared by the rules."""

    def __init__(self, text: str, mode: _Mode) -> None:
        self.text = text
        self.mode = mode
        self._edges: dict[int, frozenset[int]] = {}
        self._folded: str | None = None
        self._enumerated: bool | None = None
        self._everyday: bool | None = None
        self.resolved: dict[tuple[str, str], _Option] = {}

    def line_bounds(self, start: int, end: int) -> tuple[int, int]:
        line_start = self.text.rfind("\n", 0, start) + 1
        line_end = self.text.find("\n", end)
        return line_start, len(self.text) if line_end == -1 else line_end

    def edge_lines(self, count: int) -> frozenset[int]:
        """Start offsets of the first and last ``count`` non-empty lines (and lines around page breaks)."""
        if count in self._edges:
            return self._edges[count]
        text, starts = self.text, set()
        if self.mode.at_start:
            position, found = 0, 0
            while found < count and position < len(text):
                end = text.find("\n", position)
                end = len(text) if end == -1 else end
                if text[position:end].strip():
                    starts.add(position)
                    found += 1
                position = end + 1
        if self.mode.final:
            end, found = len(text), 0
            while found < count and end > 0:
                start = text.rfind("\n", 0, end) + 1
                if text[start:end].strip():
                    starts.add(start)
                    found += 1
                end = start - 1
        for page_break in re.finditer("\f", text):
            starts.add(text.rfind("\n", 0, page_break.start()) + 1)
            starts.add(page_break.end())
        self._edges[count] = frozenset(starts)
        return self._edges[count]

    @property
    def folded(self) -> str:
        if self._folded is None:
            self._folded = self.text.casefold()
        return self._folded

    def everyday(self, words: re.Pattern[str]) -> bool:
        if self._everyday is None:
            self._everyday = words.search(self.folded) is not None
        return self._everyday

    @property
    def enumerated(self) -> bool:
        """Paragraphs lettered (A), (B)... make (C) and (S) list labels rather than portion marks."""
        if self._enumerated is None:
            letters = {m.group(1) for m in _ENUMERATION.finditer(self.text)}
            self._enumerated = bool(letters - {"C", "S", "U"})
        return self._enumerated


class MarkingScanner:
    """Compiled once from the registry; ``scan`` may be called from several threads at once."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        context = registry.context
        groups: dict[str, list[_Option]] = {}
        for scheme in registry.schemes:
            for entry in scheme.markings:
                for variant in entry.strings:
                    key = marking_key(variant)
                    options = groups.setdefault(key, [])
                    exact = unicodedata.normalize("NFC", variant).casefold()
                    for index, option in enumerate(options):
                        if option.scheme is scheme and option.entry is entry:
                            options[index] = _Option(scheme, entry, option.exact | {exact})
                            break
                    else:
                        options.append(_Option(scheme, entry, frozenset({exact})))
        self._groups = [
            _Group(key, tuple(options), all(o.entry.distinctive for o in options))
            for key, options in sorted(groups.items())
        ]
        self._authority_weights = [label.weight for label in context.authority_labels]
        self._automaton = Automaton(
            [group.key for group in self._groups],
            [label.label for label in context.authority_labels],
            list(context.declassification),
            frozenset(index for index, group in enumerate(self._groups) if not group.distinctive),
        )
        self._portions: dict[str, PortionCode] = {p.code: p for p in context.portion_codes}
        labels = "|".join(re.escape(fold(label)) for label in sorted(context.labels, key=len, reverse=True))
        self._label = re.compile(rf"^[\s*#>|\[\-]*(?:{labels})\s*[:：\-–]\s*$")
        words = "|".join(re.escape(w) for w in sorted(context.discussion_words, key=len, reverse=True))
        self._discussion = re.compile(rf"(?:(?<!\w)(?:{words})(?!\w))")
        everyday = "|".join(re.escape(w) for w in sorted(context.everyday_words, key=len, reverse=True))
        self._everyday = re.compile(rf"(?<!\w)(?:{everyday})(?!\w)")
        glossary = "|".join(re.escape(w) for w in sorted(context.glossary_words, key=len, reverse=True))
        self._glossary = re.compile(rf"^[\s\-–—=:]*(?:{glossary})(?!\w)", re.IGNORECASE)
        self._stopwords: dict[str, tuple[str, ...]] = {}
        for lang, stopwords in context.languages.items():
            for word in stopwords:
                self._stopwords[word] = (*self._stopwords.get(word, ()), lang)
        self._authority_level = context.authority_block_level

    @classmethod
    def load(cls, registry_dir: Path | None = None) -> MarkingScanner:
        """Load the packaged registry (or ``registry_dir``); raises RegistryError on bad data."""
        registry = load_registry(registry_dir)
        try:
            return cls(registry)
        except Exception as exc:  # Hyperscan reports bad patterns with its own error type
            raise RegistryError(f"cannot compile the marking registry: {exc}") from exc

    def scan(self, text: str) -> ClassificationResult:
        return ClassificationResult(tuple(self._scan(text, _Mode())))

    # -- the rules -------------------------------------------------------------------------------------

    def _scan(self, text: str, mode: _Mode) -> list[MarkingHit]:
        candidates = self._automaton.scan(text)
        if mode.skip_before:
            candidates = [
                c for c in candidates if c.end > mode.skip_before or c.kind is CandidateKind.AUTHORITY
            ]
        if not candidates:
            return []
        doc = _Document(text, mode)
        found: list[_Found] = []
        authority: list[Candidate] = []
        declassified = False
        encodings: set[str] = set()
        reach = -1  # keep the longest accepted match: NATO SECRET, not the SECRET inside it
        for candidate in self._longest_first(c for c in candidates if c.kind is CandidateKind.MARKING):
            if candidate.end <= reach:
                continue
            if (item := self._marking(doc, candidate)) is not None:
                found.append(item)
                reach = item.hit.end
        for candidate in candidates:
            if candidate.kind is CandidateKind.PORTION:
                if (item := self._portion(doc, candidate)) is not None:
                    found.append(item)
            elif candidate.kind is CandidateKind.AUTHORITY:
                authority.append(candidate)
            elif candidate.kind is CandidateKind.DECLASSIFIED:
                declassified = True
            elif candidate.kind is CandidateKind.ENCODED:
                encodings.add(ENCODED_TRIGGERS[candidate.key][0])
        found.extend(self._authority_blocks(doc, authority))
        hits = self._corroborate(found, mode)
        if encodings and mode.depth < MAX_DEPTH:
            hits.extend(self._decoded(text, encodings, mode))
        if declassified and not mode.stream:
            hits = [replace(hit, kind="declassified", level="NU", rank=0, classified=False) for hit in hits]
        return sorted(hits, key=lambda hit: (hit.start, hit.end))

    @staticmethod
    def _longest_first(candidates: Iterable[Candidate]) -> list[Candidate]:
        """By start, longest first, so a rejected long match still lets the shorter one inside it count."""
        return sorted(candidates, key=lambda c: (c.start, -c.end))

    def _corroborate(self, found: list[_Found], mode: _Mode) -> list[MarkingHit]:
        strong = any(item.strong for item in found)
        weak_portions = sum(1 for item in found if not item.strong and item.hit.kind == "portion")
        hits = []
        for item in found:
            if item.strong or mode.stream or strong or (item.hit.kind == "portion" and weak_portions >= 2):
                hits.append(item.hit)
        return hits

    def _marking(self, doc: _Document, candidate: Candidate) -> _Found | None:
        text, start, end = doc.text, candidate.start, candidate.end
        if (start > 0 and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum()):
            return None
        group = self._groups[candidate.key]
        if not group.distinctive and _casing(text[start:end]) in ("lower", "title"):
            head = text[max(0, start - 48) : start].rstrip()
            if head[-1:] not in (":", "：", "-", "–"):
                return None  # fast path for prose: only a labelled stamp may use a lower-case common word
        line_start, line_end = doc.line_bounds(start, end)
        arriving = not doc.mode.final and line_end == len(text)
        if arriving and (line_end - line_start <= SHORT_LINE or end + 24 > len(text)):
            return None  # still arriving: decided on a later push, the guard holds this text back
        if text[end : end + 1] == "!" and any(x.endswith("!") for o in group.options for x in o.exact):
            end += 1  # Hungarian strings carry the exclamation mark ("TITKOS!")
            line_start, line_end = doc.line_bounds(start, end)
        original = text[start:end]
        prefix, suffix = text[line_start:start], text[end:line_end]
        line_length = line_end - line_start
        decided = self._context_kind(doc, group, original, prefix, suffix, line_start, line_length, start)
        if decided is None:
            return None
        kind, strong = decided
        option = self._resolve(doc, group, original, start)
        entry = option.entry
        hit = MarkingHit(
            start=start,
            end=end,
            marking=entry.name,
            scheme=option.scheme.scheme,
            level=entry.level,
            rank=NATO_LEVELS[entry.level],
            kind=kind,
            classified=entry.classified,
            evasion=_evasion(original, min(option.exact, key=len)),
        )
        return _Found(hit, strong)

    def _context_kind(
        self,
        doc: _Document,
        group: _Group,
        original: str,
        prefix: str,
        suffix: str,
        line_start: int,
        line_length: int,
        start: int,
    ) -> tuple[str, bool] | None:
        common = not group.distinctive
        casing = _casing(original)
        prefix, suffix = _visible(prefix), _visible(suffix)
        head = prefix.strip()
        tail = suffix.strip()
        if (
            head[-1:] in (":", "：", "-", "–")
            and line_length <= SHORT_LINE
            and len(head) <= 64
            and self._label.match(fold(head))
            and len(tail) <= 60
            and not self._discussion.search(suffix.casefold())
        ):
            return "stamp", True
        if common and casing in ("lower", "title"):
            return None
        if head.startswith("|") and (head + tail).count("|") >= 2:
            return None  # a table row: markings listed, not applied
        # In a business letter or a chat an ordinary word is a company or joking label: corroborate it.
        everyday = common and doc.everyday(self._everyday)
        edge = not everyday and line_start in doc.edge_lines(1)
        decorated_prefix = all(c in _DECORATION for c in head)
        tail_kind = self._tail(tail, suffix)
        if decorated_prefix and line_length <= SHORT_LINE:
            if head in _BULLETS and tail_kind == "":
                return None  # a list item, not a banner
            if tail_kind in ("", "controls"):
                if not common or "//" in tail or edge:
                    return "banner", True
                return "banner", False
            if tail_kind == "separated" and not self._discussion.search(suffix.casefold()):
                at_edge = edge or (not common and line_start in doc.edge_lines(3))
                return ("header_footer" if at_edge else "stamp"), not common or at_edge
        if (
            tail_kind in ("", "controls")
            and line_length <= SHORT_LINE
            and _FIELD_SEPARATED.search(prefix)
            and line_start in doc.edge_lines(3)
        ):
            return "header_footer", True
        if (
            casing == "upper"
            and re.match(r"\s*//\s*[A-Z]", suffix)
            and self._tail(suffix.split(" ")[0], suffix) == "controls"
            and (start == 0 or doc.text[start - 1] not in "\"'`“‘«")
            and not self._discussion.search(doc.text[max(0, start - 200) : start + 200].casefold())
        ):
            return "inline", True
        return None

    @staticmethod
    def _tail(tail: str, raw: str) -> str | None:
        """'' (nothing), 'controls' (//NOFORN, REL TO..., UK EYES ONLY), 'separated' (" - text"), or None."""
        core = tail.strip("".join(_DECORATION))
        if not core:
            return ""
        if len(core) <= 80 and _CONTROL_TAIL.match(core):
            tokens = set(re.split(r"[\s,/\-.()]+", core))
            if core.startswith("/") or tokens & _CONTROL_WORDS or any(t.startswith("SP") for t in tokens):
                return "controls"
        if _SEPARATOR.match(raw):
            return "separated"
        return None

    def _portion(self, doc: _Document, candidate: Candidate) -> _Found | None:
        text = doc.text
        line_start, line_end = doc.line_bounds(candidate.end - 1, candidate.end - 1)
        paren = text.find("(", line_start, candidate.end)
        inner = text[paren + 1 : candidate.end - 1]
        if paren < 0 or any(c.islower() for c in inner if c.isalpha()):
            return None
        rest = text[candidate.end : line_end]
        if not doc.mode.final and line_end == len(text) and len(rest) < 24:
            return None
        folded = re.sub(r"\s*//\s*", "//", fold(inner).upper().strip())
        code = "//" + folded[2:].split("//")[0].strip() if folded.startswith("//") else folded.split("//")[0]
        portion = self._portions.get(code.strip())
        if portion is None or not rest.strip() or self._glossary.match(rest):
            return None
        if code == "C" and re.match(r"\s*(?:\d{2,4}|copyright)", rest, re.IGNORECASE):
            return None
        simple = "//" not in folded and "-" not in code and len(code) <= 2
        if simple and len(code) == 1 and doc.enumerated:
            return None
        hit = MarkingHit(
            start=paren,
            end=candidate.end,
            marking=portion.marking,
            scheme=portion.scheme,
            level=portion.level,
            rank=NATO_LEVELS[portion.level],
            kind="portion",
            classified=portion.classified,
            evasion="homoglyph" if not inner.isascii() else None,
        )
        return _Found(hit, not simple)

    def _authority_blocks(self, doc: _Document, labels: list[Candidate]) -> list[_Found]:
        """Two of Classified By / Derived From / Declassify On on nearby lines make an authority block."""
        weighted = sorted((c for c in labels if self._authority_weights[c.key]), key=lambda c: c.end)
        blocks: list[_Found] = []
        index = 0
        while index < len(weighted):
            group = [weighted[index]]
            while (
                index + len(group) < len(weighted) and weighted[index + len(group)].end - group[-1].end < 400
            ):
                group.append(weighted[index + len(group)])
            index += len(group)
            if len({c.key for c in group}) < 2:
                continue
            start, _ = doc.line_bounds(group[0].end - 1, group[0].end - 1)
            _, end = doc.line_bounds(group[-1].end, group[-1].end)
            level = self._authority_level
            hit = MarkingHit(start, end, "CLASSIFICATION AUTHORITY BLOCK", "US", level, NATO_LEVELS[level],
                             "authority_block", True, None)  # fmt: skip
            blocks.append(_Found(hit, True))
        return blocks

    def _decoded(self, text: str, encodings: set[str], mode: _Mode) -> list[MarkingHit]:
        hits: list[MarkingHit] = []
        for block in find_encoded(text, encodings):
            if block.end <= mode.skip_before:
                continue
            if mode.budget[0] < len(block.decoded):
                break
            mode.budget[0] -= len(block.decoded)
            inner = _Mode(stream=False, final=True, at_start=True, depth=mode.depth + 1, budget=mode.budget)
            for hit in self._scan(block.decoded, inner):
                evasion = block.encoding if hit.evasion is None else f"{block.encoding}+{hit.evasion}"
                hits.append(replace(hit, start=block.start, end=block.end, evasion=evasion))
        return hits

    # -- which nation: RESERVADO is Secret in Spain and Restricted in Portugal ---------------------------

    def _resolve(self, doc: _Document, group: _Group, original: str, start: int) -> _Option:
        if len(group.options) == 1:
            return group.options[0]
        spelled = unicodedata.normalize("NFC", original).casefold()
        cached = doc.resolved.get((group.key, spelled))
        if cached is None:  # once per spelling and document, so repeated banners cost O(1) each
            cached = doc.resolved[(group.key, spelled)] = self._choose(doc, group, spelled, start)
        return cached

    def _choose(self, doc: _Document, group: _Group, spelled: str, start: int) -> _Option:
        options = list(group.options)
        exact = [o for o in options if spelled in o.exact]
        options = exact or options
        named = [o for o in options if any(w.casefold() in doc.folded for w in o.scheme.country_words)]
        options = named or options
        if len({o.scheme.scheme for o in options}) > 1:
            language = self._language(doc.text[max(0, start - 1500) : start + 1500])
            if language is not None:
                primary = [o for o in options if o.scheme.languages[0] == language]
                spoken = [o for o in options if language in o.scheme.languages]
                options = primary or spoken or options
        return max(options, key=lambda o: (NATO_LEVELS[o.entry.level], -o.scheme.priority, o.scheme.scheme))

    def _language(self, window: str) -> str | None:
        """Guess the language from stopwords; None when fewer than two are seen."""
        scores: dict[str, int] = {}
        for word in _WORD.findall(window.casefold()):
            for lang in self._stopwords.get(word, ()):
                scores[lang] = scores.get(lang, 0) + 1
        if not scores:
            return None
        best = max(scores, key=lambda lang: scores[lang])
        return best if scores[best] >= 2 else None
