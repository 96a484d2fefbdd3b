# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the fleet.cache collection: not a public API, it may change at any time.

Upkeep of a cache that is neither scanning nor removal: giving back to their owner the files
that ``sudo pip`` left owned by root in a user's cache, and moving a cache's content into a
new directory when the cache is relocated. Both work by descriptor: each folder is opened
relative to its parent's descriptor without following a link (``_cache_fd``), every change is
made through the open folder (``fchown``, ``*at`` calls), never by looking a path up again, and
neither leaves the cache's file system. Both have a dry run that takes the same path as the
real one. Standard library only.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

from ._cache_common import InvalidValue
from ._cache_fd import FD_SUPPORTED, open_dir_at, open_dir_nofollow
from ._cache_privilege import Identity, identity_of, is_root
from ._cache_walk import MAX_DEPTH, WalkErrors, list_dir

try:
    import pwd
except ImportError:  # pragma: no cover - Windows
    pwd = None  # type: ignore[assignment]

# What a move carries: pip's buckets and its version-check state. Anything else stays.
MOVED = ("http-v2", "http", "wheels", "selfcheck")
NOTE_CAP = 50

# A file opened only to be identified and given back (nothing is read): no link followed, no blocking on a FIFO,
# no terminal taken.
_CHECK_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_REPARSE_POINT = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0x400)
_SWAPPED = (errno.ELOOP, errno.ENOTDIR)


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


def _inside(path: str, folder: str) -> bool:
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
        if real_home and real_home != "/" and _inside(real, real_home) and real != real_home:
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
        elif error.errno in _SWAPPED:
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
            if error.errno in _SWAPPED:
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
        if info.st_uid != 0:
            return
        reason = _not_givable(info, device)
        if reason is not None:
            self.result.left_alone.add(path, reason)
            return
        try:
            fd = os.open(name, _CHECK_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno in _SWAPPED:
                self.result.left_alone.add(path, "changed into a link while the cache was walked: left as it is")
            else:
                self.result.errors.add(path, error)
            return
        try:
            # Decided on what was opened, not on the name: the name may point elsewhere by now.
            opened = os.fstat(fd)
            if opened.st_uid != 0:
                return
            reason = _not_givable(opened, device)
            if reason is not None:
                self.result.left_alone.add(path, reason)
                return
            self.result.entries += 1
            if not self.dry_run:
                os.fchown(fd, self.uid, self.gid)
        except OSError as error:
            self.result.errors.add(path, error)
        finally:
            os.close(fd)


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


@dataclass
class Move:
    """What moving one cache's content into another directory did (or would do)."""

    source: str
    destination: str
    files: int = 0
    bytes: int = 0
    duplicates: int = 0  # already in the destination: the source's copy is dropped
    dirs_removed: int = 0
    skipped: Optional[str] = None
    errors: WalkErrors = field(default_factory=WalkErrors)
    left_alone: LeftAlone = field(default_factory=LeftAlone)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "files": self.files,
            "bytes": self.bytes,
            "duplicates": self.duplicates,
            "dirs_removed": self.dirs_removed,
            "skipped": self.skipped,
            "errors": self.errors.items,
            "error_count": self.errors.count,
            "left_alone": self.left_alone.items,
            "left_alone_count": self.left_alone.count,
        }


def mover_of(path: str) -> tuple[Optional[Identity], Optional[str]]:
    """Whose privileges move the cache at ``path`` when this process is root: ``(identity, None)``.

    The owner of the folder, or of the nearest folder above it that root does not own (the user who could change
    what is in it: ``~`` for a ``~/.cache/pip`` that ``sudo pip`` left to root). ``(None, None)`` when root owns
    it all the way up (a shared ``/var/cache/pip``, root's own cache): root moves it, by descriptor.
    ``(None, reason)`` when the owner has no account: nothing may act for it.
    """
    if not is_root() or pwd is None:
        return None, None
    current = os.path.abspath(path)
    while True:
        try:
            info: Optional[os.stat_result] = os.lstat(current)
        except OSError:
            info = None
        if info is not None and info.st_uid != 0:
            break
        parent = os.path.dirname(current)
        if parent == current:
            return None, None
        current = parent
    try:
        entry = pwd.getpwuid(info.st_uid)
    except KeyError:
        return None, f"{current} belongs to uid {info.st_uid}, which has no account: nobody can move it for that uid, left alone"
    return identity_of(entry.pw_name, entry.pw_uid, entry.pw_gid), None


