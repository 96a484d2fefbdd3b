# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""What a tool sees of one user on one host: platform, environment, home, identity, working folder, Windows known
folders, and whether a path is a folder or exists. Every tool's resolver (``_pip.host``, ``_uv.host``) builds on it,
so the rules of every platform run anywhere: each is an input here, not read from the running process.
Standard library only.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

try:
    import pwd
except ImportError:  # Windows
    pwd = None  # type: ignore[assignment]

PLATFORMS = ("linux", "darwin", "win32")


@dataclass(frozen=True)
class Host:
    """What a tool would see when run by one user on one host."""

    platform: str
    environ: Mapping[str, str]
    home: Optional[str] = None  # the password database's home, used when HOME is unset or empty
    uid: Optional[int] = None  # effective uid of that user's tool (None: no ownership check)
    gids: tuple[int, ...] = ()
    cwd: str = "/"
    windows_folders: Mapping[str, str] = field(default_factory=dict)  # LOCAL_APPDATA, APPDATA, COMMON_APPDATA
    isdir: Callable[[str], bool] = os.path.isdir
    exists: Callable[[str], bool] = os.path.exists
    live: bool = False  # True: paths are on this machine, realpath and ownership checks touch the disk

    def __post_init__(self) -> None:
        if self.platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {PLATFORMS}, got {self.platform!r}")

    @property
    def path(self) -> Any:
        return ntpath if self.platform == "win32" else posixpath

    @property
    def devnull(self) -> str:
        return "nul" if self.platform == "win32" else "/dev/null"

    def getenv(self, name: str) -> Optional[str]:
        if self.platform == "win32":
            upper = name.upper()
            for key, value in self.environ.items():
                if key.upper() == upper:
                    return value
            return None
        return self.environ.get(name)

    def expanduser(self, path: str) -> str:
        """os.path.expanduser of that platform, with this context's environment."""
        if not path.startswith("~"):
            return path
        if self.platform == "win32":
            index = 1
            while index < len(path) and path[index] not in "\\/":
                index += 1
            profile = self.getenv("USERPROFILE")
            if profile is None:
                drive, home_path = self.getenv("HOMEDRIVE"), self.getenv("HOMEPATH")
                if home_path is None:
                    return path
                profile = (drive or "") + home_path
            if index != 1:  # ~otheruser
                target = path[1:index]
                if target != self.getenv("USERNAME"):
                    profile = ntpath.join(ntpath.dirname(profile), target)
            return profile + path[index:]
        index = path.find("/", 1)
        if index < 0:
            index = len(path)
        if index != 1:
            return path  # ~otheruser: the engine never needs it
        home = self.environ.get("HOME")
        if home is None:
            home = self.home
            if home is None:
                return path
        home = home.rstrip("/")
        return (home + path[index:]) or "/"

    def _xdg_dir(self, name: str) -> Optional[str]:
        value = (self.environ.get(name) or "").strip()
        return value if posixpath.isabs(value) else None

    def _xdg_dir_list(self, name: str) -> list[str]:
        parts = (self.environ.get(name) or "").split(":")
        return [part.strip() for part in parts if posixpath.isabs(part.strip())]


_POSIX_VARIABLE_RE = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)
_WINDOWS_VARIABLE_RE = re.compile(r"\$(\w+|\{[^}]*\})|%(\w+)%", re.ASCII)


def expand_for(context: Host, value: str) -> str:
    """A path option as the user ``context`` stands for would write it in a shell: ``$NAME`` and ``${NAME}`` (and
    ``%NAME%`` on Windows) from that user's environment, then ``~`` as that user's home (``~name`` as that account's);
    a variable that is not set is left as it is, as os.path.expandvars leaves it."""

    def variable(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        name = name[1:-1] if name.startswith("{") else name
        found = context.getenv(name)
        return match.group(0) if found is None else found

    pattern = _WINDOWS_VARIABLE_RE if context.platform == "win32" else _POSIX_VARIABLE_RE
    expanded = pattern.sub(variable, value) if ("$" in value or "%" in value) else value
    if context.platform != "win32" and expanded.startswith("~") and not expanded.startswith("~/") and expanded != "~" and pwd is not None:
        name, sep, rest = expanded[1:].partition("/")
        try:
            return pwd.getpwnam(name).pw_dir.rstrip("/") + sep + rest
        except KeyError:
            return expanded
    return context.expanduser(expanded)
