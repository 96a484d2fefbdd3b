# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""What uv sees of one user on one host, and the default folders uv derives from it.

uv takes its folders from the ``etcetera`` crate (``uv-dirs``): the "base" strategy (XDG on Linux *and* macOS,
the known folders on Windows) for the cache and the user configuration, the "native" one (``~/Library/Caches`` on
macOS) for the legacy cache folder it still honours when it exists. Each rule is written for every uv version the
engine knows; where versions differ, a ``version`` tuple picks the rule (default: the newest known uv).
Everything uv reads from the running process is an input (``Host``), so every platform's rules run anywhere.
Standard library only.
"""

from __future__ import annotations

import ntpath
import posixpath
from dataclasses import dataclass
from typing import Optional

from .._core.errors import ConfigError
from .._core.host import PLATFORMS, Host

__all__ = ["NEWEST_UV", "PLATFORMS", "UvHost", "parse_boolish"]

NEWEST_UV: tuple[int, ...] = (0, 13, 10)
"""The newest uv whose rules this engine knows: the default ``version``."""

# First uv version with each rule (from `git tag --contains` of the change in astral-sh/uv).
ETCETERA_DIRS = (0, 5, 0)  # user config dir and legacy cache dir from etcetera (before: dirs-sys, directories)
SYSTEMDRIVE_BACKSLASH = (0, 5, 6)  # %SYSTEMDRIVE%\ProgramData (before: the drive-relative C:ProgramData)
ETC_UV_EXISTS = (0, 5, 0)  # /etc/uv/uv.toml taken when it exists (before: only when it is a file)
NO_SYSTEM_CONFIG = (0, 11, 16)  # UV_NO_SYSTEM_CONFIG
XDG_CONFIG_DIRS_SKIP_EMPTY = (0, 13, 0)  # an empty XDG_CONFIG_DIRS entry is skipped (before: it ends the scan)

_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")


def parse_boolish(value: str) -> Optional[bool]:
    """clap's BoolishValueParser (and uv's parse_boolish_environment_variable): None when not a boolean."""
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


@dataclass(frozen=True)
class UvHost(Host):
    """What uv would see when run by one user on one host."""

    def is_file(self, path: str) -> bool:
        """Path::is_file: there, and not a folder (a folder that is a link's target counts as a folder)."""
        return bool(self.exists(path)) and not self.isdir(path)

    def uv_home(self) -> Optional[str]:
        """std::env::home_dir: HOME (USERPROFILE on Windows) when set and not empty, else the account's home."""
        value = self.getenv("USERPROFILE" if self.platform == "win32" else "HOME")
        return value if value else self.home

    def _xdg(self, name: str) -> Optional[str]:
        """etcetera's env_var_or_none: the variable when it is an absolute path (not stripped, not expanded)."""
        value = self.environ.get(name)
        return value if value and posixpath.isabs(value) else None

    def _windows_dir(self, variable: str, known_folder: str, fallback: tuple[str, ...]) -> Optional[str]:
        """etcetera's Windows strategy: the variable when not empty, else the known folder, else under the home.

        The strategy needs a home folder even when the variable is set (Windows::new fails without one)."""
        home = self.uv_home()
        if home is None:
            return None
        value = self.getenv(variable)
        if value:
            return value
        folder = self.windows_folders.get(known_folder)
        if folder:
            return folder
        return ntpath.join(home, *fallback)

    # --- the cache ------------------------------------------------------------------------------------------------

    def user_cache_dir(self) -> Optional[tuple[str, str]]:
        """uv_dirs::user_cache_dir (+ ``cache`` on Windows) and what decided it; None without a home folder."""
        if self.platform == "win32":
            base = self._windows_dir("LOCALAPPDATA", "LOCAL_APPDATA", ("AppData", "Local"))
            if base is None:
                return None
            source = "LOCALAPPDATA" if self.getenv("LOCALAPPDATA") else "default"
            return ntpath.join(base, "uv", "cache"), source
        home = self.uv_home()
        if home is None:
            return None  # Xdg::new fails without a home, even when XDG_CACHE_HOME is set
        xdg = self._xdg("XDG_CACHE_HOME")
        if xdg is not None:
            return posixpath.join(xdg, "uv"), "XDG_CACHE_HOME"
        return posixpath.join(home, ".cache", "uv"), "default"

    def legacy_cache_dir(self, version: tuple[int, ...] = NEWEST_UV) -> Optional[str]:
        """The legacy folder uv takes instead when it exists: ``~/Library/Caches/uv`` on macOS; on Windows before
        uv 0.5.0, the LocalAppData *known folder*'s ``uv\\cache`` (the directories crate ignored %LOCALAPPDATA%).
        On Linux, and on Windows since 0.5.0, it is the default folder itself: None here."""
        if self.platform == "darwin":
            home = self.uv_home()
            return posixpath.join(home, "Library", "Caches", "uv") if home is not None else None
        if self.platform == "win32" and version < ETCETERA_DIRS:
            folder = self.windows_folders.get("LOCAL_APPDATA")
            return ntpath.join(folder, "uv", "cache") if folder else None
        return None

    def default_cache_dir(self, version: tuple[int, ...] = NEWEST_UV) -> tuple[str, str]:
        """The cache folder uv takes when nothing sets one, and what decided it (uv-cache's Cache::from_settings)."""
        legacy = self.legacy_cache_dir(version)
        if legacy is not None and self.exists(self.path.join(self.cwd, legacy)):
            return legacy, "legacy default"
        found = self.user_cache_dir()
        if found is not None:
            return found
        return ".uv_cache", "no home folder (.uv_cache)"

    # --- configuration files --------------------------------------------------------------------------------------

    def user_config_file(self, version: tuple[int, ...] = NEWEST_UV) -> Optional[str]:
        """``uv/uv.toml`` in uv's user configuration folder; None when uv finds no such folder."""
        if self.platform == "win32":
            if version < ETCETERA_DIRS:
                folder = self.windows_folders.get("APPDATA")  # dirs-sys: the RoamingAppData known folder only
                base = folder or None
            else:
                base = self._windows_dir("APPDATA", "APPDATA", ("AppData", "Roaming"))
            return ntpath.join(base, "uv", "uv.toml") if base else None
        xdg = self._xdg("XDG_CONFIG_HOME")
        home = self.uv_home()
        if version >= ETCETERA_DIRS and home is None:
            return None  # Xdg::new fails without a home, even when XDG_CONFIG_HOME is set
        if xdg is not None:
            return posixpath.join(xdg, "uv", "uv.toml")
        return posixpath.join(home, ".config", "uv", "uv.toml") if home is not None else None

    def system_config_candidates(self, version: tuple[int, ...] = NEWEST_UV) -> list[str]:
        """The system files uv tries, in order; it reads the first one there (``system_config_file``).

        Unix: ``<dir>/uv/uv.toml`` for each XDG_CONFIG_DIRS entry (unset or empty: /etc/xdg; relative entries are
        taken relative to the working folder), then /etc/uv/uv.toml. Windows: %SYSTEMDRIVE%\\ProgramData\\uv\\uv.toml
        (none when SYSTEMDRIVE is unset)."""
        if self.platform == "win32":
            drive = self.getenv("SYSTEMDRIVE")
            if drive is None:
                return []
            if version < SYSTEMDRIVE_BACKSLASH:
                return [ntpath.join(drive, "ProgramData", "uv", "uv.toml")]  # "C:" + "ProgramData": drive-relative
            return [ntpath.join(drive + "\\", "ProgramData", "uv", "uv.toml")]
        value = self.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
        candidates = []
        for entry in value.split(":"):
            if not entry:
                if version >= XDG_CONFIG_DIRS_SKIP_EMPTY:
                    continue
                break  # take_while(non-empty): an empty entry ends the scan
            candidates.append(posixpath.join(entry, "uv", "uv.toml"))
        candidates.append("/etc/uv/uv.toml")
        return candidates

    def system_config_file(self, version: tuple[int, ...] = NEWEST_UV) -> Optional[str]:
        """The system file uv reads (the first candidate there), or None; UV_NO_SYSTEM_CONFIG is not applied here."""
        candidates = self.system_config_candidates(version)
        for path in candidates:
            absolute = self.path.join(self.cwd, path)
            last = self.platform != "win32" and path == candidates[-1]
            if last and version >= ETC_UV_EXISTS:
                if self.exists(absolute):  # Path::try_exists: a folder there counts (and fails to read)
                    return path
            elif self.is_file(absolute):
                return path
        return None

    def no_system_config(self, version: tuple[int, ...] = NEWEST_UV) -> bool:
        """UV_NO_SYSTEM_CONFIG (uv 0.11.16+): true skips the system file; a value that is not a boolean is an error."""
        if version < NO_SYSTEM_CONFIG:
            return False
        value = self.getenv("UV_NO_SYSTEM_CONFIG")
        if value is None:
            return False
        parsed = parse_boolish(value)
        if parsed is None:
            raise ConfigError(f"uv rejects UV_NO_SYSTEM_CONFIG={value!r}: expected a boolean (true/false, yes/no, on/off, 1/0)")
        return parsed
