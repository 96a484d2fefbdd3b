# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Giving back to their owner the files that ``sudo pip`` left owned by root in a user's cache.

The walk works by descriptor: each folder is opened relative to its parent's descriptor without following a link
(``fd.py``), every change is made through the open folder (``fchown``, ``*at`` calls), never by looking a path up
again, and it does not leave the cache's file system. The dry run takes the same path as the real one.
Standard library only.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

from .entries import list_dir
from .fd import FD_SUPPORTED, open_dir_at, open_dir_nofollow
from .walk import MAX_DEPTH, WalkErrors

NOTE_CAP = 50

# A file opened only to be identified and given back (nothing is read): no link followed, no blocking on a FIFO,
# no terminal taken.
CHECK_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
SWAPPED = (errno.ELOOP, errno.ENOTDIR)  # what opening a component swapped for a link or a file fails with


class LeftAlone:
    """Entries a walk saw and deliberately did not act on, with why: capped in detail, counted in full."""

    def __init__(self) -> None:
        self.count = 0
        self.items: list[dict[str, str]] = []

    def add(self, path: str, reason: str) -> None:
        self.count += 1
        if len(self.items) < NOTE_CAP:
            self.items.append({"path": path, "reason": reason})


@dataclass
class Ownership:
    """Entries given back to their owner (or, in a dry run, that would be)."""

    cache_dir: str
    user: str
    entries: int = 0
    skipped: Optional[str] = None  # why this cache was left alone
    errors: WalkErrors = field(default_factory=WalkErrors)
    left_alone: LeftAlone = field(default_factory=LeftAlone)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cache_dir": self.cache_dir,
            "user": self.user,
            "entries": self.entries,
            "skipped": self.skipped,
            "errors": self.errors.items,
            "left_alone": self.left_alone.items,
            "left_alone_count": self.left_alone.count,
        }


def inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def give_back(cache_dir: str, *, user: str, uid: int, gid: int, home: str, dry_run: bool) -> Ownership:
    """Give ``user`` back what root owns in their cache: the tree, and the folders between it and the home.

    Acts only on a cache the user owns: one reached from their home folder on the home's file system, or whose
    folder (as opened, not as named) is theirs already. A shared cache (owned by root, several users in it) is
    left alone. Runs as root, by descriptor: folders are changed with ``fchown`` on their open descriptor, files
    only once opened without following a link and seen to be regular, owned by root, on the cache's file system
    and with no other hard link; links, other file systems and anything that changed under the walk are left
    alone and reported.
    """
    result = Ownership(cache_dir, user)
    if uid == 0:
        result.skipped = "root's own cache: nothing to give back"
        return result
    if not FD_SUPPORTED:
        result.skipped = "owners are given back by descriptor only, which this platform does not offer"
        return result
    giver = _Giver(result, uid=uid, gid=gid, dry_run=dry_run)
    real = os.path.realpath(cache_dir)
    fd = giver.open_cache(real, os.path.realpath(home) if home else "")
    if fd is None:
        return result
    try:
        giver.walk(fd, real)
    finally:
        os.close(fd)
    return result


