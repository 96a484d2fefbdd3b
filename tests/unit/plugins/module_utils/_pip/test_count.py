# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One set of counting rules: the flat count and the walk give the same figures over the same awkward tree.

The scan counts a bucket in a flat loop of listings by path (``_count_tree``, shared out to helper processes), or
with the walk's visitor when downloads are identified on the way (``on_http_file``) or a path is beyond PATH_MAX.
Both count through ``BucketCount``; these tests force each way over one tree and compare every figure.
"""

from __future__ import annotations

import errno
import os
import random

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import walk as core_walk
from ansible_collections.fleet.cache.plugins.module_utils._core.entries import SORTED_MAX
from ansible_collections.fleet.cache.plugins.module_utils._pip import count as pip_count
from ansible_collections.fleet.cache.plugins.module_utils._pip import scan as pip_scan
from ansible_collections.fleet.cache.plugins.module_utils._pip.layout import PAIR_WAIT
from ansible_collections.fleet.cache.plugins.module_utils._pip.matching import NameMatcher
from ansible_collections.fleet.cache.plugins.module_utils._pip.scan import scan
from ansible_collections.fleet.cache.tests.unit.plugins.conftest import scan_figures

pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # as test_parallel.py

CROWDED = "http-v2/c/r/o/w/d"  # more stems than PAIR_WAIT and more entries than SORTED_MAX: streamed, partners looked up
CROWDED_PAIRS = 600


@pytest.fixture
def awkward(tmp_path, build_tree):
    """Every bucket with what pip's layout never has: links to files, folders and nowhere, halves of http-v2 pairs,
    a crowded http-v2 folder, wheels with odd names, empty folders, files in a bucket's own folder, other files."""
    assert CROWDED_PAIRS > PAIR_WAIT and 2 * CROWDED_PAIRS > SORTED_MAX
    files = {
        "http-v2/0/1/2/3/4/pair": (200, 40),
        "http-v2/0/1/2/3/4/pair.body": (1000, 40),
        "http-v2/0/1/2/3/4/key-alone": (150, 5),
        "http-v2/0/1/2/3/5/body-alone.body": (2500, 6),
        "http-v2/0/1/2/3/5/other.txt": (7, 7),
        "http-v2/loose": (3, 8),
        "http/a/b/c/d/e/k3": (3000, 100),
        "http/a/b/c/d/e/k3.body": (30, 100),
        "wheels/ab/cd/ef/0123/tiny-1.0-py3-none-any.whl": (4000, 50),
        "wheels/ab/cd/ef/0123/origin.json": (20, 50),
        "wheels/ab/cd/ef/0123/Upper-1.0-py3-none-any.WHL": (11, 3),
        "wheels/ab/cd/ef/0123/nohyphen.whl": (12, 4),
        "wheels/ab/cd/ef/0123/a-b.whl": (13, 5),
        "wheels/ab/cd/ef/0123/partial-1.0-py3-none-any.whl.part": (14, 6),
        "wheels/ab/cd/ef/0123/.hidden-1.0-py3-none-any.whl": (15, 7),
        "wheels/12/34/56/789a/Foo_Bar-2.0-py3-none-any.whl": (5000, 2),
        "wheels/12/34/56/789a/foo_bar-1.0-py3-none-any.whl": (6000, 10),
        "wheels/loose-1.0-py3-none-any.whl": (7, 2),
        "wheels/d/" + "/".join(f"n{level}" for level in range(core_walk.MAX_DEPTH + 2)) + "/deep-1.0-py3-none-any.whl": (9, 1),
        "selfcheck/5a5a": (100, 1),
        "selfcheck/sub/5b5b": (101, 2),
        "selfcheck.json": (50, 300),
        "notes.txt": (10, 3),
        "unknown/x/y.bin": (70, 9),
    }
    rng = random.Random(17)
    for index in range(CROWDED_PAIRS):
        key = f"{index:04x}"
        files[f"{CROWDED}/{key}"] = (index % 50, rng.randrange(1, 200))
        if index % 3:  # every third key without its body
            files[f"{CROWDED}/{key}.body"] = (500 + index, rng.randrange(1, 200))
    for index in range(0, CROWDED_PAIRS, 7):  # and some bodies without their key
        files[f"{CROWDED}/orphan{index:04x}.body"] = (index, 1)
    root = os.path.realpath(build_tree(str(tmp_path / "cache"), files))
    outside = build_tree(str(tmp_path / "outside"), {"big.bin": (9000, 1), "dir/inner.bin": (500, 1), "w/linked-1.0-py3-none-any.whl": (800, 1)})
    for folder in ("http-v2/e/m/p/t/y", "http/empty", "wheels/ee/ff", "selfcheck/empty"):
        os.makedirs(os.path.join(root, folder))
    links = {
        "http-v2/0/1/2/3/4/link-to-file": "big.bin",
        "http-v2/0/1/2/3/4/link-to-dir": "dir",
        f"{CROWDED}/0006.body": "big.bin",  # a link as the body of a key that has none
        f"{CROWDED}/zzzz": "dir",  # a link to a folder as a key: no file, so no entry
        "http/a/b/c/d/e/link-to-file": "big.bin",
        "http/a/link-to-dir": "dir",
        "wheels/ab/cd/ef/0123/linked-1.0-py3-none-any.whl": "w/linked-1.0-py3-none-any.whl",
        "wheels/ab/cd/ef/dangling-1.0-py3-none-any.whl": "nowhere",
        "wheels/ab/cd/linked-dir-1.0-py3-none-any.whl": "w",
        "selfcheck/link": "big.bin",
        "link-to-file": "big.bin",  # outside the buckets: the same rules
        "link-to-dir": "dir",
    }
    for name, target in links.items():
        os.symlink(os.path.join(outside, target), os.path.join(root, name))
    return root


