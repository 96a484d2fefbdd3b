# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The engine's typed errors: each says which option or path it is about, and the entry point turns it into a failure.

Standard library only.
"""

from __future__ import annotations

from typing import Any, Optional


class CacheError(Exception):
    """Base of every error the engine raises on purpose; the entry point turns it into the module's failure.

    ``details`` are more keys of that failure (what every user's entry says when no user could be handled).
    """

    def __init__(self, msg: str, *, option: Optional[str] = None, path: Optional[str] = None, details: Optional[dict[str, Any]] = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.option = option
        self.path = path
        self.details = dict(details or {})

    def __str__(self) -> str:
        parts = []
        if self.option and not self.msg.startswith(f"{self.option}="):  # "state=pruned needs ..." names its option already
            parts.append(f"{self.option}: ")
        parts.append(self.msg)
        if self.path and self.path not in self.msg:
            parts.append(f" (path: {self.path})")
        return "".join(parts)


class InvalidValue(CacheError):
    """An option's value cannot be used (wrong size string, pattern holding a path, ...)."""


class ConfigError(CacheError):
    """pip's configuration is one pip itself rejects (invalid boolean, unreadable file)."""


class UnsafeCacheDir(CacheError):
    """A cache directory the engine refuses to delete from (/, a home folder, a system folder)."""


class CacheDisabled(CacheError):
    """pip's cache is disabled for this user and command, so there is nothing to act on."""
