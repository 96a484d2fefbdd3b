# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""uv's removal: what ``uv cache clean PKG...``, ``uv cache clean`` and ``uv cache prune [--ci]`` of a given uv version
remove from a uv cache, file by file, and the line that uv prints for it (/work/notes/uv_internals.md sections 3-6, 8, 9).

How things go is the core's way: the cache folder is opened once by descriptor (``_core.cache_root``), every folder
below it relative to its parent's descriptor without following a link, every unlink and rmdir relative to the folder
that was listed (``_core.walk``); a link is removed as a link and never entered; another file system mounted inside the
cache is never entered. A dry run and a real run take the same path through this code, only the unlink and rmdir calls
differ, so check mode predicts a real run exactly: later steps that depend on earlier removals (which archives are still
referenced) skip what earlier steps removed, whether or not it is really gone.

Where uv versions differ in what they remove, the uv asked for decides (``UvRequest.version``); where an old uv did
something unsafe, modern uv's behaviour (0.11.20+) is taken for every version. Decisions, beyond uv:

- The lock: uv's exclusive cache lock is always taken as ``uv cache clean`` / ``uv cache prune`` take it
  (``lock.CacheLock``: busy -> wait ``lock_timeout`` seconds, or go on with ``force``), also for uvs older than 0.8.19
  that know no lock: it is harmless, and it keeps a newer uv that works in the same cache (and holds the lock shared)
  from seeing its files vanish. On a cache without ``.lock`` a real run creates it, as any uv >= 0.8.19 would; a dry
  run creates nothing and locks only an existing ``.lock``.
- ``purge`` (``uv cache clean``) keeps the cache folder itself and its ``.lock`` for every version, as uv 0.13 does:
  the folder may be the one another user's uv configuration points at, and ``.lock`` may be held by a waiting uv.
  uv 0.8.19-0.12 remove both, uv <= 0.8.18 the folder (and a ``.lock``); ``uv`` figures count them as that uv would.
- ``prune`` keeps the root ``.lock`` for every version (uv <= 0.8.18 delete it, counted in the ``uv`` figures when it
  was there before this run), keeps buckets of a uv newer than this engine knows (with a warning), and keeps
  ``python-vN`` (uv 0.8.4-0.11.20 deleted their own Python downloads as an unknown bucket; fixed in 0.11.21).
- Links are never followed: uv <= 0.11.19 could delete the target of a link pointing out of the cache (environments,
  ``--ci`` wheels, archives); here a link is removed as a link, and only entries of ``archive-v0`` are archives.
- ``clean PKG`` removes the whole current ``flat-index`` bucket, for any package, as every uv does (uv cannot tell
  which packages a flat index lists). Archives go when every link that pointed to them is gone: those in
  ``archive-v0`` only.
- Errors do not stop the run (uv stops at the first): what cannot be removed is reported path by path and stays,
  with everything above it; archives are not pruned when a bucket holding links could not be read in full.

Budgets, beyond uv (``prune`` with ``max_size`` and/or ``max_age``; ``min_age``): applied after uv's own prune steps
(stale revisions, other buckets, environments, ``--ci`` when asked, unreferenced archives), so a budget run also does
what ``uv cache prune`` does, and leaves a cache in which ``uv cache prune`` finds nothing more.

- An entry is what uv writes and reads as one thing, in the current buckets of the uv asked for: a wheel =
  ``wheels-vN/<pypi|index|url|path|editable|git>/[<digest>/]<name or sha>/<stem>`` (its archive link) with the
  ``<stem>.http|.msgpack|.rev|.whl|.lock`` beside it; a source distribution = ``sdists-vN/<pypi|index/<digest>>/<name>/
  <version>/``, ``sdists-vN/<url|path|editable>/<digest>/`` or ``sdists-vN/git/<digest>/<sha>/`` whole (its revision
  pointer, ``.lock`` and revision folders: after uv's prune steps, the current revision); an index page =
  ``simple-vN/<pypi|index/<digest>>/<name>.rkyv`` (and a ``<name>.lock`` beside it). An archive (``archive-v0/<id>``)
  goes when no link is left that points to it, as uv's prune removes it. Nothing else is ever removed by a budget:
  uv's markers, the folders that hold entries, the other buckets (interpreter, flat-index, git, python...) count in the
  cache's size but stay.
- An entry's age is the newest mtime among its own files (links included, never followed) and its archives' folders
  (a folder entry with no file: its folder's). uv writes these when it downloads, builds, unpacks or revalidates, and
  never touches them when it reads the cache: the age is the time since uv last wrote the entry, not since it last used
  it (uv keeps no use time, and access times are not kept reliably). ``max_age``: an entry older than that goes (one
  exactly that old stays); ``min_age``: an entry younger never goes, whatever the budget (a uv may be writing it; a
  ``min_age`` without a budget is refused, never ignored).
- Sizes are what ``uv cache size`` counts (disk blocks of files and folders, a hard-linked file once; ``du -sB1``).
  ``max_size`` compares with the cache's size after uv's prune steps (less what ``max_age`` takes): the oldest entries go
  first until it fits, with the core's memory-flat histogram (``_core.budget.Budget``: a pass that adds each entry's age
  and size, a plan, a pass that takes the oldest whole entries). An archive shared by several entries counts with the
  last of them to go (its newest); when the histogram's cut-off second takes that one before an older one that shares
  it, the older one goes too, so the archive does. A file hard-linked between two entries counts with the first one met
  (the one approximation in the plan). The size the result gives after the run is exact (``du``'s rule, with each hard
  link counted out as it goes): ``within_budget`` is measured, not planned, and when it is false ``reason`` says why
  (young entries spared, files that could not be removed, what no budget removes).
- Entries go whole, oldest first, with their pointers first (a wheel's ``.http``/``.msgpack``, a source distribution's
  ``revision.http``/``revision.rev``), then the link and the rest, the ``.lock`` last: a pointer that cannot go keeps
  its entry; never is a link left pointing at a removed archive, nor an archive removed while a kept link points at it.
  An emptied package folder stays (uv makes and accepts empty folders). What uv reads afterwards is a cache it reads
  without error or fetching again what remains.
- Three passes see the same entries in the same order: a census of the whole cache (its size, each archive's size
  and age), the plan, the removal; a dry run leaves out what the earlier steps would have removed (remembering those
  paths), so it predicts the real run exactly. Memory stays with one folder's names, the histogram, one figure per
  archive and the hard-linked files met, as the scan's.

Figures: ``removed`` is what this run removed (files: every entry that is no folder, links included; dirs; bytes:
lstat sizes; allocated bytes: disk blocks of files and folders, a hard-linked file once, as ``du`` counts them);
``uv`` is what that uv version counts and prints ("Removed 135 files (604.0KiB)"): apparent bytes up to uv 0.12, from
0.13 the disk blocks of each file (a file that still has another hard link counts nothing), plus the root folder and
``.lock`` it would have removed. A budget's removals count in both (uv's wording for all that went) and apart in
``budget`` (only in the result of a prune that asked for one). Standard library only.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from .._core import walk as core_walk
from .._core.budget import Budget
from .._core.cache_root import open_cache_root
from .._core.errors import InvalidValue
from .._core.fd import open_dir_at
from .._core.units import iso_time
from .._core.walk import REMOVED, VANISHED, WINDOWS, FileItem, FolderVisit, Listing, WalkErrors, is_link_like, remove_dir, remove_root
from .layout import (
    ARCHIVE,
    CURRENT,
    DIR,
    FILE,
    LINK,
    MARKER,
    NEWER,
    POINTER_MAX,
    REVISION_POINTERS,
    REVISION_READ_MAX,
    MsgpackError,
    UvBuckets,
    UvVersion,
    archive_id_of_pointer,
    archive_id_of_target,
    archive_ref_families,
    buckets_for,
    classify_root_entry,
    msgpack_value,
    ref_name_skipped,
    revision_pointer_id,
    uv_format_bytes,
)
from .lock import DEFAULT_TIMEOUT, LOCK_NAME, CacheLock, CacheRemoved
from .scan import LINKED_CAP, OTHER_ENTRIES_CAP, REFS_CAP, Smallest

CLEAN = "clean"
"""``uv cache clean PKG...``: the packages' entries, and the archives only they pointed to."""
PURGE = "purge"
"""``uv cache clean``: everything."""
PRUNE = "prune"
"""``uv cache prune`` (``--ci`` with ``ci``): what no uv of that version uses."""
MODES = (CLEAN, PURGE, PRUNE)

PER_PACKAGE_LINES_BEFORE = UvVersion(0, 5, 0)
"""uv < 0.5 prints one line per package for ``clean PKG...``: "Removed 13 files for foo-bar (8.2KiB)"."""
LOCK_SINCE = UvVersion(0, 8, 19)
"""The root ``.lock``: uv 0.8.19-0.12 remove it (counted as one file, whatever) with the root in a full clean."""
KEEPS_ROOT_SINCE = UvVersion(0, 13, 0)
"""uv 0.13: a full clean keeps the root and ``.lock``, sizes are disk blocks, prune empties ``builds-v0``."""
CI_KEEPS_FILES_SINCE = UvVersion(0, 6, 0)
"""``prune --ci`` in a built revision: uv 0.6+ removes all but ``metadata.msgpack`` and ``*.whl``; before, only its
folders and links."""
METADATA = "metadata.msgpack"
METADATA_READ_MAX = 1024 * 1024
DEFAULT_LIST_LIMIT = 100

_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


# --------------------------------------------------------------------------------------------------
# Requests and names


@dataclass
class UvRequest:
    """What to remove, as which uv. ``mode``: ``clean`` (``packages``: names as people write them), ``purge`` or
    ``prune`` (``ci``: ``--ci``); ``version``: the uv whose buckets and rules apply (None: the newest known);
    ``lock_timeout`` seconds to wait for a busy cache, ``force`` to go on without the lock, ``on_wait`` hears uv's
    waiting line once; ``list_limit`` archives (and budget entries) listed one by one.

    Budgets, beyond uv (``prune`` only, after uv's own prune steps; see the module's docstring): ``max_size`` bytes
    (``uv cache size``'s measure), ``max_age`` seconds (entries older go), ``min_age`` seconds (entries younger are
    never removed: a uv may be writing them); ``now`` the time ages are measured from (None: when the run starts)."""

    mode: str
    packages: list[str] = field(default_factory=list)
    ci: bool = False
    dry_run: bool = False
    version: Optional[Union[UvVersion, str]] = None
    lock_timeout: int = DEFAULT_TIMEOUT
    force: bool = False
    on_wait: Optional[Callable[[str], None]] = None
    list_limit: int = DEFAULT_LIST_LIMIT
    max_size: Optional[int] = None
    max_age: Optional[int] = None
    min_age: int = 0
    now: Optional[float] = None

    @property
    def budgeted(self) -> bool:
        """Whether a size or age budget applies (a prune with ``max_size`` or ``max_age``)."""
        return self.mode == PRUNE and (self.max_size is not None or self.max_age is not None)


