# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Oldest-first selection for a size budget, memory-flat: a histogram of times, then a cut-off bin.

A first pass adds every candidate's time and size; ``plan`` finds the bin where the excess is made up; the second
pass takes what is older than that bin, and from that bin as much as is left to free. The second pass depends on
the order it sees candidates in, so it runs in one process. Standard library only.
"""

from __future__ import annotations

from typing import Optional

HISTOGRAM_BINS = 4096


class Budget:
    """Oldest-first selection for max_size, memory-flat: a time histogram, then a cut-off bin."""

    def __init__(self) -> None:
        self.width = 1
        self.bins: dict[int, int] = {}
        self.cutoff_bin: Optional[int] = None
        self.to_free_in_cutoff = 0

    def add(self, mtime: float, size: int) -> None:
        key = int(mtime) // self.width
        self.bins[key] = self.bins.get(key, 0) + size
        while len(self.bins) > HISTOGRAM_BINS:
            self.width *= 2
            merged: dict[int, int] = {}
            for old_key, value in self.bins.items():
                merged[old_key // 2] = merged.get(old_key // 2, 0) + value
            self.bins = merged

    def plan(self, total: int, limit: int) -> None:
        excess = total - limit
        if excess <= 0 or not self.bins:
            # Within budget, or what is over it cannot be pruned (selfcheck, young entries, leftovers).
            self.cutoff_bin = None
            return
        for key in sorted(self.bins):
            if self.bins[key] >= excess:
                self.cutoff_bin, self.to_free_in_cutoff = key, excess
                return
            excess -= self.bins[key]
        self.cutoff_bin, self.to_free_in_cutoff = max(self.bins), 1 << 62

    def take(self, mtime: float, size: int) -> bool:
        if self.cutoff_bin is None:
            return False
        key = int(mtime) // self.width
        if key < self.cutoff_bin:
            return True
        if key == self.cutoff_bin and self.to_free_in_cutoff > 0:
            self.to_free_in_cutoff -= size
            return True
        return False
