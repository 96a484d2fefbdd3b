# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""uv's cache layout per uv version: bucket names, what each entry of a cache root is to a given uv, where a package's
entries and an archive link live, the revision pointers of built source distributions, and uv's byte wording.

The bucket table comes from ``CacheBucket::to_str`` at every uv tag from 0.1.0 to 0.12.5 and from what uv 0.13.10
creates (/work/notes/uv_internals.md sections 2, 5, 8 and 9). Standard library only.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple, Optional, Union

from .._core.errors import InvalidValue
from .._core.units import iso_time


class UvVersion(NamedTuple):
    """A uv release: major.minor.patch (uv has no pre-releases); a tuple, so it compares with ``(0, 8, 19)``."""

    major: int
    minor: int = 0
    patch: int = 0

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


_VERSION_RE = re.compile(r"^\s*(?:uv\s+)?v?(\d{1,6})\.(\d{1,6})(?:\.(\d{1,6}))?(?![\d.])")


def parse_uv_version(text: str) -> Optional[UvVersion]:
    """The version in ``uv --version``'s output (``uv 0.13.10 (x86_64-unknown-linux-gnu)``, ``uv 0.4.30``) or in a bare
    ``0.13.10`` / ``0.13``; None when there is none."""
    if not isinstance(text, str):
        return None
    match = _VERSION_RE.match(text)
    if match is None:
        return None
    return UvVersion(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def version_option(value: object, *, option: str = "uv_version") -> UvVersion:
    """An option's uv version (``0.13.10``, ``uv 0.13.10``, or a tuple of 1 to 3 numbers as results carry it); refused
    with a message naming the option otherwise."""
    version: Optional[UvVersion] = None
    if isinstance(value, tuple) and 1 <= len(value) <= 3 and all(isinstance(part, int) and not isinstance(part, bool) and part >= 0 for part in value):
        version = UvVersion(*value)
    elif isinstance(value, str):
        version = parse_uv_version(value)
    if version is None:
        raise InvalidValue(f"expected a uv version such as 0.13.10, got {value!r}", option=option)
    return version


# --------------------------------------------------------------------------------------------------
# The bucket table

# Each row: the first uv version with that change, and the families whose number changed (None: the family is gone).
# Read from CacheBucket::to_str at every tag of the uv repository (0.1.0 .. 0.12.5); the last row is what uv 0.13.10
# creates: uv 0.12.6 .. 0.13.9 are not known (UNKNOWN_SPANS).
_CHANGES: tuple[tuple[str, dict[str, Optional[int]]], ...] = (
    ("0.1.0", {"archive": 0, "built-wheels": 0, "flat-index": 0, "git": 0, "interpreter": 0, "simple": 0, "wheels": 0}),
    ("0.1.4", {"simple": 1}),
    ("0.1.9", {"simple": 2}),
    ("0.1.11", {"simple": 3}),
    ("0.1.22", {"simple": 4}),
    ("0.1.23", {"simple": 5}),
    ("0.1.24", {"built-wheels": 1}),
    ("0.1.26", {"built-wheels": 2, "simple": 6}),
    ("0.1.31", {"simple": 7}),
    ("0.1.32", {"built-wheels": 3, "interpreter": 1, "wheels": 1}),
    ("0.2.3", {"simple": 8}),
    ("0.2.9", {"interpreter": 2}),
    ("0.2.11", {"environments": 0, "simple": 9}),
    ("0.2.22", {"builds": 0, "environments": 1}),
    ("0.2.28", {"simple": 10}),
    ("0.2.33", {"simple": 11}),
    ("0.2.35", {"simple": 12}),
    ("0.4.13", {"built-wheels": None, "sdists": 4, "simple": 13, "wheels": 2}),
    ("0.4.16", {"flat-index": 1}),
    ("0.4.25", {"sdists": 5}),
    ("0.5.0", {"flat-index": 2, "interpreter": 3, "sdists": 6, "simple": 14, "wheels": 3}),
    ("0.5.9", {"interpreter": 4}),
    ("0.5.19", {"simple": 15}),
    ("0.5.26", {"sdists": 7}),
    ("0.6.0", {"environments": 2, "sdists": 8, "wheels": 4}),
    ("0.6.4", {"wheels": 5}),
    ("0.6.8", {"sdists": 9}),
    ("0.7.5", {"simple": 16}),
    ("0.8.4", {"python": 0}),
    ("0.8.13", {"binaries": 0}),
    ("0.8.15", {"simple": 17}),
    ("0.8.18", {"simple": 18}),
    ("0.9.27", {"simple": 19}),
    ("0.10.0", {"simple": 20, "wheels": 6}),
    ("0.11.3", {"simple": 21}),
    ("0.11.16", {"osv": 0}),
    ("0.11.27", {"flat-index": 3, "simple": 22}),
    ("0.11.30", {"flat-index": 4, "simple": 24}),
    ("0.13.10", {"flat-index": 7, "git": 2, "interpreter": 6, "osv": 1, "python": 1, "sdists": 11, "simple": 28, "wheels": 8}),
)


def _build_table() -> tuple[tuple[UvVersion, dict[str, int]], ...]:
    rows: list[tuple[UvVersion, dict[str, int]]] = []
    current: dict[str, int] = {}
    for text, changes in _CHANGES:
        current = dict(current)
        for family, number in changes.items():
            if number is None:
                current.pop(family, None)
            else:
                current[family] = number
        major, minor, patch = (int(part) for part in text.split("."))
        rows.append((UvVersion(major, minor, patch), current))
    return tuple(rows)


BUCKET_TABLE: tuple[tuple[UvVersion, dict[str, int]], ...] = _build_table()
"""(first uv version, bucket family -> number) for every change of uv's bucket names, oldest first."""

NEWEST_KNOWN: UvVersion = BUCKET_TABLE[-1][0]
"""The newest uv whose buckets this engine knows (uv 0.13.10)."""

VERIFIED_THROUGH = UvVersion(0, 12, 5)
"""The newest uv whose source was read: the table is exact up to it, and at NEWEST_KNOWN (observed)."""

UNKNOWN_SPANS: tuple[tuple[UvVersion, UvVersion], ...] = ((VERIFIED_THROUGH, NEWEST_KNOWN),)
"""Releases strictly between these two are not known: a family that differs across the span may be at any number
between its two ends there (each such bucket counts as possibly current: never stale)."""

FAMILIES: tuple[str, ...] = tuple(sorted({family for _version, row in BUCKET_TABLE for family in row}))
"""Every bucket family any known uv used (``built-wheels`` included: uv < 0.4.13)."""

FIRST_USED: dict[str, UvVersion] = {family: next(version for version, row in BUCKET_TABLE if family in row) for family in FAMILIES}
"""The first uv that used each family."""

NEWEST_NUMBERS: dict[str, int] = {family: max(row.get(family, -1) for _version, row in BUCKET_TABLE) for family in FAMILIES}
"""Each family's highest number in the table: a bucket above it was made by a uv newer than this engine knows."""

MARKERS: tuple[str, ...] = ("CACHEDIR.TAG", ".gitignore", ".git", ".lock")
"""Root entries uv's prune leaves alone whatever they are (``.lock``: uv 0.8.19+; older uvs ignore it)."""

ARCHIVE = "archive-v0"
"""The archive bucket (unpacked wheels), ``ARCHIVE_VERSION = 0`` in every uv."""

ARCHIVE_REFS_FILTERED_SINCE = UvVersion(0, 6, 17)
"""uv 0.6.17+ looks for archive links in the sdists and wheels buckets only, skipping ``src``, ``.lock``,
``.gitignore`` and ``*.lock|whl|http|rev|msgpack``; older uvs take every link in every current bucket."""

_BUCKET_NAME_RE = re.compile(r"^([a-z][a-z-]*?)-v(\d{1,9})\Z")
_ARCHIVE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")


@dataclass(frozen=True)
class UvBuckets:
    """The buckets of one uv version: family -> number (``names`` gives the folder names)."""

    version: UvVersion
    numbers: dict[str, int]
    exact: bool
    """False for a version the table does not know exactly: before the first row, after NEWEST_KNOWN, or inside an
    unknown span (there the older end's numbers, and ``possible`` holds the other numbers each family may have)."""
    possible: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def names(self) -> dict[str, str]:
        return {family: f"{family}-v{number}" for family, number in self.numbers.items()}

    def name(self, family: str) -> Optional[str]:
        number = self.numbers.get(family)
        return None if number is None else f"{family}-v{number}"

    def is_current(self, family: str, number: int) -> bool:
        return self.numbers.get(family) == number or number in self.possible.get(family, ())

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": str(self.version),
            "exact": self.exact,
            "buckets": sorted(self.names.values()),
            "possible": {family: [f"{family}-v{number}" for number in numbers] for family, numbers in sorted(self.possible.items())},
        }