def normalize_package_name(name: object, *, option: str = "name") -> str:
    """A package name as uv reads it (``uv_normalize``): ASCII letters, digits, ``-``, ``_`` and ``.``, starting and
    ending with a letter or digit; lower case, each run of ``-_.`` one ``-``. Anything else is refused as uv refuses it."""
    text = name if isinstance(name, str) else ""
    valid = bool(text) and text.isascii() and text[0].isalnum() and text[-1].isalnum()
    valid = valid and all(char.isalnum() or char in "-_." for char in text)
    if not valid:
        raise InvalidValue(
            f"not a valid package name: {name!r}. Names must start and end with a letter or digit and may only contain -, _, ., "
            "and alphanumeric characters (as uv reads them)",
            option=option,
        )
    out: list[str] = []
    for char in text.lower():
        if char in "-_.":
            if out[-1] != "-":
                out.append("-")
        else:
            out.append(char)
    return "".join(out)


def _uv_name(text: object) -> Optional[str]:
    """``text`` normalized as uv deserializes a package name; None when uv would reject it."""
    try:
        return normalize_package_name(text)
    except InvalidValue:
        return None


def metadata_name(data: bytes) -> Optional[str]:
    """The package a ``metadata.msgpack`` names (``[name, version, ...]``, or a map with ``name``), normalized; None
    when it does not decode (uv then matches nothing). Only the name is decoded: the rest may be long or cut off."""
    if not data:
        return None
    first = data[0]
    try:
        if 0x90 <= first <= 0x9F or first in (0xDC, 0xDD):
            offset = 1 if first <= 0x9F else (3 if first == 0xDC else 5)
            if (first & 0x0F if first <= 0x9F else int.from_bytes(data[1:offset], "big")) < 1:
                return None
            value, _end = msgpack_value(data, offset)
            return _uv_name(value)
        if 0x80 <= first <= 0x8F or first in (0xDE, 0xDF):
            offset = 1 if first <= 0x8F else (3 if first == 0xDE else 5)
            count = first & 0x0F if first <= 0x8F else int.from_bytes(data[1:offset], "big")
            for _pair in range(count):
                key, offset = msgpack_value(data, offset)
                value, offset = msgpack_value(data, offset)
                if key == "name":
                    return _uv_name(value)
    except (MsgpackError, ValueError, IndexError):
        return None
    return None


def _extension(name: str) -> str:
    """Rust's ``Path::extension``: the text after the last dot, none for ``.name`` or a name without one."""
    dot = name.rfind(".")
    return name[dot + 1 :] if dot > 0 else ""


# --------------------------------------------------------------------------------------------------
# Figures


@dataclass
class UvFigures:
    """Removed (or, in a dry run, to remove): ``files`` (every entry that is no folder, links included), ``dirs``,
    ``bytes`` (lstat sizes: a link its own length), ``allocated`` (disk blocks of files and folders, a hard-linked file
    once) and ``uv_bytes`` (what the uv version adds up: apparent bytes <= 0.12, disk blocks of files 0.13+)."""

    files: int = 0
    dirs: int = 0
    bytes: int = 0
    allocated: int = 0
    uv_bytes: int = 0

    def merge(self, other: UvFigures) -> None:
        self.files += other.files
        self.dirs += other.dirs
        self.bytes += other.bytes
        self.allocated += other.allocated
        self.uv_bytes += other.uv_bytes

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "dirs": self.dirs, "bytes": self.bytes, "allocated_bytes": self.allocated}


def uv_removed_line(files: int, dirs: int, num_bytes: int, *, prune: bool = False, package: Optional[str] = None) -> str:
    """The line uv's clean/prune print for a removal (``commands/cache_clean.rs``, ``cache_prune.rs``)."""
    suffix = f" for {package}" if package is not None else ""
    if files == 0 and dirs == 0:
        return f"No cache entries found{suffix}" if not prune else "No unused entries found"
    if files == 0:
        line = "Removed 1 directory" if dirs == 1 else f"Removed {dirs} directories"
    else:
        line = "Removed 1 file" if files == 1 else f"Removed {files} files"
    line += suffix
    if num_bytes > 0:
        line += f" ({uv_format_bytes(num_bytes)})"
    return line


@dataclass
class UvEntryRemoval:
    """One root entry: what it is to the uv, and what went from it."""

    name: str
    kind: str
    role: str
    figures: UvFigures = field(default_factory=UvFigures)

    def as_dict(self) -> dict[str, Any]:
        return dict({"name": self.name, "kind": self.kind, "role": self.role}, **self.figures.as_dict())


@dataclass
class UvPackageRemoval:
    """One package of ``clean``: as asked, normalized, and what went for it (its archives included)."""

    requested: str
    name: str
    figures: UvFigures = field(default_factory=UvFigures)
    archives: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict({"requested": self.requested, "name": self.name, "archives": self.archives}, **self.figures.as_dict())


@dataclass
class UvOutcome:
    """What a removal did (or, in a dry run, would do)."""

    cache_dir: str
    mode: str
    version: UvVersion
    dry_run: bool
    ci: bool = False
    exists: bool = True
    removed: UvFigures = field(default_factory=UvFigures)
    uv_files: int = 0
    uv_dirs: int = 0
    uv_bytes: int = 0
    uv_lines: list[str] = field(default_factory=list)
    """What that uv prints after its "Clearing/Pruning cache at" line (one line per package before uv 0.5)."""
    entries: list[UvEntryRemoval] = field(default_factory=list)
    more_entries: UvFigures = field(default_factory=UvFigures)
    more_entries_count: int = 0
    packages: list[UvPackageRemoval] = field(default_factory=list)
    archives: Smallest[UvFigures] = field(default_factory=lambda: Smallest(DEFAULT_LIST_LIMIT))
    archive_count: int = 0
    archive_figures: UvFigures = field(default_factory=UvFigures)
    stale_revisions: int = 0
    stale_revision_figures: UvFigures = field(default_factory=UvFigures)
    kept_newer: list[str] = field(default_factory=list)
    lock: dict[str, Any] = field(default_factory=dict)
    errors: WalkErrors = field(default_factory=WalkErrors)
    warnings: list[str] = field(default_factory=list)
    budget: Optional[UvBudget] = None
    """A prune's size and age budget (``max_size``, ``max_age``): what it found and removed; None without one."""

    @property
    def changed(self) -> bool:
        return self.removed.files > 0 or self.removed.dirs > 0

    @property
    def uv_summary(self) -> str:
        """uv's summary, as it prints it (its lines joined)."""
        return "\n".join(self.uv_lines)

    def as_dict(self) -> dict[str, Any]:
        data = {
            "cache_dir": self.cache_dir,
            "mode": self.mode,
            "ci": self.ci,
            "uv_version": str(self.version),
            "dry_run": self.dry_run,
            "exists": self.exists,
            "changed": self.changed,
            "removed": self.removed.as_dict(),
            "uv": {"files": self.uv_files, "dirs": self.uv_dirs, "bytes": self.uv_bytes, "summary": self.uv_summary, "lines": list(self.uv_lines)},
            "entries": [entry.as_dict() for entry in self.entries],
            "more_entries": dict(self.more_entries.as_dict(), count=self.more_entries_count),
            "packages": [package.as_dict() for package in self.packages],
            "archives": dict(
                self.archive_figures.as_dict(),
                count=self.archive_count,
                limit=self.archives.limit,
                truncated=self.archives.dropped,
                items=[dict(name=name, **figures.as_dict()) for name, figures in self.archives.sorted_items()],
            ),
            "stale_revisions": dict(self.stale_revision_figures.as_dict(), count=self.stale_revisions),
            "kept_newer_than_known": list(self.kept_newer),
            "lock": dict(self.lock),
            "errors": {"count": self.errors.count, "items": list(self.errors.items)},
            "warnings": list(self.warnings),
        }
        if self.budget is not None:
            data["budget"] = self.budget.as_dict()  # only when one was asked (a prune with max_age or max_size)
        return data


WHEEL = "wheel"
"""A budget entry: one wheel of the wheels bucket (its archive link and the files beside it named after it)."""
SDIST = "sdist"
"""A budget entry: one source distribution of the sdists bucket (its revision pointer and revision folders)."""
PAGE = "index page"
"""A budget entry: one package's index page of the simple bucket."""
BY_AGE = "max_age"
BY_SIZE = "max_size"


@dataclass
class UvBudgetItem:
    """One entry a budget removed: what it is, its age (its newest file's mtime) and the bytes it counted for."""

    kind: str
    package: Optional[str]
    version: Optional[str]
    mtime: Optional[float]
    allocated: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "package": self.package,
            "version": self.version,
            "mtime": iso_time(self.mtime),
            "allocated_bytes": self.allocated,
            "reason": self.reason,
        }


@dataclass
class UvBudget:
    """A prune's budget: asked (``max_size``, ``max_age``, ``min_age``), the cache's size as ``uv cache size`` counts it
    after uv's own prune steps (``size_before``) and after the budget (``size_after``: predicted by a dry run),
    whether that is within ``max_size`` (None without one) and if not why, what went (entries, archives, figures)
    and what stayed (young entries spared, other entries kept)."""

    max_size: Optional[int]
    max_age: Optional[int]
    min_age: int
    size_before: Optional[int] = None
    size_after: Optional[int] = None
    within: Optional[bool] = None
    reason: Optional[str] = None
    entries: int = 0
    by_age: int = 0
    by_size: int = 0
    archives: int = 0
    figures: UvFigures = field(default_factory=UvFigures)
    kept: int = 0
    kept_bytes: int = 0
    spared: int = 0
    spared_bytes: int = 0
    items: Smallest[UvBudgetItem] = field(default_factory=lambda: Smallest(DEFAULT_LIST_LIMIT))
    hardlinks_exact: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_size": self.max_size,
            "max_age": self.max_age,
            "min_age": self.min_age,
            "cache_size_before": self.size_before,
            "cache_size": self.size_after,
            "within_budget": self.within,
            "reason": self.reason,
            "entries": self.entries,
            "by_age": self.by_age,
            "by_size": self.by_size,
            "archives": self.archives,
            "removed": self.figures.as_dict(),
            "kept": {"count": self.kept, "allocated_bytes": self.kept_bytes},
            "spared": {"count": self.spared, "allocated_bytes": self.spared_bytes},
            "items": [dict(path=path, **item.as_dict()) for path, item in self.items.sorted_items()],
            "limit": self.items.limit,
            "truncated": self.items.dropped,
            "hardlinks_exact": self.hardlinks_exact,
        }


