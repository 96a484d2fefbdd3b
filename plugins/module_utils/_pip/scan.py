# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Scanning a pip cache: per-bucket figures, pip cache info and pip cache list, in one walk.

Scan: what is in a pip cache, per bucket, in one streaming walk; the numbers of
``pip cache info`` and the wheels of ``pip cache list``, computed the way pip computes them.
Standard library only.
"""

from __future__ import annotations

import errno
import fnmatch
import functools
import heapq
import ntpath
import os
import posixpath
import stat
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .._core import parallel as core_parallel
from .._core import walk as core_walk
from .._core.errors import InvalidValue
from .._core.units import human_size, iso_time, pip_format_size
from .._core.walk import MAX_DEPTH, FileItem, FolderVisit, Listing, WalkErrors, walk
from .names import normalize_name, parse_wheel_filename

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

    def add_file(self, item: FileItem) -> None:
        if not item.counts_as_file:
            return
        self.files += 1
        self.bytes += item.size
        if self.oldest is None or item.mtime < self.oldest:
            self.oldest = item.mtime
        if self.newest is None or item.mtime > self.newest:
            self.newest = item.mtime

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
        return {
            "files": self.files,
            "bytes": self.bytes,
            "entries": self.entries,
            "dirs": self.dirs,
            "oldest": iso_time(self.oldest),
            "newest": iso_time(self.newest),
        }


def pip_wheel_pattern(pattern: str) -> str:
    """pip's rule: a pattern with a hyphen gets ``*.whl``, one without gets ``-*.whl``."""
    return pattern + ("*.whl" if "-" in pattern else "-*.whl")


def check_glob_pattern(pattern: str, *, option: str = "pattern") -> str:
    """Reject what pip's pattern can never mean here: paths, NUL, empty strings."""
    if not isinstance(pattern, str) or not pattern:
        raise InvalidValue("a pattern must be a non-empty string", option=option)
    if "\x00" in pattern:
        raise InvalidValue("a pattern cannot hold a NUL character", option=option)
    if "/" in pattern or "\\" in pattern or pattern in (".", ".."):
        raise InvalidValue(f"{pattern!r} holds a path; a pattern matches wheel file names only, such as 'requests' or 'requests-2.*'", option=option)
    if len(pattern) > 512:
        raise InvalidValue("a pattern longer than 512 characters cannot match a wheel name", option=option)
    return pattern


def is_wheel_file(filename: str, *, case_insensitive: bool = False) -> bool:
    """A ``.whl`` file name; on Windows pip's fnmatch lowercases both sides, so ``.WHL`` counts too."""
    return (filename.lower() if case_insensitive else filename).endswith(".whl")


class NameMatcher:
    """Which wheel file names a request selects: pip's glob, or PEP 503 names with specifiers."""

    def __init__(self, *, glob: Optional[str] = None, requirements: Optional[list[Any]] = None, case_insensitive: bool = False) -> None:
        self.glob = pip_wheel_pattern(glob) if glob is not None else None
        self.requirements = requirements
        self.case_insensitive = case_insensitive

    def matches_filename(self, filename: str) -> bool:
        if self.glob is not None:
            if self.case_insensitive:
                return fnmatch.fnmatchcase(filename.lower(), self.glob.lower())
            return fnmatch.fnmatchcase(filename, self.glob)
        if self.requirements is not None:
            wheel = parse_wheel_filename(filename)
            if wheel is None:
                return False
            return self.matches_project(wheel.name, wheel.version)
        return True

    def matches_project(self, name: str, version: Optional[str]) -> bool:
        if self.requirements is None:
            return False
        normalized = normalize_name(name)
        for requirement in self.requirements:
            if requirement.normalized == normalized and (version is None or requirement.contains(version)):
                return True
        return False


PIP_ALL_WHEELS = NameMatcher(glob="*")


def http_stem(name: str) -> str:
    """The entry a file of an HTTP folder belongs to: ``key`` for both ``key`` and ``key.body`` (pip's http-v2 pair)."""
    return name[:-5] if name.endswith(".body") else name


