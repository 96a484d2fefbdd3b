# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Project names and distribution file names as pip reads them: PEP 503 names, wheel and sdist file names.

Standard library only.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Optional

_NORMALIZE_RE = re.compile(r"[-_.]+")


def normalize_name(name: str) -> str:
    """PEP 503 normalised project name."""
    return _NORMALIZE_RE.sub("-", name).lower()


class WheelName(NamedTuple):
    """The parts of a wheel file name (PEP 427)."""

    name: str
    version: str
    build: str
    python: str
    abi: str
    platform: str

    @property
    def normalized(self) -> str:
        return normalize_name(self.name)


def parse_wheel_filename(filename: str) -> Optional[WheelName]:
    """Split ``name-version[-build]-python-abi-platform.whl``; None when it is not one."""
    if not filename.lower().endswith(".whl"):
        return None
    parts = filename[:-4].split("-")
    if len(parts) == 5:
        name, version, python, abi, platform = parts
        build = ""
    elif len(parts) == 6:
        name, version, build, python, abi, platform = parts
    else:
        return None
    if not name or not version:
        return None
    return WheelName(name, version, build, python, abi, platform)


_SDIST_RE = re.compile(r"^(?P<name>.+?)-(?P<version>\d[^-]*)\.(?:tar\.gz|zip|tar\.bz2|tar\.xz|tar|tgz)$", re.IGNORECASE)


def parse_sdist_filename(filename: str) -> Optional[tuple[str, str]]:
    """(name, version) of an sdist file name, None when it is not one."""
    match = _SDIST_RE.match(filename)
    if not match:
        return None
    return match.group("name"), match.group("version")
