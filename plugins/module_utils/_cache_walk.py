# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the fleet.cache collection: not a public API, it may change at any time.

One streaming, post-order walk of a cache bucket that never follows a symbolic link.

Each directory is opened relative to its parent's descriptor with O_NOFOLLOW where the
platform allows it, so a folder swapped for a link mid-walk is never entered and every
unlink happens inside the folder that was listed. Memory holds one listing per level of
depth, never the whole tree. Files that vanish mid-walk are skipped; other errors are
reported path by path and the walk goes on. Standard library only.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from typing import Callable, Optional

from ._cache_fd import DIR_FLAGS, FD_SUPPORTED

MAX_DEPTH = 64  # pip's layout is at most 6 levels below a bucket; deeper trees are hostile
ERROR_CAP = 50

_FD_MODE = FD_SUPPORTED  # descriptor-relative walks: every open, unlink and rmdir relative to a held folder


@dataclass
class FileItem:
    """A non-directory entry of a listed folder, as pip's os.walk classifies it."""

    name: str
    size: int  # st_size of a regular file; 0 for a link (pip counts links as 0 bytes)
    mtime: float
    is_link: bool
    counts_as_file: bool  # False for a link to a directory: os.walk lists those among folders


@dataclass
class Listing:
    """One folder during the walk: its files, and what its sub-folders left behind."""

    path: str
    depth: int
    files: list[FileItem]
    fd: Optional[int]
    errors: WalkErrors
    dry_run: bool
    removed_files: int = 0
    removed_bytes: int = 0
    removed_names: list[str] = field(default_factory=list)

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


# visit(listing, children_results) -> result for the parent. children_results pairs each
# sub-folder's name with what its own visit returned (None when it could not be read).
Visitor = Callable[[Listing, "list[tuple[str, object]]"], object]


def _open_dir(name: str, parent_fd: Optional[int], path: str) -> Optional[int]:
    if not _FD_MODE:
        return None
    if parent_fd is None:
        return os.open(path, DIR_FLAGS)
    return os.open(name, DIR_FLAGS, dir_fd=parent_fd)


def list_dir(path: str, fd: Optional[int]) -> list[os.DirEntry[str]]:
    """One folder's entries in name order (by its descriptor when given): the one place every walk lists a folder."""
    with os.scandir(fd if fd is not None else path) as iterator:
        return sorted(iterator, key=lambda entry: entry.name)


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


def _classify(entry: os.DirEntry[str], fd: Optional[int], path: str) -> tuple[str, Optional[FileItem]]:
    """('dir', None) for a real folder, ('file', item) otherwise; links (and Windows reparse points) are never followed.

    The folder test reads the listing's own file type (no system call where the file system gives one): only
    files are stat'ed, for their size and time.
    """
    if entry.is_dir(follow_symlinks=False):
        if WINDOWS and is_reparse_point(entry):
            return "file", FileItem(entry.name, 0, entry.stat(follow_symlinks=False).st_mtime, True, False)
        return "dir", None
    info = entry.stat(follow_symlinks=False)
    if stat.S_ISDIR(info.st_mode):  # a folder that replaced a file since the listing
        return "dir", None
    if stat.S_ISLNK(info.st_mode):
        try:
            target_is_dir = stat.S_ISDIR(os.stat(entry.name, dir_fd=fd).st_mode) if fd is not None else os.path.isdir(os.path.join(path, entry.name))
        except OSError:
            target_is_dir = False
        return "file", FileItem(entry.name, 0, info.st_mtime, True, not target_is_dir)
    return "file", FileItem(entry.name, info.st_size, info.st_mtime, False, True)


def walk(
    root: str,
    visit: Visitor,
    *,
    errors: WalkErrors,
    dry_run: bool = True,
    parent_fd: Optional[int] = None,
) -> object:
    """Walk ``root`` post-order and return what ``visit`` returned for it (None if unreadable or a link).

    With ``parent_fd`` (a held descriptor of the folder that holds ``root``), ``root`` is opened relative to it by its
    last component, so nothing on the way to it is looked up by path again. The walk stays on ``root``'s file system:
    a folder with another device number (a mount inside the cache) is reported and not entered.
    """
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
        fd = _open_dir(name, parent_fd, root)
    except OSError as error:
        if error.errno not in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            errors.add(root, error)
        return None
    try:
        device = os.fstat(fd).st_dev if fd is not None else info.st_dev
        return _walk_dir(root, fd, 0, visit, errors, dry_run, device)
    finally:
        if fd is not None:
            os.close(fd)


def _walk_dir(path: str, fd: Optional[int], depth: int, visit: Visitor, errors: WalkErrors, dry_run: bool, device: int) -> object:
    try:
        entries = list_dir(path, fd)
    except FileNotFoundError:
        return None
    except OSError as error:
        errors.add(path, error)
        return None
    files: list[FileItem] = []
    subdirs: list[str] = []
    for entry in entries:
        try:
            kind, item = _classify(entry, fd, path)
        except FileNotFoundError:
            continue
        except OSError as error:
            errors.add(os.path.join(path, entry.name), error)
            continue
        if kind == "dir":
            subdirs.append(entry.name)
        elif item is not None:
            files.append(item)
    del entries
    children: list[tuple[str, object]] = []
    for name in subdirs:
        child_path = os.path.join(path, name)
        if depth + 1 > MAX_DEPTH:
            errors.add(child_path, OSError(errno.ELOOP, f"deeper than {MAX_DEPTH} levels below the bucket: left alone"))
            children.append((name, None))
            continue
        try:
            child_fd = _open_dir(name, fd, child_path)
            child_device = os.fstat(child_fd).st_dev if child_fd is not None else os.lstat(child_path).st_dev
        except FileNotFoundError:
            continue
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                # Swapped for a link (or a file) since it was listed: never entered; the entry stays.
                errors.add(child_path, OSError(error.errno, "changed into a link or a file while the cache was walked: left alone"))
            else:
                errors.add(child_path, error)
            children.append((name, None))
            continue
        try:
            if child_device != device:
                errors.add(child_path, OSError(errno.EXDEV, "another file system is mounted here: left alone, never entered"))
                children.append((name, None))
                continue
            children.append((name, _walk_dir(child_path, child_fd, depth + 1, visit, errors, dry_run, device)))
        finally:
            if child_fd is not None:
                os.close(child_fd)
    return visit(Listing(path, depth, files, fd, errors, dry_run), children)


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
