# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""pip's HTTP cache entries identified by their content: a wheel, an sdist or an index page.

What an HTTP cache entry holds, found from its content (pip stores no URL): a wheel, an sdist
or a project's index page, with the project's name and version. pip cannot list or remove a
project's downloads (pip issues #10460, #2882); this is how the engine can.

``http-v2/`` entries keep the body in ``<key>.body``; legacy ``http/`` entries hold it inside
a msgpack document after ``cc=4,``. Reading is bounded: a few KiB of headers, the zip
directory, at most a few hundred tar members. Standard library only.
"""

from __future__ import annotations

import email.message
import email.parser
import encodings.cp437
import functools
import gzip
import io
import json
import os
import re
import stat
import struct
import tarfile
import zipfile
from dataclasses import dataclass
from typing import IO, Any, Optional

from .._core.units import human_size
from .names import normalize_name, parse_sdist_filename, parse_wheel_filename

# Imported here, not when first used: zipfile decodes names as cp437 and METADATA parses into email.message. The
# process acting for a user may be unable to read the interpreter's own library (a Python under root's home), so
# identification must need no import after load (tests: test_identification_imports_nothing_after_load).
_PRELOADED = (email.message, encodings.cp437)

MAX_TAR_MEMBERS = 300
MAX_PAGE_BYTES = 8 * 1024 * 1024
MAX_METADATA_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Identity:
    """What one cached download is."""

    kind: str  # wheel, sdist, index
    name: str
    version: Optional[str]

    @property
    def normalized(self) -> str:
        return normalize_name(self.name)


class _Slice(io.RawIOBase):
    """A read-only, seekable window onto part of an open file."""

    def __init__(self, handle: Any, start: int, length: int) -> None:  # a raw or buffered binary file
        super().__init__()
        self._handle = handle
        self._start = start
        self._length = length
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self._length}[whence]
        self._position = max(0, min(self._length, base + offset))
        return self._position

    def readinto(self, buffer: Any) -> int:
        remaining = self._length - self._position
        if remaining <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), remaining)]
        self._handle.seek(self._start + self._position)
        count = self._handle.readinto(view) or 0
        self._position += count
        return count


class _Blob:
    """A large msgpack str/bin left on disk: where it starts and how long it is."""

    def __init__(self, offset: int, length: int) -> None:
        self.offset = offset
        self.length = length


class _MsgpackError(ValueError):
    pass


def _read_msgpack(handle: IO[bytes], depth: int = 0) -> Any:
    """A small msgpack reader: enough for pip's cached responses, blobs over 64 KiB stay on disk."""
    if depth > 16:
        raise _MsgpackError("nested too deeply")
    head = handle.read(1)
    if not head:
        raise _MsgpackError("truncated")
    byte = head[0]
    if byte <= 0x7F:
        return byte
    if byte >= 0xE0:
        return byte - 0x100
    if 0x80 <= byte <= 0x8F:
        return _read_map(handle, byte & 0x0F, depth)
    if 0x90 <= byte <= 0x9F:
        return [_read_msgpack(handle, depth + 1) for _index in range(byte & 0x0F)]
    if 0xA0 <= byte <= 0xBF:
        return _read_bytes(handle, byte & 0x1F, text=True)
    simple: dict[int, Any] = {0xC0: None, 0xC2: False, 0xC3: True}
    if byte in simple:
        return simple[byte]
    sized = {
        0xC4: ("B", False),
        0xC5: (">H", False),
        0xC6: (">I", False),
        0xD9: ("B", True),
        0xDA: (">H", True),
        0xDB: (">I", True),
    }
    if byte in sized:
        fmt, text = sized[byte]
        (length,) = struct.unpack(fmt, _exact(handle, struct.calcsize(fmt)))
        return _read_bytes(handle, length, text=text)
    numbers = {0xCA: ">f", 0xCB: ">d", 0xCC: "B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: "b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}
    if byte in numbers:
        fmt = numbers[byte]
        return struct.unpack(fmt, _exact(handle, struct.calcsize(fmt)))[0]
    if byte in (0xDC, 0xDD):
        (count,) = struct.unpack(">H" if byte == 0xDC else ">I", _exact(handle, 2 if byte == 0xDC else 4))
        if count > 100000:
            raise _MsgpackError("array too long")
        return [_read_msgpack(handle, depth + 1) for _index in range(count)]
    if byte in (0xDE, 0xDF):
        (count,) = struct.unpack(">H" if byte == 0xDE else ">I", _exact(handle, 2 if byte == 0xDE else 4))
        return _read_map(handle, count, depth)
    raise _MsgpackError(f"unsupported msgpack type 0x{byte:02x}")