# --------------------------------------------------------------------------------------------------
# Folders held open


class _Dir:
    """A folder of the cache, held by its descriptor (every act relative to it), or by its path where there are no
    descriptor-relative calls (Windows). ``parts``: its path below the cache root."""

    __slots__ = ("fd", "parts", "path")

    def __init__(self, fd: Optional[int], path: str, parts: tuple[str, ...]) -> None:
        self.fd = fd
        self.path = path
        self.parts = parts

    def join(self, name: str) -> str:
        return os.path.join(self.path, name)

    def lstat(self, name: str) -> os.stat_result:
        return os.lstat(name, dir_fd=self.fd) if self.fd is not None else os.lstat(self.join(name))

    def close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)


class _Gone:
    """A folder whose whole content went (or would go): its parent removes it, counted in ``sinks``."""

    __slots__ = ("info", "sinks")

    def __init__(self, info: os.stat_result, sinks: tuple[UvFigures, ...]) -> None:
        self.info = info
        self.sinks = sinks


class _Visit(FolderVisit):
    """One folder of a walk, made by its parent's visit (``child_visit``)."""

    def __init__(self, run: _Run, listing: Listing, parts: tuple[str, ...]) -> None:
        self.run = run
        self.listing = listing
        self.parts = parts

    def child_visit(self, listing: Listing) -> _Visit:
        raise NotImplementedError


class _Walker:
    """The visitor of one walk: each folder's visit made by its parent's (the walk is depth first)."""

    def __init__(self, first: Callable[[Listing], _Visit]) -> None:
        self.first = first
        self.stack: list[_Visit] = []

    def __call__(self, listing: Listing) -> FolderVisit:
        del self.stack[listing.depth :]
        visit = self.stack[-1].child_visit(listing) if self.stack else self.first(listing)
        self.stack.append(visit)
        return visit


class _Wipe(_Visit):
    """A folder that goes whole: every file unlinked as it is listed, every sub-folder removed once emptied."""

    def __init__(self, run: _Run, listing: Listing, parts: tuple[str, ...], sinks: tuple[UvFigures, ...], refs: Optional[bool]) -> None:
        super().__init__(run, listing, parts)
        self.sinks = sinks
        self.refs = refs  # None: links not noted; False/True: noted, this folder skipped by uv's archive search
        self.info: Optional[os.stat_result] = None
        try:
            self.info = os.fstat(listing.fd) if listing.fd is not None else os.lstat(listing.path)
        except OSError as error:
            listing.errors.add(listing.path, error)
        self.kept = self.info is None

    def child_visit(self, listing: Listing) -> _Visit:
        name = os.path.basename(listing.path)
        parts = (*self.parts, name)
        if self.run.was_removed(parts):
            return _Earlier(self.run, listing, parts)
        refs = None if self.refs is None else (self.refs or self.run.skips_refs(name))
        return _Wipe(self.run, listing, parts, self.sinks, refs)

    def file(self, item: FileItem) -> None:
        if self.run.was_removed((*self.parts, item.name)):
            return  # an earlier step took it (a dry run still sees it): counted there
        note = self.refs is False
        if not self.run.unlink_listed(self.listing, item, self.parts, self.sinks, note_refs=note):
            self.kept = True

    def child(self, name: str, result: object) -> None:
        if result is _EARLIER:
            return
        if not self.run.settle_child(self.listing, name, result, None):
            self.kept = True

    def done(self) -> object:
        if self.kept or self.info is None:
            return False
        return _Gone(self.info, self.sinks)


class _Skip(_Visit):
    """A folder an earlier step removed (still there in a dry run): nothing in it counts."""

    def child_visit(self, listing: Listing) -> _Visit:
        return _Skip(self.run, listing, (*self.parts, os.path.basename(listing.path)))


_EARLIER = object()  # what a folder an earlier step removed tells a folder being wiped: gone, counted already


class _Earlier(_Skip):
    """A folder an earlier step removed, met again while its parent is wiped (a dry run: a budget's entry after
    ``prune --ci`` took part of it): gone already for the parent, counted by that step."""

    def done(self) -> object:
        return _EARLIER


class _Refs(_Visit):
    """A folder of a bucket searched for archive links, as uv searches it (after the removals)."""

    def __init__(self, run: _Run, listing: Listing, parts: tuple[str, ...], skipped: bool, found: Callable[[str], None]) -> None:
        super().__init__(run, listing, parts)
        self.skipped = skipped
        self.found = found

    def child_visit(self, listing: Listing) -> _Visit:
        name = os.path.basename(listing.path)
        parts = (*self.parts, name)
        if self.run.was_removed(parts):
            return _Skip(self.run, listing, parts)
        return _Refs(self.run, listing, parts, self.skipped or self.run.skips_refs(name), self.found)

    def file(self, item: FileItem) -> None:
        if self.skipped or self.run.skips_refs(item.name) or self.run.was_removed((*self.parts, item.name)):
            return
        try:
            info = os.lstat(item.name, dir_fd=self.listing.fd) if self.listing.fd is not None else os.lstat(self.listing.file_path(item.name))
        except FileNotFoundError:
            return
        except OSError as error:
            self.listing.errors.add(self.listing.file_path(item.name), error)
            return
        archive = self.run.archive_of(self.listing.fd, self.listing.path, item.name, info, self.parts)
        if archive is not None:
            self.found(archive)


class _Sdists(_Visit):
    """A folder of the current sdists bucket during a prune: stale revisions (siblings of the one ``revision.http`` /
    ``revision.rev`` names) go whole, and with ``--ci`` what a built revision holds beyond its metadata and wheels."""

    def __init__(self, run: _Run, listing: Listing, parts: tuple[str, ...]) -> None:
        super().__init__(run, listing, parts)
        self.pointers = run.revision_pointers(listing)
        self.built = run.request.ci and run.has_metadata(listing)

    def _stale(self, name: str) -> bool:
        return any(name != pointer for pointer in self.pointers)

    def child_visit(self, listing: Listing) -> _Visit:
        run = self.run
        name = os.path.basename(listing.path)
        parts = (*self.parts, name)
        if self._stale(name):
            return _Wipe(run, listing, parts, (*run.entry_sinks, run.stale_sink), None)
        if self.built and run.ci_takes(name, None):
            return _Wipe(run, listing, parts, run.entry_sinks, None)
        return _Sdists(run, listing, parts)

    def file(self, item: FileItem) -> None:
        run = self.run
        if self.built and run.ci_takes(item.name, item):
            if run.unlink_listed(self.listing, item, self.parts, run.entry_sinks, note_refs=False):
                run.removed.add("/".join((*self.parts, item.name)))

    def child(self, name: str, result: object) -> None:
        run = self.run
        if isinstance(result, _Gone):
            stale = run.stale_sink in result.sinks
            if run.settle_child(self.listing, name, result, (*self.parts, name)) and stale:
                run.outcome.stale_revisions += 1


# --------------------------------------------------------------------------------------------------
# The run


