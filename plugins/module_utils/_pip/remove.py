# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Removal: what to delete from a pip cache, then deleting it, in one streaming walk per bucket.

A dry run and a real run take the same path through this code; only the unlink and rmdir
calls differ, so check mode predicts exactly what a real run removes. Only files at the
positions of pip's own layout are touched: inside ``http-v2/``, ``http/``, ``wheels/`` and
(when asked) ``selfcheck/``, plus the legacy ``selfcheck.json``. Links are removed as links,
never followed. Standard library only.
"""

from __future__ import annotations

import errno
import functools
import heapq
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .._core.errors import UnsafeCacheDir
from .._core.fd import open_dir_nofollow
from .._core.units import human_size
from .._core.walk import (
    _FD_MODE,
    HOLD,
    REMOVED,
    VANISHED,
    FileItem,
    FolderVisit,
    Held,
    Listing,
    Visitor,
    WalkErrors,
    is_link_like,
    remove_dir,
    remove_root,
    walk,
)
from .http import identify_entry
from .layout import HttpEntries, http_stem
from .matching import NameMatcher, is_wheel_file
from .names import normalize_name, parse_wheel_filename
from .scan import scan

PURGE_EXTRAS = ("selfcheck", "build_dirs", "stray_wheels")
HISTOGRAM_BINS = 4096


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


KINDS = {"wheel": "download", "sdist": "download", "index": "index page"}


class GoneEntries:
    """The largest entries a removal takes, at most ``limit`` of them, each named the way a person names it.

    Memory stays at ``limit`` whatever the cache holds; an HTTP entry is read (to tell a download from an index page
    and find its project) only when it is among the largest so far, so a purge reads a few hundred entries at most.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
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
        item = dict(describe(), bytes=size, size=human_size(size), path=path)
        entry = (size, _Later(path), item)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, entry)
        else:
            heapq.heapreplace(self._heap, entry)

    def items(self) -> list[dict[str, Any]]:
        """Largest first; equal sizes in path order."""
        return [entry[2] for entry in sorted(self._heap, key=lambda entry: (-entry[0], entry[1].path))]

    @property
    def truncated(self) -> bool:
        return self.count > len(self._heap)


class _Later:
    """A path that orders backwards, so that the heap's smallest entry is the one to drop first: the smallest
    size, and among equal sizes the path that sorts last."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __lt__(self, other: _Later) -> bool:
        return self.path > other.path

    def __gt__(self, other: _Later) -> bool:
        return self.path < other.path

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Later) and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)


def wheel_entry(filename: str) -> dict[str, Any]:
    wheel = parse_wheel_filename(filename)
    return {"kind": "built wheel", "project": wheel.name if wheel else None, "version": wheel.version if wheel else None}


def http_entry(directory: str, names: list[str], dir_fd: Optional[int]) -> dict[str, Any]:
    """What an HTTP entry is, read from its content: a download (wheel or sdist) or a project's index page."""
    found = identify_entry(directory, names, dir_fd=dir_fd)
    if found is None:
        return {"kind": "http entry", "project": None, "version": None}
    return {"kind": KINDS.get(found.kind, found.kind), "project": found.name, "version": found.version}


@dataclass
class Outcome:
    """What a removal did (or, in a dry run, would do).

    ``files`` and ``bytes`` are what pip's "Files removed" counts: the files the request selected (wheels, HTTP files,
    and the extras asked for). ``extra_files`` and ``extra_bytes`` are the files that go only because their folder
    goes with its entry (``origin.json`` and other non-wheel files of a wheel's folder) and the legacy
    ``selfcheck.json``: pip >= 26 removes them too, and counts none of them. ``spared_entries`` and ``spared_bytes``
    are the entries the request would have taken but left alone as younger than ``min_age`` (what a running pip may
    be writing or about to install).
    """

    files: int = 0
    dirs: int = 0
    entries: int = 0
    bytes: int = 0
    extra_files: int = 0
    extra_bytes: int = 0
    spared_entries: int = 0
    spared_bytes: int = 0
    gone: GoneEntries = field(default_factory=lambda: GoneEntries(100))
    errors: WalkErrors = field(default_factory=WalkErrors)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "dirs": self.dirs,
            "entries": self.entries,
            "bytes": self.bytes,
            "freed": human_size(self.bytes),
            "extra_files": self.extra_files,
            "extra_bytes": self.extra_bytes,
            "spared_entries": self.spared_entries,
            "spared_bytes": self.spared_bytes,
            "largest": self.gone.items(),
            "largest_truncated": self.gone.truncated,
            "errors": self.errors.items,
            "error_count": self.errors.count,
        }


