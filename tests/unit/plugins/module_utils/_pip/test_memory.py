# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Memory stays flat with the size of a cache's largest folder: scan, dry-run prune and dry-run purge.

A folder of N entries must not cost N times what one entry costs: the walks stream each listing as the system
gives it. The peak of Python's own allocations (tracemalloc) for N entries in one folder is compared with the
peak for N/10 in one folder; a walk that holds the folder's listing (or an object per entry) grows tenfold.
"""

from __future__ import annotations

import os
import shutil
import time
import tracemalloc

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import entries as core_entries
from ansible_collections.fleet.cache.plugins.module_utils._core import remove as core_remove
from ansible_collections.fleet.cache.plugins.module_utils._core import remove_share as core_remove_share
from ansible_collections.fleet.cache.plugins.module_utils._core import walk as core_walk
from ansible_collections.fleet.cache.plugins.module_utils._pip import count as pip_count
from ansible_collections.fleet.cache.plugins.module_utils._pip import layout as pip_layout
from ansible_collections.fleet.cache.plugins.module_utils._pip.http import list_downloads
from ansible_collections.fleet.cache.plugins.module_utils._pip.layout import pip_list_line
from ansible_collections.fleet.cache.plugins.module_utils._pip.matching import NameMatcher
from ansible_collections.fleet.cache.plugins.module_utils._pip.remove import Request, remove
from ansible_collections.fleet.cache.plugins.module_utils._pip.scan import scan

# Entries in the one large folder (a folder costs more to make than a file); a tenth of them is the small folder, which
# is streamed too (more than the walk lists whole: core_entries.SORTED_MAX), so what the two cost is what streaming costs.
LARGE = {"files": 12_000, "folders": 4_000}
FACTOR = 2.0  # a flat walk: the large folder's peak within twice the small one's (measured: 0.9 to 1.3; before: 10x)
DAY = 86400


def _empty(path: str) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))


def _http_leaf(cache: str, entries: int) -> None:
    """``entries`` files directly in one http-v2 leaf folder: key and key.body pairs, every key made before any
    body, so that whatever order the file system lists them in (hashed, made, or the reverse) a pair's files are far
    apart in the listing."""
    leaf = os.path.join(cache, "http-v2", "a", "b", "c", "d", "e")
    os.makedirs(leaf)
    for suffix in ("", ".body"):
        for number in range(entries // 2):
            _empty(os.path.join(leaf, f"{number:056x}{suffix}"))


def _wheel_folders(cache: str, entries: int) -> None:
    """``entries`` wheel folders in one folder of the wheel cache, each holding one wheel."""
    parent = os.path.join(cache, "wheels", "ab", "cd", "ef")
    os.makedirs(parent)
    for number in range(entries):
        folder = os.path.join(parent, f"{number:050x}")
        os.mkdir(folder)
        _empty(os.path.join(folder, f"pkg{number % 7}-1.{number}-py3-none-any.whl"))


LAYOUTS = {"files": _http_leaf, "folders": _wheel_folders}


def _operations(cache: str):
    later = time.time() + 10 * DAY  # everything is a day old or more by then: the prune and the purge take it all
    return {
        "scan": lambda: scan(cache, list_matcher=NameMatcher(glob="*"), list_limit=100, helpers=0),
        "prune dry run": lambda: remove(cache, Request(mode="pruned", max_size=0, max_age=DAY, now=later), dry_run=True),
        "purge dry run": lambda: remove(cache, Request(mode="purged", matcher=NameMatcher(glob="*"), now=later), dry_run=True),
        "downloads": lambda: list_downloads(cache, limit=100),
    }


def _peaks(cache: str, *, warm: bool) -> dict[str, int]:
    found = {}
    for name, operation in _operations(cache).items():
        if warm:
            operation()  # imports and caches warmed first: only the walk's own memory is measured
        tracemalloc.start()
        try:
            operation()
            found[name] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return found


@pytest.fixture(scope="module")
def one_folder(tmp_path_factory):
    """Caches made once for this module: ``one_folder(layout, entries)`` is a cache whose one large folder holds that."""
    made: dict[tuple[str, int], str] = {}
    # In memory where the system has a tmpfs for it (see the conftest's scratch): tens of thousands of files.
    base = str(tmp_path_factory.mktemp("memory"))

    def cache(layout: str, entries: int) -> str:
        if (layout, entries) not in made:
            made[layout, entries] = os.path.join(base, f"{layout}-{entries}")
            LAYOUTS[layout](made[layout, entries], entries)
        return made[layout, entries]

    yield cache
    shutil.rmtree(base)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_peak_memory_does_not_grow_with_the_largest_folder(one_folder, layout):
    entries = LARGE[layout]
    assert entries // 10 > (core_entries.SORTED_MAX if layout == "files" else core_walk.HOLD)
    small_peaks = _peaks(one_folder(layout, entries // 10), warm=True)
    large_peaks = _peaks(one_folder(layout, entries), warm=False)
    grown = {
        name: f"{small_peaks[name] / 1024:.0f} KiB for {entries // 10:,} -> {large_peaks[name] / 1024:.0f} KiB for {entries:,}"
        for name in small_peaks
        if large_peaks[name] > FACTOR * max(small_peaks[name], 64 * 1024)
    }
    assert not grown, f"peak memory grows with the entries of one folder ({layout}): {grown}"


def test_the_large_folder_is_counted_whole(one_folder):
    """What the flat walk reports for a large folder is every entry of it, as pip counts them."""
    files, folders = LARGE["files"], LARGE["folders"]
    later = time.time() + 10 * DAY
    http = one_folder("files", files)
    result = scan(http, helpers=0)
    assert (result.http_files, result.buckets["http-v2"].entries, result.buckets["http-v2"].dirs) == (files, files // 2, 6)
    purged = remove(http, Request(mode="purged", matcher=NameMatcher(glob="*"), now=later), dry_run=True, list_limit=5)
    # http-v2 and the five folders in it
    assert (purged.files, purged.entries, purged.extra_files, purged.dirs) == (files, files // 2, 0, 6)
    wheels = one_folder("folders", folders)
    result = scan(wheels, list_matcher=NameMatcher(glob="*"), list_limit=10, helpers=0)
    assert (result.pip_wheel_count, result.wheels.count, len(result.wheels.items())) == (folders, folders, 10)
    # pip's order (``pip cache list`` sorts its lines): the first ten of all of them
    expected = sorted(pip_list_line(f"pkg{number % 7}-1.{number}-py3-none-any.whl", 0) for number in range(folders))[:10]
    assert [wheel.as_dict()["pip_line"] for wheel in result.wheels.items()] == expected
    purged = remove(wheels, Request(mode="purged", matcher=NameMatcher(glob="*"), now=later), dry_run=True, list_limit=5)
    # wheels and the three folders in it, and the wheel folders
    assert (purged.files, purged.entries, purged.extra_files, purged.dirs) == (folders, folders, 0, 4 + folders)


# --- past the caps: what a folder too large to hold gives is what a small one gives --------------------------------


def _crowded(now: float) -> dict[str, tuple[int, float]]:
    """Folders that hold more than a cap of 1: several entries, halves of pairs, links to folders, sub-folders, young
    files; every entry a distinct age (a size prune then takes the same entries whatever order it meets them in)."""
    files: dict[str, tuple[int, float]] = {}
    age = iter(range(2, 10_000, 3))

    def put(path: str, size: int, days: float) -> None:
        files[path] = (size, now - days * DAY)

    leaf = "http-v2/a/b/c/d/e"
    for number in range(9):
        days = next(age)
        put(f"{leaf}/{number:056x}", 30 + number, days)
        put(f"{leaf}/{number:056x}.body", 300 + number, days)
    put(f"{leaf}/{'b' * 56}", 11, next(age))  # a key without its body
    put(f"{leaf}/{'c' * 56}.body", 12, next(age))  # a body without its key
    put(f"{leaf}/{'d' * 56}", 13, 0.001)  # young: min_age keeps it
    put("http-v2/a/b/c/d/f/" + "e" * 56, 14, next(age))
    for number in range(6):
        put(f"http/1/2/3/4/5/{number:056x}", 40 + number, next(age))
    for number in range(7):
        folder = f"wheels/ab/cd/ef/{number:050x}"
        put(f"{folder}/p{number}-1.0-py3-none-any.whl", 500 + number, next(age))
        put(f"{folder}/p{number}-1.1-py3-none-any.whl", 520 + number, next(age))
        put(f"{folder}/origin.json", 20, next(age))
    put("wheels/ab/cd/ef/" + "f" * 50 + "/q-1.0-py3-none-any.whl", 600, 0.001)  # a young wheel folder
    put("wheels/12/34/56/" + "0" * 50 + "/origin.json", 20, next(age))  # a wheel folder without a wheel
    put("selfcheck/5a5a", 50, next(age))
    return files


def _build(root: str, files: dict[str, tuple[int, float]]) -> None:
    for relative, (size, stamp) in files.items():
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(b"x" * size)
        os.utime(path, (stamp, stamp))
    os.symlink(os.path.join(root, "wheels"), os.path.join(root, "http-v2/a/b/c/d/e/" + "9" * 56))  # a link to a folder
    stamp = time.time() - 400 * DAY
    for directory, _dirs, _files in sorted(os.walk(root), reverse=True):
        os.utime(directory, (stamp, stamp))


def _tree(root: str) -> dict[str, object]:
    found: dict[str, object] = {}
    for directory, dirs, names in os.walk(root):
        for name in dirs + names:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, root)] = "dir" if name in dirs else os.lstat(path).st_size
    return found


REQUESTS = {
    "purge": lambda now: Request(mode="purged", matcher=NameMatcher(glob="*"), now=now, min_age=3600, purge_extras=frozenset({"selfcheck"})),
    "prune by size": lambda now: Request(mode="pruned", max_size=3_000, now=now, min_age=3600),
    "prune by age": lambda now: Request(mode="pruned", max_age=40 * DAY, now=now),
    "absent": lambda now: Request(mode="absent", matcher=NameMatcher(glob="p3"), http_all=True, now=now),
}


@pytest.mark.parametrize("request_name", sorted(REQUESTS))
def test_folders_past_the_caps_give_what_small_folders_give(tmp_path, monkeypatch, request_name):
    """With every cap at 1 (each folder above is then "too large to hold": pairs looked up by name, files listed
    again, sub-folders removed as they come), scans, dry runs and real runs give what they give with the caps."""
    now = time.time()
    files = _crowded(now)
    results = {}
    for caps in ("default", "tiny"):
        if caps == "tiny":
            for module, name in (
                (pip_layout, "PAIR_WAIT"),
                (pip_count, "UNIT_CAP"),
                (core_walk, "HOLD"),
                (core_remove, "HOLD"),
                (core_remove_share, "UNIT_CAP"),
            ):
                monkeypatch.setattr(module, name, 1)
        cache = str(tmp_path / "cache")  # the same path both times: paths are part of the results
        _build(cache, files)
        figures = scan(cache, helpers=0)
        walked = scan(cache, on_http_file=lambda listing, item: None)  # the walk() path of the scan
        dry = remove(cache, REQUESTS[request_name](now), dry_run=True)
        real = remove(cache, REQUESTS[request_name](now), dry_run=False)
        assert real.as_dict() == dry.as_dict()
        results[caps] = (
            [stats.as_dict() for stats in (*figures.buckets.values(), figures.other)],
            [stats.as_dict() for stats in (*walked.buckets.values(), walked.other)],
            real.as_dict(),
            _tree(cache),
        )
        shutil.rmtree(cache)
    assert results["tiny"] == results["default"]
    assert results["default"][0] == results["default"][1]
