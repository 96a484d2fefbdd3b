# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Scanning a uv cache: what each root entry is to a given uv and holds, per package sizes, the archives nothing points
to, and ``uv cache size``'s own figure, from one streaming walk of each root entry (``_core.walk``).

Every entry is counted once, as uv counts it: a file is any entry that is no folder (a link included, never followed,
its own length in bytes); allocated bytes are disk blocks of files and folders with a hard-linked file counted once (what
``uv cache size`` and ``du -sB1`` print). Archive links are read with readlink and resolved as text inside the cache
only; nothing outside the cache is ever opened. Memory stays flat with the number of files: the walk streams, and what
is kept grows only with packages (capped), referenced archives (capped) and hard-linked files not yet met again
(capped). Standard library only.
"""

from __future__ import annotations

import heapq
import os
import stat
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Optional, TypeVar, Union

from .._core import walk as core_walk
from .._core.walk import FileItem, FolderVisit, Listing, WalkErrors
from .layout import (
    ARCHIVE,
    CURRENT,
    DIR,
    FILE,
    LINK,
    MARKER,
    NEWER,
    OTHER,
    PACKAGE_FAMILIES,
    POINTER_MAX,
    REVISION_POINTERS,
    REVISION_READ_MAX,
    ROLES,
    STALE,
    RootEntry,
    UvBuckets,
    UvStats,
    UvVersion,
    archive_id_of_pointer,
    archive_id_of_target,
    archive_ref_families,
    buckets_for,
    classify_root_entry,
    package_of_folder,
    package_of_simple_file,
    parse_bucket_name,
    ref_name_skipped,
    revision_pointer_id,
)

DEFAULT_PACKAGES_LIMIT = 1000
DEFAULT_UNREFERENCED_LIMIT = 1000
OTHER_ENTRIES_CAP = 256
"""Root entries that are neither current, stale nor markers (unknown or newer-than-known) listed one by one; the rest
are summed in ``more_entries``."""
NAMES_CAP = 100_000
"""Distinct package names counted exactly; past this ``packages.count`` is a lower bound."""
REFS_CAP = 500_000
"""Archives a current bucket points to, remembered; past this the unreferenced archives are not known."""
LINKED_CAP = 1_000_000
"""Hard-linked files whose other links are not met yet, remembered (du keeps them all); past this a hard-linked file is
counted at each of its links and ``hardlinks_exact`` is False."""

_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_ROOT_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)

T = TypeVar("T")


class _Descending:
    """Orders keys backwards, so heapq's min-heap keeps the largest key on top."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def __lt__(self, other: _Descending) -> bool:
        return self.key > other.key


class Smallest(Generic[T]):
    """The ``limit`` smallest keys of a stream, each with its item; memory stays at ``limit`` items.

    A key once left out (or pushed out by a smaller one) is never taken again: the largest key kept only ever
    decreases, so every key kept at the end was kept from its first arrival, with all its later arrivals counted."""

    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self.items: dict[str, T] = {}
        self._heap: list[_Descending] = []
        self.dropped = False

    def get(self, key: str, make: Callable[[], T]) -> Optional[T]:
        """The item of ``key``, made on its first arrival when it is among the smallest; None when it is left out."""
        item = self.items.get(key)
        if item is not None:
            return item
        if len(self._heap) >= self.limit:
            if not self._heap or key >= self._heap[0].key:
                self.dropped = True
                return None
            largest = heapq.heapreplace(self._heap, _Descending(key))
            del self.items[largest.key]
            self.dropped = True
        else:
            heapq.heappush(self._heap, _Descending(key))
        item = self.items[key] = make()
        return item

    def kept(self, key: str) -> Optional[T]:
        return self.items.get(key)

    def sorted_items(self) -> list[tuple[str, T]]:
        return sorted(self.items.items())


@dataclass
class UvPackage:
    """One package's entries in the current wheels, sdists and simple buckets, and the archives its links point to."""

    name: str
    stats: UvStats = field(default_factory=UvStats)
    families: set[str] = field(default_factory=set)
    archives: int = 0
    archive_stats: UvStats = field(default_factory=UvStats)

    def as_dict(self, *, allocated_known: bool = True) -> dict[str, Any]:
        total = UvStats()
        total.merge(self.stats)
        total.merge(self.archive_stats)
        return {
            "name": self.name,
            "buckets": sorted(self.families),
            "archives": self.archives,
            "in_buckets": self.stats.as_dict(allocated_known=allocated_known),
            "in_archives": self.archive_stats.as_dict(allocated_known=allocated_known),
            "total": total.as_dict(allocated_known=allocated_known),
        }