class _Run:
    """One removal: the cache root held open, the uv's buckets and rules, the figures."""

    def __init__(self, cache_dir: str, root_fd: Optional[int], request: UvRequest, buckets: UvBuckets, outcome: UvOutcome) -> None:
        self.cache_dir = cache_dir
        self.request = request
        self.buckets = buckets
        self.version = buckets.version
        self.outcome = outcome
        self.dry_run = request.dry_run
        self.root = _Dir(root_fd, cache_dir, ())
        info = os.fstat(root_fd) if root_fd is not None else os.stat(cache_dir)
        self.device = info.st_dev
        self.errors = outcome.errors
        self.physical = self.version >= KEEPS_ROOT_SINCE
        self.met: dict[tuple[int, int], int] = {}  # hard-linked files met: links not met yet (as first seen)
        self.links_left: dict[tuple[int, int], int] = {}  # uv 0.13's count: links left (as first seen, less those gone)
        self.removed: set[str] = set()  # what earlier steps removed, as paths below the root: later steps skip it
        self.ref_families, self.ref_filtered = archive_ref_families(buckets)
        absolute = os.path.normpath(os.path.abspath(cache_dir))
        self.roots = tuple(dict.fromkeys((absolute, os.path.realpath(cache_dir))))
        self.entry_figures: dict[str, UvEntryRemoval] = {}
        self.entry_sinks: tuple[UvFigures, ...] = (outcome.removed,)
        self.stale_sink = outcome.stale_revision_figures
        self.noted_refs: set[str] = set()  # archives that links removed by this package's step pointed to
        self.release: Optional[_Links] = None  # a budget's removals: how much ``uv cache size`` loses with each file
        self.released = 0

    # ---- figures -------------------------------------------------------------------------------

    def entry_sink(self, name: str, kind: str, role: str) -> UvFigures:
        """The figures of the root entry ``name`` (past OTHER_ENTRIES_CAP entries, one sum for the rest)."""
        entry = self.entry_figures.get(name)
        if entry is None:
            if len(self.entry_figures) >= OTHER_ENTRIES_CAP:
                self.outcome.more_entries_count += 1
                return self.outcome.more_entries
            entry = self.entry_figures[name] = UvEntryRemoval(name, kind, role)
        return entry.figures

    def use_entry(self, name: str, kind: str, role: str, *extra: UvFigures) -> None:
        self.entry_sinks = (self.outcome.removed, self.entry_sink(name, kind, role), *extra)

    def _uv_bytes(self, info: os.stat_result) -> int:
        """What the uv adds up for one file: its lstat size (<= 0.12); its disk blocks (0.13+), nothing for a file that
        has another hard link left at the time (uv 0.13 measures before each unlink; counted here from the number of
        links first seen, so a dry run counts what a real run does)."""
        if not self.physical:
            return info.st_size
        blocks = int(getattr(info, "st_blocks", 0) or 0) * 512
        if not stat.S_ISREG(info.st_mode) or info.st_nlink <= 1:
            if self.links_left:
                self.links_left.pop((info.st_dev, info.st_ino), None)
            return blocks
        key = (info.st_dev, info.st_ino)
        left = self.links_left.get(key, info.st_nlink)
        if left > 1:
            if len(self.links_left) < LINKED_CAP or key in self.links_left:
                self.links_left[key] = left - 1
            return 0
        self.links_left.pop(key, None)
        return blocks

    def _allocated(self, info: os.stat_result) -> int:
        """Disk bytes of one file, a hard-linked file at its first link only (du's rule). The number of links is read
        once, when the file is first met: a real run, which unlinks as it goes, counts what a dry run counts."""
        blocks = int(getattr(info, "st_blocks", 0) or 0) * 512
        key = (info.st_dev, info.st_ino)
        left = self.met.get(key) if self.met else None
        if left is not None:
            if left <= 1:
                del self.met[key]
            else:
                self.met[key] = left - 1
            return 0
        if info.st_nlink > 1 and len(self.met) < LINKED_CAP:
            self.met[key] = info.st_nlink - 1
        return blocks

    def count_file(self, info: os.stat_result, sinks: tuple[UvFigures, ...]) -> None:
        if self.release is not None:
            self.released += self.release.released(info)
        allocated = self._allocated(info)
        uv_bytes = self._uv_bytes(info)
        for sink in sinks:
            sink.files += 1
            sink.bytes += info.st_size
            sink.allocated += allocated
            sink.uv_bytes += uv_bytes

    def count_dir(self, info: os.stat_result, sinks: tuple[UvFigures, ...]) -> None:
        if self.release is not None:
            self.released += _disk_bytes(info)
        allocated = int(getattr(info, "st_blocks", 0) or 0) * 512
        for sink in sinks:
            sink.dirs += 1
            sink.allocated += allocated

    # ---- reading -------------------------------------------------------------------------------

    def skips_refs(self, name: str) -> bool:
        """Whether uv's archive search neither enters nor reads ``name`` (uv 0.6.17+ filters names)."""
        return self.ref_filtered and ref_name_skipped(name)

    def was_removed(self, parts: tuple[str, ...]) -> bool:
        return bool(self.removed) and "/".join(parts) in self.removed

    def archive_of(self, fd: Optional[int], path: str, name: str, info: os.stat_result, parts: tuple[str, ...]) -> Optional[str]:
        """The archive the entry ``name`` of a folder links to, as uv reads its links: a symbolic link on Unix, a file
        holding ``archive-v0/<id>`` on Windows (its target resolved as text, inside the cache only)."""
        if WINDOWS:
            if stat.S_ISREG(info.st_mode) and len(ARCHIVE) + 2 <= info.st_size <= POINTER_MAX:
                data = _read(fd, path, name, POINTER_MAX + 1)
                return archive_id_of_pointer(data) if data is not None else None
            return None
        if not stat.S_ISLNK(info.st_mode):
            return None
        try:
            target = os.readlink(name, dir_fd=fd) if fd is not None else os.readlink(os.path.join(path, name))
        except OSError:
            return None
        return archive_id_of_target(target, parts, self.roots, os.sep)

    def revision_pointers(self, listing: Listing) -> tuple[str, ...]:
        """The revision ids this folder's ``revision.http`` / ``revision.rev`` name (each that decodes)."""
        found = []
        for pointer in REVISION_POINTERS:
            data = _read(listing.fd, listing.path, pointer, REVISION_READ_MAX)
            if data is not None:
                revision = revision_pointer_id(pointer, data)
                if revision is not None:
                    found.append(revision)
        return tuple(found)

    def has_metadata(self, listing: Listing) -> bool:
        """Whether the folder holds ``metadata.msgpack`` (a built revision), as uv's ``exists()`` tells."""
        try:
            if listing.fd is not None:
                os.stat(METADATA, dir_fd=listing.fd)
            else:
                os.stat(listing.file_path(METADATA))
        except OSError:
            return False
        return True

    def ci_takes(self, name: str, item: Optional[FileItem]) -> bool:
        """``prune --ci`` in a built revision: whether the entry ``name`` (a file ``item``, or a folder) goes."""
        if self.version >= CI_KEEPS_FILES_SINCE:
            return name != METADATA and _extension(name).lower() != "whl"
        return item is None or item.is_link  # before 0.6: its folders and links only

    # ---- removing ------------------------------------------------------------------------------

    def unlink_listed(self, listing: Listing, item: FileItem, parts: tuple[str, ...], sinks: tuple[UvFigures, ...], *, note_refs: bool) -> bool:
        """Unlink one file of a listed folder (a link as a link) and count it; True when it is gone."""
        try:
            info = os.lstat(item.name, dir_fd=listing.fd) if listing.fd is not None else os.lstat(listing.file_path(item.name))
        except FileNotFoundError:
            return True
        except OSError as error:
            listing.errors.add(listing.file_path(item.name), error)
            return False
        if stat.S_ISDIR(info.st_mode) and not is_link_like(info):
            return False  # a folder now, where a file was listed: left for another run
        archive = None
        if note_refs and not self.skips_refs(item.name):
            archive = self.archive_of(listing.fd, listing.path, item.name, info, parts)
        errors_before = listing.errors.count
        if not listing.unlink(item):
            return listing.errors.count == errors_before  # it vanished: gone all the same, not counted
        self.count_file(info, sinks)
        if archive is not None:
            self.noted_refs.add(archive)
        return True

    def settle_child(self, listing: Listing, name: str, result: object, record: Optional[tuple[str, ...]]) -> bool:
        """A walked sub-folder: removed when its walk emptied it (``_Gone``); True when it is gone."""
        if isinstance(result, _Gone):
            done = remove_dir(listing, name)
            if done == REMOVED:
                self.count_dir(result.info, result.sinks)
                if record is not None:
                    self.removed.add("/".join(record))
                return True
            return done == VANISHED
        return result is None and _vanished(listing, name)

    def open_dir(self, parent: _Dir, name: str, *, quiet_link: bool = False) -> Optional[_Dir]:
        """The sub-folder ``name`` of ``parent``, opened without following a link; None when it is missing, no folder, a
        link (said, unless ``quiet_link``) or another file system (reported)."""
        path = parent.join(name)
        try:
            info = parent.lstat(name)
        except FileNotFoundError:
            return None
        except OSError as error:
            self.errors.add(path, error)
            return None
        if is_link_like(info):
            if not quiet_link:
                self.outcome.warnings.append(f"{path} is a symbolic link: left alone, its target is neither counted nor entered")
            return None
        if not stat.S_ISDIR(info.st_mode):
            return None
        if info.st_dev != self.device:
            self.errors.add(path, OSError(errno.EXDEV, "another file system is mounted here: left alone, never entered"))
            return None
        if parent.fd is None:
            return _Dir(None, path, (*parent.parts, name))
        try:
            fd = open_dir_at(name, parent.fd)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                self.errors.add(path, OSError(error.errno, "changed into a link or a file while the cache was walked: left alone"))
            else:
                self.errors.add(path, error)
            return None
        try:
            if os.fstat(fd).st_dev != self.device:
                self.errors.add(path, OSError(errno.EXDEV, "another file system is mounted here: left alone, never entered"))
                os.close(fd)
                return None
        except OSError:
            os.close(fd)
            raise
        return _Dir(fd, path, (*parent.parts, name))

    def remove_named(self, parent: _Dir, name: str, sinks: tuple[UvFigures, ...], *, note_refs: bool = False, record: bool = True) -> bool:
        """Remove the entry ``name`` of ``parent`` whatever it is: a file or a link (as itself), or a folder with
        everything in it; True when it went (or would go). ``note_refs``: links removed are noted (``noted_refs``)."""
        path = parent.join(name)
        parts = (*parent.parts, name)
        if self.was_removed(parts):
            return False  # an earlier step took it (a dry run still sees it): once only
        try:
            info = parent.lstat(name)
        except FileNotFoundError:
            return False
        except OSError as error:
            self.errors.add(path, error)
            return False
        if stat.S_ISDIR(info.st_mode) and not is_link_like(info):
            if info.st_dev != self.device:
                self.errors.add(path, OSError(errno.EXDEV, "another file system is mounted here: left alone, never entered"))
                return False
            refs = self.skips_refs(name) if note_refs else None
            walker = _Walker(lambda listing: _Wipe(self, listing, parts, sinks, refs))
            result = core_walk.walk(path, walker, errors=self.errors, dry_run=self.dry_run, parent_fd=parent.fd)
            if not isinstance(result, _Gone):
                return False
            done = remove_root(path, dry_run=self.dry_run, errors=self.errors, parent_fd=parent.fd)
            if done != REMOVED:
                return done == VANISHED
            self.count_dir(result.info, sinks)
        else:
            archive = None
            if note_refs and not self.skips_refs(name):
                archive = self.archive_of(parent.fd, parent.path, name, info, parent.parts)
            if not self.dry_run:
                try:
                    if parent.fd is not None:
                        os.unlink(name, dir_fd=parent.fd)
                    else:
                        os.unlink(path)
                except FileNotFoundError:
                    return False
                except OSError as error:
                    self.errors.add(path, error)
                    return False
            self.count_file(info, sinks)
            if archive is not None:
                self.noted_refs.add(archive)
        if record:
            self.removed.add("/".join(parts))
        return True

    def each_entry(self, folder: _Dir) -> Iterator[tuple[str, str]]:
        """(name, kind) of every entry of ``folder`` (``dir``, ``file`` or ``link``: a link never followed), streamed as
        the core lists it (name order up to ``SORTED_MAX`` entries): removing the entry given meanwhile is fine."""
        try:
            listing = core_walk.list_dir(folder.path, folder.fd)
        except FileNotFoundError:
            return
        except OSError as error:
            self.errors.add(folder.path, error)
            return
        try:
            for entry in listing:
                try:
                    item = core_walk.classify(entry, folder.fd, folder.path)
                except FileNotFoundError:
                    continue
                except OSError as error:
                    self.errors.add(os.path.join(folder.path, entry.name), error)
                    continue
                yield entry.name, (DIR if item is None else (LINK if item.is_link else FILE))
        finally:
            core_walk.close_entries(listing)
        failed = getattr(listing, "error", None)
        if failed is not None and not isinstance(failed, FileNotFoundError):
            self.errors.add(folder.path, failed)

    def bucket(self, family: str) -> Optional[_Dir]:
        """The current bucket of ``family``, opened; None when there is none (a link there is said and left)."""
        name = self.buckets.name(family)
        return self.open_dir(self.root, name) if name is not None else None

    def use_bucket(self, family: str, *extra: UvFigures) -> Optional[_Dir]:
        """The current bucket of ``family``, opened, its figures (and ``extra``) the sinks of what goes next."""
        name = self.buckets.name(family)
        folder = self.bucket(family)
        if name is not None and folder is not None:
            self.use_entry(name, DIR, CURRENT, *extra)
        return folder

    def finish(self) -> None:
        self.outcome.entries = sorted(self.entry_figures.values(), key=lambda entry: entry.name)

    # ---- archives ------------------------------------------------------------------------------

    def referenced(self, wanted: Optional[set[str]]) -> Optional[set[str]]:
        """The archives links in the uv's searched buckets point to now (those in ``wanted`` only, when given), what
        earlier steps removed left out; None when a bucket could not be read in full (then no archive may go)."""
        found: set[str] = set()
        overflow = False

        def note(archive: str) -> None:
            nonlocal overflow
            if wanted is not None and archive not in wanted:
                return
            if len(found) >= REFS_CAP and archive not in found:
                overflow = True
                return
            found.add(archive)

        errors = WalkErrors()
        for family in self.ref_families:
            name = self.buckets.name(family)
            if name is None or self.was_removed((name,)):
                continue
            folder = self.open_dir(self.root, name, quiet_link=True)
            if folder is None:
                continue
            try:
                core_walk.walk(folder.path, self._refs_walker(name, note), errors=errors, dry_run=True, parent_fd=self.root.fd)
            finally:
                folder.close()
        if errors.count:
            known = {item["path"] for item in self.errors.items}
            fresh = WalkErrors()  # what the removal did not report already (uv < 0.6.17 searches the buckets it empties)
            fresh.items = [item for item in errors.items if item["path"] not in known]
            fresh.count = len(fresh.items) + errors.count - len(errors.items)
            self.errors.merge(fresh)
            self.outcome.warnings.append("some folders holding archive links could not be read: no archive was removed")
            return None
        if overflow:
            self.outcome.warnings.append(f"more than {REFS_CAP} archives are linked from the cache: no archive was removed")
            return None
        return found

    def _refs_walker(self, bucket: str, note: Callable[[str], None]) -> _Walker:
        return _Walker(lambda listing: _Refs(self, listing, (bucket,), False, note))

    def remove_archive(self, archives: _Dir, name: str, *, record: bool = True) -> bool:
        """One entry of archive-v0 (once: a dry run's earlier step may have taken it already)."""
        if self.was_removed((ARCHIVE, name)):
            return False
        figures = UvFigures()
        if not self.remove_named(archives, name, (*self.entry_sinks, figures), record=record):
            return False
        self.outcome.archive_count += 1
        self.outcome.archive_figures.merge(figures)
        self.outcome.archives.get(name, lambda: figures)
        return True

    # ---- the requests --------------------------------------------------------------------------

    def purge(self) -> None:
        """Everything but the root ``.lock`` (and buckets of a uv newer than this engine knows)."""
        for name, kind in self.each_entry(self.root):
            if name == LOCK_NAME:
                continue
            entry = classify_root_entry(name, kind, self.buckets)
            if entry.role == NEWER:
                self._keep_newer(name)
                continue
            self.remove_named(self.root, name, (self.outcome.removed, self.entry_sink(name, kind, entry.role)))

    def _keep_newer(self, name: str) -> None:
        self.outcome.kept_newer.append(name)
        self.outcome.warnings.append(
            f"{self.root.join(name)} was made by a uv newer than this engine knows (uv {self.version} is the newest it knows): left alone"
        )

    def clean(self, packages: list[tuple[str, str]]) -> None:
        """``uv cache clean PKG...``: each package's entries in bucket order, then the archives only it pointed to."""
        seen: set[str] = set()
        for requested, name in packages:
            package = UvPackageRemoval(requested, name)
            self.outcome.packages.append(package)
            if name in seen:
                continue  # uv finds nothing left the second time
            seen.add(name)
            self.noted_refs = set()
            self._clean_wheels(name, package.figures)
            self._clean_sdists(name, package.figures)
            self._clean_flat_index(package.figures)
            self._clean_simple(name, package.figures)
            if self.noted_refs:
                self._clean_archives(package)

    def _each_dir(self, folder: Optional[_Dir]) -> list[str]:
        return [name for name, kind in self.each_entry(folder) if kind == DIR] if folder is not None else []

    def _clean_wheels(self, name: str, figures: UvFigures) -> None:
        bucket = self.use_bucket("wheels", figures)
        if bucket is None:
            return
        try:
            self._remove_in(bucket, "pypi", name, note_refs=True)
            for kind in ("index", "url"):
                self._remove_below(bucket, kind, name, note_refs=True)
        finally:
            bucket.close()

    def _remove_in(self, bucket: _Dir, kind: str, name: str, *, note_refs: bool) -> None:
        folder = self.open_dir(bucket, kind)
        if folder is not None:
            try:
                self.remove_named(folder, name, self.entry_sinks, note_refs=note_refs)
            finally:
                folder.close()

    def _remove_below(self, bucket: _Dir, kind: str, name: str, *, note_refs: bool) -> None:
        """``<kind>/*/<name>`` of a bucket (one folder per index or URL)."""
        folder = self.open_dir(bucket, kind)
        if folder is None:
            return
        try:
            for child in self._each_dir(folder):
                inner = self.open_dir(folder, child)
                if inner is not None:
                    try:
                        self.remove_named(inner, name, self.entry_sinks, note_refs=note_refs)
                    finally:
                        inner.close()
        finally:
            folder.close()

    def _matches(self, folder: _Dir, name: str) -> bool:
        """Whether ``folder/metadata.msgpack`` names the package (uv's ``is_match``)."""
        data = _read(folder.fd, folder.path, METADATA, METADATA_READ_MAX)
        return data is not None and metadata_name(data) == name

    def _clean_sdists(self, name: str, figures: UvFigures) -> None:
        bucket = self.use_bucket("sdists", figures)
        if bucket is None:
            return
        try:
            self._remove_in(bucket, "pypi", name, note_refs=True)
            self._remove_below(bucket, "index", name, note_refs=True)
            for kind in ("url", "path"):
                folder = self.open_dir(bucket, kind)
                if folder is None:
                    continue
                try:
                    for source in self._each_dir(folder):
                        if self._any_revision_matches(folder, source, name):
                            self.remove_named(folder, source, self.entry_sinks, note_refs=True)
                finally:
                    folder.close()
            git = self.open_dir(bucket, "git")
            if git is not None:
                try:
                    for repository in self._each_dir(git):
                        inner = self.open_dir(git, repository)
                        if inner is None:
                            continue
                        try:
                            for sha in self._each_dir(inner):
                                if self._any_revision_matches(inner, sha, name, itself=True):
                                    self.remove_named(inner, sha, self.entry_sinks, note_refs=True)
                        finally:
                            inner.close()
                finally:
                    git.close()
        finally:
            bucket.close()

    def _any_revision_matches(self, parent: _Dir, name: str, package: str, *, itself: bool = False) -> bool:
        """Whether ``parent/name`` (``itself``) or any of its sub-folders holds a ``metadata.msgpack`` naming ``package``."""
        folder = self.open_dir(parent, name, quiet_link=True)
        if folder is None:
            return False
        try:
            if itself:
                return self._matches(folder, package)
            for child in self._each_dir(folder):
                inner = self.open_dir(folder, child, quiet_link=True)
                if inner is not None:
                    try:
                        if self._matches(inner, package):
                            return True
                    finally:
                        inner.close()
            return False
        finally:
            folder.close()

    def _clean_flat_index(self, figures: UvFigures) -> None:
        name = self.buckets.name("flat-index")
        if name is None:
            return
        try:
            info = self.root.lstat(name)
        except OSError:
            return
        kind = LINK if is_link_like(info) else (DIR if stat.S_ISDIR(info.st_mode) else FILE)
        self.use_entry(name, kind, CURRENT, figures)
        self.remove_named(self.root, name, self.entry_sinks, note_refs=not self.ref_filtered)

    def _clean_simple(self, name: str, figures: UvFigures) -> None:
        bucket = self.use_bucket("simple", figures)
        if bucket is None:
            return
        try:
            self._remove_in(bucket, "pypi", f"{name}.rkyv", note_refs=not self.ref_filtered)
            self._remove_below(bucket, "index", f"{name}.rkyv", note_refs=not self.ref_filtered)
        finally:
            bucket.close()

    def _clean_archives(self, package: UvPackageRemoval) -> None:
        """The archives links removed for this package pointed to, and no link left points to (uv 0.6.17+: every
        referencing link gone; before: referenced before, not after, which is the same)."""
        wanted = self.noted_refs
        still = self.referenced(wanted)
        if still is None:
            return
        archives = self.use_bucket("archive", package.figures)
        if archives is None:
            return
        try:
            for name in sorted(wanted - still):
                package.archives += self.remove_archive(archives, name)
        finally:
            archives.close()

    def prune(self) -> None:
        """``uv cache prune [--ci]``, in uv's order: stale revisions (and ``--ci`` in built revisions), root entries no
        uv of this version uses, environments, build environments (0.13+), ``--ci`` wheels, unreferenced archives."""
        request = self.request
        sdists = self.use_bucket("sdists")
        if sdists is not None:
            try:
                walker = _Walker(lambda listing: _Sdists(self, listing, sdists.parts))
                core_walk.walk(sdists.path, walker, errors=self.errors, dry_run=self.dry_run, parent_fd=self.root.fd)
            finally:
                sdists.close()
        for name, kind in self.each_entry(self.root):
            entry = classify_root_entry(name, kind, self.buckets)
            if entry.role == NEWER:
                self._keep_newer(name)
            elif entry.role not in (MARKER, CURRENT):
                self.remove_named(self.root, name, (self.outcome.removed, self.entry_sink(name, kind, entry.role)))
        self._empty("environments")
        if self.version >= KEEPS_ROOT_SINCE:
            self._empty("builds")
        if request.ci:
            wheels = self.use_bucket("wheels")
            if wheels is not None:
                try:
                    for name, kind in self.each_entry(wheels):
                        if kind == DIR or (kind == LINK and _points_to_folder(wheels, name)):
                            self.remove_named(wheels, name, self.entry_sinks)
                finally:
                    wheels.close()
        referenced = self.referenced(None)
        budget = self.outcome.budget
        if referenced is not None:
            archives = self.use_bucket("archive")
            if archives is not None:
                try:
                    for name, _kind in self.each_entry(archives):
                        if name not in referenced:
                            # uv's last step: nothing later skips it, unless a budget follows (its dry run must)
                            self.remove_archive(archives, name, record=budget is not None)
                finally:
                    archives.close()
        if budget is not None:
            if referenced is None:
                budget.reason = "the budget was not applied: the folders holding archive links could not all be read (see errors)"
                return
            _Budgeting(self, budget).apply()

    def _empty(self, family: str) -> None:
        folder = self.use_bucket(family)
        if folder is None:
            return
        try:
            for name, _kind in self.each_entry(folder):
                self.remove_named(folder, name, self.entry_sinks)
        finally:
            folder.close()