def buckets_for(version: Union[UvVersion, tuple[int, ...], str, None]) -> UvBuckets:
    """The bucket names ``version`` uses (None: the newest known uv); a version newer than the table gets the newest
    row (its unknown buckets are "newer than known"), one older than the table the first row."""
    wanted = NEWEST_KNOWN if version is None else version_option(version)
    row = BUCKET_TABLE[0][1]
    for first, numbers in BUCKET_TABLE:
        if first > wanted:
            break
        row = numbers
    exact = BUCKET_TABLE[0][0] <= wanted <= VERIFIED_THROUGH or wanted == NEWEST_KNOWN
    possible: dict[str, tuple[int, ...]] = {}
    for low, high in UNKNOWN_SPANS:
        if low < wanted < high:
            exact = False
            lower, upper = buckets_for(low).numbers, buckets_for(high).numbers
            for family in sorted(set(lower) | set(upper)):
                ends = sorted({lower.get(family, -1), upper.get(family, -1)} - {-1})
                if ends != [lower.get(family)]:
                    possible[family] = tuple(range(ends[0], ends[-1] + 1))
    return UvBuckets(wanted, dict(row), exact, possible)


def parse_bucket_name(name: str) -> Optional[tuple[str, int]]:
    """(family, number) of a known family's bucket name (``wheels-v8``); None for anything else."""
    match = _BUCKET_NAME_RE.match(name)
    if match is None or match.group(1) not in NEWEST_NUMBERS:
        return None
    return match.group(1), int(match.group(2))