class StemCount:
    """How many entries (distinct stems) an HTTP folder's files make, counted as the listing streams.

    The stems seen are remembered, up to ``PAIR_WAIT`` of them; past that a ``key.body`` not seen as a stem asks
    ``has_key(key)`` (one lstat) whether its ``key`` is a file there, which counts the entry instead. Memory stays
    flat whatever the folder holds, and pip's layout (a pair or two a folder) never needs the look-up."""

    def __init__(self, has_key: Callable[[str], bool]) -> None:
        self.count = 0
        self._seen: set[str] = set()
        self._has_key = has_key

    def add(self, name: str) -> None:
        stem = http_stem(name)
        if stem in self._seen:
            return
        if len(self._seen) < PAIR_WAIT:
            self._seen.add(stem)
            self.count += 1
        elif stem == name or not self._has_key(stem):
            self.count += 1


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


def scan(
    cache_dir: str,
    *,
    list_matcher: Optional[NameMatcher] = None,
    list_limit: int = DEFAULT_LIST_LIMIT,
    case_insensitive: bool = False,
    on_http_file: Optional[Callable[[Listing, FileItem], None]] = None,
    walk_other: bool = True,
    helpers: Optional[int] = None,
) -> ScanResult:
    """One walk of every bucket; ``list_matcher`` also lists the wheels it selects.

    ``walk_other=False`` leaves everything but the buckets alone (not entered, not counted): pip itself only ever
    looks into its buckets, and a directory that is no cache (/, a home folder) holds whole file systems.
    ``helpers``: how many helper processes may share the counting of a large cache (default: one per CPU beyond
    this process's own, at most ``core_parallel.MAX_HELPERS``; 0 counts in this process only).
    """
    errors = WalkErrors()
    buckets = {name: BucketStats() for name in BUCKETS}
    other = BucketStats()
    wheels = CappedList(list_limit) if list_matcher is not None else None
    pip_count = [0]
    all_wheels = NameMatcher(glob="*", case_insensitive=case_insensitive)

    def visitor_for(bucket: str) -> Callable[[Listing], FolderVisit]:
        return functools.partial(
            _BucketFolder, _BucketRules(bucket, buckets[bucket], case_insensitive, all_wheels, list_matcher, wheels, pip_count, on_http_file)
        )

    exists = os.path.isdir(cache_dir)
    found: list[os.DirEntry[str]] = []  # pip's buckets: four names at most
    if exists:
        # One pass over the cache folder, streamed: what is not a bucket is counted as it comes (a cache folder
        # that holds 200,000 files costs no more memory than one that holds pip's four folders).
        try:
            with os.scandir(cache_dir) as iterator:
                for entry in iterator:
                    if entry.name in buckets:
                        found.append(entry)
                    elif walk_other:
                        _count_other(entry, other, errors)
        except OSError as error:
            errors.add(cache_dir, error)
    found.sort(key=lambda entry: entry.name)
    counted = _count_buckets(
        [(entry.name, entry.path) for entry in found if on_http_file is None and entry.is_dir(follow_symlinks=False) and not core_walk.is_reparse_point(entry)],
        _Rules(case_insensitive, list_matcher, list_limit if wheels is not None else None),
        helpers=core_parallel.available_helpers() if helpers is None else helpers,
    )
    warnings: list[str] = []
    for entry in found:
        if entry.is_symlink() or core_walk.is_reparse_point(entry):
            # pip's os.walk would enter it; the engine never follows a link, in info, check mode and removal alike.
            warnings.append(f"{entry.path} is a symbolic link: left alone, its target is neither counted nor entered")
            continue
        if entry.is_dir(follow_symlinks=False):
            tally = counted.tallies.get(entry.name)
            if tally is not None and not tally.too_long:
                buckets[entry.name] = tally.stats
                errors.merge(tally.errors)
                pip_count[0] += tally.pip_count
                if wheels is not None and tally.wheels is not None:
                    wheels.merge(tally.wheels)
            else:  # downloads to identify (on_http_file), or a path beyond PATH_MAX (the walk opens folders by descriptor)
                walk(entry.path, visitor_for(entry.name), errors=errors)
        elif walk_other:
            _count_other(entry, other, errors)
    path_module = os.path
    return ScanResult(cache_dir, exists, buckets, other, pip_count[0], wheels, errors, path_module, counted.helper_peaks_kib, warnings)