def _points_to_folder(folder: _Dir, name: str) -> bool:
    """Whether the link ``name`` leads to a folder (read only: uv's ``is_dir()``; the link is what goes, never its target)."""
    try:
        info = os.stat(name, dir_fd=folder.fd) if folder.fd is not None else os.stat(folder.join(name))
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode)


def _vanished(listing: Listing, name: str) -> bool:
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


def _read(fd: Optional[int], path: str, name: str, limit: int) -> Optional[bytes]:
    """Up to ``limit`` bytes of the regular file ``name`` in a folder (by its descriptor when given), never through a
    link; None when it is no regular file or cannot be read."""
    try:
        handle = os.open(name, _READ_FLAGS, dir_fd=fd) if fd is not None else os.open(os.path.join(path, name), _READ_FLAGS)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            return None
        chunks = []
        left = limit
        while left > 0:
            chunk = os.read(handle, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(handle)


# --------------------------------------------------------------------------------------------------
# Size and age budgets (beyond uv)

_ENTRY_LAYOUT: dict[str, tuple[str, bool, dict[str, int]]] = {
    # family: (what its entries are, whether each is a folder (else a group of files named alike), and for each first
    # folder below the bucket how many folder levels below it lies the folder that holds the entries)
    "wheels": (WHEEL, False, {"pypi": 1, "index": 2, "url": 2, "path": 2, "editable": 2, "git": 2}),
    "sdists": (SDIST, True, {"pypi": 1, "index": 2, "url": 0, "path": 0, "editable": 0, "git": 1}),
    "simple": (PAGE, False, {"pypi": 0, "index": 1}),
}
_GROUP_SUFFIXES = (".http", ".msgpack", ".rkyv", ".rev", ".whl", ".lock")
"""A wheel's (or an index page's) files: ``<stem>`` (the archive link) and ``<stem>`` + one of these."""
_POINTER_SUFFIXES = (".http", ".msgpack", ".rkyv", ".rev")
"""Removed first: what tells uv the entry is there (uv 0.13's ``.http`` names the archive)."""
CACHE_KEY_SINCE = UvVersion(0, 6, 4)
"""uv 0.6.4+ names a wheel's files ``<version>-<tags>`` (``cache_key``); before, ``<name>-<version>-<tags>``."""


def _disk_bytes(info: os.stat_result) -> int:
    """What ``uv cache size`` counts for one lstat: its disk blocks (its size where the system gives none)."""
    blocks = getattr(info, "st_blocks", None)
    return int(blocks) * 512 if blocks is not None else int(info.st_size)


def _stem(name: str) -> str:
    for suffix in _GROUP_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _removal_rank(name: str) -> int:
    """Pointers first (0), the link and the rest (1), the ``.lock`` last (2)."""
    if name.endswith(".lock") and len(name) > 5:
        return 2
    return 0 if any(name.endswith(suffix) and len(name) > len(suffix) for suffix in _POINTER_SUFFIXES) else 1


def _name_version(data: Optional[bytes]) -> tuple[Optional[str], Optional[str]]:
    """Package and version a ``metadata.msgpack`` names (``[name, version, ...]`` or a map); None for what is unknown."""
    if not data:
        return None, None
    version = None
    try:
        value, _end = msgpack_value(data)
        if isinstance(value, list) and len(value) > 1 and isinstance(value[1], str):
            version = value[1]
        elif isinstance(value, dict) and isinstance(value.get("version"), str):
            version = str(value["version"])
    except (MsgpackError, ValueError, IndexError):
        pass
    return metadata_name(data), version


class _Links:
    """Files with several hard links met in the cache (as first seen, up to LINKED_CAP): ``uv cache size`` (du) counts
    such a file once, at its first link (``blocks``); the cache gets smaller by it only once all its links in the cache
    are gone (``released``: its links out of the cache do not count, as du does not see them)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[int, int], int] = {}
        self.exact = True

    def blocks(self, info: os.stat_result) -> int:
        size = _disk_bytes(info)
        if info.st_nlink <= 1 or stat.S_ISDIR(info.st_mode):
            return size
        key = (info.st_dev, info.st_ino)
        count = self.seen.get(key)
        if count is None:
            if len(self.seen) >= LINKED_CAP:
                self.exact = False
            else:
                self.seen[key] = 1
            return size
        self.seen[key] = count + 1
        return 0

    def released(self, info: os.stat_result) -> int:
        """What the cache's size loses as this file goes (a real run reads the number of links left, a dry run the
        number the census met: both count the file once, with its last link in the cache)."""
        size = _disk_bytes(info)
        if info.st_nlink <= 1 or stat.S_ISDIR(info.st_mode):
            return size
        key = (info.st_dev, info.st_ino)
        count = self.seen.get(key)
        if count is None or count <= 1:
            self.seen.pop(key, None)
            return size
        self.seen[key] = count - 1
        return 0


class _Census:
    """The cache after uv's prune steps, as ``uv cache size`` counts it: its total and each archive's size and age."""

    def __init__(self) -> None:
        self.total = 0
        self.links = _Links()
        self.archives: dict[str, list[float]] = {}  # archive -> [disk bytes, its folder's mtime]
        self.overflow = False

    def archive(self, name: str, mtime: float) -> Optional[list[float]]:
        if len(self.archives) >= REFS_CAP and name not in self.archives:
            self.overflow = True
            return None
        found = self.archives[name] = [0, mtime]
        return found


class _CensusVisit(_Visit):
    """One folder of the census: its own blocks and its files', what earlier steps removed left out (a dry run)."""

    def __init__(self, run: _Run, listing: Listing, parts: tuple[str, ...], census: _Census, archive: Optional[list[float]]) -> None:
        super().__init__(run, listing, parts)
        self.census = census
        self.archive = archive
        try:
            info = os.fstat(listing.fd) if listing.fd is not None else os.lstat(listing.path)
        except OSError as error:
            listing.errors.add(listing.path, error)
            return
        blocks = census.links.blocks(info)
        census.total += blocks
        if archive is None and len(parts) == 2 and parts[0] == ARCHIVE:
            self.archive = census.archive(parts[1], info.st_mtime)
        if self.archive is not None:
            self.archive[0] += blocks

    def child_visit(self, listing: Listing) -> _Visit:
        parts = (*self.parts, os.path.basename(listing.path))
        if self.run.was_removed(parts):
            return _Skip(self.run, listing, parts)
        return _CensusVisit(self.run, listing, parts, self.census, self.archive)

    def file(self, item: FileItem) -> None:
        if self.run.was_removed((*self.parts, item.name)):
            return
        info = _lstat_listed(self.listing, item.name)
        if info is None:
            return
        blocks = self.census.links.blocks(info)
        self.census.total += blocks
        archive = self.census.archive(item.name, info.st_mtime) if self.parts == (ARCHIVE,) else self.archive
        if archive is not None:
            archive[0] += blocks