@dataclass
class UvEntryFigures:
    """One root entry: what it is to the uv (``RootEntry``) and what it holds."""

    entry: RootEntry
    stats: UvStats

    def as_dict(self, *, allocated_known: bool = True) -> dict[str, Any]:
        return dict(self.entry.as_dict(), **self.stats.as_dict(allocated_known=allocated_known))


@dataclass
class UvScanResult:
    """Everything one scan learnt about a uv cache."""

    cache_dir: str
    exists: bool
    buckets: UvBuckets
    entries: list[UvEntryFigures]
    """Root entries: every current and stale bucket and marker, and up to OTHER_ENTRIES_CAP others (name order)."""
    more_entries: UvStats
    more_entries_count: int
    roles: dict[str, UvStats]
    """Figures per role (``current``, ``stale``, ``newer_than_known``, ``marker``, ``other``): every root entry."""
    total: UvStats
    """Everything, the cache folder itself included."""
    packages: Smallest[UvPackage]
    packages_count: int
    packages_count_exact: bool
    archives: int
    """Entries of archive-v0."""
    unreferenced: Smallest[UvStats]
    unreferenced_count: int
    unreferenced_stats: UvStats
    unreferenced_known: bool
    """False when more archives were referenced than REFS_CAP: the unreferenced ones are then not reported."""
    stale_revisions: UvStats
    stale_revision_count: int
    errors: WalkErrors
    warnings: list[str]
    allocated_known: bool
    """False where the system gives no block counts (Windows): allocated figures are None."""
    hardlinks_exact: bool

    @property
    def version(self) -> UvVersion:
        return self.buckets.version

    @property
    def cache_size(self) -> Optional[int]:
        """``uv cache size``: allocated bytes of everything (``du -sB1``); 0 for a missing cache, as uv prints."""
        return self.total.allocated if self.allocated_known else None

    def entry(self, name: str) -> Optional[UvEntryFigures]:
        return next((figures for figures in self.entries if figures.entry.name == name), None)

    def names_of(self, role: str) -> list[str]:
        return [figures.entry.name for figures in self.entries if figures.entry.role == role]

    def as_dict(self) -> dict[str, Any]:
        known = self.allocated_known
        return {
            "cache_dir": self.cache_dir,
            "exists": self.exists,
            "uv": self.buckets.as_dict(),
            "cache_size": self.cache_size,
            "total": self.total.as_dict(allocated_known=known),
            "roles": {role: self.roles[role].as_dict(allocated_known=known) for role in ROLES},
            "entries": [figures.as_dict(allocated_known=known) for figures in self.entries],
            "more_entries": dict(self.more_entries.as_dict(allocated_known=known), count=self.more_entries_count),
            "packages": {
                "count": self.packages_count,
                "count_exact": self.packages_count_exact,
                "limit": self.packages.limit,
                "truncated": self.packages.dropped,
                "items": [package.as_dict(allocated_known=known) for _name, package in self.packages.sorted_items()],
            },
            "archives": self.archives,
            "unreferenced_archives": {
                "known": self.unreferenced_known,
                "count": self.unreferenced_count if self.unreferenced_known else None,
                "limit": self.unreferenced.limit,
                "truncated": self.unreferenced.dropped,
                **self.unreferenced_stats.as_dict(allocated_known=known),
                "items": [dict(name=name, **stats.as_dict(allocated_known=known)) for name, stats in self.unreferenced.sorted_items()]
                if self.unreferenced_known
                else [],
            },
            "stale_revisions": dict(self.stale_revisions.as_dict(allocated_known=known), count=self.stale_revision_count),
            "errors": {"count": self.errors.count, "items": list(self.errors.items)},
            "warnings": list(self.warnings),
            "hardlinks_exact": self.hardlinks_exact,
        }