# --------------------------------------------------------------------------------------------------
# The cache root's entries

CURRENT = "current"
"""A bucket the uv uses: kept."""
STALE = "stale"
"""A known family at another number the table knows: left by another uv (usually an older one); uv's prune removes it."""
NEWER = "newer_than_known"
"""A known family above the table's highest number: made by a uv newer than this engine knows; never removed."""
MARKER = "marker"
"""CACHEDIR.TAG, .gitignore, .git, .lock: uv's own markers, left alone."""
OTHER = "other"
"""Anything else (unknown folders, files, links at the root): uv's prune removes it."""
ROLES: tuple[str, ...] = (CURRENT, STALE, NEWER, MARKER, OTHER)

DIR, FILE, LINK = "dir", "file", "link"


@dataclass
class RootEntry:
    """One entry of a cache root as a given uv sees it."""

    name: str
    kind: str
    """``dir``, ``file`` or ``link`` (a link is never followed: a link named like a bucket is ``other``)."""
    role: str
    family: Optional[str] = None
    number: Optional[int] = None
    from_newer_uv: bool = False
    """A stale bucket above the number this uv uses (or of a family it does not use): a newer uv on the host may
    still use it."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify_root_entry(name: str, kind: str, buckets: UvBuckets) -> RootEntry:
    """What the root entry ``name`` (a ``dir``, ``file`` or ``link``) is to the uv of ``buckets``."""
    if name in MARKERS:
        return RootEntry(name, kind, MARKER)
    parsed = parse_bucket_name(name)
    if parsed is None or kind != DIR:
        return RootEntry(name, kind, OTHER, *(parsed or (None, None)))
    family, number = parsed
    if buckets.is_current(family, number):
        return RootEntry(name, kind, CURRENT, family, number)
    if number > NEWEST_NUMBERS[family]:
        return RootEntry(name, kind, NEWER, family, number, True)
    mine = buckets.numbers.get(family)
    newer = FIRST_USED[family] > buckets.version if mine is None else number > mine
    return RootEntry(name, kind, STALE, family, number, newer)


# --------------------------------------------------------------------------------------------------
# Packages, archive links and revision pointers

PACKAGE_FAMILIES: tuple[str, ...] = ("wheels", "sdists", "simple")
"""The buckets whose entries are named after a package (a PEP 503 name): what ``uv cache clean PKG`` removes there."""

_PACKAGE_PARENTS: dict[str, tuple[tuple[str, int], ...]] = {
    # (first folder below the bucket, depth of the package folder or file below the bucket)
    "wheels": (("pypi", 2), ("index", 3), ("url", 3)),
    "sdists": (("pypi", 2), ("index", 3)),
    "simple": (("pypi", 2), ("index", 3)),
}


def package_of_folder(family: str, parts: tuple[str, ...]) -> Optional[str]:
    """The package a folder of a wheels or sdists bucket is, from its path below the bucket (``("pypi", "foo")``,
    ``("index", "<digest>", "foo")``, ``("url", "<digest>", "foo")`` in wheels); None for any other folder."""
    if family == "simple" or not parts:
        return None
    for first, depth in _PACKAGE_PARENTS.get(family, ()):
        if parts[0] == first and len(parts) == depth:
            return parts[-1]
    return None


def package_of_simple_file(parts: tuple[str, ...], name: str) -> Optional[str]:
    """The package a file of a simple bucket is (``pypi/<name>.rkyv``, ``index/<digest>/<name>.rkyv``) from its folder's
    path below the bucket; None for any other file."""
    if not parts or not name.endswith(".rkyv") or len(name) <= 5:
        return None
    for first, depth in _PACKAGE_PARENTS["simple"]:
        if parts[0] == first and len(parts) == depth - 1:
            return name[:-5]
    return None


def archive_ref_families(buckets: UvBuckets) -> tuple[tuple[str, ...], bool]:
    """Which current buckets hold the links that keep an archive (families), and whether uv 0.6.17+'s name filter
    applies (``ref_name_skipped``)."""
    if buckets.version >= ARCHIVE_REFS_FILTERED_SINCE:
        return ("sdists", "wheels"), True
    return tuple(family for family in sorted(buckets.numbers) if family != "archive"), False


def ref_name_skipped(name: str) -> bool:
    """uv 0.6.17+: an entry its archive-link search neither enters nor reads (``src``, ``.lock``, ``.gitignore``, and
    names whose extension is lock, whl, http, rev or msgpack, in any case)."""
    if name in ("src", ".lock", ".gitignore"):
        return True
    dot = name.rfind(".")
    if dot <= 0:
        return False
    return name[dot + 1 :].lower() in ("lock", "whl", "http", "rev", "msgpack")


def archive_id_of_target(target: str, link_parts: tuple[str, ...], roots: tuple[str, ...], sep: str = "/") -> Optional[str]:
    """The archive a link's target text names, resolved as text inside the cache only: ``<id>`` when the target is
    ``<root>/archive-v0/<id>`` (absolute, ``roots`` being the cache root's spellings) or leads there relative to the
    link's folder (``link_parts``: that folder's path below the root) without ever leaving the cache; None otherwise
    (a link out of the cache, into an archive's inside, or to anything else)."""
    if not target or "\x00" in target:
        return None
    if target.startswith(sep) or (sep == "\\" and re.match(r"^[A-Za-z]:", target)):
        for root in roots:
            prefix = root.rstrip(sep) + sep
            if target.startswith(prefix):
                return _archive_id([], target[len(prefix) :], sep)
        return None
    return _archive_id(list(link_parts), target, sep)


def _archive_id(parts: list[str], target: str, sep: str) -> Optional[str]:
    pieces = target.replace("/", sep).split(sep) if sep != "/" else target.split("/")
    for piece in pieces:
        if piece in ("", "."):
            continue
        if piece == "..":
            if not parts:
                return None  # above the cache root: out of the cache
            parts.pop()
        else:
            parts.append(piece)
    if len(parts) == 2 and parts[0] == ARCHIVE and _ARCHIVE_ID_RE.match(parts[1]):
        return parts[1]
    return None


POINTER_MAX = 128
"""A Windows archive link (a file holding ``archive-v0/<id>``) is far smaller than this: larger files are not read."""


def archive_id_of_pointer(data: bytes) -> Optional[str]:
    """The archive a Windows-style link file names: exactly ``archive-v0/<id>`` (uv treats another archive version as
    missing); None otherwise."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    prefix = ARCHIVE + "/"
    if text.startswith(prefix) and _ARCHIVE_ID_RE.match(text[len(prefix) :]):
        return text[len(prefix) :]
    return None


REVISION_POINTERS: tuple[str, ...] = ("revision.http", "revision.rev")
"""The files that name a built source distribution's current revision folder (uv's prune removes the others)."""
REVISION_READ_MAX = 64 * 1024


class MsgpackError(ValueError):
    """Bytes that are no msgpack value (or one nested too deep)."""


def msgpack_value(data: bytes, offset: int = 0, depth: int = 0) -> tuple[Any, int]:
    """One msgpack value at ``offset``: (value, offset after it). Maps become dicts (keys as decoded), bin and ext
    bytes; raises MsgpackError on anything truncated or invalid. The subset uv's pointer files need, and more."""
    if depth > 32:
        raise MsgpackError("nested too deep")
    if offset >= len(data):
        raise MsgpackError("truncated")
    first = data[offset]
    offset += 1
    if first <= 0x7F:
        return first, offset
    if first >= 0xE0:
        return first - 0x100, offset
    if 0xA0 <= first <= 0xBF:
        return _text(data, offset, first & 0x1F)
    if 0x90 <= first <= 0x9F:
        return _array(data, offset, first & 0x0F, depth)
    if 0x80 <= first <= 0x8F:
        return _map(data, offset, first & 0x0F, depth)
    if first == 0xC0:
        return None, offset
    if first in (0xC2, 0xC3):
        return first == 0xC3, offset
    fixed = _FIXED.get(first)
    if fixed is not None:
        fmt, size = fixed
        return struct.unpack_from(fmt, _need(data, offset, size), offset)[0], offset + size
    fixext = _FIXEXT.get(first)
    if fixext is not None:  # a type byte, then the data
        return bytes(_need(data, offset, fixext + 1)[offset + 1 : offset + 1 + fixext]), offset + 1 + fixext
    sized = _SIZED.get(first)
    if sized is None:
        raise MsgpackError(f"unknown type 0x{first:02x}")
    kind, fmt, size = sized
    (length,) = struct.unpack_from(fmt, _need(data, offset, size), offset)
    offset += size
    if kind == "str":
        return _text(data, offset, length)
    if kind == "bin":
        return bytes(_need(data, offset, length)[offset : offset + length]), offset + length
    if kind == "array":
        return _array(data, offset, length, depth)
    if kind == "map":
        return _map(data, offset, length, depth)
    return bytes(_need(data, offset, length + 1)[offset + 1 : offset + 1 + length]), offset + 1 + length  # ext