class _Budget:
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


SYSTEM_FOLDERS = frozenset(
    {
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/usr/local",
        "/var",
        "/var/cache",
        "/var/tmp",
        "/var/lib",
        "/Users",
        "/System",
        "/Library",
        "/Applications",
        "/private",
        "/private/tmp",
        "/private/var",
    }
)
"""Folders no cache can be: a removal refuses them."""


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


def _identities(homes: list[str]) -> dict[tuple[int, int], tuple[str, str]]:
    """(device, inode) of every folder a removal refuses, with its path and why."""
    found: dict[tuple[int, int], tuple[str, str]] = {}
    named = [(path, "a system folder") for path in sorted(SYSTEM_FOLDERS)] + [(home, "a home folder") for home in homes if home]
    for path, reason in [("/", "the root of the file system"), *named]:
        try:
            info = os.stat(path)
        except OSError:
            continue
        found.setdefault((info.st_dev, info.st_ino), (path, reason))
    return found


def _link_on_the_way(path: str) -> bool:
    """Whether any component of ``path`` is a symbolic link now (only to word a refusal: nothing is opened by it)."""
    current = path
    while True:
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return True
        except OSError:
            pass
        parent = os.path.dirname(current)
        if parent == current:
            return False
        current = parent


def open_cache_root(cache_dir: str, *, homes: Optional[list[str]]) -> Optional[int]:
    """Open the cache folder once, component by component without following a link, and check what was opened.

    The refusals (/, a file-system root, a home or system folder) are checked on the open folder's identity, so a
    folder swapped since ``check_cache_dir`` read the path cannot slip through; ``homes=None`` skips them
    (allow_unsafe_cache_dir). None when the cache does not exist, or where descriptors are not available (Windows).
    """
    if not _FD_MODE:
        return None
    try:
        fd = open_dir_nofollow(cache_dir)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR) and (not os.path.isdir(cache_dir) or not _link_on_the_way(cache_dir)):
            return None  # a file where a folder should be, or a dangling link: no cache there, as pip would find
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafeCacheDir(
                f"{cache_dir} (or a folder on the way to it) is no longer the folder that was resolved (a link or a file now): left alone",
                path=cache_dir,
            ) from None
        raise UnsafeCacheDir(f"cannot open {cache_dir}: {error.strerror or error}", path=cache_dir) from None
    if homes is None:
        return fd
    try:
        info = os.fstat(fd)
        refused = _identities(homes).get((info.st_dev, info.st_ino))
        if refused is None:
            parent = os.stat("..", dir_fd=fd)
            if parent.st_dev != info.st_dev or parent.st_ino == info.st_ino:
                refused = (cache_dir, "the root of a mounted file system")
        if refused is not None:
            where = "" if refused[0] == cache_dir else f" (the folder opened there is {refused[0]})"
            raise UnsafeCacheDir(f"refusing to delete from {cache_dir!r}{where}: it is {refused[1]}; left alone", path=cache_dir)
    except BaseException:
        os.close(fd)
        raise
    return fd


