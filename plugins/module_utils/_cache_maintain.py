# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the fleet.cache collection: not a public API, it may change at any time.

Upkeep of a cache that is neither scanning nor removal: giving back to their owner the files
that ``sudo pip`` left owned by root in a user's cache, and moving a cache's content into a
new directory when the cache is relocated. Neither follows a symbolic link; both have a dry
run that takes the same path as the real one. Standard library only.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from dataclasses import dataclass, field
from typing import Any, Optional

from ._cache_common import InvalidValue
from ._cache_walk import WalkErrors

# What a move carries: pip's buckets and its version-check state. Anything else stays.
MOVED = ("http-v2", "http", "wheels", "selfcheck")


@dataclass
class Ownership:
    """Entries given back to their owner (or, in a dry run, that would be)."""

    cache_dir: str
    user: str
    entries: int = 0
    skipped: Optional[str] = None  # why this cache was left alone
    errors: WalkErrors = field(default_factory=WalkErrors)

    def as_dict(self) -> dict[str, Any]:
        return {"cache_dir": self.cache_dir, "user": self.user, "entries": self.entries, "skipped": self.skipped, "errors": self.errors.items}


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def give_back(cache_dir: str, *, user: str, uid: int, gid: int, home: str, dry_run: bool) -> Ownership:
    """Give ``user`` back what root owns in their cache: the tree, and the folders between it and the home.

    Acts only on a cache the user owns: one inside their home folder, or whose directory is theirs
    already. A shared cache (owned by root, several users in it) is left alone.
    """
    result = Ownership(cache_dir, user)
    real = os.path.realpath(cache_dir)
    real_home = os.path.realpath(home) if home else ""
    in_home = bool(real_home) and real_home != "/" and _inside(real, real_home) and real != real_home
    try:
        top: Optional[os.stat_result] = os.lstat(real)
    except FileNotFoundError:
        top = None
    except OSError as error:
        result.errors.add(real, error)
        return result
    if not in_home and (top is None or top.st_uid != uid):
        result.skipped = f"not in {user}'s home folder and not owned by {user}: a shared cache is left alone" if top else "does not exist"
        return result

    def fix(path: str, info: os.stat_result) -> None:
        if info.st_uid != 0 or uid == 0:
            return
        result.entries += 1
        if dry_run:
            return
        try:
            os.lchown(path, uid, gid)
        except FileNotFoundError:
            pass
        except OSError as error:
            result.errors.add(path, error)

    # The folders between the home and the cache (~/.cache after `sudo pip` with HOME kept):
    # pip checks the first one that exists.
    if in_home:
        parent = os.path.dirname(real)
        while _inside(parent, real_home) and parent != real_home:
            try:
                fix(parent, os.lstat(parent))
            except OSError:
                pass
            parent = os.path.dirname(parent)
    if top is None:
        result.skipped = "does not exist"
        return result
    if stat.S_ISLNK(top.st_mode) or not stat.S_ISDIR(top.st_mode):
        result.skipped = "not a directory"
        return result
    fix(real, top)
    for root, dirs, files in os.walk(real, topdown=True, followlinks=False, onerror=lambda error: result.errors.add(error.filename or real, error)):
        for name in dirs + files:
            path = os.path.join(root, name)
            try:
                fix(path, os.lstat(path))
            except FileNotFoundError:
                continue
            except OSError as error:
                result.errors.add(path, error)
    return result


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
        }


def _copy_owner(source_info: os.stat_result, path: str, owner: Optional[tuple[int, int]]) -> None:
    if not hasattr(os, "lchown"):
        return
    uid, gid = owner if owner is not None else (source_info.st_uid, source_info.st_gid)
    try:
        os.lchown(path, uid, gid)
    except PermissionError:
        pass  # not root: what we create is ours, as it would be for pip