def _constant(item: UvBudgetItem) -> Callable[[], UvBudgetItem]:
    return lambda: item


def _lstat_listed(listing: Listing, name: str) -> Optional[os.stat_result]:
    """The lstat of a listed file; None when it is gone or became a folder (reported when it cannot be read)."""
    try:
        info = os.lstat(name, dir_fd=listing.fd) if listing.fd is not None else os.lstat(listing.file_path(name))
    except FileNotFoundError:
        return None
    except OSError as error:
        listing.errors.add(listing.file_path(name), error)
        return None
    return None if stat.S_ISDIR(info.st_mode) and not is_link_like(info) else info


class _Tally:
    """One entry measured: its newest file's mtime, its disk bytes, the archives its links point to, and its folder's
    own mtime (a folder entry)."""

    __slots__ = ("allocated", "archives", "newest", "own")

    def __init__(self) -> None:
        self.newest: Optional[float] = None
        self.own: Optional[float] = None
        self.allocated = 0
        self.archives: list[str] = []

    def add(self, mtime: float, allocated: int) -> None:
        self.allocated += allocated
        if self.newest is None or mtime > self.newest:
            self.newest = mtime


class _Measure(_Visit):
    """One folder of a folder entry, measured: what earlier steps removed left out, links read as uv's search reads
    them (never followed)."""

    def __init__(self, run: _Run, listing: Listing, parts: tuple[str, ...], skipped: bool, tally: _Tally, links: _Links) -> None:
        super().__init__(run, listing, parts)
        self.skipped = skipped
        self.tally = tally
        self.links = links
        try:
            info = os.fstat(listing.fd) if listing.fd is not None else os.lstat(listing.path)
        except OSError as error:
            listing.errors.add(listing.path, error)
            return
        tally.allocated += links.blocks(info)
        if listing.depth == 0:
            tally.own = info.st_mtime

    def child_visit(self, listing: Listing) -> _Visit:
        name = os.path.basename(listing.path)
        parts = (*self.parts, name)
        if self.run.was_removed(parts):
            return _Skip(self.run, listing, parts)
        return _Measure(self.run, listing, parts, self.skipped or self.run.skips_refs(name), self.tally, self.links)

    def file(self, item: FileItem) -> None:
        run = self.run
        if run.was_removed((*self.parts, item.name)):
            return
        info = _lstat_listed(self.listing, item.name)
        if info is None:
            return
        self.tally.add(info.st_mtime, self.links.blocks(info))
        if not self.skipped and not run.skips_refs(item.name):
            archive = run.archive_of(self.listing.fd, self.listing.path, item.name, info, self.parts)
            if archive is not None:
                self.tally.archives.append(archive)


class _Entry:
    """One budget entry: a folder of ``holder`` (``names[0]``), or the files ``names`` of ``holder`` named after ``key``."""

    __slots__ = ("family", "holder", "is_folder", "key", "kind", "names")

    def __init__(self, family: str, kind: str, holder: _Dir, names: list[str], key: str, is_folder: bool) -> None:
        self.family = family
        self.kind = kind
        self.holder = holder
        self.names = names
        self.key = key
        self.is_folder = is_folder

    @property
    def path(self) -> str:
        return "/".join((*self.holder.parts, self.key))