def _count_other(entry: os.DirEntry[str], other: BucketStats, errors: WalkErrors) -> None:
    """Count one entry of the cache folder that is none of pip's folders (a folder of them whole) into ``other``."""
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError:
        return
    if entry.is_dir(follow_symlinks=False):
        walk(entry.path, _CountInto(other), errors=errors)
    else:
        other.add_file(FileItem(entry.name, 0 if entry.is_symlink() else info.st_size, info.st_mtime, entry.is_symlink(), True))
    other.entries += 1


@dataclass
class _BucketRules:
    """What counting one bucket by ``walk`` needs, shared by its folders' visits."""

    bucket: str
    stats: BucketStats
    case_insensitive: bool
    all_wheels: NameMatcher
    list_matcher: Optional[NameMatcher]
    wheels: Optional[CappedList]
    pip_count: list[int]
    on_http_file: Optional[Callable[[Listing, FileItem], None]]


class _BucketFolder(FolderVisit):
    """One folder of a bucket counted by ``walk``: the figures ``_count_tree`` computes, file by file as listed."""

    def __init__(self, rules: _BucketRules, listing: Listing) -> None:
        self.rules = rules
        self.listing = listing
        rules.stats.dirs += 1
        self.stems = StemCount(functools.partial(_has_counted_file, listing)) if rules.bucket == "http-v2" else None

    def file(self, item: FileItem) -> None:
        rules, stats = self.rules, self.rules.stats
        stats.add_file(item)
        if not item.counts_as_file:
            return
        bucket = rules.bucket
        if bucket == "http-v2":
            if self.stems is not None:
                self.stems.add(item.name)
            if rules.on_http_file is not None:
                rules.on_http_file(self.listing, item)
        elif bucket == "http":
            stats.entries += 1
            if rules.on_http_file is not None:
                rules.on_http_file(self.listing, item)
        elif bucket == "wheels":
            if is_wheel_file(item.name, case_insensitive=rules.case_insensitive):
                stats.entries += 1  # every wheel file is an entry; pip's own count is narrower
            if rules.all_wheels.matches_filename(item.name):
                rules.pip_count[0] += 1
            if rules.wheels is not None and rules.list_matcher is not None and rules.list_matcher.matches_filename(item.name):
                path = self.listing.file_path(item.name)
                rules.wheels.add(wheel_list_key(path, item.name, item.size), WheelItem(path, item.name, item.size, item.mtime))
        else:
            stats.entries += 1

    def done(self) -> object:
        if self.stems is not None:
            self.rules.stats.entries += self.stems.count
        return None


def _has_counted_file(listing: Listing, name: str) -> bool:
    item = listing.sibling(name)
    return item is not None and item.counts_as_file


SPLIT_AFTER = 10_000
"""Files and folders the scanning process counts on its own before it shares the folders left with helpers."""

_NO_STOP = 1 << 30


class _PathTooLong(Exception):
    """A path in the bucket is longer than the system takes (PATH_MAX): the caller walks by descriptors instead."""


@dataclass
class _Rules:
    """What a count needs besides the folders: plain values, the same in every process."""

    case_insensitive: bool
    list_matcher: Optional[NameMatcher]
    list_limit: Optional[int]  # None: no wheel list