def unsafe_reason(cache_dir: str, *, homes: list[str]) -> Optional[tuple[str, str]]:
    """(real path, why) when ``cache_dir`` is no place for a cache: /, a filesystem root, a home or system folder."""
    real = os.path.realpath(cache_dir)
    if real in ("/", os.path.abspath(os.sep)) or os.path.dirname(real) == real:
        return real, "the root of the file system"
    if real in SYSTEM_FOLDERS or real.lower() in ("c:\\", "c:\\windows", "c:\\users", "c:\\program files", "c:\\programdata"):
        return real, "a system folder"
    for home in homes:
        if home and real == os.path.realpath(home):
            return real, "a home folder"
    try:
        if os.path.ismount(real):
            return real, "the root of a mounted file system"
    except OSError:
        pass
    return None


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


class _Remover:
    def __init__(self, cache_dir: str, request: Request, *, dry_run: bool, list_limit: int, total_bytes: Optional[int], root_fd: Optional[int]) -> None:
        self.total_bytes = total_bytes
        self.cache_dir = cache_dir
        self.root_fd = root_fd  # the cache folder, held open: every bucket is reached through it
        self.request = request
        self.dry_run = dry_run
        self.outcome = Outcome(gone=GoneEntries(list_limit))
        self.budget: Optional[_Budget] = None
        self.counting = False  # first pass of a size prune, or the survey: delete nothing
        self.survey: Optional[_ProjectSurvey] = None  # absent by name with a version specifier: which pages go
        self.age_taken = 0  # bytes the age and CI rules take, measured by a size prune's first pass

    # Deciding --------------------------------------------------------------------------------
    def _young(self, mtime: float) -> bool:
        return self.request.min_age > 0 and self.request.now - mtime < self.request.min_age

    def _spare(self, size: int, count: int = 1) -> None:
        """An entry the request selects, left alone because it is younger than min_age."""
        if not self.counting:
            self.outcome.spared_entries += count
            self.outcome.spared_bytes += size

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

    # Doing ------------------------------------------------------------------------------------
    def _unlink(self, listing: Listing, item: FileItem, *, extra: bool = False) -> bool:
        """Unlink one file; False when it is still there. The walker reports why, path by path: on Windows
        most often a file another process holds open (PermissionError, ERROR_SHARING_VIOLATION).
        ``extra``: a file that goes only with its folder (pip does not count it), counted apart."""
        errors_before = listing.errors.count
        if listing.unlink(item):
            # A link to a folder is not a file to pip's walk (nor to the scan): removed, not counted.
            if extra:
                self.outcome.extra_files += 1 if item.counts_as_file else 0
                self.outcome.extra_bytes += item.size
            else:
                self.outcome.files += 1 if item.counts_as_file else 0
                self.outcome.bytes += item.size
            return True
        return listing.errors.count == errors_before  # it vanished: gone all the same

    @staticmethod
    def _vanished(listing: Listing, name: str) -> bool:
        try:
            if listing.fd is not None:
                os.lstat(name, dir_fd=listing.fd)
            else:
                os.lstat(listing.file_path(name))
        except FileNotFoundError:
            return True
        except OSError:
            return False
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
                    self._walk_bucket(name, survey_visitor, errors=WalkErrors())  # the removal pass reports what cannot be read
                self.counting = False
        if request.mode == "pruned" and request.max_size is not None:
            self.budget = _Budget()
            self.counting = True
            for name, visitor in buckets:
                self._walk_bucket(name, visitor)
            self.counting = False
            if self.total_bytes is None:
                self.total_bytes = scan(self.cache_dir).total.bytes
            self.budget.plan(self.total_bytes - self.age_taken, request.max_size)
        for name, visitor in buckets:
            self._walk_bucket(name, visitor)
        if request.mode in ("absent", "purged"):
            self._remove_selfcheck_json()
        return self.outcome

    def _walk_bucket(self, name: str, visitor: Visitor, *, errors: Optional[WalkErrors] = None) -> None:
        path = os.path.join(self.cache_dir, name)
        errors = self.outcome.errors if errors is None else errors
        try:
            info = self._lstat(name)
        except FileNotFoundError:
            return
        except OSError as error:
            errors.add(path, error)
            return
        if is_link_like(info):
            if not self.counting:
                self.outcome.warnings.append(f"{path} is a symbolic link: left alone, its target is neither counted nor entered")
            return
        if not stat.S_ISDIR(info.st_mode):
            return
        result = walk(path, visitor, errors=errors, dry_run=self.dry_run, parent_fd=self.root_fd)
        if result is True and not self.counting and remove_root(path, dry_run=self.dry_run, errors=self.outcome.errors, parent_fd=self.root_fd) == REMOVED:
            self.outcome.dirs += 1

    def _lstat(self, name: str) -> os.stat_result:
        if self.root_fd is not None:
            return os.lstat(name, dir_fd=self.root_fd)
        return os.lstat(os.path.join(self.cache_dir, name))

    def _remove_selfcheck_json(self) -> None:
        path = os.path.join(self.cache_dir, "selfcheck.json")
        try:
            info = self._lstat("selfcheck.json")
        except OSError:
            return
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
            return
        if self._young(info.st_mtime):
            self._spare(0 if stat.S_ISLNK(info.st_mode) else info.st_size)
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