_FIXED: dict[int, tuple[str, int]] = {
    0xCA: (">f", 4),
    0xCB: (">d", 8),
    0xCC: (">B", 1),
    0xCD: (">H", 2),
    0xCE: (">I", 4),
    0xCF: (">Q", 8),
    0xD0: (">b", 1),
    0xD1: (">h", 2),
    0xD2: (">i", 4),
    0xD3: (">q", 8),
}
_SIZED: dict[int, tuple[str, str, int]] = {
    0xD9: ("str", ">B", 1),
    0xDA: ("str", ">H", 2),
    0xDB: ("str", ">I", 4),
    0xC4: ("bin", ">B", 1),
    0xC5: ("bin", ">H", 2),
    0xC6: ("bin", ">I", 4),
    0xDC: ("array", ">H", 2),
    0xDD: ("array", ">I", 4),
    0xDE: ("map", ">H", 2),
    0xDF: ("map", ">I", 4),
    0xC7: ("ext", ">B", 1),
    0xC8: ("ext", ">H", 2),
    0xC9: ("ext", ">I", 4),
}
_FIXEXT: dict[int, int] = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}


def _need(data: bytes, offset: int, size: int) -> bytes:
    if offset + size > len(data):
        raise MsgpackError("truncated")
    return data


def _text(data: bytes, offset: int, length: int) -> tuple[str, int]:
    raw = _need(data, offset, length)[offset : offset + length]
    try:
        return raw.decode("utf-8"), offset + length
    except UnicodeDecodeError as error:
        raise MsgpackError("invalid UTF-8 text") from error