class _Inodes:
    """Hard-linked files met so far whose other links are not met yet (du's rule: a file with several links counts
    once). A file with one link is never remembered; one is forgotten once all its links were met."""

    def __init__(self) -> None:
        self.left: dict[tuple[int, int], int] = {}
        self.exact = True

    def first(self, info: os.stat_result) -> bool:
        """Whether this lstat's file counts (its first link met)."""
        if info.st_nlink <= 1 or stat.S_ISDIR(info.st_mode):
            return True
        key = (info.st_dev, info.st_ino)
        left = self.left.get(key)
        if left is None:
            if len(self.left) >= LINKED_CAP:
                self.exact = False
            else:
                self.left[key] = info.st_nlink - 1
            return True
        if left <= 1:
            del self.left[key]
        else:
            self.left[key] = left - 1
        return False


class _Scan:
    """The state of one scan: shared by every root entry's walk."""

    def __init__(self, cache_dir: str, buckets: UvBuckets, packages_limit: int, unreferenced_limit: int) -> None:
        self.cache_dir = cache_dir
        self.buckets = buckets
        self.errors = WalkErrors()
        self.warnings: list[str] = []
        self.inodes = _Inodes()
        self.allocated_known = True
        self.packages: Smallest[UvPackage] = Smallest(packages_limit)
        self.package_names: Optional[set[str]] = set()
        self.packages_seen = 0
        self.refs: dict[str, str] = {}
        self.refs_overflow = False
        self.archives = 0
        self.unreferenced: Smallest[UvStats] = Smallest(unreferenced_limit)
        self.unreferenced_count = 0
        self.unreferenced_stats = UvStats()
        self.stale_revisions = UvStats()
        self.stale_revision_count = 0
        absolute = os.path.normpath(os.path.abspath(cache_dir))
        self.roots = tuple(dict.fromkeys((absolute, os.path.realpath(cache_dir))))
        self.ref_families, self.ref_filtered = archive_ref_families(buckets)

    def allocated(self, info: os.stat_result) -> int:
        """Disk bytes of one lstat, 0 for a hard-linked file met before."""
        blocks = getattr(info, "st_blocks", None)
        if blocks is None:
            self.allocated_known = False
            return 0
        return int(blocks) * 512 if self.inodes.first(info) else 0

    def package(self, name: str, family: str) -> Optional[UvPackage]:
        names = self.package_names
        if names is not None and name not in names:
            if len(names) >= NAMES_CAP:
                self.package_names = None
            else:
                names.add(name)
                self.packages_seen += 1
        package = self.packages.get(name, lambda: UvPackage(name))
        if package is not None:
            package.families.add(family)
        return package

    def reference(self, archive_id: str, owner: str) -> None:
        if archive_id in self.refs:
            return
        if len(self.refs) >= REFS_CAP:
            self.refs_overflow = True
            return
        self.refs[archive_id] = owner

    def finish_archive(self, name: str, stats: UvStats) -> None:
        """One entry of archive-v0, walked: whose it is, or unreferenced."""
        self.archives += 1
        owner = self.refs.get(name)
        if owner is None:
            self.unreferenced_count += 1
            self.unreferenced_stats.merge(stats)
            self.unreferenced.get(name, lambda: stats)
            return
        package = self.packages.kept(owner) if owner else None
        if package is not None:
            package.archives += 1
            package.archive_stats.merge(stats)


def _lstat(name: str, listing: Listing) -> os.stat_result:
    if listing.fd is not None:
        return os.lstat(name, dir_fd=listing.fd)
    return os.lstat(listing.file_path(name))


def _read_small(name: str, listing: Listing, limit: int) -> Optional[bytes]:
    """Up to ``limit`` bytes of the regular file ``name`` in a listed folder, opened without following a link (relative
    to the folder's descriptor when held); None when it is no regular file or cannot be read."""
    try:
        if listing.fd is not None:
            fd = os.open(name, _READ_FLAGS, dir_fd=listing.fd)
        else:
            fd = os.open(listing.file_path(name), _READ_FLAGS)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        left = limit
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


