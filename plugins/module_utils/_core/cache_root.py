# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Where no removal may happen (/, a file-system root, a home or system folder), and the cache folder opened once, checked.

The check on a path words a refusal early; the check on the folder opened (by descriptor, without following a
link) is the one that holds, because it reads the identity of what was opened. Standard library only.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Optional

from .errors import UnsafeCacheDir
from .fd import open_dir_nofollow
from .walk import _FD_MODE

SYSTEM_FOLDERS = frozenset(
    {
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/usr/local",
        "/var",
        "/var/cache",
        "/var/tmp",
        "/var/lib",
        "/Users",
        "/System",
        "/Library",
        "/Applications",
        "/private",
        "/private/tmp",
        "/private/var",
    }
)
"""Folders no cache can be: a removal refuses them."""


def _identities(homes: list[str]) -> dict[tuple[int, int], tuple[str, str]]:
    """(device, inode) of every folder a removal refuses, with its path and why."""
    found: dict[tuple[int, int], tuple[str, str]] = {}
    named = [(path, "a system folder") for path in sorted(SYSTEM_FOLDERS)] + [(home, "a home folder") for home in homes if home]
    for path, reason in [("/", "the root of the file system"), *named]:
        try:
            info = os.stat(path)
        except OSError:
            continue
        found.setdefault((info.st_dev, info.st_ino), (path, reason))
    return found


def _link_on_the_way(path: str) -> bool:
    """Whether any component of ``path`` is a symbolic link now (only to word a refusal: nothing is opened by it)."""
    current = path
    while True:
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return True
        except OSError:
            pass
        parent = os.path.dirname(current)
        if parent == current:
            return False
        current = parent


def open_cache_root(cache_dir: str, *, homes: Optional[list[str]]) -> Optional[int]:
    """Open the cache folder once, component by component without following a link, and check what was opened.

    The refusals (/, a file-system root, a home or system folder) are checked on the open folder's identity, so a
    folder swapped since ``check_cache_dir`` read the path cannot slip through; ``homes=None`` skips them
    (allow_unsafe_cache_dir). None when the cache does not exist, or where descriptors are not available (Windows).
    """
    if not _FD_MODE:
        return None
    try:
        fd = open_dir_nofollow(cache_dir)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR) and (not os.path.isdir(cache_dir) or not _link_on_the_way(cache_dir)):
            return None  # a file where a folder should be, or a dangling link: no cache there, as pip would find
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafeCacheDir(
                f"{cache_dir} (or a folder on the way to it) is no longer the folder that was resolved (a link or a file now): left alone",
                path=cache_dir,
            ) from None
        raise UnsafeCacheDir(f"cannot open {cache_dir}: {error.strerror or error}", path=cache_dir) from None
    if homes is None:
        return fd
    try:
        info = os.fstat(fd)
        refused = _identities(homes).get((info.st_dev, info.st_ino))
        if refused is None:
            parent = os.stat("..", dir_fd=fd)
            if parent.st_dev != info.st_dev or parent.st_ino == info.st_ino:
                refused = (cache_dir, "the root of a mounted file system")
        if refused is not None:
            where = "" if refused[0] == cache_dir else f" (the folder opened there is {refused[0]})"
            raise UnsafeCacheDir(f"refusing to delete from {cache_dir!r}{where}: it is {refused[1]}; left alone", path=cache_dir)
    except BaseException:
        os.close(fd)
        raise
    return fd


def unsafe_reason(cache_dir: str, *, homes: list[str]) -> Optional[tuple[str, str]]:
    """(real path, why) when ``cache_dir`` is no place for a cache: /, a filesystem root, a home or system folder."""
    real = os.path.realpath(cache_dir)
    if real in ("/", os.path.abspath(os.sep)) or os.path.dirname(real) == real:
        return real, "the root of the file system"
    if real in SYSTEM_FOLDERS or real.lower() in ("c:\\", "c:\\windows", "c:\\users", "c:\\program files", "c:\\programdata"):
        return real, "a system folder"
    for home in homes:
        if home and real == os.path.realpath(home):
            return real, "a home folder"
    try:
        if os.path.ismount(real):
            return real, "the root of a mounted file system"
    except OSError:
        pass
    return None
