# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Removal through descriptors, never following a link: its figures, its acts, and the end-of-folder rule.

What a tool's removal decides (which entries go) is the tool's; how they go is here. Every unlink and rmdir is
made relative to the descriptor of the folder that was listed (``_core/walk.py``), so a path the user can change
is never looked up again. A dry run and a real run take the same path; only the unlink and rmdir calls differ, so
check mode predicts exactly what a real run removes. Standard library only.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from .largest import GoneEntries
from .remove_share import walk_shared
from .units import human_size
from .walk import HOLD, REMOVED, VANISHED, FileItem, FolderVisit, Listing, Visitor, WalkErrors, is_link_like, remove_dir, remove_root, walk

_FIGURES = ("files", "dirs", "entries", "bytes", "extra_files", "extra_bytes", "spared_entries", "spared_bytes")


@dataclass
class Outcome:
    """What a removal did (or, in a dry run, would do).

    ``files`` and ``bytes`` are what the tool itself counts as removed (for pip, its "Files removed": the files the
    request selected). ``extra_files`` and ``extra_bytes`` are the files that go only because their folder goes with
    its entry (for pip, ``origin.json`` beside a wheel, and the legacy ``selfcheck.json``), which the tool removes
    too and counts none of. ``spared_entries`` and ``spared_bytes`` are the entries the request would have taken but
    left alone as younger than ``min_age`` (what a running tool may be writing or about to use).
    """

    files: int = 0
    dirs: int = 0
    entries: int = 0
    bytes: int = 0
    extra_files: int = 0
    extra_bytes: int = 0
    spared_entries: int = 0
    spared_bytes: int = 0
    gone: GoneEntries = field(default_factory=lambda: GoneEntries(100))
    errors: WalkErrors = field(default_factory=WalkErrors)
    warnings: list[str] = field(default_factory=list)

    def figures(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in _FIGURES)

    def add_figures(self, figures: tuple[int, ...]) -> None:
        for name, value in zip(_FIGURES, figures):
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "dirs": self.dirs,
            "entries": self.entries,
            "bytes": self.bytes,
            "freed": human_size(self.bytes),
            "extra_files": self.extra_files,
            "extra_bytes": self.extra_bytes,
            "spared_entries": self.spared_entries,
            "spared_bytes": self.spared_bytes,
            "largest": self.gone.items(),
            "largest_truncated": self.gone.truncated,
            "errors": self.errors.items,
            "error_count": self.errors.count,
        }


class Removal:
    """What every tool's removal shares: its figures, its age rule, pip-like clean-up of emptied folders, and the
    acts themselves (an unlink, an rmdir) made by descriptor. A tool's removal subclasses it and decides what goes.

    ``counting`` is set while a first pass only measures (a size budget, a survey): nothing is removed then.
    ``helpers`` is how many helper processes may share a bucket's removal (``_core/remove_share.py``).
    """

    def __init__(self, *, dry_run: bool, list_limit: int, min_age: float, now: float, cleanup: bool, helpers: int = 0) -> None:
        self.dry_run = dry_run
        self.list_limit = list_limit
        self.min_age = min_age
        self.now = now
        self.cleanup = cleanup  # folders left without content go too (pip >= 26.0)
        self.helpers = helpers
        self.outcome = Outcome(gone=GoneEntries(list_limit))
        self.counting = False
        self.seen = 0  # files and folders this process walked on its own, before it shares work out

    def shareable(self) -> bool:
        """Whether the removal pass may be shared out: True unless what it takes depends on the order it sees
        entries in (a size budget)."""
        return True

    # Deciding --------------------------------------------------------------------------------
    def young(self, mtime: float) -> bool:
        return self.min_age > 0 and self.now - mtime < self.min_age

    def spare(self, size: int, count: int = 1) -> None:
        """An entry the request selects, left alone because it is younger than min_age."""
        if not self.counting:
            self.outcome.spared_entries += count
            self.outcome.spared_bytes += size

    def dir_is_young(self, listing: Listing) -> bool:
        """Whether the listed folder itself is younger than min_age (read from its descriptor when there is one)."""
        try:
            # By the open folder when there is one: its path may be longer than PATH_MAX, or swapped since.
            mtime = (os.fstat(listing.fd) if listing.fd is not None else os.stat(listing.path, follow_symlinks=False)).st_mtime
        except OSError:
            return False
        return self.now - mtime < self.min_age

    # Doing ------------------------------------------------------------------------------------
    def unlink(self, listing: Listing, item: FileItem, *, extra: bool = False) -> bool:
        """Unlink one file; False when it is still there. The walker reports why, path by path: on Windows
        most often a file another process holds open (PermissionError, ERROR_SHARING_VIOLATION).
        ``extra``: a file that goes only with its folder (the tool does not count it), counted apart."""
        errors_before = listing.errors.count
        if listing.unlink(item):
            # A link to a folder is not a file to pip's walk (nor to the scan): removed, not counted.
            if extra:
                self.outcome.extra_files += 1 if item.counts_as_file else 0
                self.outcome.extra_bytes += item.size
            else:
                self.outcome.files += 1 if item.counts_as_file else 0
                self.outcome.bytes += item.size
            return True
        return listing.errors.count == errors_before  # it vanished: gone all the same

    @staticmethod
    def vanished(listing: Listing, name: str) -> bool:
        try:
            if listing.fd is not None:
                os.lstat(name, dir_fd=listing.fd)
            else:
                os.lstat(listing.file_path(name))
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return False

    def lstat(self, root: str, root_fd: Optional[int], name: str) -> os.stat_result:
        if root_fd is not None:
            return os.lstat(name, dir_fd=root_fd)
        return os.lstat(os.path.join(root, name))

    def remove_bucket(self, root: str, root_fd: Optional[int], name: str, visitor: Visitor, *, errors: Optional[WalkErrors] = None) -> None:
        """Walk the bucket ``name`` of the cache folder ``root`` (held open as ``root_fd``) with ``visitor``, and rmdir
        the bucket itself when its walk reports it removable. A bucket that is a link is left alone, and said."""
        path = os.path.join(root, name)
        errors = self.outcome.errors if errors is None else errors
        try:
            info = self.lstat(root, root_fd, name)
        except FileNotFoundError:
            return
        except OSError as error:
            errors.add(path, error)
            return
        if is_link_like(info):
            if not self.counting:
                self.outcome.warnings.append(f"{path} is a symbolic link: left alone, its target is neither counted nor entered")
            return
        if not stat.S_ISDIR(info.st_mode):
            return
        if root_fd is not None and self.helpers > 0 and not self.counting and errors is self.outcome.errors and self.shareable():
            result = walk_shared(self, path, visitor, parent_fd=root_fd)
        else:
            result = walk(path, visitor, errors=errors, dry_run=self.dry_run, parent_fd=root_fd)
        if result is True and not self.counting and remove_root(path, dry_run=self.dry_run, errors=self.outcome.errors, parent_fd=root_fd) == REMOVED:
            self.outcome.dirs += 1


