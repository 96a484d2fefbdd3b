# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Scanning a pip cache: per-bucket figures, pip cache info and pip cache list, in one streaming walk.

The numbers of ``pip cache info`` and the wheels of ``pip cache list``, computed the way pip computes them.
Standard library only.
"""

from __future__ import annotations

import functools
import ntpath
import os
import posixpath
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .._core import parallel as core_parallel
from .._core import walk as core_walk
from .._core.walk import FileItem, FolderVisit, Listing, WalkErrors, walk
from .count import CountInto, Rules, count_buckets
from .layout import (
    BUCKETS,
    DEFAULT_LIST_LIMIT,
    BucketStats,
    CappedList,
    ScanResult,
    StemCount,
    WheelItem,
    wheel_list_key,
)
from .matching import NameMatcher, is_wheel_file


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
    counted = count_buckets(
        [(entry.name, entry.path) for entry in found if on_http_file is None and entry.is_dir(follow_symlinks=False) and not core_walk.is_reparse_point(entry)],
        Rules(case_insensitive, list_matcher, list_limit if wheels is not None else None),
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
        walk(entry.path, CountInto(other), errors=errors)
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


def platform_path_module(platform: str) -> Any:
    return ntpath if platform == "win32" else posixpath
