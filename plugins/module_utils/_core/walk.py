# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""One streaming, post-order walk of a cache bucket that never follows a link, and what each entry in it is.

Each directory is opened relative to its parent's descriptor with O_NOFOLLOW where the
platform allows it, so a folder swapped for a link mid-walk is never entered and every
unlink happens inside the folder that was listed. A visitor is told of each file and each
walked sub-folder as the folder's listing reaches it, and keeps counts, not lists: memory holds
one listing per level of depth (``entries.py``: a large folder streamed), never the whole tree.
Every entry is classified here, for every walk: a folder, a file, or a link (never followed,
0 bytes, no file when it points at a folder). Files that vanish mid-walk are skipped; other
errors are reported path by path and the walk goes on. Standard library only.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable, Optional

# Every walk lists a folder through this module's list_dir (one name to replace to reach them all, as tests do).
from .entries import close_entries, list_dir
from .fd import DIR_FLAGS, FD_SUPPORTED

MAX_DEPTH = 64  # pip's layout is at most 6 levels below a bucket; deeper trees are hostile
ERROR_CAP = 50
HOLD = 256  # files of one folder a visitor may keep for a later step before it lists the folder again instead

_FD_MODE = FD_SUPPORTED  # descriptor-relative walks: every open, unlink and rmdir relative to a held folder


@dataclass
class FileItem:
    """A non-directory entry of a listed folder, as pip's os.walk classifies it."""

    __slots__ = ("counts_as_file", "is_link", "mtime", "name", "size")  # one per file of every walk: quick to make, small

    name: str
    size: int  # st_size of a regular file; 0 for a link (pip counts links as 0 bytes)
    mtime: float
    is_link: bool
    counts_as_file: bool  # False for a link to a directory: os.walk lists those among folders


@dataclass
class Listing:
    """One folder during the walk: where it is, and how to act inside it (by its descriptor when there is one)."""

    path: str
    depth: int
    fd: Optional[int]
    errors: WalkErrors
    dry_run: bool

    def file_path(self, name: str) -> str:
        return os.path.join(self.path, name)

    def unlink(self, item: FileItem) -> bool:
        """Remove one file (a link only as a link); True when it is gone because of us."""
        if self.dry_run:
            return True
        try:
            if self.fd is not None:
                os.unlink(item.name, dir_fd=self.fd)
            else:
                os.unlink(self.file_path(item.name))
            return True
        except FileNotFoundError:
            return False
        except OSError as error:
            self.errors.add(self.file_path(item.name), error)
            return False

    def sibling(self, name: str) -> Optional[FileItem]:
        """The file ``name`` in this folder now, as the walk classifies it; None when it is not there or is a folder."""
        return file_at(name, self.fd, self.path)

    def files(self) -> Iterator[FileItem]:
        """The folder's files as they are now, listed again: the second pass over a folder too large to hold.
        Files that vanish are skipped; errors were reported by the first pass and are not reported twice."""
        try:
            entries = list_dir(self.path, self.fd)
        except OSError:
            return
        try:
            for entry in entries:
                try:
                    item = classify(entry, self.fd, self.path)
                except OSError:
                    continue
                if item is not None:
                    yield item
        finally:
            close_entries(entries)


class Held:
    """Files of one folder that a visitor keeps for a later step (those ``select`` takes, in listing order): in memory
    up to ``HOLD`` of them; past that only their count, and the later step lists the folder again (``Listing.files``)
    and takes what ``select`` takes there. Memory stays at ``HOLD`` files whatever the folder holds."""

    def __init__(self, listing: Listing, select: Callable[[FileItem], bool]) -> None:
        self.listing = listing
        self.select = select
        self.count = 0
        self._items: Optional[list[FileItem]] = []

    def add(self, item: FileItem) -> None:
        self.count += 1
        if self._items is not None:
            self._items.append(item)
            if len(self._items) > HOLD:
                self._items = None

    def __bool__(self) -> bool:
        return self.count > 0

    def __iter__(self) -> Iterator[FileItem]:
        if self._items is not None:
            return iter(list(self._items))
        return (item for item in self.listing.files() if self.select(item))


class FolderVisit:
    """What a visitor does in one folder, told entry by entry as the folder's listing streams: each file, and each
    sub-folder with what its own visit returned once it was walked (None when it could not be walked). ``done``
    returns what the folder's parent is told of it. The order is the listing's own, not the names' order."""

    def file(self, item: FileItem) -> None:
        """One file of the folder (a link included: never followed)."""

    def child(self, name: str, result: object) -> None:
        """One sub-folder, walked already."""

    def done(self) -> object:
        """The folder's listing ended: the result for the parent."""
        return None


# visit(listing) -> the FolderVisit that is told of the folder's entries; called once the folder is open and listed.
Visitor = Callable[[Listing], FolderVisit]


