# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""pip's removal: what purge, prune and remove take from a pip cache, one streaming walk per bucket.

A dry run and a real run take the same path through this code; only the unlink and rmdir
calls differ, so check mode predicts exactly what a real run removes. Only files at the
positions of pip's own layout are touched: inside ``http-v2/``, ``http/``, ``wheels/`` and
(when asked) ``selfcheck/``, plus the legacy ``selfcheck.json``. Links are removed as links,
never followed. How things go (by descriptor, the end-of-folder rule, the figures, helper
processes for a large bucket) is the core's: ``_core/remove.py``. Standard library only.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from .._core import parallel as core_parallel
from .._core.budget import Budget
from .._core.cache_root import open_cache_root, unsafe_reason
from .._core.errors import UnsafeCacheDir
from .._core.remove import Outcome, Removal
from .._core.walk import _FD_MODE, FileItem, FolderVisit, Listing, Visitor, WalkErrors
from .matching import NameMatcher
from .names import normalize_name
from .remove_buckets import _HttpFolder, _selfcheck_entry, _SelfcheckFolder, _SurveyHttp, _SurveyWheels, _WheelFolder
from .scan import scan

PURGE_EXTRAS = ("selfcheck", "build_dirs", "stray_wheels")


@dataclass
class Request:
    """What to remove. ``mode`` is absent, purged or pruned."""

    mode: str
    matcher: Optional[NameMatcher] = None  # absent: which wheels
    http_all: bool = False  # absent: pip's literal '*' also takes every HTTP file
    http_projects: bool = False  # absent by name: also the project's downloads, and its index pages when it all goes
    purge_extras: frozenset[str] = frozenset()
    max_age: Optional[float] = None  # pruned
    max_size: Optional[int] = None  # pruned
    ci: bool = False  # pruned: drop every download, keep locally built wheels
    min_age: float = 0.0  # spare anything younger: what a running pip is writing now
    now: float = field(default_factory=time.time)
    cleanup: bool = True  # pip >= 26.0: emptied folders go too
    identify: Optional[Callable[[str, list[str]], Optional[tuple[str, str, Optional[str]]]]] = None
    case_insensitive: bool = False  # Windows: pip's fnmatch takes X-1.0-py3-none-any.WHL for a wheel too


def check_cache_dir(cache_dir: str, *, homes: list[str], allow_unsafe: bool = False, chosen_by: Optional[str] = None) -> None:
    """Refuse to delete from /, a filesystem root, a home folder or a system folder.

    ``chosen_by`` says what pointed pip there when the task's ``cache_dir`` did not (a configuration file, a variable,
    the default through a link): the message then names that, not an option nobody set.
    """
    if allow_unsafe:
        return
    found = unsafe_reason(cache_dir, homes=homes)
    if found is not None:
        _refuse(found[0], found[1], chosen_by=chosen_by)


def _refuse(real: str, reason: str, *, chosen_by: Optional[str]) -> None:
    if chosen_by is None:
        how = " Point cache_dir at pip's cache itself (for example ~/.cache/pip), or set allow_unsafe_cache_dir=true if this really is a cache."
        raise UnsafeCacheDir(f"refusing to delete from {real!r}: it is {reason}.{how}", option="cache_dir", path=real)
    raise UnsafeCacheDir(
        f"refusing to delete from {real!r}: it is {reason}, and pip's cache is there because of {chosen_by}. Point that at pip's cache itself,"
        " or remove the link that leads there; this user's cache is left alone",
        option="environment" if "task's environment" in chosen_by else None,
        path=real,
    )


class _ProjectSurvey:
    """Whose index pages an absent-by-name request takes. A project's index page (its simple or JSON page) lists every
    version, so it goes only when the whole project goes: a requirement without a specifier, or one that matched at
    least one cached version and left none (wheels and downloads both count). Downloads of a matching version go
    either way; only the pages wait for this answer."""

    def __init__(self, matcher: NameMatcher) -> None:
        self.matcher = matcher
        requirements = matcher.requirements or []
        self.whole = {requirement.normalized for requirement in requirements if not requirement.specifiers}
        self.partial = {requirement.normalized for requirement in requirements} - self.whole
        self.matched: set[str] = set()
        self.kept: set[str] = set()

    def note(self, name: str, version: Optional[str]) -> None:
        """One cached version of a project (a wheel, or a downloaded wheel or sdist)."""
        normalized = normalize_name(name)
        if normalized in self.partial:
            (self.matched if self.matcher.matches_project(name, version) else self.kept).add(normalized)

    def pages_go(self, name: str) -> bool:
        normalized = normalize_name(name)
        return normalized in self.whole or (normalized in self.matched and normalized not in self.kept)


