# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""What goes from each of pip's buckets: the folder visits of ``http-v2/`` and ``http/``, ``wheels/`` and ``selfcheck/``.

Each folder's visit is told its files and its walked sub-folders as the listing streams (``_core/walk.py``): what a
file decides is done at once, and only counts and flags stay, so memory does not grow with what one folder holds.
How a folder ends (its clean-up, min_age keeping it) is the core's rule (``_core/remove.py``). Standard library only.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any, Optional

from .._core.remove import Folder
from .._core.walk import FileItem, FolderVisit, Held, Listing
from .http import identify_entry
from .layout import HttpEntries, http_stem
from .matching import NameMatcher, is_wheel_file
from .names import parse_wheel_filename

if TYPE_CHECKING:
    from .remove import _Remover

KINDS = {"wheel": "download", "sdist": "download", "index": "index page"}


def wheel_entry(filename: str) -> dict[str, Any]:
    wheel = parse_wheel_filename(filename)
    return {"kind": "built wheel", "project": wheel.name if wheel else None, "version": wheel.version if wheel else None}


def http_entry(directory: str, names: list[str], dir_fd: Optional[int]) -> dict[str, Any]:
    """What an HTTP entry is, read from its content: a download (wheel or sdist) or a project's index page."""
    found = identify_entry(directory, names, dir_fd=dir_fd)
    if found is None:
        return {"kind": "http entry", "project": None, "version": None}
    return {"kind": KINDS.get(found.kind, found.kind), "project": found.name, "version": found.version}


class _HttpFolder(Folder):
    """A folder of ``http-v2/`` or ``http/``: each entry (``key`` + ``key.body``, or one legacy file) decided as soon
    as its files are listed."""

    def __init__(self, remover: _Remover, listing: Listing) -> None:
        super().__init__(remover, listing)
        self.remover = remover
        request = remover.request
        # A folder pip made just now is about to get an entry: read its age before anything in it goes.
        self.folder_young = request.min_age > 0 and not remover.counting and remover.dir_is_young(listing)
        self.files_left = False
        self.others = Held(listing, lambda item: not item.counts_as_file)  # links to folders: not files to pip
        self.entries = HttpEntries(listing, self._entry, lambda item: item.counts_as_file)

    def file(self, item: FileItem) -> None:
        if item.counts_as_file:
            self.entries.add(item)
        else:
            self.others.add(item)  # a link to a folder: pip's walk does not count it as a file

    def _entry(self, items: list[FileItem]) -> None:
        remover, request, listing = self.remover, self.remover.request, self.listing
        mtime = max(item.mtime for item in items)
        size = sum(item.size for item in items)
        take = False
        if remover.young(mtime):
            take = False
            if request.mode != "absent" or request.http_all or (request.http_projects and remover._take_download(listing, items)):
                remover.spare(size)
        elif request.mode == "purged" or (request.mode == "absent" and request.http_all):
            take = True
        elif request.mode == "absent" and request.http_projects and request.identify is not None and request.matcher is not None:
            take = remover._take_download(listing, items)
        elif request.mode == "pruned":
            take = remover._prune_take(mtime, size, is_http=True)
        if not take or remover.counting:
            self.files_left = True
            return
        path = listing.file_path(http_stem(items[0].name))
        names = [item.name for item in items]
        described = http_entry(listing.path, names, listing.fd) if remover.outcome.gone.wants(size, path) else None
        unlinked = [remover.unlink(listing, item) for item in items]
        if all(unlinked):
            remover.outcome.entries += 1
            remover.outcome.gone.add(size, path, functools.partial(_known, described))
        else:  # a file held open stays, and with it its entry and folder
            self.files_left = True

    def done(self) -> object:
        self.entries.finish()
        if self.remover.counting:
            return False
        return self.settle(content_left=self.files_left, kept_young=self.folder_young, rest=self.others)


