# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Moving a cache's content into a new directory when the cache is relocated, as root, by descriptor.

Each folder is opened relative to its parent's descriptor without following a link (``fd.py``), every change is
made through the open folder (``*at`` calls), never by looking a path up again, and the move does not leave the
cache's file system. The dry run takes the same path as the real one. Standard library only.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from .errors import InvalidValue
from .folder import Folder, link_like, open_root
from .ownership import CHECK_FLAGS, SWAPPED, LeftAlone, inside
from .privilege import Identity, identity_of, is_root
from .walk import MAX_DEPTH, WalkErrors

try:
    import pwd
except ImportError:  # pragma: no cover - Windows
    pwd = None  # type: ignore[assignment]

# What a move carries: pip's buckets and its version-check state. Anything else stays.
MOVED = ("http-v2", "http", "wheels", "selfcheck")

_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


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
    if inside(real_destination, real_source) or inside(real_source, real_destination):
        raise InvalidValue(f"cannot move {real_source} into {real_destination}: one is inside the other", option="cache_dir", path=real_destination)
    try:
        source_root = open_root(real_source)
    except FileNotFoundError:
        result.skipped = "does not exist"
        return result
    except OSError as error:
        if error.errno in SWAPPED:
            result.skipped = "not a folder, or a link is on the way to it (never followed): left alone"
        else:
            result.errors.add(real_source, error)
        return result
    try:
        try:
            destination_root: Optional[Folder] = open_root(real_destination)
        except FileNotFoundError:
            if not dry_run:
                raise InvalidValue("the destination folder does not exist", option="cache_dir", path=real_destination) from None
            destination_root = None
        except OSError as error:
            why = "it is not a folder, or a link is on the way to it" if error.errno in SWAPPED else (error.strerror or str(error))
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

    def __init__(self, result: Move, source: Folder, destination: Optional[Folder], *, dry_run: bool) -> None:
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

    def _lstat(self, folder: Folder, name: str) -> Union[os.stat_result, bool]:
        """The entry's own status; or, where there is none, whether the entry counts as gone from the source: True when
        it no longer exists, False after an error (recorded)."""
        try:
            return folder.lstat(name)
        except FileNotFoundError:
            return True
        except OSError as error:
            self.result.errors.add(os.path.join(folder.path, name), error)
            return False

    def tree(self, parent: Folder, target_parent: Optional[Folder], target_parent_path: str, name: str, *, depth: int) -> bool:
        """Move one folder's content; True when the source folder is gone (or would be)."""
        path = os.path.join(parent.path, name)
        target_path = os.path.join(target_parent_path, name)
        info = self._lstat(parent, name)
        if isinstance(info, bool):
            return info
        if link_like(info) or not stat.S_ISDIR(info.st_mode):
            return False  # a link or a file where pip keeps a folder: left alone
        try:
            folder = parent.sub(name)
        except FileNotFoundError:
            return True
        except OSError as error:
            if error.errno in SWAPPED:
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
        if not emptied or not self._remove(parent.rmdir, name, path):
            return False
        self.result.dirs_removed += 1
        return True

    def _remove(self, remove: Callable[[str], None], name: str, path: str) -> bool:
        """``remove(name)`` (a source folder's rmdir or unlink), but not in a dry run; False after an error (recorded).
        An entry already gone counts as removed."""
        if self.dry_run:
            return True
        try:
            remove(name)
        except FileNotFoundError:
            pass
        except OSError as error:
            self.result.errors.add(path, error)
            return False
        return True

    def _target_folder(self, parent: Optional[Folder], name: str, path: str, source_info: os.stat_result) -> tuple[bool, Optional[Folder]]:
        """The destination's folder for ``name``, opened (made first in a real run); (False, None) when it cannot be used.
        (True, None) in a dry run when it does not exist yet."""
        if parent is None:
            return True, None
        try:
            return True, parent.sub(name)
        except FileNotFoundError:
            pass
        except OSError as error:
            if error.errno in SWAPPED:
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

    def _entry(self, folder: Folder, target: Optional[Folder], target_path: str, name: str, *, depth: int) -> bool:
        """Move one listed entry; True when it is gone from the source (or would be)."""
        path = os.path.join(folder.path, name)
        info = self._lstat(folder, name)
        if isinstance(info, bool):
            return info
        if stat.S_ISDIR(info.st_mode) and not link_like(info):
            return self.tree(folder, target, target_path, name, depth=depth + 1)
        link = link_like(info)
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
                return self._remove(folder.unlink, name, path)
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

    def _move_file(self, folder: Folder, target: Folder, name: str, info: os.stat_result, path: str) -> bool:
        """Rename (or, across file systems, copy then unlink) one file or link; False when it was left alone."""
        held: Optional[int] = None
        if self.owner is not None and stat.S_ISREG(info.st_mode) and folder.fd is not None:
            # Root handing the file to the destination's owner: hold what is moved, so the owner is changed on it.
            try:
                held = folder.open_file(name, CHECK_FLAGS)
            except OSError as error:
                if error.errno not in SWAPPED:
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

    def _copy(self, folder: Folder, target: Folder, name: str, info: os.stat_result, path: str) -> bool:
        """Another file system: copy through descriptors (a link as a link), then unlink the source."""
        if stat.S_ISLNK(info.st_mode):
            target.symlink(folder.readlink(name), name)
            folder.unlink(name)
            return True
        if link_like(info):
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
