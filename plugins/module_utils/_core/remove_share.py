# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""One bucket's removal shared out to helper processes, each sub-folder of the bucket a unit of work.

The removing process lists the bucket folder and walks its sub-folders (the units) in order until it has seen
``SPLIT_AFTER`` files and folders (a small cache never starts a helper); then it deals the units left out, one each
in turn, to itself and the helpers. A helper is a fork of the process that already runs with the user's
privileges; it inherits the bucket's descriptor and opens each unit relative to it, without following a link, as
the walk does. It sends one record per unit as soon as the unit is done: its result for the bucket's folder visit
and its figures, as plain values. Once a helper has ended, the units of its share with no record, or whose record
cannot be read, are walked here; a record is taken once, and only for a unit of that helper's share, so no unit is
counted twice. (A helper killed part-way through a unit leaves what it removed there uncounted: the rest of that
unit is removed here, so the disk ends the same.) The bucket's own folder visit is told every unit's result here,
so the end-of-folder rule and the bucket's rmdir are decided as in one process. Standard library only.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any, Callable, Optional

from . import parallel as core_parallel
from . import walk as core_walk
from .walk import FileItem, FolderVisit, Listing, Visitor, WalkErrors

if TYPE_CHECKING:
    from .remove import Removal

SPLIT_AFTER = 10_000
"""Files and folders the removing process walks on its own before it shares the units left with helpers."""

UNIT_CAP = 1024
"""Sub-folders of a bucket set aside as units of work; past that, the rest are walked where they are listed."""

_PENDING = object()  # a unit with no result yet


def walk_shared(removal: Removal, root: str, visit: Visitor, *, parent_fd: int) -> object:
    """``walk(root, visit, parent_fd=...)`` for a bucket, with its sub-folders shared out to ``removal.helpers``
    processes: the same result, the same acts and the same figures (in ``removal.outcome``)."""
    errors = removal.outcome.errors
    opened = core_walk.open_root(root, parent_fd, errors)
    if opened is None:
        return None
    fd = opened[0]
    if fd is None:  # pragma: no cover - only where descriptors are not available, and then nothing is shared
        return core_walk.walk(root, visit, errors=errors, dry_run=removal.dry_run, parent_fd=parent_fd)
    try:
        return _walk_bucket(removal, root, fd, os.fstat(fd).st_dev, visit)
    finally:
        os.close(fd)


def _walk_bucket(removal: Removal, root: str, fd: int, device: int, visit: Visitor) -> object:
    """The bucket folder as ``_core/walk.py`` walks a folder, its sub-folders walked once its listing has ended."""
    errors, dry_run = removal.outcome.errors, removal.dry_run
    try:
        entries = core_walk.list_dir(root, fd)
    except FileNotFoundError:
        return None
    except OSError as error:
        errors.add(root, error)
        return None
    units: list[str] = []
    try:
        folder = visit(Listing(root, 0, fd, errors, dry_run))
        for entry in entries:
            try:
                item = core_walk.classify(entry, fd, root)
            except FileNotFoundError:
                continue
            except OSError as error:
                errors.add(os.path.join(root, entry.name), error)
                continue
            if item is not None:
                folder.file(item)
            elif len(units) < UNIT_CAP:
                units.append(entry.name)
            else:
                result = core_walk.walk_child(entry.name, root, fd, 0, visit, errors, dry_run, device)
                if result is not core_walk.GONE:
                    folder.child(entry.name, result)
    finally:
        core_walk.close_entries(entries)
    for name, result in zip(units, _walk_units(removal, root, fd, device, visit, units)):
        if result is not core_walk.GONE:
            folder.child(name, result)
    failed = getattr(entries, "error", None)
    if failed is not None:  # listed only in part: what was seen was acted on, the folder itself is left alone
        if not isinstance(failed, FileNotFoundError):
            errors.add(root, failed)
        return None
    return folder.done()


def _walk_units(removal: Removal, root: str, fd: int, device: int, visit: Visitor, units: list[str]) -> list[object]:
    """Every unit's result, in order: walked here until ``SPLIT_AFTER``, then shared out."""
    results: list[object] = [_PENDING] * len(units)
    counted = functools.partial(_Counted.visit, removal, visit)
    for number in range(len(units)):
        if removal.seen >= SPLIT_AFTER and len(units) - number > 1:
            _share_out(removal, root, fd, device, visit, units, results, list(range(number, len(units))))
            break
        results[number] = walk_unit(removal, root, fd, device, counted, units[number], removal.outcome.errors)
    return results