class WalkErrors:
    """Errors met during a walk, capped in detail, counted in full."""

    def __init__(self) -> None:
        self.count = 0
        self.items: list[dict[str, str]] = []

    def merge(self, other: WalkErrors) -> None:
        """Take in the errors another walk met."""
        self.count += other.count
        self.items.extend(other.items[: max(0, ERROR_CAP - len(self.items))])

    def add(self, path: str, error: BaseException) -> None:
        self.count += 1
        if len(self.items) < ERROR_CAP:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            self.items.append({"path": path, "error": reason})


def open_dir(name: str, parent_fd: Optional[int], path: str) -> Optional[int]:
    if not _FD_MODE:
        return None
    if parent_fd is None:
        return os.open(path, DIR_FLAGS)
    return os.open(name, DIR_FLAGS, dir_fd=parent_fd)


WINDOWS = os.name == "nt"
_REPARSE_POINT = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0x400)


def is_reparse_point(entry: os.DirEntry[str]) -> bool:
    """Windows: a junction, mount point or other reparse point, which ``is_dir(follow_symlinks=False)`` takes for a
    folder. The walks treat it as a link: removed as a link, never entered."""
    if not WINDOWS:
        return False
    return is_link_like(entry.stat(follow_symlinks=False))


def is_link_like(info: os.stat_result) -> bool:
    """A symbolic link, or on Windows any reparse point (a junction included): never followed, never entered."""
    if stat.S_ISLNK(info.st_mode):
        return True
    return WINDOWS and bool(getattr(info, "st_file_attributes", 0) & _REPARSE_POINT)


def classify(entry: os.DirEntry[str], fd: Optional[int], path: str) -> Optional[FileItem]:
    """None for a real folder, the file's item otherwise; links (and Windows reparse points) are never followed.

    The folder test reads the listing's own file type (no system call where the file system gives one): only
    files are stat'ed, for their size and time.
    """
    if entry.is_dir(follow_symlinks=False):
        if WINDOWS and is_reparse_point(entry):
            return FileItem(entry.name, 0, entry.stat(follow_symlinks=False).st_mtime, True, False)
        return None
    info = entry.stat(follow_symlinks=False)
    if not WINDOWS and stat.S_ISREG(info.st_mode):  # the common case, in short: no link, nor a Windows reparse point
        return FileItem(entry.name, info.st_size, info.st_mtime, False, True)
    return file_item(entry.name, info, fd, path)


def file_item(name: str, info: os.stat_result, fd: Optional[int], path: str) -> Optional[FileItem]:
    """The item of a file whose lstat is ``info``; None when it is a folder (one that replaced a file since the listing)."""
    if is_link_like(info):
        try:
            target_is_dir = stat.S_ISDIR(os.stat(name, dir_fd=fd).st_mode) if fd is not None else os.path.isdir(os.path.join(path, name))
        except OSError:
            target_is_dir = False
        return FileItem(name, 0, info.st_mtime, True, not target_is_dir)
    if stat.S_ISDIR(info.st_mode):
        return None
    return FileItem(name, info.st_size, info.st_mtime, False, True)


def file_at(name: str, fd: Optional[int], path: str) -> Optional[FileItem]:
    """The file ``name`` in the folder ``path`` now, as the walk classifies it (one lstat, relative to the folder's
    descriptor when ``fd`` is given); None when it is not there or is a folder."""
    try:
        info = os.lstat(name, dir_fd=fd) if fd is not None else os.lstat(os.path.join(path, name))
        return file_item(name, info, fd, path)
    except OSError:
        return None


def walk(
    root: str,
    visit: Visitor,
    *,
    errors: WalkErrors,
    dry_run: bool = True,
    parent_fd: Optional[int] = None,
) -> object:
    """Walk ``root`` and return what its folder visit's ``done`` returned (None if unreadable or a link).

    ``visit`` makes a ``FolderVisit`` for each folder; each sub-folder is walked, and its result told to its
    parent's visit, as the parent's listing reaches it, so a folder's ``done`` comes after all of its sub-folders'.

    With ``parent_fd`` (a held descriptor of the folder that holds ``root``), ``root`` is opened relative to it by its
    last component, so nothing on the way to it is looked up by path again. The walk stays on ``root``'s file system:
    a folder with another device number (a mount inside the cache) is reported and not entered.
    """
    opened = open_root(root, parent_fd, errors)
    if opened is None:
        return None
    fd, info = opened
    try:
        device = os.fstat(fd).st_dev if fd is not None else info.st_dev
        return _walk_dir(root, fd, 0, visit, errors, dry_run, device)
    finally:
        if fd is not None:
            os.close(fd)


