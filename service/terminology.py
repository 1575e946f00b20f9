"""Which clinical concepts a coding belongs to, from the ValueSets in ``fhir_profiles/``.

Loaded and indexed once at start-up; a lookup is a few dict probes, whatever the number
of codes. Matching follows how each code system is built:

- exact codes (``compose.include.concept``) for every system;
- ``is-a`` filters (``compose.include.filter``) on SKS, ICD-10 and ATC match the code and every
  code that starts with it, because in those systems a child code extends its parent's code
  (DM545 → DM545A; N02A → N02AX02). This is why SKS DG834 (cauda equina) is listed
  *exactly*: its sub-code DG834B is neurogenic claudication.

System URIs are normalised: the Danish SNOMED edition URI is SNOMED, both ICPC-2 URIs are one
system, both NPU URIs are one system, the HL7 OIDs of SNOMED CT, LOINC, ATC, ICD-10 and RxNorm
are those systems, an SKS code sent under the SKS root OID is read under its register (a D-code
is a diagnosis), and ICD-10 codes are compared without their dot. Each alias is recorded with its
public source in ``docs/terminology-sources.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SNOMED = "http://snomed.info/sct"
ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SKS_D = "urn:oid:1.2.208.176.2.4.12"
SKS_ROOT = "urn:oid:1.2.208.176.2.4"
ATC = "http://www.whocc.no/atc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NPU = "http://npu-terminology.org"
LOINC = "http://loinc.org"
VALUESET_PREFIX = "https://lbp-cds.org/fhir/ValueSet/"

_ALIASES = {
    "urn:oid:1.2.208.176.2.31": ICPC2,
    "urn:oid:2.16.840.1.113883.6.139": ICPC2,
    # NPU: DK Core <= 3.3, FUT and MedCom use the OID; DK Core >= 3.4.0 the URL.
    "urn:oid:1.2.208.176.2.1": NPU,
    # The HL7 OIDs of the international systems (Epic and EU IGs send these).
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "urn:oid:2.16.840.1.113883.6.1": LOINC,
    "urn:oid:2.16.840.1.113883.6.73": ATC,
    "urn:oid:2.16.840.1.113883.6.3": ICD10,
    "urn:oid:2.16.840.1.113883.6.88": RXNORM,
}
#: Systems whose hierarchy is a code prefix, so ``is-a`` can be answered by prefix.
PREFIX_SYSTEMS = frozenset({ICD10, SKS_D, SKS_ROOT, ATC})
#: Most distinct raw codings remembered by :meth:`Terminology.concepts_of`.
MEMO_SIZE = 20_000
#: SKS registers under the root OID, by the code's first letter (SKS codes start with their register).
_SKS_REGISTERS = {"D": SKS_D}


class TerminologyError(Exception):
    """A value set file is malformed; the message names the file and the problem."""


def normalise_system(system: str | None) -> str | None:
    if not system:
        return None
    system = system.strip().rstrip("/")
    if system.startswith(SNOMED + "/"):  # edition URI, e.g. the Danish edition .../554471000005108
        return SNOMED
    return _ALIASES.get(system, system)


def normalise_code(system: str | None, code: str | None) -> str | None:
    if not code or not isinstance(code, str):
        return None
    code = code.strip()
    if system in PREFIX_SYSTEMS:
        code = code.replace(".", "").upper()
    return code or None


@dataclass(frozen=True)
class Terminology:
    """The concept index: (system, code) → concept ids, exact and by prefix."""

    exact: Mapping[tuple[str, str], frozenset[str]]
    prefixes: Mapping[tuple[str, str], frozenset[str]]
    concepts: frozenset[str]
    #: Answers by the coding's raw ``(system, code)``: a record repeats a few lab and drug codes thousands
    #: of times. Bounded (cleared when full); a lost entry is only recomputed.
    _memo: dict[tuple[str | None, str | None], frozenset[str]] = field(
        default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, profiles_dir: Path, extra_dir: Path | None = None) -> Terminology:
        """Index ``profiles_dir/valuesets/*.json``, then add a site's ``extra_dir`` ValueSets."""
        builder = _Builder()
        for path in sorted((profiles_dir / "valuesets").glob("*.json")):
            builder.add_file(path, base=True)
        if not builder.concepts:
            raise TerminologyError(f"{profiles_dir}: no ValueSets found in valuesets/")
        if extra_dir is not None:
            if not extra_dir.is_dir():
                raise TerminologyError(f"{extra_dir}: LBP_CDS_EXTRA_VALUESETS is not a folder")
            for path in sorted(extra_dir.glob("*.json")):
                builder.add_file(path, base=False)
        return builder.build()

    def concepts_of(self, system: str | None, code: str | None) -> frozenset[str]:
        """The concepts of one coding; empty when the coding is unknown or incomplete."""
        key = (system, code)
        try:
            return self._memo[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value where a string belongs: not a code
            return frozenset()
        found = self._lookup(system, code)
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = found
        return found

    def _lookup(self, system: str | None, code: str | None) -> frozenset[str]:
        system = normalise_system(system if isinstance(system, str) else None)
        code = normalise_code(system, code)
        if system is None or code is None:
            return frozenset()
        if system == SKS_ROOT:  # the same codes as the register's own OID (DK Core's $SKS slice)
            system = _SKS_REGISTERS.get(code[:1], SKS_ROOT)
        found = self.exact.get((system, code), frozenset())
        if system in PREFIX_SYSTEMS:
            for end in range(1, len(code) + 1):
                found = found | self.prefixes.get((system, code[:end]), frozenset())
        return found

    def concepts_in(self, codings: Iterable[Mapping[str, Any]]) -> frozenset[str]:
        """The union over FHIR Coding dicts; tolerates ``{}`` and missing keys."""
        found: frozenset[str] = frozenset()
        for coding in codings:
            if isinstance(coding, Mapping):
                found = found | self.concepts_of(coding.get("system"), coding.get("code"))
        return found

    def concept_ids(self) -> frozenset[str]:
        return self.concepts

    def codes(self, concept: str) -> list[tuple[str, str, str]]:
        """``(system, code, "exact" | "is-a")`` for a concept, for docs and tests."""
        out = [(s, c, "exact") for (s, c), ids in self.exact.items() if concept in ids]
        out += [(s, c, "is-a") for (s, c), ids in self.prefixes.items() if concept in ids]
        return sorted(out)


class _Builder:
    def __init__(self) -> None:
        self.exact: dict[tuple[str, str], set[str]] = {}
        self.prefixes: dict[tuple[str, str], set[str]] = {}
        self.concepts: set[str] = set()

    def add_file(self, path: Path, *, base: bool) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TerminologyError(f"{path.name}: not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("resourceType") != "ValueSet":
            raise TerminologyError(f"{path.name}: not a FHIR ValueSet (resourceType must be 'ValueSet')")
        concept = data.get("id") or str(data.get("url", "")).removeprefix(VALUESET_PREFIX)
        if not isinstance(concept, str) or not concept:
            raise TerminologyError(f"{path.name}: the ValueSet needs an id naming the concept it extends")
        if not base and concept not in self.concepts:
            raise TerminologyError(
                f"{path.name}: '{concept}' is not a concept of lbp-cds; an extra ValueSet must use the id of "
                f"one of fhir_profiles/valuesets (e.g. 'lumbar-mri')"
            )
        includes = (data.get("compose") or {}).get("include")
        if not isinstance(includes, list) or not includes:
            raise TerminologyError(f"{path.name}: compose.include must list at least one system")
        self.concepts.add(concept)
        for index, include in enumerate(includes):
            self._add_include(path, concept, index, include)

    def _add_include(self, path: Path, concept: str, index: int, include: Any) -> None:
        where = f"{path.name}: compose.include[{index}]"
        system = normalise_system(include.get("system")) if isinstance(include, dict) else None
        if system is None:
            raise TerminologyError(f"{where}: 'system' is missing")
        codes = include.get("concept") or []
        filters = include.get("filter") or []
        if not codes and not filters:
            raise TerminologyError(f"{where}: needs 'concept' codes or an 'is-a' filter")
        for item in codes:
            code = normalise_code(system, item.get("code") if isinstance(item, dict) else None)
            if code is None:
                raise TerminologyError(f"{where}: a concept has no code")
            self.exact.setdefault((system, code), set()).add(concept)
        for item in filters:
            if not isinstance(item, dict) or item.get("op") != "is-a":
                raise TerminologyError(f"{where}: only 'is-a' filters are supported")
            if system not in PREFIX_SYSTEMS:
                raise TerminologyError(f"{where}: 'is-a' is only supported for SKS, ICD-10 and ATC, not {system}")
            code = normalise_code(system, item.get("value"))
            if code is None:
                raise TerminologyError(f"{where}: the is-a filter has no value")
            self.prefixes.setdefault((system, code), set()).add(concept)

    def build(self) -> Terminology:
        return Terminology(
            exact={k: frozenset(v) for k, v in self.exact.items()},
            prefixes={k: frozenset(v) for k, v in self.prefixes.items()},
            concepts=frozenset(self.concepts),
        )
