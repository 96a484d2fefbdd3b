# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Which wheels a pattern or a project name selects, with pip's rules (``pip cache list``/``remove``).

Standard library only.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Optional

from .._core.errors import InvalidValue
from .names import normalize_name, parse_wheel_filename


def pip_wheel_pattern(pattern: str) -> str:
    """pip's rule: a pattern with a hyphen gets ``*.whl``, one without gets ``-*.whl``."""
    return pattern + ("*.whl" if "-" in pattern else "-*.whl")


def check_glob_pattern(pattern: str, *, option: str = "pattern") -> str:
    """Reject what pip's pattern can never mean here: paths, NUL, empty strings."""
    if not isinstance(pattern, str) or not pattern:
        raise InvalidValue("a pattern must be a non-empty string", option=option)
    if "\x00" in pattern:
        raise InvalidValue("a pattern cannot hold a NUL character", option=option)
    if "/" in pattern or "\\" in pattern or pattern in (".", ".."):
        raise InvalidValue(f"{pattern!r} holds a path; a pattern matches wheel file names only, such as 'requests' or 'requests-2.*'", option=option)
    if len(pattern) > 512:
        raise InvalidValue("a pattern longer than 512 characters cannot match a wheel name", option=option)
    return pattern


def is_wheel_file(filename: str, *, case_insensitive: bool = False) -> bool:
    """A ``.whl`` file name; on Windows pip's fnmatch lowercases both sides, so ``.WHL`` counts too."""
    return (filename.lower() if case_insensitive else filename).endswith(".whl")


class NameMatcher:
    """Which wheel file names a request selects: pip's glob, or PEP 503 names with specifiers."""

    def __init__(self, *, glob: Optional[str] = None, requirements: Optional[list[Any]] = None, case_insensitive: bool = False) -> None:
        self.glob = pip_wheel_pattern(glob) if glob is not None else None
        self.requirements = requirements
        self.case_insensitive = case_insensitive

    def matches_filename(self, filename: str) -> bool:
        if self.glob is not None:
            if self.case_insensitive:
                return fnmatch.fnmatchcase(filename.lower(), self.glob.lower())
            return fnmatch.fnmatchcase(filename, self.glob)
        if self.requirements is not None:
            wheel = parse_wheel_filename(filename)
            if wheel is None:
                return False
            return self.matches_project(wheel.name, wheel.version)
        return True

    def matches_project(self, name: str, version: Optional[str]) -> bool:
        if self.requirements is None:
            return False
        normalized = normalize_name(name)
        for requirement in self.requirements:
            if requirement.normalized == normalized and (version is None or requirement.contains(version)):
                return True
        return False


PIP_ALL_WHEELS = NameMatcher(glob="*")
