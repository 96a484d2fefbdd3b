# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bounded heap of the largest entries a removal takes: exact whatever the order, and whatever the processes."""

from __future__ import annotations

import functools
import random

from ansible_collections.fleet.cache.plugins.module_utils._core.largest import GoneEntries


def _describe(seen, path):
    seen.append(path)
    return {"kind": "x", "project": None, "version": None}


def test_gone_entries_keep_the_largest_in_any_order():
    """Memory stays at the cap; the largest entries win, equal sizes in path order, whatever order they come in."""
    sizes = [(size, f"/c/{index:04d}") for index, size in enumerate([5, 1, 9, 5, 7, 3, 9, 2, 5, 8] * 30)]
    expected = sorted(sizes, key=lambda pair: (-pair[0], pair[1]))[:7]
    for seed in range(5):
        shuffled = list(sizes)
        random.Random(seed).shuffle(shuffled)
        gone = GoneEntries(7)
        described = []

        for size, path in shuffled:
            gone.add(size, path, functools.partial(_describe, described, path))
        assert [(item["bytes"], item["path"]) for item in gone.items()] == expected
        assert (gone.count, gone.truncated) == (300, True)
        assert len(described) < 150  # only entries among the largest so far are described (read)
    assert GoneEntries(0).wants(10**9, "/x") is False


def test_heaps_filled_apart_keep_what_one_heap_keeps():
    """A removal shared out: each helper's entries kept apart (``since``), then taken into one heap (``keep``)."""
    sizes = [(size, f"/c/{index:04d}") for index, size in enumerate([5, 1, 9, 5, 7, 3, 9, 2, 5, 8] * 30)]
    one = GoneEntries(7)
    for size, path in sizes:
        one.add(size, path, functools.partial(_describe, [], path))
    merged = GoneEntries(7)
    for part in (sizes[:100], sizes[100:230], sizes[230:]):
        apart = GoneEntries(7)
        for start in range(0, len(part), 40):  # units of work, each one's entries sent as it ends
            mark, count = apart.added, apart.count
            for size, path in part[start : start + 40]:
                apart.add(size, path, functools.partial(_describe, [], path))
            merged.count += apart.count - count
            for item in apart.since(mark):
                merged.keep(item)
    assert merged.items() == one.items() and (merged.count, merged.truncated) == (one.count, one.truncated) == (300, True)
