# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Counting pip's buckets by one set of rules: what a folder and a file of each bucket count as.

``BucketCount`` holds the rules; both ways of counting go through it. The flat loop (``count_buckets``: the
scan's own way, shared out to helper processes) lists folders by path, and a helper that fails in any way has
its share counted again by the calling process, so the figures never depend on the helpers. The walk's visitor
(``walk_bucket``) counts a bucket whose downloads are identified on the way, or one with paths beyond PATH_MAX.
Standard library only.
"""

from __future__ import annotations

import errno
import fnmatch
import functools
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .._core import parallel as core_parallel
from .._core import walk as core_walk
from .._core.entries import close_entries
from .._core.walk import MAX_DEPTH, FileItem, FolderVisit, Listing, WalkErrors, walk
from .layout import (
    BucketStats,
    CappedList,
    StemCount,
    WheelItem,
    wheel_list_key,
)
from .matching import PIP_ALL_WHEELS, NameMatcher

SPLIT_AFTER = 10_000
"""Files and folders the scanning process counts on its own before it shares the folders left with helpers."""

_NO_STOP = 1 << 30


class _PathTooLong(Exception):
    """A path in the bucket is longer than the system takes (PATH_MAX): the caller walks by descriptors instead."""


@dataclass
class Rules:
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
    def empty(cls, rules: Rules) -> _Tally:
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
    def from_wire(cls, wire: tuple[Any, ...], rules: Rules) -> _Tally:
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


class BucketCount:
    """What one bucket's folders and files count as: the one definition of the counting rules, for both ways of counting.

    ``folder(fd, path)``: a folder listed counts as a folder; in http-v2 it gets what groups its files into entries
    (``StemCount``: a ``key`` and its ``key.body`` are one entry, a half alone is one). ``file(folder, item, stems)``:
    an entry that is no folder counts as the walk classifies it (``classify`` in ``_core/walk.py``: a link is never
    followed, counts 0 bytes, and no file at all when it points at a folder), for its bytes, its time (the oldest and
    newest) and the bucket's entries: in wheels every ``.whl`` file; in http and selfcheck every file; outside pip's
    buckets (``OTHER``) none, the caller counts the cache folder's own entries. In wheels, pip's own count (``pip
    cache info``) takes what pip's glob takes, and the wheel list (``pip cache list``) what ``Rules.list_matcher``
    selects. ``finish()`` adds the figures to the tally.

    The flat loop of ``_count_tree`` and the walk's visitor (``walk_bucket``) both count through it. The rules are
    plain functions bound once, their figures kept in the functions' closure: a count is bound by system calls, and
    a call per file that keeps its sums there costs about what the loop's own local sums did.
    """

    def __init__(self, bucket: str, rules: Rules, tally: _Tally) -> None:
        files = size = entries = dirs = pip_count = 0
        oldest: Optional[float] = None
        newest: Optional[float] = None
        http_pairs, wheels, file_is_entry = bucket == "http-v2", bucket == "wheels", bucket in ("http", "selfcheck")
        case_insensitive = rules.case_insensitive  # Windows: pip's fnmatch lowercases the name and the pattern
        pip_glob = PIP_ALL_WHEELS.glob or "*-*.whl"
        listed = tally.wheels
        list_matcher = rules.list_matcher if listed is not None else None

        def folder(fd: Optional[int], path: str) -> Optional[StemCount]:
            nonlocal dirs
            dirs += 1
            return StemCount(functools.partial(_is_counted_file, fd, path)) if http_pairs else None

        def file(folder: str, item: FileItem, stems: Optional[StemCount]) -> bool:
            nonlocal files, size, entries, pip_count, oldest, newest
            if not item.counts_as_file:
                return False
            files += 1
            size += item.size
            mtime = item.mtime
            if oldest is None or mtime < oldest:
                oldest = mtime
            if newest is None or mtime > newest:
                newest = mtime
            if stems is not None:
                if stems.add(item.name):
                    entries += 1
            elif wheels:
                name = item.name
                folded = name.lower() if case_insensitive else name
                if folded.endswith(".whl"):
                    entries += 1  # every wheel file is an entry; pip's own count is narrower
                if fnmatch.fnmatchcase(folded, pip_glob):
                    pip_count += 1
                if listed is not None and list_matcher is not None and list_matcher.matches_filename(name):
                    path = os.path.join(folder, name)
                    listed.add(wheel_list_key(path, name, item.size), WheelItem(path, name, item.size, item.mtime))
            elif file_is_entry:
                entries += 1
            return True

        def finish() -> None:
            nonlocal files, size, entries, dirs, pip_count, oldest, newest
            tally.stats.merge(BucketStats(files, size, entries, dirs, oldest, newest))
            tally.pip_count += pip_count
            files = size = entries = dirs = pip_count = 0
            oldest = newest = None

        self.folder: Callable[[Optional[int], str], Optional[StemCount]] = folder
        self.file: Callable[[str, FileItem, Optional[StemCount]], bool] = file
        self.finish: Callable[[], None] = finish


OTHER = ""
"""The bucket name ``BucketCount`` takes for what is outside pip's buckets."""


def _is_counted_file(fd: Optional[int], folder: str, name: str) -> bool:
    """Whether ``name`` in ``folder`` (by its descriptor when given) is now a file that counts: no folder, nor a link to one."""
    item = core_walk.file_at(name, fd, folder)
    return item is not None and item.counts_as_file


@dataclass
class _Counted:
    """Every bucket's tally, and the peak memory of each helper process that counted part of them."""

    tallies: dict[str, _Tally]
    helper_peaks_kib: list[int]


# A unit of work: (bucket, folder, depth below the bucket).
_Unit = tuple[str, str, int]


def count_buckets(roots: list[tuple[str, str]], rules: Rules, *, helpers: int) -> _Counted:
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


def _share_out(tallies: dict[str, _Tally], units: list[_Unit], rules: Rules, helpers: int, peaks: list[int]) -> None:
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


def _count_share(share: list[_Unit], rules: Rules) -> list[tuple[str, tuple[Any, ...]]]:
    """A helper's work: its units, counted into tallies of its own, as plain values."""
    tallies: dict[str, _Tally] = {}
    _count_units(tallies, share, rules)
    return [(bucket, tally.to_wire()) for bucket, tally in tallies.items()]


def _count_units(tallies: dict[str, _Tally], units: list[_Unit], rules: Rules) -> None:
    """Count ``units`` into ``tallies``, each bucket's tally made on its first unit."""
    for bucket, folder, depth in units:
        tally = tallies.get(bucket)
        if tally is None:
            tally = tallies[bucket] = _Tally.empty(rules)
        _count_unit(tally, bucket, folder, depth, rules)


def _received(result: Any, rules: Rules) -> Optional[dict[str, _Tally]]:
    if not isinstance(result, list):
        return None
    try:
        return {bucket: _Tally.from_wire(wire, rules) for bucket, wire in result}
    except (TypeError, ValueError):
        return None


def _count_unit(tally: _Tally, bucket: str, folder: str, depth: int, rules: Rules, *, stop_depth: int = _NO_STOP) -> tuple[list[tuple[str, int]], int]:
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


def _count_tree(tally: _Tally, bucket: str, root: str, root_depth: int, rules: Rules, stop_depth: int) -> tuple[list[tuple[str, int]], int]:
    """Count one folder's tree by ``BucketCount``'s rules, in a flat loop of listings by path.

    The walk's own classification (``classify``) and limits (links never followed, files vanishing skipped, other
    errors reported, nothing deeper than MAX_DEPTH entered), without a visit per folder: a scan is bound by system
    calls, and this keeps Python's share small. Depth first, each listing streamed as the system gives it: memory
    holds one open listing per level, whatever a folder holds. Folders at ``stop_depth`` are not entered but returned
    (up to ``UNIT_CAP``), with how many files and folders were counted.
    """
    counter = BucketCount(bucket, rules, tally)
    count_folder, count_file, classify, errors = counter.folder, counter.file, core_walk.classify, tally.errors
    counted = 0
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
                    counted += 1
                    stems = count_folder(None, path)
                    stack.append((path, depth, iter(listed), listed, stems))
            if not stack:
                break
            path, depth, listing, listed, stems = stack[-1]
            entry = next(listing, None)
            if entry is None:
                stack.pop()
                close_entries(listed)
                failed = getattr(listed, "error", None)
                if failed is not None and not isinstance(failed, FileNotFoundError):
                    if failed.errno == errno.ENAMETOOLONG:
                        raise _PathTooLong(path) from failed
                    errors.add(path, failed)
                continue
            try:
                item = classify(entry, None, path)
            except FileNotFoundError:
                continue
            except OSError as error:
                if error.errno == errno.ENAMETOOLONG:
                    raise _PathTooLong(entry.path) from error
                errors.add(entry.path, error)
                continue
            if item is not None:
                counted += count_file(path, item, stems)
            elif depth + 1 > MAX_DEPTH:
                errors.add(entry.path, OSError(errno.ELOOP, f"deeper than {MAX_DEPTH} levels below the bucket: left alone"))
            elif depth + 1 >= stop_depth and len(later) < UNIT_CAP:
                later.append((entry.path, depth + 1))
            else:
                next_folder = (entry.path, depth + 1)
    finally:
        for _path, _depth, _listing, listed, _stems in stack:
            close_entries(listed)
        counter.finish()
    return later, counted


def walk_bucket(bucket: str, path: str, rules: Rules, *, on_http_file: Optional[Callable[[Listing, FileItem], None]] = None) -> _Tally:
    """Count the bucket folder ``path`` by ``BucketCount``'s rules with the walk (folders opened by descriptor, so no
    path is too long), telling ``on_http_file`` of each file of an HTTP bucket as the walk passes it."""
    tally = _Tally.empty(rules)
    _walk_into(tally, bucket, path, rules, on_http_file if bucket in ("http-v2", "http") else None)
    return tally


def _walk_into(tally: _Tally, bucket: str, path: str, rules: Rules, on_http_file: Optional[Callable[[Listing, FileItem], None]]) -> None:
    counter = BucketCount(bucket, rules, tally)
    try:
        walk(path, functools.partial(_BucketFolder, counter, on_http_file), errors=tally.errors)
    finally:
        counter.finish()


class _BucketFolder(FolderVisit):
    """One folder of a bucket, counted by ``walk_bucket``: each file as the listing streams it."""

    def __init__(self, counter: BucketCount, on_http_file: Optional[Callable[[Listing, FileItem], None]], listing: Listing) -> None:
        self.count_file = counter.file
        self.on_http_file = on_http_file
        self.listing = listing
        self.stems = counter.folder(listing.fd, listing.path)

    def file(self, item: FileItem) -> None:
        if self.count_file(self.listing.path, item, self.stems) and self.on_http_file is not None:
            self.on_http_file(self.listing, item)


def count_other(entry: os.DirEntry[str], other: BucketStats, errors: WalkErrors) -> None:
    """Count one entry of the cache folder that is none of pip's buckets into ``other``: an entry, and what it holds by
    ``BucketCount``'s rules (a folder walked whole)."""
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError:
        return
    tally = _Tally(other, errors, None)
    rules = Rules(False, None, None)
    if entry.is_dir(follow_symlinks=False):
        _walk_into(tally, OTHER, entry.path, rules, None)
    else:
        item = core_walk.file_item(entry.name, info, None, os.path.dirname(entry.path))
        if item is not None:
            counter = BucketCount(OTHER, rules, tally)
            counter.file(os.path.dirname(entry.path), item, None)
            counter.finish()
    other.entries += 1