class _Remover(Removal):
    """pip's removal: what each request takes from each of pip's buckets; how it goes is the core's (``Removal``)."""

    def __init__(
        self, cache_dir: str, request: Request, *, dry_run: bool, list_limit: int, total_bytes: Optional[int], root_fd: Optional[int], helpers: int
    ) -> None:
        super().__init__(dry_run=dry_run, list_limit=list_limit, min_age=request.min_age, now=request.now, cleanup=request.cleanup, helpers=helpers)
        self.total_bytes = total_bytes
        self.cache_dir = cache_dir
        self.root_fd = root_fd  # the cache folder, held open: every bucket is reached through it
        self.request = request
        self.budget: Optional[Budget] = None
        self.survey: Optional[_ProjectSurvey] = None  # absent by name with a version specifier: which pages go
        self.age_taken = 0  # bytes the age and CI rules take, measured by a size prune's first pass

    def shareable(self) -> bool:
        return self.budget is None  # a size budget takes the oldest first, in the order one walk sees them

    # Deciding --------------------------------------------------------------------------------
    def _prune_take(self, mtime: float, size: int, *, is_http: bool) -> bool:
        request = self.request
        if (is_http and request.ci) or (request.max_age is not None and request.now - mtime > request.max_age):
            if self.counting:
                self.age_taken += size
            return True
        if self.budget is not None:
            if self.counting:
                self.budget.add(mtime, size)
                return False
            return self.budget.take(mtime, size)
        return False

    # Buckets ----------------------------------------------------------------------------------
    def _take_download(self, listing: Listing, items: list[FileItem]) -> bool:
        """Absent by name: whether this HTTP entry is a download of a requested version, or a page of a project
        that goes whole."""
        request = self.request
        if request.identify is None or request.matcher is None:
            return False
        found = request.identify(listing.path, [item.name for item in items])
        if found is None:
            return False
        kind, name, version = found
        if kind == "index":
            return self.survey.pages_go(name) if self.survey is not None else request.matcher.matches_project(name, None)
        return request.matcher.matches_project(name, version)

    def survey_http(self, listing: Listing) -> FolderVisit:
        return _SurveyHttp(self, listing)

    def survey_wheels(self, listing: Listing) -> FolderVisit:
        return _SurveyWheels(self)

    def visit_http(self, listing: Listing) -> FolderVisit:
        return _HttpFolder(self, listing)

    def visit_wheels(self, listing: Listing) -> FolderVisit:
        return _WheelFolder(self, listing)

    def visit_selfcheck(self, listing: Listing) -> FolderVisit:
        return _SelfcheckFolder(self, listing)

    # Driving ----------------------------------------------------------------------------------
    def run(self) -> Outcome:
        request = self.request
        buckets: list[tuple[str, Visitor]] = [
            ("http-v2", self.visit_http),
            ("http", self.visit_http),
            ("wheels", self.visit_wheels),
        ]
        if request.mode == "purged" and "selfcheck" in request.purge_extras:
            buckets.append(("selfcheck", self.visit_selfcheck))
        if request.mode == "absent" and request.http_projects and request.identify is not None and request.matcher is not None:
            survey = _ProjectSurvey(request.matcher)
            if survey.partial:
                # A specifier: which versions of those projects the cache holds decides whether their pages go.
                self.survey = survey
                self.counting = True
                surveys: list[tuple[str, Visitor]] = [
                    ("http-v2", self.survey_http),
                    ("http", self.survey_http),
                    ("wheels", self.survey_wheels),
                ]
                for name, survey_visitor in surveys:
                    self.remove_bucket(self.cache_dir, self.root_fd, name, survey_visitor, errors=WalkErrors())  # the removal pass reports what cannot be read
                self.counting = False
        if request.mode == "pruned" and request.max_size is not None:
            self.budget = Budget()
            self.counting = True
            for name, visitor in buckets:
                self.remove_bucket(self.cache_dir, self.root_fd, name, visitor)
            self.counting = False
            if self.total_bytes is None:
                self.total_bytes = scan(self.cache_dir).total.bytes
            self.budget.plan(self.total_bytes - self.age_taken, request.max_size)
        for name, visitor in buckets:
            self.remove_bucket(self.cache_dir, self.root_fd, name, visitor)
        if request.mode in ("absent", "purged"):
            self._remove_selfcheck_json()
        return self.outcome

    def _remove_selfcheck_json(self) -> None:
        path = os.path.join(self.cache_dir, "selfcheck.json")
        try:
            info = self.lstat(self.cache_dir, self.root_fd, "selfcheck.json")
        except OSError:
            return
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
            return
        if self.young(info.st_mtime):
            self.spare(0 if stat.S_ISLNK(info.st_mode) else info.st_size)
            return
        if not self.dry_run:
            try:
                if self.root_fd is not None:
                    os.unlink("selfcheck.json", dir_fd=self.root_fd)
                else:
                    os.unlink(path)
            except FileNotFoundError:
                return
            except OSError as error:
                self.outcome.errors.add(path, error)
                return
        # pip >= 26 removes the legacy file too, without counting it among "Files removed".
        self.outcome.extra_files += 1
        self.outcome.entries += 1
        size = 0 if stat.S_ISLNK(info.st_mode) else info.st_size
        self.outcome.extra_bytes += size
        self.outcome.gone.add(size, path, _selfcheck_entry)


def remove(
    cache_dir: str,
    request: Request,
    *,
    dry_run: bool,
    list_limit: int = 100,
    total_bytes: Optional[int] = None,
    refuse_homes: Optional[list[str]] = None,
    helpers: Optional[int] = None,
) -> Outcome:
    """Remove what ``request`` selects from ``cache_dir`` (nothing at all when ``dry_run``).

    The cache folder is opened once (``open_cache_root``; ``refuse_homes`` are the home folders it must not be) and
    every bucket is reached through that descriptor. ``total_bytes`` is the cache's size from a scan the caller
    already made; a size prune needs it and measures it itself when it is not given. ``helpers``: how many helper
    processes may share the removal of a large bucket (default: one per CPU beyond the first, at most three).
    """
    root_fd = open_cache_root(cache_dir, homes=refuse_homes)
    if root_fd is None and _FD_MODE:
        return Outcome()  # no cache there: nothing to remove
    try:
        helpers = core_parallel.available_helpers() if helpers is None else helpers
        return _Remover(cache_dir, request, dry_run=dry_run, list_limit=list_limit, total_bytes=total_bytes, root_fd=root_fd, helpers=helpers).run()
    finally:
        if root_fd is not None:
            os.close(root_fd)