@dataclass
class _Tally:
    """What one process counted of one bucket; tallies of the same bucket from several processes add up."""

    stats: BucketStats
    errors: WalkErrors
    wheels: Optional[CappedList]
    pip_count: int = 0
    too_long: bool = False

    @classmethod
    def empty(cls, rules: _Rules) -> _Tally:
        return cls(BucketStats(), WalkErrors(), CappedList(rules.list_limit) if rules.list_limit is not None else None)

    def to_wire(self) -> tuple[Any, ...]:
        """Plain values only (marshal sends them between processes)."""
        stats = self.stats
        kept = [(key, (item.path, item.filename, item.size, item.mtime)) for key, item in self.wheels.keyed_items()] if self.wheels is not None else None
        return (
            (stats.files, stats.bytes, stats.entries, stats.dirs, stats.oldest, stats.newest),
            (self.errors.count, self.errors.items),
            (kept, self.wheels.count) if self.wheels is not None else None,
            self.pip_count,
            self.too_long,
        )

    @classmethod
    def from_wire(cls, wire: tuple[Any, ...], rules: _Rules) -> _Tally:
        figures, (error_count, error_items), listed, pip_count, too_long = wire
        tally = cls.empty(rules)
        tally.stats = BucketStats(*figures)
        tally.errors.count, tally.errors.items = error_count, list(error_items)
        if tally.wheels is not None and listed is not None:
            kept, count = listed
            for key, fields in kept:
                tally.wheels.add(key, WheelItem(*fields))
            tally.wheels.count = count
        tally.pip_count, tally.too_long = pip_count, too_long
        return tally

    def merge(self, other: _Tally) -> None:
        self.stats.merge(other.stats)
        self.errors.merge(other.errors)
        if self.wheels is not None and other.wheels is not None:
            self.wheels.merge(other.wheels)
        self.pip_count += other.pip_count
        self.too_long = self.too_long or other.too_long


@dataclass
class _Counted:
    """Every bucket's tally, and the peak memory of each helper process that counted part of them."""

    tallies: dict[str, _Tally]
    helper_peaks_kib: list[int]


# A unit of work: (bucket, folder, depth below the bucket).
_Unit = tuple[str, str, int]


def _count_buckets(roots: list[tuple[str, str]], rules: _Rules, *, helpers: int) -> _Counted:
    """Count the buckets ``roots`` names ((bucket, path) pairs), sharing the work with up to ``helpers`` processes.

    The buckets' own folders are listed first, here; their sub-folders are the units of work. This process counts
    units in order until it has seen ``SPLIT_AFTER`` files and folders (a small cache never starts a helper), then
    deals the units left out, one each in turn, to itself and the helpers. A helper that fails in any way gets its
    units counted here: the figures are the same whichever process counted a folder.
    """
    tallies = {bucket: _Tally.empty(rules) for bucket, _path in roots}
    units: list[_Unit] = []
    seen = 0
    for bucket, path in roots:
        later, count = _count_unit(tallies[bucket], bucket, path, 0, rules, stop_depth=1)
        units.extend((bucket, folder, depth) for folder, depth in later)
        seen += count
    peaks: list[int] = []
    index = 0
    while index < len(units):
        if helpers > 0 and seen >= SPLIT_AFTER and len(units) - index > 1:
            _share_out(tallies, units[index:], rules, helpers, peaks)
            break
        bucket, folder, depth = units[index]
        index += 1
        seen += _count_unit(tallies[bucket], bucket, folder, depth, rules)[1]
    return _Counted(tallies, peaks)


def _share_out(tallies: dict[str, _Tally], units: list[_Unit], rules: _Rules, helpers: int, peaks: list[int]) -> None:
    ways = min(helpers, len(units) - 1) + 1
    shares = [units[number::ways] for number in range(ways)]
    started = []
    for share in shares[1:]:
        helper = core_parallel.start(functools.partial(_count_share, share, rules))
        if helper is None:
            shares[0] = shares[0] + share  # no process could be started: count it here
        else:
            started.append((helper, share))
    try:
        _count_units(tallies, shares[0], rules)
    except BaseException:
        for helper, _share in started:  # this scan is abandoned: so is the helpers' work
            core_parallel.stop(helper)
        raise
    for helper, share in started:
        outcome = core_parallel.finish(helper)
        received = _received(outcome.result, rules)
        if received is None:
            _count_units(tallies, share, rules)
            continue
        for bucket, tally in received.items():
            tallies[bucket].merge(tally)
        if outcome.peak_kib is not None:
            peaks.append(outcome.peak_kib)