def walk_unit(removal: Removal, root: str, fd: int, device: int, visit: Visitor, name: str, errors: WalkErrors) -> object:
    """One sub-folder of the bucket, walked as the walk walks a sub-folder (opened relative to ``fd``, never through a
    link, never on another file system)."""
    return core_walk.walk_child(name, root, fd, 0, visit, errors, removal.dry_run, device)


class _Counted(FolderVisit):
    """A folder visit that counts what this process walked (``removal.seen``) before it passes each call on."""

    def __init__(self, removal: Removal, inner: FolderVisit) -> None:
        self.removal = removal
        self.inner = inner

    @classmethod
    def visit(cls, removal: Removal, visit: Visitor, listing: Listing) -> FolderVisit:
        removal.seen += 1
        return cls(removal, visit(listing))

    def file(self, item: FileItem) -> None:
        self.removal.seen += 1
        self.inner.file(item)

    def child(self, name: str, result: object) -> None:
        self.inner.child(name, result)

    def done(self) -> object:
        return self.inner.done()


def _share_out(removal: Removal, root: str, fd: int, device: int, visit: Visitor, units: list[str], results: list[object], left: list[int]) -> None:
    ways = min(removal.helpers, len(left) - 1) + 1
    shares = [left[number::ways] for number in range(ways)]
    started: list[tuple[core_parallel.Stream, list[int]]] = []
    for share in shares[1:]:
        helper = core_parallel.start_stream(functools.partial(helper_work, removal, root, fd, device, visit, units, share))
        if helper is None:
            shares[0] = shares[0] + share  # no process could be started: walked here
        else:
            started.append((helper, share))
    try:
        for number in shares[0]:
            results[number] = walk_unit(removal, root, fd, device, visit, units[number], removal.outcome.errors)
            for helper, _share in started:
                core_parallel.drain(helper)
    except BaseException:
        for helper, _share in started:  # this removal is abandoned: so is the helpers' work
            core_parallel.stop_stream(helper)
        raise
    for helper, share in started:
        _take(removal, core_parallel.records(helper), share, results)
        for number in share:  # a unit the helper sent nothing readable for: walked here, now that the helper has ended
            if results[number] is _PENDING:
                results[number] = walk_unit(removal, root, fd, device, visit, units[number], removal.outcome.errors)


def helper_work(removal: Removal, root: str, fd: int, device: int, visit: Visitor, units: list[str], share: list[int], send: Callable[[Any], None]) -> None:
    """A helper's work: its units, each one's record sent as soon as it is done."""
    outcome = removal.outcome
    outcome.errors, outcome.warnings = WalkErrors(), []
    for number in share:
        figures, count, mark = outcome.figures(), outcome.gone.count, outcome.gone.added
        errors = WalkErrors()
        result = walk_unit(removal, root, fd, device, visit, units[number], errors)
        delta = tuple(after - before for after, before in zip(outcome.figures(), figures))
        gone = (outcome.gone.count - count, outcome.gone.since(mark))
        send((number, "gone" if result is core_walk.GONE else result, delta, gone, (errors.count, errors.items)))


def _take(removal: Removal, found: list[Any], share: list[int], results: list[object]) -> None:
    """Add the records of a helper's share into ``removal.outcome``; each unit's at most once, any other left out."""
    mine = set(share)
    for record in found:
        read = _read(record)
        if read is None or read[0] not in mine or results[read[0]] is not _PENDING:
            continue
        number, result, delta, (gone_count, gone_items), (error_count, error_items) = read
        outcome = removal.outcome
        outcome.add_figures(delta)
        outcome.gone.count += gone_count
        for item in gone_items:
            outcome.gone.keep(item)
        failed = WalkErrors()
        failed.count, failed.items = error_count, error_items
        outcome.errors.merge(failed)
        results[number] = result


def _count(value: object) -> bool:
    """A whole number as a helper sends it: an int, not a bool (which is an int to isinstance)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _read(record: Any) -> Optional[tuple[Any, ...]]:
    """A record's fields when it has the shape a helper sends, else None."""
    try:
        number, sent, delta, (gone_count, gone_items), (error_count, error_items) = record
        if isinstance(sent, str) and sent == "gone":
            result: object = core_walk.GONE
        elif sent is None or isinstance(sent, bool):
            result = sent
        else:
            return None
        ints = [number, *delta, gone_count, error_count]
        if not all(_count(value) and value >= 0 for value in ints) or len(delta) != 8:
            return None
        if not all(isinstance(item, dict) and _count(item.get("bytes")) and isinstance(item.get("path"), str) for item in gone_items):
            return None
        if not all(isinstance(item, dict) and set(item) == {"path", "error"} for item in error_items):
            return None
    except (TypeError, ValueError):
        return None
    return number, result, tuple(delta), (gone_count, list(gone_items)), (error_count, list(error_items))