def _array(data: bytes, offset: int, length: int, depth: int) -> tuple[list[Any], int]:
    if length > len(data) - offset:
        raise MsgpackError("truncated")
    items = []
    for _number in range(length):
        item, offset = msgpack_value(data, offset, depth + 1)
        items.append(item)
    return items, offset


def _map(data: bytes, offset: int, length: int, depth: int) -> tuple[dict[Any, Any], int]:
    if 2 * length > len(data) - offset:
        raise MsgpackError("truncated")
    items: dict[Any, Any] = {}
    for _number in range(length):
        key, offset = msgpack_value(data, offset, depth + 1)
        value, offset = msgpack_value(data, offset, depth + 1)
        items[key if isinstance(key, (str, int, bytes, bool, type(None))) else repr(key)] = value
    return items, offset


def _revision_id(revision: Any) -> Optional[str]:
    """A ``Revision``'s id: ``[id, hashes(, size)]`` or ``{"id": ..}``."""
    if isinstance(revision, list) and revision and isinstance(revision[0], str):
        return revision[0]
    if isinstance(revision, dict) and isinstance(revision.get("id"), str):
        return str(revision["id"])
    return None


def revision_pointer_id(name: str, data: bytes) -> Optional[str]:
    """The current revision folder a ``revision.http`` (an HTTP cache entry whose data, at the start, is the msgpack
    ``Revision``) or ``revision.rev`` (msgpack ``[cache_info, Revision]``) names; None when it does not decode (uv
    then prunes nothing there)."""
    try:
        value, _end = msgpack_value(data)
    except (MsgpackError, struct.error):
        return None
    if name == "revision.rev":
        if isinstance(value, list) and len(value) >= 2:
            return _revision_id(value[1])
        if isinstance(value, dict):
            return _revision_id(value.get("revision"))
        return None
    return _revision_id(value)