# Folders ------------------------------------------------------------------------------------------
# Each folder's visit is told its files and its walked sub-folders as the listing streams (``_core/walk.py``): what a
# file decides is done at once, and only counts and flags stay, so memory does not grow with what one folder holds.


class Folder(FolderVisit):
    """The sub-folders of one folder of a removal, told as each one's walk ends.

    A sub-folder that reported itself removable waits for its rmdir until the folder's own outcome is known (the
    clean-up, or the folder kept by min_age with its content as it is); past ``HOLD`` waiting, they are removed as
    they come instead. Only the folders this run removed are counted. One that another run removed first is gone all
    the same; one that the tool wrote into again since it was listed stays, and that is no error (``remove_dir``)."""

    def __init__(self, removal: Removal, listing: Listing) -> None:
        self.removal = removal
        self.listing = listing
        self.children_left = False  # a sub-folder stays: neither removable nor gone already
        self.children_kept = False  # a removable sub-folder's rmdir found it refilled (or failed)
        self.waiting: Optional[list[str]] = []

    def child(self, name: str, result: object) -> None:
        if self.removal.counting:
            return
        if result is None and self.removal.vanished(self.listing, name):
            return  # another run removed it between its opening and its listing: gone all the same, keeps no parent
        if result is not True:
            self.children_left = True
            return
        if self.waiting is None:
            self._rmdir(name)
            return
        self.waiting.append(name)
        if len(self.waiting) > HOLD:
            names, self.waiting = self.waiting, None
            for one in names:
                self._rmdir(one)

    def _rmdir(self, name: str) -> None:
        done = remove_dir(self.listing, name)
        if done == REMOVED:
            self.removal.outcome.dirs += 1
        elif done != VANISHED:
            self.children_kept = True

    def rmdir_children(self) -> bool:
        """rmdir every removable sub-folder still waiting; True when all sub-folders are gone."""
        names, self.waiting = self.waiting or [], []
        for name in names:
            self._rmdir(name)
        return not (self.children_kept or self.children_left)

    def settle(self, *, content_left: bool, kept_young: bool, rest: Iterable[FileItem]) -> object:
        """The folder's outcome once its listing ended: content that stays keeps it (its removable sub-folders go);
        a folder min_age keeps (``kept_young``) stays as it is; otherwise the clean-up takes ``rest`` and reports it
        removable."""
        if content_left or self.children_left:
            self.rmdir_children()
            return False
        if kept_young:
            return False
        return self.mark_gone(rest)

    def mark_gone(self, remaining: Iterable[FileItem]) -> bool:
        """The clean-up of a folder left without content: unlink what is left, report it removable."""
        if not self.removal.cleanup:
            return False
        if not self.rmdir_children():
            return False
        # Every file is tried; a folder that keeps one is not removable (no rmdir to fail on it).
        unlinked = [self.removal.unlink(self.listing, item, extra=True) for item in remaining]
        return all(unlinked)