class _WheelFolder(Folder):
    """A folder of ``wheels/``: its wheels, and the rest (``origin.json``), which go only with the folder."""

    def __init__(self, remover: _Remover, listing: Listing) -> None:
        super().__init__(remover, listing)
        self.remover = remover
        request = remover.request
        # The folder's age is read before anything in it is unlinked (an unlink makes it young).
        self.folder_young = request.min_age > 0 and remover.dir_is_young(listing)
        self.in_build_dir = os.path.basename(listing.path).startswith("tmp") and listing.depth >= 4
        self.wheels_left = False
        self.rest = Held(listing, lambda item: not self._is_wheel(item))
        self.rest_young = False
        # pruned: a folder's wheels are one entry, decided on the newest of them when the listing ends.
        self.group: Optional[Held] = Held(listing, self._is_wheel) if request.mode == "pruned" else None
        self.group_newest = 0.0
        self.group_bytes = 0

    def _is_wheel(self, item: FileItem) -> bool:
        return item.counts_as_file and is_wheel_file(item.name, case_insensitive=self.remover.request.case_insensitive)

    def file(self, item: FileItem) -> None:
        remover, request = self.remover, self.remover.request
        if not self._is_wheel(item):
            self.rest.add(item)
            self.rest_young = self.rest_young or remover.young(item.mtime)
            return
        if self.group is not None:
            self.group_newest = item.mtime if not self.group else max(self.group_newest, item.mtime)
            self.group_bytes += item.size
            self.group.add(item)
            return
        take = False
        if request.mode == "purged":
            matcher = request.matcher or NameMatcher(glob="*")
            take = matcher.matches_filename(item.name) or "stray_wheels" in request.purge_extras or (self.in_build_dir and "build_dirs" in request.purge_extras)
        elif request.mode == "absent" and request.matcher is not None:
            take = request.matcher.matches_filename(item.name)
        if take and remover.young(item.mtime):
            take = False
            remover.spare(item.size)
        if remover.counting:
            return
        if take:
            self._take(item)
        else:
            self.wheels_left = True

    def _take(self, item: FileItem) -> None:
        if self.remover.unlink(self.listing, item):
            self.remover.outcome.entries += 1
            self.remover.outcome.gone.add(item.size, self.listing.file_path(item.name), functools.partial(wheel_entry, item.name))
        else:
            self.wheels_left = True

    def done(self) -> object:
        remover = self.remover
        if self.group is not None and self.group:
            # Only the wheels count as freed: the folder's other files (origin.json) go only with the folder, which
            # min_age or a build inside may keep. Counted, they would leave the cache over max_size, for the next run.
            newest, size = self.group_newest, self.group_bytes
            take = not remover.young(newest) and remover._prune_take(newest, size, is_http=False)
            if remover.young(newest):
                remover.spare(size, sum(1 for _item in self.group))
            if remover.counting:
                return False
            if not take:
                self.wheels_left = True
            for item in self.group if take else ():
                if remover.young(item.mtime):  # listed again (a folder too large to hold): one pip wrote since
                    self.wheels_left = True
                else:
                    self._take(item)
        if remover.counting:
            return False
        # A young file beside the wheels is a build pip is running right now: the folder is left to it.
        return self.settle(content_left=self.wheels_left, kept_young=self.folder_young or bool(self.rest and self.rest_young), rest=self.rest)


class _SelfcheckFolder(Folder):
    def __init__(self, remover: _Remover, listing: Listing) -> None:
        super().__init__(remover, listing)
        self.remover = remover
        self.kept = False

    def file(self, item: FileItem) -> None:
        remover = self.remover
        if remover.young(item.mtime):
            remover.spare(item.size)
            self.kept = True
            return
        if not remover.unlink(self.listing, item):
            self.kept = True
            return
        remover.outcome.entries += 1
        remover.outcome.gone.add(item.size, self.listing.file_path(item.name), _selfcheck_entry)

    def done(self) -> object:
        return not self.kept and self.rmdir_children()


class _SurveyHttp(FolderVisit):
    """Absent by name with a specifier, first pass: the versions of those projects the HTTP cache holds."""

    def __init__(self, remover: _Remover, listing: Listing) -> None:
        self.remover = remover
        self.listing = listing
        self.entries = HttpEntries(listing, self._entry, lambda item: item.counts_as_file)

    def file(self, item: FileItem) -> None:
        self.entries.add(item)

    def _entry(self, items: list[FileItem]) -> None:
        request, survey = self.remover.request, self.remover.survey
        if survey is None or request.identify is None:
            return
        found = request.identify(self.listing.path, [item.name for item in items])
        if found is not None and found[0] != "index":
            survey.note(found[1], found[2])

    def done(self) -> object:
        self.entries.finish()
        return False


class _SurveyWheels(FolderVisit):
    """Absent by name with a specifier, first pass: the versions of those projects the wheel cache holds."""

    def __init__(self, remover: _Remover) -> None:
        self.survey = remover.survey

    def file(self, item: FileItem) -> None:
        wheel = parse_wheel_filename(item.name) if item.counts_as_file and self.survey is not None else None
        if wheel is not None and self.survey is not None:
            self.survey.note(wheel.name, wheel.version)

    def done(self) -> object:
        return False


def _known(described: Optional[dict[str, Any]]) -> dict[str, Any]:
    return described or {"kind": "http entry", "project": None, "version": None}


def _selfcheck_entry() -> dict[str, Any]:
    return {"kind": "selfcheck", "project": None, "version": None}
