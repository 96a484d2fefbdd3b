# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The largest entries a removal takes, in a bounded heap: memory stays at its limit whatever the cache holds.

Heaps filled by several processes add up exactly: the largest ``limit`` entries of all of them are the largest
``limit`` of each one's largest. Standard library only.
"""

from __future__ import annotations

import heapq
from typing import Any, Callable

from .units import human_size


class GoneEntries:
    """The largest entries a removal takes, at most ``limit`` of them, each named the way a person names it.

    Memory stays at ``limit`` whatever the cache holds; an entry is described (for an HTTP entry: read, to tell a
    download from an index page and find its project) only when it is among the largest so far, so a purge reads a
    few hundred entries at most.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.added = 0  # entries kept so far, each numbered: what one unit of shared-out work added (``since``)
        self._heap: list[tuple[int, _Later, dict[str, Any]]] = []

    def wants(self, size: int, path: str) -> bool:
        """Whether an entry of this size would be kept (so it is worth identifying before it goes)."""
        if self.limit <= 0:
            return False
        return len(self._heap) < self.limit or (size, _Later(path)) > self._heap[0][:2]

    def add(self, size: int, path: str, describe: Callable[[], dict[str, Any]]) -> None:
        self.count += 1
        if not self.wants(size, path):
            return
        self.keep(dict(describe(), bytes=size, size=human_size(size), path=path))

    def keep(self, item: dict[str, Any]) -> None:
        """Keep an entry described already (``item`` has its ``bytes`` and ``path``), if it is among the largest."""
        size, path = item["bytes"], item["path"]
        if not self.wants(size, path):
            return
        self.added += 1
        entry = (size, _Later(path, self.added), item)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, entry)
        else:
            heapq.heapreplace(self._heap, entry)

    def since(self, mark: int) -> list[dict[str, Any]]:
        """The entries kept since ``added`` was ``mark`` that are still among the largest."""
        return [entry[2] for entry in self._heap if entry[1].number > mark]

    def items(self) -> list[dict[str, Any]]:
        """Largest first; equal sizes in path order."""
        return [entry[2] for entry in sorted(self._heap, key=lambda entry: (-entry[0], entry[1].path))]

    @property
    def truncated(self) -> bool:
        return self.count > len(self._heap)


class _Later:
    """A path that orders backwards, so that the heap's smallest entry is the one to drop first: the smallest
    size, and among equal sizes the path that sorts last."""

    __slots__ = ("number", "path")

    def __init__(self, path: str, number: int = 0) -> None:
        self.path = path
        self.number = number

    def __lt__(self, other: _Later) -> bool:
        return self.path > other.path

    def __gt__(self, other: _Later) -> bool:
        return self.path < other.path

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Later) and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)