def _exact(handle: IO[bytes], count: int) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise _MsgpackError("truncated")
    return data


def _read_map(handle: IO[bytes], count: int, depth: int) -> dict[Any, Any]:
    if count > 100000:
        raise _MsgpackError("map too long")
    result: dict[Any, Any] = {}
    for _index in range(count):
        key = _read_msgpack(handle, depth + 1)
        value = _read_msgpack(handle, depth + 1)
        if isinstance(key, (str, bytes, int)):
            result[key] = value
    return result


def _read_bytes(handle: IO[bytes], length: int, *, text: bool) -> Any:
    if length > 65536:
        offset = handle.tell()
        handle.seek(length, os.SEEK_CUR)
        return _Blob(offset, length)
    data = _exact(handle, length)
    return data.decode("utf-8", "replace") if text else data


def _metadata_identity(text: str, kind: str) -> Optional[Identity]:
    headers = email.parser.Parser().parsestr(text, headersonly=True)
    name, version = headers.get("Name"), headers.get("Version")
    if not name:
        return None
    return Identity(kind, str(name).strip(), str(version).strip() if version else None)


def _identify_zip(window: IO[bytes]) -> Optional[Identity]:
    try:
        with zipfile.ZipFile(window) as archive:
            names = archive.namelist()
            for member in names:
                parts = member.split("/")
                if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                    info = archive.getinfo(member)
                    if info.file_size > MAX_METADATA_BYTES:
                        return None
                    return _metadata_identity(archive.read(member).decode("utf-8", "replace"), "wheel")
            for member in names:
                parts = member.split("/")
                if len(parts) == 2 and parts[1] == "PKG-INFO":
                    info = archive.getinfo(member)
                    if info.file_size > MAX_METADATA_BYTES:
                        return None
                    return _metadata_identity(archive.read(member).decode("utf-8", "replace"), "sdist")
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError):
        return None
    return None