class _EntryWalk:
    """The visitor of one root entry's walk: makes each folder's visit, and knows what the bucket is to the uv."""

    def __init__(self, scan: _Scan, entry: RootEntry, stats: UvStats) -> None:
        self.scan = scan
        self.entry = entry
        self.stats = stats
        current = entry.role == CURRENT
        self.family = entry.family if current else None
        self.archive = current and entry.name == ARCHIVE
        self.packages = self.family in PACKAGE_FAMILIES
        self.refs = current and not self.archive and self.family in scan.ref_families
        self.filtered = scan.ref_filtered
        self.revisions = self.family == "sdists"
        self.stack: list[_Folder] = []
        self.open_archive: Optional[tuple[str, UvStats]] = None

    def visited(self, depth: int, path: str) -> bool:
        """Whether the folder ``path`` at ``depth`` got a visit (was opened and listed, at least in part)."""
        return len(self.stack) > depth and self.stack[depth].listing.path == path

    def count_unlisted(self, name: str, parent_fd: Optional[int], path: str, sinks: tuple[UvStats, ...]) -> None:
        """A folder that could not be opened or listed still takes its own blocks, as du counts them."""
        try:
            info = os.lstat(name, dir_fd=parent_fd) if parent_fd is not None else os.lstat(path)
        except OSError:
            return
        if stat.S_ISDIR(info.st_mode):
            allocated = self.scan.allocated(info)
            for sink in sinks:
                sink.add_dir(allocated)

    def __call__(self, listing: Listing) -> FolderVisit:
        del self.stack[listing.depth :]
        parent = self.stack[-1] if self.stack else None
        folder = _Folder(self, listing, parent)
        self.stack.append(folder)
        return folder


class _Folder(FolderVisit):
    """One folder of a root entry's walk: its own blocks, then each file as the listing streams it."""

    def __init__(self, walk: _EntryWalk, listing: Listing, parent: Optional[_Folder]) -> None:
        scan = walk.scan
        self.walk = walk
        self.listing = listing
        name = os.path.basename(listing.path)
        self.parts: tuple[str, ...] = (*parent.parts, name) if parent is not None else ()
        self.package: Optional[UvPackage] = parent.package if parent is not None else None
        self.archive: Optional[UvStats] = parent.archive if parent is not None else None
        self.stale: bool = parent.stale if parent is not None else False
        self.skip_refs: bool = parent is not None and (parent.skip_refs or (walk.filtered and ref_name_skipped(name)))
        self.pointer_ids: tuple[str, ...] = ()
        if walk.packages and parent is not None and parent.package is None and walk.family is not None:
            package_name = package_of_folder(walk.family, self.parts)
            if package_name is not None:
                self.package = scan.package(package_name, walk.family)
        if walk.archive and listing.depth == 1:
            self.archive = UvStats()
            walk.open_archive = (name, self.archive)
        if walk.revisions and parent is not None and not self.stale and parent.pointer_ids:
            if any(name != pointer for pointer in parent.pointer_ids):
                self.stale = True
                scan.stale_revision_count += 1
        if walk.revisions and not self.stale:
            self.pointer_ids = self._pointers()
        sinks = [walk.stats]
        for extra in (self.package.stats if self.package is not None else None, self.archive, scan.stale_revisions if self.stale else None):
            if extra is not None:
                sinks.append(extra)
        self.sinks = tuple(sinks)
        try:
            info = os.fstat(listing.fd) if listing.fd is not None else os.lstat(listing.path)
        except OSError as error:
            listing.errors.add(listing.path, error)
            return
        allocated = scan.allocated(info)
        for sink in self.sinks:
            sink.add_dir(allocated)

    def _pointers(self) -> tuple[str, ...]:
        """The revision ids this folder's ``revision.http`` / ``revision.rev`` name (each that decodes)."""
        found = []
        for pointer in REVISION_POINTERS:
            data = _read_small(pointer, self.listing, REVISION_READ_MAX)
            if data is not None:
                revision = revision_pointer_id(pointer, data)
                if revision is not None:
                    found.append(revision)
        return tuple(found)

    def file(self, item: FileItem) -> None:
        walk, listing = self.walk, self.listing
        scan = walk.scan
        try:
            info = _lstat(item.name, listing)
        except FileNotFoundError:
            return  # gone since it was listed
        except OSError as error:
            listing.errors.add(listing.file_path(item.name), error)
            return
        if stat.S_ISDIR(info.st_mode):
            return  # a folder now, where a file was listed: not walked by this pass
        allocated = scan.allocated(info)
        size, mtime = info.st_size, info.st_mtime
        for sink in self.sinks:
            sink.add_file(size, allocated, mtime)
        if walk.family == "simple" and self.package is None:
            package_name = package_of_simple_file(self.parts, item.name)
            if package_name is not None:
                package = scan.package(package_name, "simple")
                if package is not None:
                    package.stats.add_file(size, allocated, mtime)
        if walk.archive and listing.depth == 0:
            stats = UvStats()
            stats.add_file(size, allocated, mtime)
            scan.finish_archive(item.name, stats)
        if walk.refs and not self.stale and not self.skip_refs and not (walk.filtered and ref_name_skipped(item.name)):
            self._reference(item.name, info)

    def _reference(self, name: str, info: os.stat_result) -> None:
        """An archive link (a symbolic link, or a Windows-style file holding ``archive-v0/<id>``): remembered."""
        listing, scan = self.listing, self.walk.scan
        archive_id: Optional[str] = None
        if stat.S_ISLNK(info.st_mode):
            try:
                target = os.readlink(name, dir_fd=listing.fd) if listing.fd is not None else os.readlink(listing.file_path(name))
            except OSError:
                return
            archive_id = archive_id_of_target(target, (self.walk.entry.name, *self.parts), scan.roots, os.sep)
        elif stat.S_ISREG(info.st_mode) and len(ARCHIVE) + 2 <= info.st_size <= POINTER_MAX:
            data = _read_small(name, listing, POINTER_MAX + 1)
            archive_id = archive_id_of_pointer(data) if data is not None else None
        if archive_id is not None:
            scan.reference(archive_id, self.package.name if self.package is not None else "")

    def child(self, name: str, result: object) -> None:
        walk = self.walk
        if result is None and not walk.visited(self.listing.depth + 1, self.listing.file_path(name)):
            walk.count_unlisted(name, self.listing.fd, self.listing.file_path(name), self.sinks)
        if walk.archive and self.listing.depth == 0:
            opened, walk.open_archive = walk.open_archive, None
            stats = opened[1] if opened is not None and opened[0] == name else UvStats()
            walk.scan.finish_archive(name, stats)