# --------------------------------------------------------------------------------------------------
# Figures

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def uv_format_bytes(num_bytes: int, *, short_below_kib: bool = True) -> str:
    """Bytes as uv prints them: ``clean``/``prune`` write ``<n>B`` below 1 KiB (``short_below_kib``), ``uv cache size
    --human`` always ``<x.1f><unit>`` (but ``0B``); uv computes in 32-bit floats (``x = f / 1024**i``, ``i = int(log2(f)/10)``)."""
    if num_bytes == 0 or (short_below_kib and num_bytes < 1024):
        return f"{num_bytes}B"
    value = struct.unpack("f", struct.pack("f", float(num_bytes)))[0]
    index = min(int(math.log2(value) / 10), len(_UNITS) - 1) if value > 0 else 0
    scaled = struct.unpack("f", struct.pack("f", value / 1024.0**index))[0]
    return f"{scaled:.1f}{_UNITS[index]}"


@dataclass
class UvStats:
    """Figures of a part of a cache: files (every entry that is no folder, links included, as uv's clean counts them),
    folders, apparent bytes (lstat sizes of the files: a link its own length; every hard link), allocated bytes (disk
    blocks of files and folders, a hard-linked file once: ``uv cache size`` and ``du -sB1``), oldest and newest file."""

    files: int = 0
    dirs: int = 0
    bytes: int = 0
    allocated: int = 0
    oldest: Optional[float] = None
    newest: Optional[float] = None

    def add_file(self, size: int, allocated: int, mtime: float) -> None:
        self.files += 1
        self.bytes += size
        self.allocated += allocated
        if self.oldest is None or mtime < self.oldest:
            self.oldest = mtime
        if self.newest is None or mtime > self.newest:
            self.newest = mtime

    def add_dir(self, allocated: int) -> None:
        self.dirs += 1
        self.allocated += allocated

    def merge(self, other: UvStats) -> None:
        self.files += other.files
        self.dirs += other.dirs
        self.bytes += other.bytes
        self.allocated += other.allocated
        for stamp in (other.oldest, other.newest):
            if stamp is not None:
                self.oldest = stamp if self.oldest is None else min(self.oldest, stamp)
                self.newest = stamp if self.newest is None else max(self.newest, stamp)

    def as_dict(self, *, allocated_known: bool = True) -> dict[str, Any]:
        return {
            "files": self.files,
            "dirs": self.dirs,
            "bytes": self.bytes,
            "allocated_bytes": self.allocated if allocated_known else None,
            "oldest": iso_time(self.oldest),
            "newest": iso_time(self.newest),
        }