def _options(case_insensitive):
    return {"list_matcher": NameMatcher(glob="foo_bar", case_insensitive=case_insensitive), "list_limit": 1, "case_insensitive": case_insensitive}


@pytest.fixture
def walks(monkeypatch):
    """Counts the buckets the walk's visitor counted."""
    walked = []
    real = pip_scan.walk_bucket

    def walk_bucket(bucket, path, rules, **kwargs):
        walked.append(bucket)
        return real(bucket, path, rules, **kwargs)

    monkeypatch.setattr(pip_scan, "walk_bucket", walk_bucket)
    return walked


@pytest.mark.parametrize("case_insensitive", [False, True], ids=["posix", "windows-names"])
def test_downloads_identified_on_the_walk_count_as_the_flat_count(awkward, walks, case_insensitive, monkeypatch):
    flat = scan(awkward, helpers=0, **_options(case_insensitive))
    assert walks == []
    told = []
    walked = scan(awkward, on_http_file=lambda listing, item: told.append(listing.file_path(item.name)), **_options(case_insensitive))
    assert walks == ["http", "http-v2", "selfcheck", "wheels"]
    assert scan_figures(walked) == scan_figures(flat)
    if hasattr(os, "fork"):
        monkeypatch.setattr(pip_count, "SPLIT_AFTER", 0)
        shared = scan(awkward, helpers=2, **_options(case_insensitive))  # the flat count shared out to helper processes
        assert scan_figures(shared) == scan_figures(flat) and len(shared.helper_peaks_kib) == 2
    assert len(told) == flat.http_files  # every HTTP file that counts, and only those, is told once
    # The figures are the rules', not a coincidence of two empty counts.
    orphans = len(range(0, CROWDED_PAIRS, 7))
    crowded_files = CROWDED_PAIRS + (CROWDED_PAIRS - len(range(0, CROWDED_PAIRS, 3))) + orphans + 1  # keys, bodies, orphans, a link
    http_v2 = flat.buckets["http-v2"]
    assert http_v2.files == 7 + crowded_files  # a link to a file is a file; a link to a folder is none
    assert http_v2.entries == 3 + 2 + 1 + CROWDED_PAIRS + orphans  # a key and its body are one entry, a half is one
    assert http_v2.dirs == 1 + 6 + 5 + 5  # the bucket, two HTTP folders' paths, the crowded one, an empty one
    assert (flat.buckets["http"].files, flat.buckets["http"].bytes, flat.buckets["http"].entries) == (3, 3030, 3)
    wheels = flat.buckets["wheels"]
    assert (wheels.files, wheels.entries) == (12, 9 + case_insensitive)  # every '.whl' an entry ('.WHL' where names fold)
    assert flat.pip_wheel_count == 8 + case_insensitive  # pip's glob '*-*.whl': not 'nohyphen.whl'
    assert flat.wheels.count == 1 + case_insensitive
    assert (flat.buckets["selfcheck"].files, flat.buckets["selfcheck"].entries, flat.buckets["selfcheck"].dirs) == (3, 3, 3)
    assert flat.errors.count == 1  # the folder deeper than MAX_DEPTH
    other = flat.other  # unknown/x/y.bin, selfcheck.json, notes.txt and a link to a file; a link to a folder is no file
    assert (other.files, other.bytes, other.entries, other.dirs) == (4, 130, 5, 2)


def test_paths_beyond_path_max_are_walked_with_the_same_rules(awkward, walks, monkeypatch):
    flat = scan(awkward, helpers=0, **_options(False))
    real = core_walk.list_dir

    def too_long_by_path(path, fd):
        if fd is None:  # the flat count lists by path; the walk by descriptor
            raise OSError(errno.ENAMETOOLONG, "File name too long", path)
        return real(path, fd)

    monkeypatch.setattr(core_walk, "list_dir", too_long_by_path)
    walked = scan(awkward, helpers=0, **_options(False))
    assert walks == ["http", "http-v2", "selfcheck", "wheels"]
    assert scan_figures(walked) == scan_figures(flat)


class _BrokenOff:
    """A large folder's listing that fails part-way (an I/O error after ``keep`` entries), as FolderEntries reports it."""

    def __init__(self, entries, keep):
        self.entries, self.keep, self.error = entries, keep, None

    def __iter__(self):
        for number, entry in enumerate(self.entries):
            if number == self.keep:
                self.error = OSError(errno.EIO, "Input/output error")
                return
            yield entry

    def close(self):
        self.entries.close()


def test_a_listing_that_fails_part_way_counts_what_was_seen_either_way(awkward, walks, monkeypatch):
    """The entries of what was listed count as its files do, whichever way counted them (the walk's visit of such a
    folder never ends: its entries are counted as its files are, not when the folder's listing ends)."""
    real = core_walk.list_dir
    crowded = os.path.join(awkward, CROWDED)

    def fails_part_way(path, fd):
        entries = real(path, fd)
        return _BrokenOff(entries, 700) if path == crowded else entries

    monkeypatch.setattr(core_walk, "list_dir", fails_part_way)
    flat = scan(awkward, helpers=0)
    walked = scan(awkward, on_http_file=lambda listing, item: None)
    assert walks == ["http", "http-v2", "selfcheck", "wheels"]
    assert scan_figures(walked) == scan_figures(flat)
    assert (crowded, "Input/output error") in scan_figures(flat)["errors"][1]
    assert 0 < flat.buckets["http-v2"].entries < 5 + CROWDED_PAIRS