def _kind(entry: os.DirEntry[str], fd: Optional[int], path: str) -> tuple[str, Optional[FileItem]]:
    item = core_walk.classify(entry, fd, path)
    if item is None:
        return DIR, None
    return (LINK if item.is_link else FILE), item


def scan(
    cache_dir: str,
    *,
    version: Union[UvVersion, tuple[int, ...], str, None] = None,
    packages_limit: int = DEFAULT_PACKAGES_LIMIT,
    unreferenced_limit: int = DEFAULT_UNREFERENCED_LIMIT,
) -> UvScanResult:
    """Scan the uv cache ``cache_dir`` as the uv of ``version`` sees it (None: the newest uv this engine knows).

    One walk per root entry (the current archive-v0 last, once every link pointing into it is known); nothing is
    followed or opened outside the cache. ``packages_limit`` packages (the smallest names) and ``unreferenced_limit``
    unreferenced archives are listed, with their full counts.
    """
    buckets = buckets_for(version)
    state = _Scan(cache_dir, buckets, packages_limit, unreferenced_limit)
    roles = {role: UvStats() for role in ROLES}
    total = UvStats()
    entries: list[UvEntryFigures] = []
    more_entries = UvStats()
    more_count = 0
    listed_others = 0
    exists = False
    try:
        info = os.stat(cache_dir)
        exists = stat.S_ISDIR(info.st_mode)
        if not exists:
            state.warnings.append(f"{cache_dir} is not a folder: nothing scanned")
    except FileNotFoundError:
        pass
    except OSError as error:
        state.errors.add(cache_dir, error)
    root_fd: Optional[int] = None
    if exists:
        try:
            root_fd = os.open(cache_dir, _ROOT_FLAGS) if core_walk._FD_MODE else None
            total.add_dir(state.allocated(os.fstat(root_fd) if root_fd is not None else os.stat(cache_dir)))
        except OSError as error:
            state.errors.add(cache_dir, error)
            exists = root_fd is not None
    if exists:
        try:
            archive: Optional[RootEntry] = None

            def record(root_entry: RootEntry, stats: UvStats) -> None:
                nonlocal more_count, listed_others
                roles[root_entry.role].merge(stats)
                total.merge(stats)
                if root_entry.role in (CURRENT, STALE, MARKER) or listed_others < OTHER_ENTRIES_CAP:
                    entries.append(UvEntryFigures(root_entry, stats))
                    listed_others += root_entry.role in (NEWER, OTHER)
                else:
                    more_entries.merge(stats)
                    more_count += 1

            try:
                listing = core_walk.list_dir(cache_dir, root_fd)
            except OSError as error:
                state.errors.add(cache_dir, error)
                listing = None
            if listing is not None:
                try:
                    for entry in listing:
                        try:
                            kind, _item = _kind(entry, root_fd, cache_dir)
                        except FileNotFoundError:
                            continue
                        except OSError as error:
                            state.errors.add(entry.path, error)
                            continue
                        root_entry = classify_root_entry(entry.name, kind, buckets)
                        if kind == DIR and root_entry.role == CURRENT and entry.name == ARCHIVE:
                            archive = root_entry  # walked last, once every link into it is known
                            continue
                        if kind == LINK and parse_bucket_name(entry.name) is not None:
                            shown = os.path.join(cache_dir, entry.name)
                            state.warnings.append(f"{shown} is a symbolic link: left alone, its target is neither counted nor entered")
                        stats = _walk_entry(state, root_entry, cache_dir, root_fd)
                        if stats is not None:
                            record(root_entry, stats)
                finally:
                    core_walk.close_entries(listing)
                failed = getattr(listing, "error", None)
                if failed is not None and not isinstance(failed, FileNotFoundError):
                    state.errors.add(cache_dir, failed)
            if archive is not None:
                stats = _walk_entry(state, archive, cache_dir, root_fd)
                if stats is not None:
                    record(archive, stats)
        finally:
            if root_fd is not None:
                os.close(root_fd)
    if state.refs_overflow:
        state.warnings.append(f"more than {REFS_CAP} archives are linked from the cache: the unreferenced archives are not reported")
    if not state.inodes.exact:
        state.warnings.append(f"more than {LINKED_CAP} hard-linked files: some are counted once per link in the allocated bytes")
    entries.sort(key=lambda figures: figures.entry.name)
    return UvScanResult(
        cache_dir=cache_dir,
        exists=exists,
        buckets=buckets,
        entries=entries,
        more_entries=more_entries,
        more_entries_count=more_count,
        roles=roles,
        total=total,
        packages=state.packages,
        packages_count=state.packages_seen,
        packages_count_exact=state.package_names is not None,
        archives=state.archives,
        unreferenced=state.unreferenced,
        unreferenced_count=state.unreferenced_count,
        unreferenced_stats=state.unreferenced_stats,
        unreferenced_known=not state.refs_overflow,
        stale_revisions=state.stale_revisions,
        stale_revision_count=state.stale_revision_count,
        errors=state.errors,
        warnings=state.warnings,
        allocated_known=state.allocated_known,
        hardlinks_exact=state.inodes.exact,
    )


def _walk_entry(state: _Scan, root_entry: RootEntry, cache_dir: str, root_fd: Optional[int]) -> Optional[UvStats]:
    """One root entry's figures: a folder walked, anything else its own lstat; None when it vanished."""
    stats = UvStats()
    path = os.path.join(cache_dir, root_entry.name)
    if root_entry.kind == DIR:
        visitor = _EntryWalk(state, root_entry, stats)
        core_walk.walk(path, visitor, errors=state.errors, parent_fd=root_fd)
        if not visitor.visited(0, path):
            visitor.count_unlisted(root_entry.name, root_fd, path, (stats,))
        return stats
    try:
        info = os.lstat(root_entry.name, dir_fd=root_fd) if root_fd is not None else os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        state.errors.add(path, error)
        return stats
    if stat.S_ISDIR(info.st_mode):
        return stats  # a folder now, where a file was listed: left for the next scan
    stats.add_file(info.st_size, state.allocated(info), info.st_mtime)
    return stats
