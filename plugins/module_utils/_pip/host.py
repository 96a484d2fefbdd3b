# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""What pip sees of one user on one host, and the default folders pip's platformdirs derives from it.

pip reads its platform, environment, home folder, Windows known folders and whether a folder exists from the
running process; here each is an input (``HostContext``), so the rules of every platform (pip's utils/appdirs.py
and its vendored platformdirs, for Linux, macOS and Windows) run anywhere. Standard library only.
"""

from __future__ import annotations

import ntpath
import posixpath
import re
from dataclasses import dataclass
from typing import Optional

from .._core.errors import ConfigError
from .._core.host import PLATFORMS, Host

__all__ = ["PLATFORMS", "Host", "HostContext"]

_HOMEBREW_PYTHON = re.compile(r"(?P<prefix>.+)/opt/python[^/]*/Frameworks/Python\.framework/Versions/[^/]+")


@dataclass(frozen=True)
class HostContext(Host):
    """What pip would see when run by one user on one host: the host, and the interpreter whose pip it is."""

    sys_prefix: Optional[str] = None  # the interpreter's prefix: its site config file
    base_prefix: Optional[str] = None

    @property
    def config_basename(self) -> str:
        return "pip.ini" if self.platform == "win32" else "pip.conf"

    def pip_environ_items(self) -> list[tuple[str, str]]:
        """The PIP_* variables as pip's Configuration.get_environ_vars yields them."""
        items = []
        for key, value in self.environ.items():
            name = key.upper() if self.platform == "win32" else key
            if name.startswith("PIP_"):
                short = name[4:].lower()
                if short not in ("version", "help"):
                    items.append((short, value))
        return items

    def platformdirs_expand(self, path: str) -> str:
        """platformdirs' _expand_user: an empty HOME counts as unset."""
        if self.platform != "win32" and "HOME" in self.environ and not self.environ["HOME"]:
            if self.home is None:
                raise ConfigError(f"could not determine the home directory for {path!r}: HOME is empty and no home is known")
            return (self.home.rstrip("/") + path[1:]) or "/"
        expanded = self.expanduser(path)
        if expanded.startswith("~"):
            raise ConfigError(f"could not determine the home directory for {path!r}: set HOME or an absolute XDG variable")
        return expanded

    def win_folder(self, name: str) -> str:
        """A Windows known folder (LOCAL_APPDATA, APPDATA, COMMON_APPDATA), platformdirs' override first."""
        override = (self.getenv(f"WIN_PD_OVERRIDE_{name}") or "").strip()
        drive, tail = ntpath.splitdrive(override)
        if drive.startswith(("\\", "/")) or (bool(drive) and tail.startswith(("\\", "/"))):
            return ntpath.normpath(override)
        folder = self.windows_folders.get(name)
        if not folder:
            raise ConfigError(f"the Windows known folder {name} is not known for this user")
        return ntpath.normpath(folder)

    # Default directories, as pip's appdirs wrapper asks platformdirs for them.
    def user_cache_dir(self) -> str:
        if self.platform == "win32":
            return ntpath.join(self.win_folder("LOCAL_APPDATA"), "pip", "Cache")
        xdg = self._xdg_dir("XDG_CACHE_HOME")
        if xdg:
            return posixpath.join(xdg, "pip")
        if self.platform == "darwin":
            return posixpath.join(self.platformdirs_expand("~/Library/Caches"), "pip")
        return posixpath.join(self.platformdirs_expand("~/.cache"), "pip")

    def user_config_dir(self) -> str:
        if self.platform == "win32":
            return ntpath.join(self.win_folder("APPDATA"), "pip")
        if self.platform == "darwin":
            xdg_data = self._xdg_dir("XDG_DATA_HOME")
            data_dir = posixpath.join(xdg_data, "pip") if xdg_data else posixpath.join(self.platformdirs_expand("~/Library/Application Support"), "pip")
            if self.isdir(data_dir):
                return data_dir
            return self.expanduser("~/.config/pip")
        xdg = self._xdg_dir("XDG_CONFIG_HOME")
        if xdg:
            return posixpath.join(xdg, "pip")
        return posixpath.join(self.platformdirs_expand("~/.config"), "pip")

    def site_config_dirs(self) -> list[str]:
        if self.platform == "win32":
            return [ntpath.join(self.win_folder("COMMON_APPDATA"), "pip")]
        if self.platform == "darwin":
            xdg_dirs = self._xdg_dir_list("XDG_DATA_DIRS")
            if xdg_dirs:
                return [posixpath.join(path, "pip") for path in xdg_dirs]
            dirs = []
            match = _HOMEBREW_PYTHON.fullmatch(self.base_prefix or "")
            if match:
                dirs.append(posixpath.join(match["prefix"] + "/share", "pip"))
            dirs.append("/Library/Application Support/pip")
            return dirs
        xdg_dirs = self._xdg_dir_list("XDG_CONFIG_DIRS")
        dirs = [posixpath.join(path, "pip") for path in xdg_dirs] if xdg_dirs else ["/etc/xdg/pip"]
        return [*dirs, "/etc"]