def open_root(root: str, parent_fd: Optional[int], errors: WalkErrors) -> Optional[tuple[Optional[int], os.stat_result]]:
    """The folder a walk starts at, opened without following a link (relative to ``parent_fd`` when given): its
    descriptor (None without descriptors) and its lstat; None when it is gone, a link, no folder or unreadable
    (reported in ``errors`` unless it vanished or is a link)."""
    name = os.path.basename(root)
    try:
        info = os.lstat(name, dir_fd=parent_fd) if parent_fd is not None and _FD_MODE else os.lstat(root)
    except FileNotFoundError:
        return None
    except OSError as error:
        errors.add(root, error)
        return None
    if is_link_like(info) or not stat.S_ISDIR(info.st_mode):
        return None
    try:
        return open_dir(name, parent_fd, root), info
    except OSError as error:
        if error.errno not in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            errors.add(root, error)
        return None


GONE = object()  # a sub-folder that vanished before it could be opened: not told to the visitor at all


def _walk_dir(path: str, fd: Optional[int], depth: int, visit: Visitor, errors: WalkErrors, dry_run: bool, device: int) -> object:
    try:
        entries = list_dir(path, fd)
    except FileNotFoundError:
        return None
    except OSError as error:
        errors.add(path, error)
        return None
    try:
        folder = visit(Listing(path, depth, fd, errors, dry_run))
        for entry in entries:
            try:
                item = classify(entry, fd, path)
            except FileNotFoundError:
                continue
            except OSError as error:
                errors.add(os.path.join(path, entry.name), error)
                continue
            if item is not None:
                folder.file(item)
                continue
            result = walk_child(entry.name, path, fd, depth, visit, errors, dry_run, device)
            if result is not GONE:
                folder.child(entry.name, result)
    finally:
        close_entries(entries)
    failed = getattr(entries, "error", None)
    if failed is not None:  # listed only in part: what was seen was acted on, the folder itself is left alone
        if not isinstance(failed, FileNotFoundError):
            errors.add(path, failed)
        return None
    return folder.done()


def walk_child(name: str, path: str, fd: Optional[int], depth: int, visit: Visitor, errors: WalkErrors, dry_run: bool, device: int) -> object:
    """Walk one listed sub-folder: its visit's result, None when it cannot be walked, ``GONE`` when it vanished."""
    child_path = os.path.join(path, name)
    if depth + 1 > MAX_DEPTH:
        errors.add(child_path, OSError(errno.ELOOP, f"deeper than {MAX_DEPTH} levels below the bucket: left alone"))
        return None
    try:
        child_fd = open_dir(name, fd, child_path)
    except FileNotFoundError:
        return GONE
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            # Swapped for a link (or a file) since it was listed: never entered; the entry stays.
            errors.add(child_path, OSError(error.errno, "changed into a link or a file while the cache was walked: left alone"))
        else:
            errors.add(child_path, error)
        return None
    try:
        try:
            child_device = os.fstat(child_fd).st_dev if child_fd is not None else os.lstat(child_path).st_dev
        except FileNotFoundError:
            return GONE
        except OSError as error:
            errors.add(child_path, error)
            return None
        if child_device != device:
            errors.add(child_path, OSError(errno.EXDEV, "another file system is mounted here: left alone, never entered"))
            return None
        return _walk_dir(child_path, child_fd, depth + 1, visit, errors, dry_run, device)
    finally:
        if child_fd is not None:
            os.close(child_fd)


# What an rmdir of a folder the walk emptied came to. Another run (a second purge, a scheduled job) may remove the
# same folders at the same time, and a running pip may write into one again after it was listed.
REMOVED = "removed"  # this run removed it: counted
VANISHED = "vanished"  # another run removed it first (ENOENT): gone all the same, so its parent may go; not counted
KEPT = "kept"  # still there: pip refilled it (ENOTEMPTY, EEXIST on some systems), no error; or an error, reported


def _rmdir_failed(path: str, error: OSError, errors: WalkErrors) -> str:
    if error.errno == errno.ENOENT:
        return VANISHED
    if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
        return KEPT  # pip wrote into it since it was listed: it is pip's again, and that is no error
    errors.add(path, error)
    return KEPT


def remove_dir(listing: Listing, name: str) -> str:
    """rmdir one sub-folder of a listed folder: REMOVED, VANISHED or KEPT (see above)."""
    if listing.dry_run:
        return REMOVED
    try:
        if listing.fd is not None:
            os.rmdir(name, dir_fd=listing.fd)
        else:
            os.rmdir(listing.file_path(name))
        return REMOVED
    except OSError as error:
        return _rmdir_failed(listing.file_path(name), error, listing.errors)


def remove_root(path: str, *, dry_run: bool, errors: WalkErrors, parent_fd: Optional[int] = None) -> str:
    """rmdir a bucket folder itself (pip's clean-up removes an emptied bucket too), relative to ``parent_fd`` when held:
    REMOVED, VANISHED or KEPT, as ``remove_dir``."""
    if dry_run:
        return REMOVED
    try:
        if parent_fd is not None and _FD_MODE:
            os.rmdir(os.path.basename(path), dir_fd=parent_fd)
        else:
            os.rmdir(path)
        return REMOVED
    except OSError as error:
        return _rmdir_failed(path, error, errors)