# Folders ------------------------------------------------------------------------------------------
# Each folder's visit is told its files and its walked sub-folders as the listing streams (``_core/walk.py``): what a
# file decides is done at once, and only counts and flags stay, so memory does not grow with what one folder holds.


class _Folder(FolderVisit):
    """The sub-folders of one folder of a removal, told as each one's walk ends.

    A sub-folder that reported itself removable waits for its rmdir until the folder's own outcome is known (pip's
    clean-up, or the folder kept by min_age with its content as it is); past ``HOLD`` waiting, they are removed as they
    come instead. Only the folders this run removed are counted. One that another run removed first is gone all the
    same; one that pip wrote into again since it was listed stays, and that is no error (``remove_dir``)."""

    def __init__(self, remover: _Remover, listing: Listing) -> None:
        self.remover = remover
        self.listing = listing
        self.children_left = False  # a sub-folder stays: neither removable nor gone already
        self.children_kept = False  # a removable sub-folder's rmdir found it refilled (or failed)
        self.waiting: Optional[list[str]] = []

    def child(self, name: str, result: object) -> None:
        if self.remover.counting:
            return
        if result is None and self.remover._vanished(self.listing, name):
            return  # another run removed it between its opening and its listing: gone all the same, keeps no parent
        if result is not True:
            self.children_left = True
            return
        if self.waiting is None:
            self._rmdir(name)
            return
        self.waiting.append(name)
        if len(self.waiting) > HOLD:
            names, self.waiting = self.waiting, None
            for one in names:
                self._rmdir(one)

    def _rmdir(self, name: str) -> None:
        done = remove_dir(self.listing, name)
        if done == REMOVED:
            self.remover.outcome.dirs += 1
        elif done != VANISHED:
            self.children_kept = True

    def rmdir_children(self) -> bool:
        """rmdir every removable sub-folder still waiting; True when all sub-folders are gone."""
        names, self.waiting = self.waiting or [], []
        for name in names:
            self._rmdir(name)
        return not (self.children_kept or self.children_left)

    def settle(self, *, content_left: bool, kept_young: bool, rest: Iterable[FileItem]) -> object:
        """The folder's outcome once its listing ended: content that stays keeps it (its removable sub-folders go);
        a folder min_age keeps (``kept_young``) stays as it is; otherwise pip's clean-up takes ``rest`` and reports it
        removable."""
        if content_left or self.children_left:
            self.rmdir_children()
            return False
        if kept_young:
            return False
        return self.mark_gone(rest)

    def mark_gone(self, remaining: Iterable[FileItem]) -> bool:
        """pip's clean-up of a folder left without content: unlink what is left, report it removable."""
        if not self.remover.request.cleanup:
            return False
        if not self.rmdir_children():
            return False
        # Every file is tried; a folder that keeps one is not removable (no rmdir to fail on it).
        unlinked = [self.remover._unlink(self.listing, item, extra=True) for item in remaining]
        return all(unlinked)