def _count_share(share: list[_Unit], rules: _Rules) -> list[tuple[str, tuple[Any, ...]]]:
    """A helper's work: its units, counted into tallies of its own, as plain values."""
    tallies: dict[str, _Tally] = {}
    _count_units(tallies, share, rules)
    return [(bucket, tally.to_wire()) for bucket, tally in tallies.items()]


def _count_units(tallies: dict[str, _Tally], units: list[_Unit], rules: _Rules) -> None:
    """Count ``units`` into ``tallies``, each bucket's tally made on its first unit."""
    for bucket, folder, depth in units:
        tally = tallies.get(bucket)
        if tally is None:
            tally = tallies[bucket] = _Tally.empty(rules)
        _count_unit(tally, bucket, folder, depth, rules)


def _received(result: Any, rules: _Rules) -> Optional[dict[str, _Tally]]:
    if not isinstance(result, list):
        return None
    try:
        return {bucket: _Tally.from_wire(wire, rules) for bucket, wire in result}
    except (TypeError, ValueError):
        return None


def _count_unit(tally: _Tally, bucket: str, folder: str, depth: int, rules: _Rules, *, stop_depth: int = _NO_STOP) -> tuple[list[tuple[str, int]], int]:
    """Count one folder's tree into ``tally``; a path beyond PATH_MAX marks the tally (the bucket is walked again)."""
    if tally.too_long:
        return [], 0
    try:
        return _count_tree(tally, bucket, folder, depth, rules, stop_depth)
    except _PathTooLong:
        tally.too_long = True
        return [], 0


UNIT_CAP = 1024
"""Sub-folders of one bucket folder set aside as units of work for helpers; a bucket folder that holds more has the rest
counted where it is listed (memory stays flat however many folders one folder holds)."""


def _has_file_in(folder: str, name: str) -> bool:
    """Whether ``name`` in ``folder`` is a file the walk counts: not a folder, nor a link to one."""
    path = os.path.join(folder, name)
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISLNK(info.st_mode):
        return not os.path.isdir(path)
    return not stat.S_ISDIR(info.st_mode)