@dataclass
class _Folder:
    """A folder being worked in: its descriptor where the platform has them (every name relative to it), else its path."""

    path: str
    fd: Optional[int]

    def at(self, name: str) -> str:
        return name if self.fd is not None else os.path.join(self.path, name)

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(self.at(name), dir_fd=self.fd, follow_symlinks=False)

    def own_stat(self) -> os.stat_result:
        return os.fstat(self.fd) if self.fd is not None else os.lstat(self.path)

    def sub(self, name: str) -> _Folder:
        """A sub-folder, never through a link (nor, on Windows, a junction or other reparse point)."""
        path = os.path.join(self.path, name)
        if self.fd is not None:
            return _Folder(path, open_dir_at(name, self.fd))
        if _link_like(os.lstat(path)) or not os.path.isdir(path):
            raise OSError(errno.ENOTDIR, "not a folder, or a link", path)
        return _Folder(path, None)

    def listing(self) -> Iterable[os.DirEntry[str]]:
        return list_dir(self.path, self.fd)

    def mkdir(self, name: str, mode: int) -> None:
        os.mkdir(self.at(name), mode, dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        os.unlink(self.at(name), dir_fd=self.fd)

    def rmdir(self, name: str) -> None:
        os.rmdir(self.at(name), dir_fd=self.fd)

    def rename_into(self, name: str, other: _Folder) -> None:
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


def _link_like(info: os.stat_result) -> bool:
    """A link, or on Windows any reparse point (junction, mount point): moved as itself, never entered."""
    return stat.S_ISLNK(info.st_mode) or bool(getattr(info, "st_file_attributes", 0) & _REPARSE_POINT)


def _open_root(path: str) -> _Folder:
    if FD_SUPPORTED:
        return _Folder(path, open_dir_nofollow(path))
    info = os.lstat(path)
    if _link_like(info) or not stat.S_ISDIR(info.st_mode):
        raise OSError(errno.ENOTDIR, "not a folder, or a link", path)
    return _Folder(path, None)


def move_content(source: str, destination: str, *, dry_run: bool) -> Move:
    """Move pip's buckets from ``source`` into ``destination``, merging, without following links.

    Entries already in the destination win (pip names them by URL hash or link hash, so the same
    name is the same entry) and the source's copy goes. Both trees are held by descriptor: every
    rename, unlink and rmdir is relative to a folder that was opened without following a link, the
    source's walk stays on its file system, and a folder swapped for a link is never entered. Files
    keep their owner, unless root moves them into a folder that belongs to one user other than root:
    then what is moved becomes theirs (a file with other hard links excepted). Folders the move makes in
    a shared destination (writable by its group or by all) get the destination's mode, so that the next
    user's move can add to them. Folders emptied by the move are removed; the source directory itself stays.
    Meant to run as the user whose cache ``source`` is (see ``mover_of``).
    """
    real_source = os.path.realpath(source)
    real_destination = os.path.realpath(destination)
    result = Move(real_source, real_destination)
    if real_source == real_destination:
        result.skipped = "already the destination"
        return result
    if _inside(real_destination, real_source) or _inside(real_source, real_destination):
        raise InvalidValue(f"cannot move {real_source} into {real_destination}: one is inside the other", option="cache_dir", path=real_destination)
    try:
        source_root = _open_root(real_source)
    except FileNotFoundError:
        result.skipped = "does not exist"
        return result
    except OSError as error:
        if error.errno in _SWAPPED:
            result.skipped = "not a folder, or a link is on the way to it (never followed): left alone"
        else:
            result.errors.add(real_source, error)
        return result
    try:
        try:
            destination_root: Optional[_Folder] = _open_root(real_destination)
        except FileNotFoundError:
            if not dry_run:
                raise InvalidValue("the destination folder does not exist", option="cache_dir", path=real_destination) from None
            destination_root = None
        except OSError as error:
            why = "it is not a folder, or a link is on the way to it" if error.errno in _SWAPPED else (error.strerror or str(error))
            raise InvalidValue(f"the destination folder cannot be used: {why}", option="cache_dir", path=real_destination) from None
        try:
            mover = _Mover(result, source_root, destination_root, dry_run=dry_run)
            for bucket in MOVED:
                mover.tree(source_root, destination_root, real_destination, bucket, depth=1)
        finally:
            if destination_root is not None:
                destination_root.close()
    finally:
        source_root.close()
    return result


class _Mover:
    """The descriptor walk behind ``move_content``."""

    def __init__(self, result: Move, source: _Folder, destination: Optional[_Folder], *, dry_run: bool) -> None:
        self.result = result
        self.dry_run = dry_run
        self.root = is_root()
        self.device = source.own_stat().st_dev
        info = destination.own_stat() if destination is not None else None
        self.owner: Optional[tuple[int, int]] = None
        self.shared_mode: Optional[int] = None
        if info is not None:
            if self.root and info.st_uid != 0:
                self.owner = (info.st_uid, info.st_gid)
            if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                self.shared_mode = stat.S_IMODE(info.st_mode)

    def tree(self, parent: _Folder, target_parent: Optional[_Folder], target_parent_path: str, name: str, *, depth: int) -> bool:
        """Move one folder's content; True when the source folder is gone (or would be)."""
        path = os.path.join(parent.path, name)
        target_path = os.path.join(target_parent_path, name)
        try:
            info = parent.lstat(name)
        except FileNotFoundError:
            return True
        except OSError as error:
            self.result.errors.add(path, error)
            return False
        if _link_like(info) or not stat.S_ISDIR(info.st_mode):
            return False  # a link or a file where pip keeps a folder: left alone
        try:
            folder = parent.sub(name)
        except FileNotFoundError:
            return True
        except OSError as error:
            if error.errno in _SWAPPED:
                error = OSError(error.errno, "changed into a link or a file while the cache was moved: left alone, never entered")
            self.result.errors.add(path, error)
            return False
        try:
            here = folder.own_stat()
            if here.st_dev != self.device:
                self.result.left_alone.add(path, "another file system is mounted here: not entered, nothing in it moved")
                return False
            if depth > MAX_DEPTH:
                self.result.left_alone.add(path, f"deeper than {MAX_DEPTH} levels: not entered")
                return False
            made, target = self._target_folder(target_parent, name, target_path, here)
            if not made:
                return False
            try:
                emptied = True
                try:
                    entries = folder.listing()
                except OSError as error:
                    self.result.errors.add(path, error)
                    return False
                for entry in entries:
                    emptied = self._entry(folder, target, target_path, entry.name, depth=depth) and emptied
                del entries
            finally:
                if target is not None:
                    target.close()
        finally:
            folder.close()
        if not emptied:
            return False
        if not self.dry_run:
            try:
                parent.rmdir(name)
            except FileNotFoundError:
                pass
            except OSError as error:
                self.result.errors.add(path, error)
                return False
        self.result.dirs_removed += 1
        return True

    def _target_folder(self, parent: Optional[_Folder], name: str, path: str, source_info: os.stat_result) -> tuple[bool, Optional[_Folder]]:
        """The destination's folder for ``name``, opened (made first in a real run); (False, None) when it cannot be used.
        (True, None) in a dry run when it does not exist yet."""
        if parent is None:
            return True, None
        try:
            return True, parent.sub(name)
        except FileNotFoundError:
            pass
        except OSError as error:
            if error.errno in _SWAPPED:
                error = OSError(error.errno, "not a folder, or a link (never followed): nothing is moved into it")
            self.result.errors.add(path, error)
            return False, None
        if self.dry_run:
            return True, None
        mode = self.shared_mode if self.shared_mode is not None else stat.S_IMODE(source_info.st_mode)
        made = True
        try:
            parent.mkdir(name, mode)
        except FileExistsError:
            made = False  # made by someone else meanwhile: used as it is
        except OSError as error:
            self.result.errors.add(path, error)
            return False, None
        try:
            folder = parent.sub(name)
        except OSError as error:
            self.result.errors.add(path, error)
            return False, None
        if made and folder.fd is not None:
            try:
                # Only on the folder this process made (the open one, checked by owner): never on one put there since.
                if os.fstat(folder.fd).st_uid == os.geteuid():
                    if self.shared_mode is not None:
                        os.fchmod(folder.fd, self.shared_mode)
                    if self.root:
                        uid, gid = self.owner or (source_info.st_uid, source_info.st_gid)
                        os.fchown(folder.fd, uid, gid)
            except OSError as error:
                self.result.errors.add(path, error)
        return True, folder

    def _entry(self, folder: _Folder, target: Optional[_Folder], target_path: str, name: str, *, depth: int) -> bool:
        """Move one listed entry; True when it is gone from the source (or would be)."""
        path = os.path.join(folder.path, name)
        try:
            info = folder.lstat(name)
        except FileNotFoundError:
            return True
        except OSError as error:
            self.result.errors.add(path, error)
            return False
        if stat.S_ISDIR(info.st_mode) and not _link_like(info):
            return self.tree(folder, target, target_path, name, depth=depth + 1)
        link = _link_like(info)
        if not (stat.S_ISREG(info.st_mode) or link):
            return False  # a socket or device in a cache is not pip's: left alone
        if target is not None:
            try:
                target.lstat(name)
                exists = True
            except FileNotFoundError:
                exists = False
            except OSError as error:
                self.result.errors.add(os.path.join(target_path, name), error)
                return False
            if exists:
                self.result.duplicates += 1
                if not self.dry_run:
                    try:
                        folder.unlink(name)
                    except FileNotFoundError:
                        pass
                    except OSError as error:
                        self.result.errors.add(path, error)
                        return False
                return True
        if not self.dry_run and target is not None:
            try:
                if not self._move_file(folder, target, name, info, path):
                    return False
            except FileNotFoundError:
                return True
            except OSError as error:
                self.result.errors.add(path, error)
                return False
        self.result.files += 1
        self.result.bytes += 0 if link else info.st_size
        return True

    def _move_file(self, folder: _Folder, target: _Folder, name: str, info: os.stat_result, path: str) -> bool:
        """Rename (or, across file systems, copy then unlink) one file or link; False when it was left alone."""
        held: Optional[int] = None
        if self.owner is not None and stat.S_ISREG(info.st_mode) and folder.fd is not None:
            # Root handing the file to the destination's owner: hold what is moved, so the owner is changed on it.
            try:
                held = folder.open_file(name, _CHECK_FLAGS)
            except OSError as error:
                if error.errno not in _SWAPPED:
                    raise
        try:
            try:
                folder.rename_into(name, target)
            except OSError as error:
                if error.errno != errno.EXDEV:
                    raise
                return self._copy(folder, target, name, info, path)
            if held is not None:
                opened = os.fstat(held)
                if stat.S_ISREG(opened.st_mode) and opened.st_nlink == 1 and self.owner is not None:
                    os.fchown(held, *self.owner)
                elif stat.S_ISREG(opened.st_mode):
                    self.result.left_alone.add(path, "has other hard links: moved, its owner left as it was")
            return True
        finally:
            if held is not None:
                os.close(held)

    def _copy(self, folder: _Folder, target: _Folder, name: str, info: os.stat_result, path: str) -> bool:
        """Another file system: copy through descriptors (a link as a link), then unlink the source."""
        if stat.S_ISLNK(info.st_mode):
            target.symlink(folder.readlink(name), name)
            folder.unlink(name)
            return True
        if _link_like(info):
            self.result.left_alone.add(path, "a junction or other reparse point cannot be carried to another volume: left alone")
            return False
        source_fd = folder.open_file(name, _READ_FLAGS)
        try:
            opened = os.fstat(source_fd)
            if not stat.S_ISREG(opened.st_mode):
                self.result.left_alone.add(path, "no longer a regular file: left alone")
                return False
            if self.root and opened.st_nlink != 1:
                self.result.left_alone.add(path, "has other hard links: not copied to another file system by root, left alone")
                return False
            copy_fd = target.open_file(name, _CREATE_FLAGS, 0o600)
            try:
                while True:
                    chunk = os.read(source_fd, 1 << 20)
                    if not chunk:
                        break
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(copy_fd, view) :]
                if target.fd is not None:
                    os.fchmod(copy_fd, stat.S_IMODE(opened.st_mode))
                    os.utime(copy_fd, ns=(opened.st_atime_ns, opened.st_mtime_ns))
                    if self.root:
                        os.fchown(copy_fd, *(self.owner or (opened.st_uid, opened.st_gid)))
            except BaseException:
                os.close(copy_fd)
                try:
                    target.unlink(name)
                except OSError:
                    pass
                raise
            os.close(copy_fd)
            if target.fd is None:
                copied = os.path.join(target.path, name)
                os.utime(copied, ns=(opened.st_atime_ns, opened.st_mtime_ns))
        finally:
            os.close(source_fd)
        folder.unlink(name)
        return True