def move_content(source: str, destination: str, *, dry_run: bool) -> Move:
    """Move pip's buckets from ``source`` into ``destination``, merging, without following links.

    Entries already in the destination win (pip names them by URL hash or link hash, so the same
    name is the same entry) and the source's copy goes. Files keep their owner, unless the
    destination belongs to one user other than root: then what is moved becomes theirs.
    Folders emptied by the move are removed; the source directory itself stays.
    """
    real_source = os.path.realpath(source)
    real_destination = os.path.realpath(destination)
    result = Move(real_source, real_destination)
    if real_source == real_destination:
        result.skipped = "already the destination"
        return result
    if _inside(real_destination, real_source) or _inside(real_source, real_destination):
        raise InvalidValue(f"cannot move {real_source} into {real_destination}: one is inside the other", option="cache_dir", path=real_destination)
    if not os.path.isdir(real_source):
        result.skipped = "does not exist"
        return result
    owner: Optional[tuple[int, int]] = None
    try:
        info = os.stat(real_destination)
        if hasattr(os, "geteuid") and os.geteuid() == 0 and info.st_uid != 0:
            owner = (info.st_uid, info.st_gid)
    except FileNotFoundError:
        if not dry_run:
            raise InvalidValue("the destination folder does not exist", option="cache_dir", path=real_destination) from None
    for bucket in MOVED:
        _move_tree(os.path.join(real_source, bucket), os.path.join(real_destination, bucket), result, owner=owner, dry_run=dry_run)
    return result


def _move_tree(source: str, destination: str, result: Move, *, owner: Optional[tuple[int, int]], dry_run: bool) -> bool:
    """Move one folder's content; True when the source folder is gone (or would be)."""
    try:
        info = os.lstat(source)
    except FileNotFoundError:
        return True
    except OSError as error:
        result.errors.add(source, error)
        return False
    if not stat.S_ISDIR(info.st_mode):
        return False  # a link or a file where pip keeps a folder: left alone
    if not dry_run and not os.path.isdir(destination):
        try:
            os.mkdir(destination, stat.S_IMODE(info.st_mode))
            _copy_owner(info, destination, owner)
        except FileExistsError:
            pass
        except OSError as error:
            result.errors.add(destination, error)
            return False
    try:
        names = sorted(os.listdir(source))
    except OSError as error:
        result.errors.add(source, error)
        return False
    emptied = True
    for name in names:
        path = os.path.join(source, name)
        target = os.path.join(destination, name)
        try:
            entry = os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as error:
            result.errors.add(path, error)
            emptied = False
            continue
        if stat.S_ISDIR(entry.st_mode):
            emptied = _move_tree(path, target, result, owner=owner, dry_run=dry_run) and emptied
            continue
        if not (stat.S_ISREG(entry.st_mode) or stat.S_ISLNK(entry.st_mode)):
            emptied = False  # a socket or device in a cache is not pip's: left alone
            continue
        if os.path.lexists(target):
            result.duplicates += 1
            if not dry_run:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                except OSError as error:
                    result.errors.add(path, error)
                    emptied = False
            continue
        size = 0 if stat.S_ISLNK(entry.st_mode) else entry.st_size
        if not dry_run:
            try:
                _move_file(path, target, entry, owner)
            except FileNotFoundError:
                continue
            except OSError as error:
                result.errors.add(path, error)
                emptied = False
                continue
        result.files += 1
        result.bytes += size
    if not emptied:
        return False
    if not dry_run:
        try:
            os.rmdir(source)
        except FileNotFoundError:
            pass
        except OSError as error:
            result.errors.add(source, error)
            return False
    result.dirs_removed += 1
    return True


def _move_file(path: str, target: str, info: os.stat_result, owner: Optional[tuple[int, int]]) -> None:
    try:
        os.rename(path, target)
    except OSError as error:
        if error.errno != errno.EXDEV:  # another file system: copy, then unlink
            raise
        if stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(path), target)
        else:
            shutil.copy2(path, target, follow_symlinks=False)
        os.unlink(path)
    if owner is not None:
        _copy_owner(info, target, owner)
