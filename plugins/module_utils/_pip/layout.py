# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""pip's cache layout and what a scan finds in it: buckets, HTTP entries, wheels, and the results.

The figures are kept the way ``pip cache info`` and ``pip cache list`` compute and word them.
Standard library only.
"""

from __future__ import annotations

import heapq
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

from .._core.units import human_size, iso_time, pip_format_size
from .._core.walk import FileItem, Listing, WalkErrors
from .names import parse_wheel_filename

BUCKETS = ("http-v2", "http", "wheels", "selfcheck")
DEFAULT_LIST_LIMIT = 1000
PAIR_WAIT = 256  # files of one HTTP folder remembered while their partner (key or key.body) is not listed yet


@dataclass
class BucketStats:
    """Totals of one bucket (or of everything else at the cache's top level)."""

    files: int = 0
    bytes: int = 0
    entries: int = 0
    dirs: int = 0
    oldest: Optional[float] = None
    newest: Optional[float] = None

    def merge(self, other: BucketStats) -> None:
        """Add another count's totals: sums, and the oldest and newest of both."""
        self.files += other.files
        self.bytes += other.bytes
        self.entries += other.entries
        self.dirs += other.dirs
        for stamp in (other.oldest, other.newest):
            if stamp is not None:
                self.oldest = stamp if self.oldest is None else min(self.oldest, stamp)
                self.newest = stamp if self.newest is None else max(self.newest, stamp)

    def as_dict(self) -> dict[str, Any]:
        """Every total, in field order; the oldest and newest as ISO 8601 text."""
        return dict(asdict(self), oldest=iso_time(self.oldest), newest=iso_time(self.newest))


def http_stem(name: str) -> str:
    """The entry a file of an HTTP folder belongs to: ``key`` for both ``key`` and ``key.body`` (pip's http-v2 pair)."""
    return name[:-5] if name.endswith(".body") else name


class StemCount:
    """Which files of an HTTP folder start an entry (a stem not seen before), told as the listing streams.

    The stems seen are remembered, up to ``PAIR_WAIT`` of them; past that a ``key.body`` not seen as a stem asks
    ``has_key(key)`` (one lstat) whether its ``key`` is a file there, which counts the entry instead. Memory stays
    flat whatever the folder holds, and pip's layout (a pair or two a folder) never needs the look-up."""

    def __init__(self, has_key: Callable[[str], bool]) -> None:
        self._seen: set[str] = set()
        self._has_key = has_key

    def add(self, name: str) -> bool:
        """One file of the folder: whether it makes a new entry."""
        stem = http_stem(name)
        if stem in self._seen:
            return False
        if len(self._seen) < PAIR_WAIT:
            self._seen.add(stem)
            return True
        return stem == name or not self._has_key(stem)


class HttpEntries:
    """An HTTP folder's files grouped into pip's entries as the listing streams: an http-v2 ``key`` with its
    ``key.body``, or one file alone (a legacy ``http/`` entry, or half a pair). ``on_entry`` gets each entry's files
    in name order, once; ``accept`` says which files are entries' files at all (``add`` ignores the others).

    A file waits in memory for its partner, up to ``PAIR_WAIT`` files; past that, each file's partner is looked up
    by name in the folder (one lstat) and an entry is made when its ``key`` is listed (or its ``key.body`` is, with
    no ``key`` beside it). Memory stays flat whatever the folder holds; pip's layout never needs the look-up."""

    def __init__(self, listing: Listing, on_entry: Callable[[list[FileItem]], None], accept: Callable[[FileItem], bool]) -> None:
        self.listing = listing
        self.on_entry = on_entry
        self.accept = accept
        self._waiting: Optional[dict[str, FileItem]] = {}

    def add(self, item: FileItem) -> None:
        if not self.accept(item):
            return
        waiting = self._waiting
        if waiting is None:
            self._look_up(item)
            return
        stem = http_stem(item.name)
        partner = waiting.pop(stem, None)
        if partner is not None:
            self.on_entry(sorted((partner, item), key=lambda one: one.name))
            return
        waiting[stem] = item
        if len(waiting) > PAIR_WAIT:
            self._waiting = None
            for held in waiting.values():
                self._look_up(held)

    def _look_up(self, item: FileItem) -> None:
        stem = http_stem(item.name)
        if stem != item.name:
            key = self.listing.sibling(stem)
            if key is None or not self.accept(key):
                self.on_entry([item])  # a body without its key; with the key, the key's turn takes both
            return
        body = self.listing.sibling(stem + ".body")
        self.on_entry([item, body] if body is not None and self.accept(body) else [item])

    def finish(self) -> None:
        """The listing ended: the files still waiting are entries alone."""
        waiting, self._waiting = self._waiting or {}, {}
        for item in sorted(waiting.values(), key=lambda one: one.name):
            self.on_entry([item])


@dataclass
class WheelItem:
    """One locally built wheel in the cache."""

    path: str
    filename: str
    size: int
    mtime: float

    def as_dict(self) -> dict[str, Any]:
        wheel = parse_wheel_filename(self.filename)
        return {
            "path": self.path,
            "filename": self.filename,
            "name": wheel.name if wheel else None,
            "normalized_name": wheel.normalized if wheel else None,
            "version": wheel.version if wheel else None,
            "build": (wheel.build or None) if wheel else None,
            "tags": f"{wheel.python}-{wheel.abi}-{wheel.platform}" if wheel else None,
            "bytes": self.size,
            "size": human_size(self.size),
            "mtime": iso_time(self.mtime),
            "pip_line": pip_list_line(self.filename, self.size),
        }


def pip_list_line(filename: str, size: int) -> str:
    """The line ``pip cache list`` prints for a wheel."""
    return f" - {filename} ({pip_format_size(size)})"


def wheel_list_key(path: str, filename: str, size: int) -> str:
    """Where a wheel stands in the list: pip sorts its printed lines, so the lines joined are pip's output (the path
    only breaks ties between equal lines)."""
    return f"{pip_list_line(filename, size)}\x00{path}"


class _Descending:
    """Orders keys backwards, so heapq's min-heap keeps the largest key on top."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def __lt__(self, other: _Descending) -> bool:
        return self.key > other.key


class CappedList:
    """The first ``limit`` items in key order of a stream, with the full count; memory stays at ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._heap: list[tuple[_Descending, int, Any]] = []

    def add(self, key: str, item: Any) -> None:
        self.count += 1
        if self.limit <= 0:
            return
        entry = (_Descending(key), self.count, item)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, entry)
        elif key < self._heap[0][0].key:
            heapq.heapreplace(self._heap, entry)

    def merge(self, other: CappedList) -> None:
        """Add what ``other`` kept, and count everything it saw."""
        for key, item in other.keyed_items():
            self.add(key, item)
        self.count += other.count - len(other._heap)

    def keyed_items(self) -> list[tuple[str, Any]]:
        return [(entry[0].key, entry[2]) for entry in sorted(self._heap, key=lambda entry: (entry[0].key, entry[1]))]

    @property
    def truncated(self) -> bool:
        return self.count > len(self._heap)

    def items(self) -> list[Any]:
        return [entry[2] for entry in sorted(self._heap, key=lambda entry: (entry[0].key, entry[1]))]


