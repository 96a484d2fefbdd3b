# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""A folder worked in by descriptor where the platform has them (every name relative to it), else by path.

Never entered through a link (nor, on Windows, a junction or other reparse point). Standard library only.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Optional

from .entries import list_dir
from .fd import FD_SUPPORTED, open_dir_at, open_dir_nofollow

REPARSE_POINT = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0x400)


@dataclass
class Folder:
    """A folder being worked in: its descriptor where the platform has them (every name relative to it), else its path."""

    path: str
    fd: Optional[int]

    def at(self, name: str) -> str:
        return name if self.fd is not None else os.path.join(self.path, name)

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(self.at(name), dir_fd=self.fd, follow_symlinks=False)

    def own_stat(self) -> os.stat_result:
        return os.fstat(self.fd) if self.fd is not None else os.lstat(self.path)

    def sub(self, name: str) -> Folder:
        """A sub-folder, never through a link (nor, on Windows, a junction or other reparse point)."""
        path = os.path.join(self.path, name)
        if self.fd is not None:
            return Folder(path, open_dir_at(name, self.fd))
        if link_like(os.lstat(path)) or not os.path.isdir(path):
            raise OSError(errno.ENOTDIR, "not a folder, or a link", path)
        return Folder(path, None)

    def listing(self) -> Iterable[os.DirEntry[str]]:
        return list_dir(self.path, self.fd)

    def mkdir(self, name: str, mode: int) -> None:
        os.mkdir(self.at(name), mode, dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        os.unlink(self.at(name), dir_fd=self.fd)

    def rmdir(self, name: str) -> None:
        os.rmdir(self.at(name), dir_fd=self.fd)

    def rename_into(self, name: str, other: Folder) -> None:
        os.rename(self.at(name), other.at(name), src_dir_fd=self.fd, dst_dir_fd=other.fd)

    def readlink(self, name: str) -> str:
        return os.readlink(self.at(name), dir_fd=self.fd)

    def symlink(self, target: str, name: str) -> None:
        os.symlink(target, self.at(name), dir_fd=self.fd)

    def open_file(self, name: str, flags: int, mode: int = 0o600) -> int:
        return os.open(self.at(name), flags, mode, dir_fd=self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def link_like(info: os.stat_result) -> bool:
    """A link, or on Windows any reparse point (junction, mount point): moved as itself, never entered."""
    return stat.S_ISLNK(info.st_mode) or bool(getattr(info, "st_file_attributes", 0) & REPARSE_POINT)


def open_root(path: str) -> Folder:
    if FD_SUPPORTED:
        return Folder(path, open_dir_nofollow(path))
    info = os.lstat(path)
    if link_like(info) or not stat.S_ISDIR(info.st_mode):
        raise OSError(errno.ENOTDIR, "not a folder, or a link", path)
    return Folder(path, None)