def _identify_tar(window: IO[bytes]) -> Optional[Identity]:
    try:
        with tarfile.open(fileobj=window, mode="r|*") as archive:
            for count, member in enumerate(archive):
                if count >= MAX_TAR_MEMBERS:
                    return None
                parts = member.name.strip("/").split("/")
                if len(parts) == 2 and parts[1] == "PKG-INFO" and member.isfile() and member.size <= MAX_METADATA_BYTES:
                    extracted = archive.extractfile(member)
                    if extracted is None:
                        return None
                    return _metadata_identity(extracted.read().decode("utf-8", "replace"), "sdist")
    except (tarfile.TarError, OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    return None


_H1_RE = re.compile(r"<h1>\s*Links for\s+([^<\s]+)\s*</h1>", re.IGNORECASE)
_HREF_RE = re.compile(r"""href\s*=\s*["']([^"'#?]+)""", re.IGNORECASE)


def _identify_page(data: bytes) -> Optional[Identity]:
    text = data.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            return None
        if isinstance(document, dict) and isinstance(document.get("name"), str):
            return Identity("index", document["name"], None)
        return None
    if "<" not in text[:1024]:
        return None
    heading = _H1_RE.search(text)
    if heading:
        return Identity("index", heading.group(1), None)
    for href in _HREF_RE.findall(text):
        filename = href.rstrip("/").rsplit("/", 1)[-1]
        wheel = parse_wheel_filename(filename)
        if wheel:
            return Identity("index", wheel.name, None)
        sdist = parse_sdist_filename(filename)
        if sdist:
            return Identity("index", sdist[0], None)
    return None


def identify_body(handle: IO[bytes], start: int, length: int) -> Optional[Identity]:
    """What the body bytes at ``start`` (``length`` long) of an open file are."""
    handle.seek(start)
    magic = handle.read(4)
    window = io.BufferedReader(_Slice(handle, start, length))
    if magic.startswith(b"PK\x03\x04"):
        return _identify_zip(window)
    if magic.startswith(b"\x1f\x8b"):
        found = _identify_tar(window)
        if found is not None:
            return found
        window.seek(0)
        try:
            with gzip.GzipFile(fileobj=window) as unzipped:
                return _identify_page(unzipped.read(MAX_PAGE_BYTES))
        except (OSError, EOFError):
            return None
    if length > MAX_PAGE_BYTES:
        return None
    handle.seek(start)
    return _identify_page(handle.read(length))


def _open_regular(path: str, dir_fd: Optional[int] = None) -> IO[bytes]:
    """Open a regular file for reading, never through a link (``path`` is relative to ``dir_fd`` when given).
    Anything else is refused before it is opened: a FIFO would block the run until someone writes to it, and
    opening a device can act on it."""
    if not stat.S_ISREG(os.stat(path, dir_fd=dir_fd, follow_symlinks=False).st_mode):
        raise OSError(f"not a regular file: {path}")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between the two looks
            raise OSError(f"not a regular file: {path}")
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


def identify_entry(directory: str, names: list[str], *, dir_fd: Optional[int] = None) -> Optional[Identity]:
    """Identify one cache entry: an ``http-v2`` pair (``key`` and ``key.body``) or a legacy ``http`` file.
    ``dir_fd``: the entry's folder, held open (the names are then opened relative to it)."""
    body = next((name for name in names if name.endswith(".body")), None)

    def where(name: str) -> str:
        return name if dir_fd is not None else os.path.join(directory, name)

    try:
        if body is not None:
            with _open_regular(where(body), dir_fd) as handle:
                size = os.fstat(handle.fileno()).st_size
                return identify_body(handle, 0, size)
        if len(names) != 1:
            return None
        with _open_regular(where(names[0]), dir_fd) as handle:
            if handle.read(5) != b"cc=4,":
                return None
            document = _read_msgpack(handle)
            response = document.get("response") if isinstance(document, dict) else None
            payload = response.get("body") if isinstance(response, dict) else None
            if isinstance(payload, _Blob):
                return identify_body(handle, payload.offset, payload.length)
            if isinstance(payload, bytes):
                return identify_body(io.BytesIO(payload), 0, len(payload))
    except (OSError, _MsgpackError, ValueError):
        return None
    return None


def identify_for_removal(directory: str, names: list[str]) -> Optional[tuple[str, str, Optional[str]]]:
    """(kind, name, version) for the removal engine; None when the entry is not recognised."""
    found = identify_entry(directory, names)
    if found is None:
        return None
    return found.kind, found.name, found.version


def list_downloads(cache_dir: str, *, requirements: Optional[list[Any]] = None, limit: int = 1000) -> tuple[list[dict[str, Any]], int, bool, int]:
    """The HTTP cache's entries identified by content: (items, count, truncated, unrecognised)."""
    from .._core.units import iso_time
    from .._core.walk import FileItem, FolderVisit, Listing, WalkErrors, walk
    from .layout import CappedList, HttpEntries, http_stem

    found = CappedList(limit)
    unknown = [0]

    def entry(listing: Listing, items: list[FileItem]) -> None:
        identity = identify_entry(listing.path, [item.name for item in items])
        if identity is None:
            unknown[0] += 1
            return
        if requirements is not None:
            normalized = identity.normalized
            if not any(req.normalized == normalized and req.contains(identity.version) for req in requirements):
                return
        path = os.path.join(listing.path, http_stem(items[0].name))
        found.add(
            path,
            {
                "path": path,
                "kind": identity.kind,
                "name": identity.name,
                "normalized_name": identity.normalized,
                "version": identity.version,
                "bytes": sum(item.size for item in items),
                "size": human_size(sum(item.size for item in items)),
                "files": len(items),
                "mtime": iso_time(max(item.mtime for item in items)),
            },
        )

    class Folder(FolderVisit):
        """One HTTP folder, its entries identified as the listing streams (memory flat whatever the folder holds)."""

        def __init__(self, listing: Listing) -> None:
            self.entries = HttpEntries(listing, functools.partial(entry, listing), lambda item: item.counts_as_file and not item.is_link)

        def file(self, item: FileItem) -> None:
            self.entries.add(item)

        def done(self) -> object:
            self.entries.finish()
            return None

    for bucket in ("http-v2", "http"):
        walk(os.path.join(cache_dir, bucket), Folder, errors=WalkErrors())
    return found.items(), found.count, found.truncated, unknown[0]
