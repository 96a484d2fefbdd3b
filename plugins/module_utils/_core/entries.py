# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""A folder's entries as every walk reads them: listed whole in name order, or streamed when the folder is large.

A folder of up to ``SORTED_MAX`` entries (pip's layout never has more in one folder) is listed whole and sorted,
so the walks are deterministic; a larger one is streamed as ``os.scandir`` yields it, so a folder of 200,000 entries
costs the memory one of 2,000 does. The folder is read by its descriptor when one is held. Standard library only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Optional

SORTED_MAX = 1024  # entries of a folder listed whole and in name order; a larger folder is streamed in the system's order


class FolderEntries:
    """A folder's entries, as the walks read them.

    A folder of up to ``SORTED_MAX`` entries is listed whole when this is made and given in name order, the same
    snapshot each time it is iterated (a list's behaviour, and a deterministic order: pip's layout never has more in
    one folder). A larger folder is given as ``os.scandir`` yields it, in the system's order: the first
    ``SORTED_MAX`` entries read ahead, the rest streamed, none held longer than it is used; iterating it again lists
    it again. Either way, a folder that cannot be listed fails when this is made; an error part-way through a large
    folder's listing ends the iteration and is kept in ``error``.
    """

    def __init__(self, path: str, fd: Optional[int]) -> None:
        self.path = path
        self.fd = fd
        self.error: Optional[OSError] = None
        self.complete = False
        self._held: list[os.DirEntry[str]] = []
        self._open: Optional[Any] = None  # the scandir iterator of a large folder, still being read
        self._fresh = True
        self._read()

    def _read(self) -> None:
        self.close()
        iterator = os.scandir(self.fd if self.fd is not None else self.path)
        held: list[os.DirEntry[str]] = []
        try:
            for entry in iterator:
                held.append(entry)
                if len(held) > SORTED_MAX:
                    break
            else:
                iterator.close()
                held.sort(key=lambda entry: entry.name)
                self._held, self.complete = held, True
                return
        except BaseException:
            iterator.close()
            raise
        held.reverse()  # popped from the end as they are given: each let go once used
        self._held, self._open, self.complete = held, iterator, False

    def __bool__(self) -> bool:
        return bool(self._held) or not self.complete

    def __iter__(self) -> Iterator[os.DirEntry[str]]:
        if not self._fresh and not self.complete:
            try:
                self._read()
            except OSError as error:
                self.error = error
                return
        self._fresh = False
        if self.complete:
            yield from self._held
            return
        self.error = None
        held, self._held = self._held, []
        while held:
            yield held.pop()
        iterator = self._open
        try:
            while iterator is not None:
                try:
                    entry = next(iterator)
                except StopIteration:
                    return
                except OSError as error:  # the folder went away, or an I/O error
                    self.error = error
                    return
                yield entry
        finally:
            self.close()

    def close(self) -> None:
        """Let go of a large folder's listing before it was read to its end."""
        iterator, self._open = self._open, None
        if iterator is not None:
            iterator.close()


def list_dir(path: str, fd: Optional[int]) -> FolderEntries:
    """One folder's entries, streamed (by its descriptor when given): the one place every walk lists a folder."""
    return FolderEntries(path, fd)


def close_entries(entries: object) -> None:
    """Let go of a listing (a ``FolderEntries``, or whatever stands in for one) before it was read to its end."""
    close = getattr(entries, "close", None)
    if close is not None:
        close()