class _Budgeting:
    """A prune's size and age budget, after uv's own prune steps, in three passes that see the same entries in the same
    order (what earlier steps removed left out, so a dry run predicts a real run): a census of the whole cache (its
    size as ``uv cache size`` counts it, each archive's size and age); a plan (each entry's age and size into the core's
    histogram, ``Budget``; which entry each archive counts with); the removal (oldest first, whole entries), then the
    archives no link points to any more."""

    def __init__(self, run: _Run, budget: UvBudget) -> None:
        request = run.request
        self.run = run
        self.budget = budget
        self.now = request.now if request.now is not None else time.time()
        self.max_age = request.max_age
        self.max_size = request.max_size
        self.min_age = request.min_age or 0
        self.census = _Census()
        self.groups: dict[str, list[float]] = {}  # archive -> [age of its newest entry, that entry's number, entries]
        self.overflow = False

    def young(self, age: float) -> bool:
        return self.min_age > 0 and self.now - age < self.min_age

    def old(self, age: float) -> bool:
        return self.max_age is not None and self.now - age > self.max_age

    # ---- the passes ----------------------------------------------------------------------------

    def apply(self) -> None:
        run, budget = self.run, self.budget
        errors, run.errors = run.errors, WalkErrors()
        try:
            self.take_census()
            census_errors, run.errors = run.errors, WalkErrors()  # the plan's errors: the removal meets them again
            plan = self.plan()
        finally:
            run.errors = errors
        self.merge_fresh(census_errors)
        budget.size_before = budget.size_after = self.census.total
        if self.census.overflow or self.overflow:
            budget.reason = f"the budget was not applied: more than {REFS_CAP} archives in the cache"
            run.outcome.warnings.append(budget.reason)
            return
        errors, run.errors = run.errors, WalkErrors()
        run.release, run.released = self.census.links, 0
        try:
            self.remove(plan)
        finally:
            fresh, run.errors = run.errors, errors
            run.release = None
        self.merge_fresh(fresh)
        budget.size_after = self.census.total - run.released
        budget.hardlinks_exact = self.census.links.exact
        if self.max_size is not None:
            budget.within = budget.size_after <= self.max_size
            if not budget.within:
                budget.reason = self.why_over()

    def take_census(self) -> None:
        """Everything in the cache (what earlier steps removed left out): ``uv cache size``'s total, each archive's."""
        run, census = self.run, self.census
        root = run.root
        try:
            census.total += census.links.blocks(os.fstat(root.fd) if root.fd is not None else os.stat(root.path))
        except OSError as error:
            run.errors.add(root.path, error)
        for name, kind in run.each_entry(root):
            if run.was_removed((name,)):
                continue
            if kind != DIR:
                try:
                    census.total += census.links.blocks(root.lstat(name))
                except FileNotFoundError:
                    pass
                except OSError as error:
                    run.errors.add(root.join(name), error)
                continue
            folder = run.open_dir(root, name, quiet_link=True)  # never another file system
            if folder is None:
                continue
            folder.close()
            walker = self.census_walker(name)
            core_walk.walk(root.join(name), walker, errors=run.errors, dry_run=True, parent_fd=root.fd)

    def census_walker(self, name: str) -> _Walker:
        return _Walker(lambda listing: _CensusVisit(self.run, listing, (name,), self.census, None))

    def plan(self) -> Optional[Budget]:
        """Each entry's age and size into the histogram (``max_size``) or the bytes ``max_age`` takes; each archive with
        the entry of its own that is newest (the last of them to go: an archive goes with its last link), as its age."""
        budget = Budget() if self.max_size is not None else None
        links = _Links()
        taken = 0
        number = 0
        for entry in self.entries():
            number += 1
            tally = self.measure(entry, links)
            if tally is None:
                continue
            age = self.age_of(tally)
            for archive in set(tally.archives):
                if archive not in self.census.archives:
                    continue
                group = self.groups.get(archive)
                if group is None:
                    if len(self.groups) >= REFS_CAP:
                        self.overflow = True
                        continue
                    self.groups[archive] = [age, number, 1]
                else:
                    group[2] += 1
                    if age >= group[0]:
                        group[0], group[1] = age, number
            if self.young(age):
                continue
            if self.old(age):
                taken += tally.allocated
            elif budget is not None:
                budget.add(age, tally.allocated)
        for archive, (age, _number, _count) in self.groups.items():
            size = int(self.census.archives[archive][0])
            if self.young(age):
                continue
            if self.old(age):
                taken += size
            elif budget is not None:
                budget.add(age, size)
        if budget is not None and self.max_size is not None:
            budget.plan(self.census.total - taken, self.max_size)
        return budget

    def remove(self, plan: Optional[Budget]) -> None:
        """Oldest first: every entry older than ``max_age``, then what the histogram takes for ``max_size`` (an entry
        that shares an archive with an entry taken before it as the last of them goes too, so the archive does); never
        an entry younger than ``min_age``; then the archives no link points to any more."""
        budget = self.budget
        links = _Links()
        must_go: set[str] = set()  # archives whose last entry went: their other entries go too
        number = 0
        unlinked = False
        for entry in self.entries():
            number += 1
            tally = self.measure(entry, links)
            if tally is None:
                continue
            age = self.age_of(tally)
            archives = set(tally.archives)
            carried = [archive for archive in archives if archive in self.groups and self.groups[archive][1] == number]
            size = tally.allocated + sum(int(self.census.archives[archive][0]) for archive in carried)
            if self.young(age):
                budget.spared += 1
                budget.spared_bytes += size
                continue
            reason = None
            if self.old(age):
                reason = BY_AGE
            elif plan is not None and (plan.take(age, size) or not must_go.isdisjoint(archives)):
                reason = BY_SIZE
            if reason is None:
                budget.kept += 1
                budget.kept_bytes += size
                continue
            package, version = self.describe(entry)
            item = UvBudgetItem(entry.kind, package, version, age, size, reason)
            if not self.remove_entry(entry):
                continue
            budget.entries += 1
            if reason == BY_AGE:
                budget.by_age += 1
            else:
                budget.by_size += 1
            budget.items.get(entry.path, _constant(item))
            unlinked = unlinked or bool(archives)
            must_go.update(archive for archive in carried if self.groups[archive][2] > 1)
        if unlinked:
            self.remove_unlinked_archives()

    # ---- entries -------------------------------------------------------------------------------

    def entries(self) -> Iterator[_Entry]:
        """Every entry of the current wheels, sdists and simple buckets, in the same order at every pass."""
        run = self.run
        for family, (kind, folders, tops) in _ENTRY_LAYOUT.items():
            name = run.buckets.name(family)
            if name is None or run.was_removed((name,)):
                continue
            bucket = run.open_dir(run.root, name, quiet_link=True)
            if bucket is None:
                continue
            try:
                for top_name in self.dirs(bucket):
                    levels = tops.get(top_name)
                    top = run.open_dir(bucket, top_name, quiet_link=True) if levels is not None else None
                    if top is None or levels is None:
                        continue
                    try:
                        for holder in self.holders(top, levels):
                            yield from self.entries_in(holder, family, kind, folders)
                    finally:
                        top.close()
            finally:
                bucket.close()

    def dirs(self, folder: _Dir) -> Iterator[str]:
        for name, kind in self.run.each_entry(folder):
            if kind == DIR and not self.run.was_removed((*folder.parts, name)):
                yield name

    def holders(self, folder: _Dir, levels: int) -> Iterator[_Dir]:
        if levels == 0:
            yield folder
            return
        for name in self.dirs(folder):
            child = self.run.open_dir(folder, name, quiet_link=True)
            if child is None:
                continue
            try:
                yield from self.holders(child, levels - 1)
            finally:
                child.close()

    def entries_in(self, holder: _Dir, family: str, kind: str, folders: bool) -> Iterator[_Entry]:
        if folders:
            for name in self.dirs(holder):
                yield _Entry(family, kind, holder, [name], name, True)
            return
        groups: dict[str, list[str]] = {}  # one folder's files at a time, by the name they share
        for name, entry_kind in self.run.each_entry(holder):
            if entry_kind != DIR and not self.run.was_removed((*holder.parts, name)):
                groups.setdefault(_stem(name), []).append(name)
        for key in sorted(groups):
            yield _Entry(family, kind, holder, groups[key], key, False)

    def measure(self, entry: _Entry, links: _Links) -> Optional[_Tally]:
        """An entry's newest mtime, disk bytes and archives; None when it is gone (or is another file system)."""
        run, holder = self.run, entry.holder
        tally = _Tally()
        if entry.is_folder:
            name = entry.names[0]
            try:
                if holder.lstat(name).st_dev != run.device:
                    return None
            except OSError:
                return None
            parts = (*holder.parts, name)
            skipped = run.skips_refs(name)
            walker = _Walker(lambda listing: _Measure(run, listing, parts, skipped, tally, links))
            core_walk.walk(holder.join(name), walker, errors=run.errors, dry_run=True, parent_fd=holder.fd)
            return tally if tally.own is not None else None
        for name in entry.names:
            try:
                info = holder.lstat(name)
            except FileNotFoundError:
                continue
            except OSError as error:
                run.errors.add(holder.join(name), error)
                continue
            if stat.S_ISDIR(info.st_mode) and not is_link_like(info):
                continue
            tally.add(info.st_mtime, links.blocks(info))
            if not run.skips_refs(name):
                archive = run.archive_of(holder.fd, holder.path, name, info, holder.parts)
                if archive is not None:
                    tally.archives.append(archive)
        return tally if tally.newest is not None else None

    def age_of(self, tally: _Tally) -> float:
        """The newest mtime among the entry's files and its archives' folders (its folder's own when it has no file)."""
        first = tally.newest if tally.newest is not None else tally.own
        ages = [first] if first is not None else []
        ages += [self.census.archives[archive][1] for archive in tally.archives if archive in self.census.archives]
        return max(ages) if ages else 0.0

    def describe(self, entry: _Entry) -> tuple[Optional[str], Optional[str]]:
        """The package and version an entry holds, from its place in the bucket (or a source's metadata.msgpack)."""
        parts = entry.holder.parts
        top = parts[1] if len(parts) > 1 else ""
        if entry.kind == PAGE:
            return entry.key, None
        if entry.kind == WHEEL:
            pieces = entry.key.split("-")
            if top == "git":  # the wheel's full stem: <name>-<version>-<tags>
                return _uv_name(pieces[0]), pieces[1] if len(pieces) > 1 else None
            if self.run.version >= CACHE_KEY_SINCE:
                return parts[-1], pieces[0]
            return parts[-1], pieces[1] if len(pieces) > 1 else None
        if top in ("pypi", "index"):
            return parts[-1], entry.key
        return self.metadata_of(entry.holder, entry.names[0])

    def metadata_of(self, holder: _Dir, name: str) -> tuple[Optional[str], Optional[str]]:
        run = self.run
        folder = run.open_dir(holder, name, quiet_link=True)
        if folder is None:
            return None, None
        try:
            found = _name_version(_read(folder.fd, folder.path, METADATA, METADATA_READ_MAX))
            if found[0] is not None:
                return found
            for child in self.dirs(folder):
                inner = run.open_dir(folder, child, quiet_link=True)
                if inner is None:
                    continue
                try:
                    found = _name_version(_read(inner.fd, inner.path, METADATA, METADATA_READ_MAX))
                finally:
                    inner.close()
                if found[0] is not None:
                    return found
        finally:
            folder.close()
        return None, None

    # ---- removing ------------------------------------------------------------------------------

    def sinks(self, family: str) -> tuple[UvFigures, ...]:
        name = self.run.buckets.name(family) or family
        return (self.run.outcome.removed, self.run.entry_sink(name, DIR, CURRENT), self.budget.figures)

    def gone(self, folder: _Dir, name: str, sinks: tuple[UvFigures, ...]) -> bool:
        """Remove one entry of ``folder``; True when it is gone (it may not have been there: a missing pointer)."""
        run = self.run
        errors_before = run.errors.count
        if run.remove_named(folder, name, sinks, record=run.dry_run):
            return True
        return run.errors.count == errors_before

    def remove_entry(self, entry: _Entry) -> bool:
        """An entry whole, its pointers first (never a pointer without what it names), its ``.lock`` last; True when
        all of it went. A pointer that stays keeps the rest."""
        run, holder = self.run, entry.holder
        sinks = self.sinks(entry.family)
        if entry.is_folder:
            name = entry.names[0]
            if not run.dry_run:  # a dry run counts the pointers with the folder, as a real run counts them once
                folder = run.open_dir(holder, name, quiet_link=True)
                if folder is None:
                    return False
                try:
                    for pointer in REVISION_POINTERS:
                        if not self.gone(folder, pointer, sinks):
                            return False
                finally:
                    folder.close()
            return self.gone(holder, name, sinks)
        whole = True
        for name in sorted(entry.names, key=lambda name: (_removal_rank(name), name)):
            if not self.gone(holder, name, sinks):
                whole = False
                if _removal_rank(name) == 0:
                    return False
        return whole

    def remove_unlinked_archives(self) -> None:
        """uv's last prune step again: the archives that the entries removed were the last to point to."""
        run, budget = self.run, self.budget
        referenced = run.referenced(None)
        if referenced is None:
            return
        archives = run.use_bucket("archive", budget.figures)
        if archives is None:
            return
        try:
            for name, _kind in run.each_entry(archives):
                if name not in referenced and run.remove_archive(archives, name, record=run.dry_run):
                    budget.archives += 1
        finally:
            archives.close()

    # ---- reporting -----------------------------------------------------------------------------

    def merge_fresh(self, found: WalkErrors) -> None:
        """Errors a pass met that the run has not reported yet (the passes read the same folders)."""
        errors = self.run.errors
        known = {item["path"] for item in errors.items}
        fresh = WalkErrors()
        fresh.items = [item for item in found.items if item["path"] not in known]
        fresh.count = len(fresh.items) + found.count - len(found.items)
        errors.merge(fresh)

    def why_over(self) -> str:
        budget = self.budget
        size = budget.size_after or 0
        reasons = []
        if budget.spared:
            reasons.append(f"{budget.spared} entries younger than min_age={self.min_age}s were spared ({budget.spared_bytes} bytes): a uv may be writing them")
        if self.run.errors.count:
            reasons.append("some files could not be removed (see errors)")
        if budget.kept:
            reasons.append(
                f"{budget.kept} entries were kept ({budget.kept_bytes} bytes): files they share with the entries removed (hard links, an archive"
                " also linked from elsewhere) were counted as freed with those"
            )
        rest = size - budget.spared_bytes - budget.kept_bytes
        if rest > 0:
            reasons.append(f"{rest} bytes are in what no budget removes: uv's markers, the bucket folders and the buckets other than wheels, sdists and simple")
        return f"the cache takes {size} bytes, {size - (self.max_size or 0)} over max_size={self.max_size}: " + "; ".join(reasons)