class _Giver:
    """The descriptor walk behind ``give_back``."""

    def __init__(self, result: Ownership, *, uid: int, gid: int, dry_run: bool) -> None:
        self.result = result
        self.uid = uid
        self.gid = gid
        self.dry_run = dry_run

    # Reaching the cache -----------------------------------------------------------------------
    def open_cache(self, real: str, real_home: str) -> Optional[int]:
        """The cache folder's descriptor when it is this user's to repair; None (with the reason) otherwise.

        On the way from the home, the folders between it and the cache are given back too (``~/.cache`` after
        ``sudo pip`` with HOME kept: pip checks the first one that exists).
        """
        fd: Optional[int] = None
        if real_home and real_home != "/" and inside(real, real_home) and real != real_home:
            fd, decided = self._open_through_home(real, real_home)
            if fd is None or decided:
                return fd
        else:
            try:
                fd = open_dir_nofollow(real)
            except OSError as error:
                self._not_opened(real, error)
                return None
        if os.fstat(fd).st_uid != self.uid:
            os.close(fd)
            self.result.skipped = f"not in {self.result.user}'s home folder and not owned by {self.result.user}: a shared cache is left alone"
            return None
        return fd

    def _open_through_home(self, real: str, real_home: str) -> tuple[Optional[int], bool]:
        """(descriptor, True) for a cache reached from the home on the home's file system: the user's by place.
        (descriptor, False) when it lies on another file system: its owner decides. (None, True) when it cannot be
        reached; the reason is in the result."""
        try:
            fd = open_dir_nofollow(real_home)
        except OSError as error:
            self._not_opened(real_home, error)
            return None, True
        try:
            home_device = os.fstat(fd).st_dev
            parts = os.path.relpath(real, real_home).split(os.sep)
            path = real_home
            same_device = True
            for index, part in enumerate(parts):
                path = os.path.join(path, part)
                try:
                    child = open_dir_at(part, fd)
                except OSError as error:
                    self._not_opened(path, error)
                    return None, True
                os.close(fd)
                fd = child
                info = os.fstat(fd)
                same_device = same_device and info.st_dev == home_device
                if index < len(parts) - 1 and same_device:
                    self._give_folder(fd, info, path)
        except BaseException:
            os.close(fd)
            raise
        return fd, same_device

    def _not_opened(self, path: str, error: OSError) -> None:
        if isinstance(error, FileNotFoundError):
            self.result.skipped = "does not exist"
        elif error.errno in SWAPPED:
            self.result.skipped = f"{path} is not a folder, or is a link (never followed): left alone"
        else:
            self.result.errors.add(path, error)

    # The walk ---------------------------------------------------------------------------------
    def walk(self, top_fd: int, top_path: str) -> None:
        """Depth first from the open cache folder; memory holds one listing per level, never the whole tree."""
        top = os.fstat(top_fd)
        device = top.st_dev
        self._give_folder(top_fd, top, top_path)
        # (descriptor, path, what is left of its listing, depth); the top's descriptor is the caller's.
        stack: list[tuple[int, str, Iterator[os.DirEntry[str]], int]] = [(top_fd, top_path, iter(self._list(top_fd, top_path)), 0)]
        try:
            while stack:
                fd, path, entries, depth = stack[-1]
                entry = next(entries, None)
                if entry is None:
                    stack.pop()
                    if fd != top_fd:
                        os.close(fd)
                    continue
                child_path = os.path.join(path, entry.name)
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    is_dir = False
                if not is_dir:
                    self._give_entry(fd, entry.name, child_path, device)
                    continue
                child = self._enter(fd, entry.name, child_path, device, depth + 1)
                if child is not None:
                    stack.append((child, child_path, iter(self._list(child, child_path)), depth + 1))
        finally:
            for fd, _path, _entries, _depth in stack:
                if fd != top_fd:
                    os.close(fd)

    def _list(self, fd: int, path: str) -> Iterable[os.DirEntry[str]]:
        try:
            return list_dir(path, fd)
        except FileNotFoundError:
            return []
        except OSError as error:
            self.result.errors.add(path, error)
            return []

    def _enter(self, parent_fd: int, name: str, path: str, device: int, depth: int) -> Optional[int]:
        """Open a listed sub-folder relative to its parent, give it back, and return its descriptor to walk."""
        try:
            fd = open_dir_at(name, parent_fd)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno in SWAPPED:
                # Swapped for a link or a file since it was listed: never entered; as an entry it is checked like any other.
                self._give_entry(parent_fd, name, path, device)
            else:
                self.result.errors.add(path, error)
            return None
        try:
            info = os.fstat(fd)
            if info.st_dev != device:
                self.result.left_alone.add(path, "another file system is mounted here: not entered, nothing in it changed")
            elif depth > MAX_DEPTH:
                self.result.left_alone.add(path, f"deeper than {MAX_DEPTH} levels: not entered")
            else:
                self._give_folder(fd, info, path)
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        return None

    # Giving back ------------------------------------------------------------------------------
    def _give_folder(self, fd: int, info: os.stat_result, path: str) -> None:
        """A folder, through its open descriptor: only when root owns it."""
        if info.st_uid != 0:
            return
        self.result.entries += 1
        if self.dry_run:
            return
        try:
            os.fchown(fd, self.uid, self.gid)
        except OSError as error:
            self.result.errors.add(path, error)

    def _give_entry(self, dir_fd: int, name: str, path: str, device: int) -> None:
        """Anything but a folder, inside the open folder ``dir_fd``: only a regular file root owns, with one link."""
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        except OSError as error:
            self.result.errors.add(path, error)
            return
        if not self._givable(info, device, path):
            return
        try:
            fd = os.open(name, CHECK_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno in SWAPPED:
                self.result.left_alone.add(path, "changed into a link while the cache was walked: left as it is")
            else:
                self.result.errors.add(path, error)
            return
        try:
            # Decided on what was opened, not on the name: the name may point elsewhere by now.
            if not self._givable(os.fstat(fd), device, path):
                return
            self.result.entries += 1
            if not self.dry_run:
                os.fchown(fd, self.uid, self.gid)
        except OSError as error:
            self.result.errors.add(path, error)
        finally:
            os.close(fd)

    def _givable(self, info: os.stat_result, device: int, path: str) -> bool:
        """Whether an entry is root's and may be given back; for one of root's that may not, the reason is recorded."""
        if info.st_uid != 0:
            return False
        reason = _not_givable(info, device)
        if reason is not None:
            self.result.left_alone.add(path, reason)
        return reason is None


def _not_givable(info: os.stat_result, device: int) -> Optional[str]:
    """Why an entry root owns is not given back (None when it is): only the user's own regular files are."""
    if stat.S_ISLNK(info.st_mode):
        return "a link owned by root: left as it is (a link is never followed, and pip makes none)"
    if stat.S_ISDIR(info.st_mode):
        return "became a folder while the cache was walked: left as it is"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file: left as it is"
    if info.st_dev != device:
        return "on another file system: left as it is"
    if info.st_nlink != 1:
        return "has other hard links, so it is not the user's file alone: left as it is"
    return None


# Relocation ---------------------------------------------------------------------------------
