# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Counting the buckets' sub-folders, shared out to helper processes, with one set of counting rules.

A helper that fails in any way has its share counted again by the calling process, so the figures never
depend on the helpers. Standard library only.
"""

from __future__ import annotations

import errno
import fnmatch
import functools
import os
import stat
from dataclasses import dataclass
from typing import Any, Optional

from .._core import parallel as core_parallel
from .._core import walk as core_walk
from .._core.entries import close_entries
from .._core.walk import MAX_DEPTH, FileItem, FolderVisit, Listing, WalkErrors
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


def _count_tree(tally: _Tally, bucket: str, root: str, root_depth: int, rules: Rules, stop_depth: int) -> tuple[list[tuple[str, int]], int]:
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
                close_entries(listed)
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
            close_entries(listed)
        stats.files += files
        stats.bytes += size
        stats.dirs += dirs
        stats.entries += entries
        stats.oldest, stats.newest = oldest, newest
        tally.pip_count += pip_count
    return later, files + dirs


class CountInto:
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