class _HttpFolder(_Folder):
    """A folder of ``http-v2/`` or ``http/``: each entry (``key`` + ``key.body``, or one legacy file) decided as soon
    as its files are listed."""

    def __init__(self, remover: _Remover, listing: Listing) -> None:
        super().__init__(remover, listing)
        request = remover.request
        # A folder pip made just now is about to get an entry: read its age before anything in it goes.
        self.folder_young = request.min_age > 0 and not remover.counting and _dir_is_young(listing, request)
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
        if remover._young(mtime):
            take = False
            if request.mode != "absent" or request.http_all or (request.http_projects and remover._take_download(listing, items)):
                remover._spare(size)
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
        unlinked = [remover._unlink(listing, item) for item in items]
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


class _WheelFolder(_Folder):
    """A folder of ``wheels/``: its wheels, and the rest (``origin.json``), which go only with the folder."""

    def __init__(self, remover: _Remover, listing: Listing) -> None:
        super().__init__(remover, listing)
        request = remover.request
        # The folder's age is read before anything in it is unlinked (an unlink makes it young).
        self.folder_young = request.min_age > 0 and _dir_is_young(listing, request)
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
            self.rest_young = self.rest_young or remover._young(item.mtime)
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
        if take and remover._young(item.mtime):
            take = False
            remover._spare(item.size)
        if remover.counting:
            return
        if take:
            self._take(item)
        else:
            self.wheels_left = True

    def _take(self, item: FileItem) -> None:
        if self.remover._unlink(self.listing, item):
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
            take = not remover._young(newest) and remover._prune_take(newest, size, is_http=False)
            if remover._young(newest):
                remover._spare(size, sum(1 for _item in self.group))
            if remover.counting:
                return False
            if not take:
                self.wheels_left = True
            for item in self.group if take else ():
                if remover._young(item.mtime):  # listed again (a folder too large to hold): one pip wrote since
                    self.wheels_left = True
                else:
                    self._take(item)
        if remover.counting:
            return False
        # A young file beside the wheels is a build pip is running right now: the folder is left to it.
        return self.settle(content_left=self.wheels_left, kept_young=self.folder_young or bool(self.rest and self.rest_young), rest=self.rest)


class _SelfcheckFolder(_Folder):
    def __init__(self, remover: _Remover, listing: Listing) -> None:
        super().__init__(remover, listing)
        self.kept = False

    def file(self, item: FileItem) -> None:
        remover = self.remover
        if remover._young(item.mtime):
            remover._spare(item.size)
            self.kept = True
            return
        if not remover._unlink(self.listing, item):
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


def _dir_is_young(listing: Listing, request: Request) -> bool:
    try:
        # By the open folder when there is one: its path may be longer than PATH_MAX, or swapped since.
        mtime = (os.fstat(listing.fd) if listing.fd is not None else os.stat(listing.path, follow_symlinks=False)).st_mtime
    except OSError:
        return False
    return request.now - mtime < request.min_age


def remove(
    cache_dir: str,
    request: Request,
    *,
    dry_run: bool,
    list_limit: int = 100,
    total_bytes: Optional[int] = None,
    refuse_homes: Optional[list[str]] = None,
) -> Outcome:
    """Remove what ``request`` selects from ``cache_dir`` (nothing at all when ``dry_run``).

    The cache folder is opened once (``open_cache_root``; ``refuse_homes`` are the home folders it must not be) and
    every bucket is reached through that descriptor. ``total_bytes`` is the cache's size from a scan the caller
    already made; a size prune needs it and measures it itself when it is not given.
    """
    root_fd = open_cache_root(cache_dir, homes=refuse_homes)
    if root_fd is None and _FD_MODE:
        return Outcome()  # no cache there: nothing to remove
    try:
        return _Remover(cache_dir, request, dry_run=dry_run, list_limit=list_limit, total_bytes=total_bytes, root_fd=root_fd).run()
    finally:
        if root_fd is not None:
            os.close(root_fd)
