# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Requirements and versions as pip reads them: PEP 503 names, PEP 440 versions and specifiers.

Project requirements as people write them (``PyYAML``, ``zope.interface``, ``requests<2.30``,
``numpy>=1.24,!=1.25.*``): a PEP 503 name and a PEP 440 version specifier, evaluated with the
standard library only (targets cannot be assumed to have ``packaging``). Pre-releases are
matched like any other version: a cache holds what it holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from .._core.errors import InvalidValue
from .names import normalize_name

_VERSION_RE = re.compile(
    r"""^\s*v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE_ORDER = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_INF = (float("inf"),)
_NEG = (-float("inf"),)


@dataclass(frozen=True)
class Version:
    epoch: int
    release: tuple[int, ...]
    pre: Optional[tuple[int, int]]
    post: Optional[int]
    dev: Optional[int]
    local: Optional[str]

    @property
    def public(self) -> Version:
        return Version(self.epoch, self.release, self.pre, self.post, self.dev, None)

    @property
    def base(self) -> tuple[int, tuple[int, ...]]:
        """Epoch and release, trailing zeros dropped: 2 and 2.0 are the same release."""
        release = list(self.release)
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        return self.epoch, tuple(release)

    @property
    def is_prerelease(self) -> bool:
        return self.pre is not None or self.dev is not None

    def key(self) -> tuple[object, ...]:
        release = list(self.release)
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        if self.pre is None and self.post is None and self.dev is not None:
            pre: tuple[float, ...] = _NEG
        elif self.pre is None:
            pre = _INF
        else:
            pre = (float(self.pre[0]), float(self.pre[1]))
        post: tuple[float, ...] = _NEG if self.post is None else (float(self.post),)
        dev: tuple[float, ...] = _INF if self.dev is None else (float(self.dev),)
        local: tuple[object, ...] = (
            () if self.local is None else tuple((1, int(part), "") if part.isdigit() else (0, 0, part) for part in re.split(r"[-_.]", self.local.lower()))
        )
        return (self.epoch, tuple(release), pre, post, dev, local)


def parse_version(text: str) -> Optional[Version]:
    match = _VERSION_RE.match(text)
    if not match:
        return None
    pre = None
    if match.group("pre_l"):
        pre = (_PRE_ORDER[match.group("pre_l").lower()], int(match.group("pre_n") or 0))
    post = None
    if match.group("post"):
        post = int(match.group("post_n1") or match.group("post_n2") or 0)
    dev = int(match.group("dev_n") or 0) if match.group("dev") else None
    return Version(
        int(match.group("epoch") or 0),
        tuple(int(part) for part in match.group("release").split(".")),
        pre,
        post,
        dev,
        match.group("local"),
    )


_SPEC_RE = re.compile(r"^\s*(~=|===|==|!=|<=|>=|<|>)\s*([^\s,;]+)\s*$")


@dataclass(frozen=True)
class Specifier:
    operator: str
    text: str

    def contains(self, candidate_text: str) -> bool:
        operator, text = self.operator, self.text
        if operator == "===":
            return candidate_text.strip().lower() == text.lower()
        candidate = parse_version(candidate_text)
        if candidate is None:
            return False
        if operator in ("==", "!=") and text.endswith(".*"):
            prefix = parse_version(text[:-2])
            if prefix is None:
                return False
            cand_release = list(candidate.release) + [0] * max(0, len(prefix.release) - len(candidate.release))
            equal = candidate.epoch == prefix.epoch and tuple(cand_release[: len(prefix.release)]) == prefix.release
            return equal if operator == "==" else not equal
        spec = parse_version(text)
        if spec is None:
            return False
        cand = candidate if spec.local is not None else candidate.public
        if operator == "==":
            return cand.key() == spec.key()
        if operator == "!=":
            return cand.key() != spec.key()
        if operator == "~=":
            if len(spec.release) < 2:
                return False
            prefix_text = ".".join(str(part) for part in spec.release[:-1]) + ".*"
            return Specifier(">=", text).contains(candidate_text) and Specifier("==", f"{spec.epoch}!{prefix_text}" if spec.epoch else prefix_text).contains(
                candidate_text
            )
        public = candidate.public
        if operator == "<=":
            return public.key() <= spec.key()
        if operator == ">=":
            return public.key() >= spec.key()
        if operator == "<":
            if public.key() >= spec.key():
                return False
            return spec.is_prerelease or not (public.is_prerelease and public.base == spec.base)
        if operator == ">":
            if public.key() <= spec.key():
                return False
            return not (spec.post is None and public.post is not None and public.base == spec.base and public.pre == spec.pre)
        return False


_NAME_RE = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$")


@dataclass(frozen=True)
class Requirement:
    """A project name with an optional version specifier set."""

    text: str
    name: str
    specifiers: tuple[Specifier, ...]

    @property
    def normalized(self) -> str:
        return normalize_name(self.name)

    def contains(self, version: Optional[str]) -> bool:
        if version is None or not self.specifiers:
            return True
        return all(specifier.contains(version) for specifier in self.specifiers)


def parse_requirement(text: str, *, option: str = "name") -> Requirement:
    """``requests<2.30`` -> Requirement; a clear error for anything that is not a requirement."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidValue("a project name cannot be empty", option=option)
    if "\x00" in text or "/" in text or "\\" in text:
        raise InvalidValue(f"{text!r} is not a project name: it holds a path or a NUL character", option=option)
    match = _NAME_RE.match(text)
    if not match:
        raise InvalidValue(f"{text!r} is not a project name with an optional version specifier such as 'requests<2.30'", option=option)
    name, _extras, rest = match.groups()
    rest = rest.split(";", 1)[0].strip()
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1]
    specifiers: list[Specifier] = []
    if rest:
        for part in rest.split(","):
            spec = _SPEC_RE.match(part)
            if not spec:
                raise InvalidValue(f"{text!r}: {part.strip()!r} is not a version specifier (use ==, !=, <, <=, >, >=, ~= or ===)", option=option)
            operator, version_text = spec.groups()
            if operator != "===" and parse_version(version_text[:-2] if version_text.endswith(".*") else version_text) is None:
                raise InvalidValue(f"{text!r}: {version_text!r} is not a PEP 440 version", option=option)
            if version_text.endswith(".*") and operator not in ("==", "!="):
                raise InvalidValue(f"{text!r}: a '.*' version is only allowed with == and !=", option=option)
            specifiers.append(Specifier(operator, version_text))
    return Requirement(text, name, tuple(specifiers))
