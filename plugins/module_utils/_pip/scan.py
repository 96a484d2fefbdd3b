# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Scanning a pip cache: per-bucket figures, pip cache info and pip cache list, from one pass over each bucket.

The numbers of ``pip cache info`` and the wheels of ``pip cache list``, computed the way pip computes them: each
bucket counted once by ``count.py``'s rules (in the flat loop shared out to helper processes, or by the walk when
downloads are identified on the way), what lies beside the buckets counted by the same rules. Standard library only.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
from typing import Any, Callable, Optional

from .._core import parallel as core_parallel
from .._core import walk as core_walk
from .._core.walk import FileItem, Listing, WalkErrors
from .count import Rules, count_buckets, count_other, walk_bucket
from .layout import (
    BUCKETS,
    DEFAULT_LIST_LIMIT,
    BucketStats,
    CappedList,
    ScanResult,
)
from .matching import NameMatcher


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
    """One pass over every bucket; ``list_matcher`` also lists the wheels it selects.

    ``walk_other=False`` leaves everything but the buckets alone (not entered, not counted): pip itself only ever
    looks into its buckets, and a directory that is no cache (/, a home folder) holds whole file systems.
    ``helpers``: how many helper processes may share the counting of a large cache (default: one per CPU beyond
    this process's own, at most ``core_parallel.MAX_HELPERS``; 0 counts in this process only).
    """
    errors = WalkErrors()
    buckets = {name: BucketStats() for name in BUCKETS}
    other = BucketStats()
    wheels = CappedList(list_limit) if list_matcher is not None else None
    pip_count = 0
    rules = Rules(case_insensitive, list_matcher, list_limit if wheels is not None else None)

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
                        count_other(entry, other, errors)
        except OSError as error:
            errors.add(cache_dir, error)
    found.sort(key=lambda entry: entry.name)
    counted = count_buckets(
        [(entry.name, entry.path) for entry in found if on_http_file is None and entry.is_dir(follow_symlinks=False) and not core_walk.is_reparse_point(entry)],
        rules,
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
            if tally is None or tally.too_long:
                # Downloads to identify (on_http_file), or a path beyond PATH_MAX: the walk opens folders by descriptor.
                tally = walk_bucket(entry.name, entry.path, rules, on_http_file=on_http_file)
            buckets[entry.name] = tally.stats
            errors.merge(tally.errors)
            pip_count += tally.pip_count
            if wheels is not None and tally.wheels is not None:
                wheels.merge(tally.wheels)
        elif walk_other:
            count_other(entry, other, errors)
    path_module = os.path
    return ScanResult(cache_dir, exists, buckets, other, pip_count, wheels, errors, path_module, counted.helper_peaks_kib, warnings)


def platform_path_module(platform: str) -> Any:
    return ntpath if platform == "win32" else posixpath