@dataclass
class ScanResult:
    """Everything one walk learnt about a cache directory."""

    cache_dir: str
    exists: bool
    buckets: dict[str, BucketStats]
    other: BucketStats
    pip_wheel_count: int
    wheels: Optional[CappedList]
    errors: WalkErrors
    path_module: Any = os.path
    helper_peaks_kib: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> BucketStats:
        total = BucketStats()
        for stats in [*self.buckets.values(), self.other]:
            total.merge(stats)
        return total

    @property
    def http_files(self) -> int:
        return self.buckets["http-v2"].files + self.buckets["http"].files

    @property
    def http_bytes(self) -> int:
        return self.buckets["http-v2"].bytes + self.buckets["http"].bytes

    def pip_info(self) -> dict[str, Any]:
        """The figures of ``pip cache info``, raw and in the newest pip's words."""
        join = self.path_module.join
        return {
            "http_v2_location": join(self.cache_dir, "http-v2"),
            "http_location": join(self.cache_dir, "http"),
            "http_size": self.http_bytes,
            "http_size_human": pip_format_size(self.http_bytes),
            "http_files": self.http_files,
            "wheels_location": join(self.cache_dir, "wheels"),
            "wheels_size": self.buckets["wheels"].bytes,
            "wheels_size_human": pip_format_size(self.buckets["wheels"].bytes),
            "wheels_count": self.pip_wheel_count,
        }

    def pip_info_lines(self) -> list[str]:
        info = self.pip_info()
        return [
            f"Package index page cache location (pip v23.3+): {info['http_v2_location']}",
            f"Package index page cache location (older pips): {info['http_location']}",
            f"Package index page cache size: {info['http_size_human']}",
            f"Number of HTTP files: {info['http_files']}",
            f"Locally built wheels location: {info['wheels_location']}",
            f"Locally built wheels size: {info['wheels_size_human']}",
            f"Number of locally built wheels: {info['wheels_count']}",
        ]