# --------------------------------------------------------------------------------------------------
# The entry point


def _check(request: UvRequest) -> list[tuple[str, str]]:
    if request.mode not in MODES:
        raise InvalidValue(f"unknown removal {request.mode!r}: expected one of {', '.join(MODES)}", option="mode")
    for option, unit in (("max_size", "bytes"), ("max_age", "seconds"), ("min_age", "seconds")):
        value = getattr(request, option)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise InvalidValue(f"expected a number of {unit} (0 or more), got {value!r}", option=option)
        if value is not None and option != "min_age" and request.mode != PRUNE:
            raise InvalidValue(f"a budget applies to a prune only, not to {request.mode}", option=option)
    if request.min_age and not request.budgeted:
        # Never ignored in silence: it is a promise that young entries stay.
        raise InvalidValue(
            f"min_age={request.min_age} spares young entries from a prune's max_age and max_size only; uv's own clean, purge and prune"
            " remove what they remove (under uv's exclusive lock, which keeps a running uv's files safe): ask for it with a budget, or not at all",
            option="min_age",
        )
    if request.mode != CLEAN:
        return []
    if not request.packages:
        raise InvalidValue("uv cache clean of packages needs at least one package name", option="name")
    return [(str(name), normalize_package_name(name)) for name in request.packages]


def _uv_figures(outcome: UvOutcome, request: UvRequest, lock_before: Optional[os.stat_result], *, forced: bool) -> None:
    """The figures the uv version prints: this run's, plus the root folder and ``.lock`` it would have removed, in its
    wording (one line per package before uv 0.5). ``forced``: gone on without the lock another uv holds (uv 0.8.19-0.12
    then leave ``.lock``, and so the root, but count the file all the same)."""
    version = outcome.version
    removed = outcome.removed
    files, dirs, num_bytes = removed.files, removed.dirs, removed.uv_bytes
    prune = request.mode == PRUNE
    emptied = outcome.errors.count == 0 and not outcome.kept_newer
    if request.mode == PURGE and version < KEEPS_ROOT_SINCE:
        if version >= LOCK_SINCE:
            files += 1  # uv deletes .lock after its walk and counts it, whatever
        elif lock_before is not None:
            files += 1  # rm_rf of the root: the .lock another uv made is one more file
            num_bytes += lock_before.st_size
        if emptied and not (forced and version >= LOCK_SINCE):
            dirs += 1  # the root folder itself
    if prune and version < LOCK_SINCE and lock_before is not None:
        files += 1  # uv < 0.8.19 prunes the root .lock as a stray file
        num_bytes += lock_before.st_size
    outcome.uv_files, outcome.uv_dirs, outcome.uv_bytes = files, dirs, num_bytes
    if request.mode == CLEAN and version < PER_PACKAGE_LINES_BEFORE:
        outcome.uv_lines = [
            uv_removed_line(package.figures.files, package.figures.dirs, package.figures.uv_bytes, package=package.name) for package in outcome.packages
        ]
    else:
        outcome.uv_lines = [uv_removed_line(files, dirs, num_bytes, prune=prune)]


def remove(cache_dir: str, request: UvRequest, *, homes: Optional[list[str]]) -> UvOutcome:
    """Remove from the uv cache ``cache_dir`` what ``request`` asks, as the uv of ``request.version`` would (nothing at
    all in a dry run, which takes the same path and predicts the same figures).

    The cache folder is opened once by descriptor (``open_cache_root``: ``homes`` are the home folders it must not be,
    None skips the refusals); uv's exclusive lock is taken as uv's clean and prune take it (always, see the module's
    docstring); package names are checked before anything is touched (InvalidValue naming ``name``).
    """
    packages = _check(request)
    buckets = buckets_for(request.version)
    outcome = UvOutcome(cache_dir=cache_dir, mode=request.mode, version=buckets.version, dry_run=request.dry_run, ci=request.ci)
    outcome.archives = Smallest(request.list_limit)
    if request.budgeted:
        outcome.budget = UvBudget(request.max_size, request.max_age, request.min_age or 0, items=Smallest(request.list_limit))
    if not buckets.exact:
        outcome.warnings.append(f"uv {buckets.version} is not a version this engine knows exactly: the buckets of the nearest known uv are taken")
    root_fd = open_cache_root(cache_dir, homes=homes)
    if root_fd is None and (core_walk._FD_MODE or not os.path.isdir(cache_dir)):
        outcome.exists = False
        outcome.uv_lines = [f"No cache found at: {cache_dir}"]
        return outcome
    try:
        try:
            lock_before: Optional[os.stat_result] = os.lstat(LOCK_NAME, dir_fd=root_fd) if root_fd is not None else os.lstat(os.path.join(cache_dir, LOCK_NAME))
        except OSError:
            lock_before = None
        if lock_before is not None and not stat.S_ISREG(lock_before.st_mode):
            lock_before = None
        lock = CacheLock(root_fd, cache_dir, timeout=request.lock_timeout, force=request.force, on_wait=request.on_wait, create=not request.dry_run)
        try:
            lock.acquire()
        except CacheRemoved:
            outcome.exists = False
            outcome.warnings.append(f"{cache_dir} was removed by another uv while its lock was awaited: nothing left to remove")
            outcome.uv_lines = [f"No cache found at: {cache_dir}"]
            return outcome
        try:
            run = _Run(cache_dir, root_fd, request, buckets, outcome)
            if request.mode == PURGE:
                run.purge()
            elif request.mode == CLEAN:
                run.clean(packages)
            else:
                run.prune()
            run.finish()
        finally:
            outcome.lock = lock.as_dict()
            lock.release()
        if lock.forced and lock.reason:
            outcome.warnings.append(lock.reason)
        _uv_figures(outcome, request, lock_before, forced=lock.forced)
        return outcome
    finally:
        if root_fd is not None:
            os.close(root_fd)