def _count_tree(tally: _Tally, bucket: str, root: str, root_depth: int, rules: _Rules, stop_depth: int) -> tuple[list[tuple[str, int]], int]:
    """The figures of one folder's tree as the visitor in ``scan`` computes them, in a flat loop of ``os.scandir`` calls.

    The same rules as ``_core/walk.py``'s ``walk`` (links never followed, a link counted as 0 bytes and as no file when it
    points at a folder, files vanishing skipped, other errors reported, nothing deeper than MAX_DEPTH entered), without
    an object per file or folder: a scan is bound by system calls, and this keeps Python's share small. Depth first,
    each listing streamed as the system gives it: memory holds one open listing per level, whatever a folder holds.
    Folders at ``stop_depth`` are not entered but returned (up to ``UNIT_CAP``), with how many files and folders
    were counted.
    """
    stats, errors, wheels, list_matcher = tally.stats, tally.errors, tally.wheels, rules.list_matcher
    case_insensitive = rules.case_insensitive
    pip_pattern = PIP_ALL_WHEELS.glob or "*-*.whl"
    is_wheels, is_http_v2 = bucket == "wheels", bucket == "http-v2"
    count_entries = bucket not in ("wheels", "http-v2")
    pip_count = 0
    files = size = dirs = entries = 0
    oldest: Optional[float] = stats.oldest
    newest: Optional[float] = stats.newest
    later: list[tuple[str, int]] = []
    # (path, depth, its streamed entries, the listing, its HTTP stems): one per level being listed.
    stack: list[tuple[str, int, Any, Any, Optional[StemCount]]] = []
    next_folder: Optional[tuple[str, int]] = (root, root_depth)
    try:
        while True:
            if next_folder is not None:
                path, depth = next_folder
                next_folder = None
                try:
                    listed = core_walk.list_dir(path, None)
                except FileNotFoundError:
                    listed = None
                except OSError as error:
                    if error.errno == errno.ENAMETOOLONG:
                        raise _PathTooLong(path) from error
                    errors.add(path, error)
                    listed = None
                if listed is not None:
                    dirs += 1
                    stems = StemCount(functools.partial(_has_file_in, path)) if is_http_v2 else None
                    stack.append((path, depth, iter(listed), listed, stems))
            if not stack:
                break
            path, depth, listing, listed, stems = stack[-1]
            entry = next(listing, None)
            if entry is None:
                stack.pop()
                core_walk._close(listed)
                failed = getattr(listed, "error", None)
                if failed is not None and not isinstance(failed, FileNotFoundError):
                    if failed.errno == errno.ENAMETOOLONG:
                        raise _PathTooLong(path) from failed
                    errors.add(path, failed)
                if stems is not None:
                    entries += stems.count
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    folder = True
                    if core_walk.WINDOWS and core_walk.is_reparse_point(entry):
                        continue  # a junction: a link to a folder, neither a file nor entered (as in the walk)
                else:
                    info = entry.stat(follow_symlinks=False)
                    folder = stat.S_ISDIR(info.st_mode)
            except FileNotFoundError:
                continue
            except OSError as error:
                if error.errno == errno.ENAMETOOLONG:
                    raise _PathTooLong(entry.path) from error
                errors.add(entry.path, error)
                continue
            if folder:
                if depth + 1 > MAX_DEPTH:
                    errors.add(entry.path, OSError(errno.ELOOP, f"deeper than {MAX_DEPTH} levels below the bucket: left alone"))
                elif depth + 1 >= stop_depth and len(later) < UNIT_CAP:
                    later.append((entry.path, depth + 1))
                else:
                    next_folder = (entry.path, depth + 1)
                continue
            name = entry.name
            if stat.S_ISLNK(info.st_mode):
                if os.path.isdir(entry.path):  # os.walk lists a link to a folder among the folders: not a file
                    continue
                bytes_ = 0
            else:
                bytes_ = info.st_size
            mtime = info.st_mtime
            files += 1
            size += bytes_
            if oldest is None or mtime < oldest:
                oldest = mtime
            if newest is None or mtime > newest:
                newest = mtime
            if stems is not None:
                stems.add(name)
            elif is_wheels:
                folded = name.lower() if case_insensitive else name
                if folded.endswith(".whl"):
                    entries += 1
                if fnmatch.fnmatchcase(folded, pip_pattern):
                    pip_count += 1
                if wheels is not None and list_matcher is not None and list_matcher.matches_filename(name):
                    full = os.path.join(path, name)
                    wheels.add(wheel_list_key(full, name, bytes_), WheelItem(full, name, bytes_, mtime))
            elif count_entries:
                entries += 1
    finally:
        for _path, _depth, _listing, listed, _stems in stack:
            core_walk._close(listed)
        stats.files += files
        stats.bytes += size
        stats.dirs += dirs
        stats.entries += entries
        stats.oldest, stats.newest = oldest, newest
        tally.pip_count += pip_count
    return later, files + dirs


class _CountInto:
    """A visitor that counts every folder and file of a tree into ``stats``."""

    def __init__(self, stats: BucketStats) -> None:
        self.stats = stats

    def __call__(self, listing: Listing) -> FolderVisit:
        self.stats.dirs += 1
        return _FilesInto(self.stats)


class _FilesInto(FolderVisit):
    def __init__(self, stats: BucketStats) -> None:
        self.stats = stats

    def file(self, item: FileItem) -> None:
        self.stats.add_file(item)


def platform_path_module(platform: str) -> Any:
    return ntpath if platform == "win32" else posixpath
