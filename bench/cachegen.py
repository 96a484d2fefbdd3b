# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Deterministic pip caches in pip's real on-disk layout, for the benchmarks. Standard library only.

``generate(dest, files, seed)`` writes exactly ``files`` files under ``dest`` (a cache directory), laid out the way
pip lays them out:

- ``http-v2/h[0]/h[1]/h[2]/h[3]/h[4]/h`` + ``h.body`` with ``h = sha224(url)``: the metadata file is ``cc=4,`` and a
  msgpack document (the response headers, an empty body), the body file holds what was downloaded: an index page
  (PEP 691 JSON or PEP 503 HTML, some gzip-encoded as PyPI serves them), a wheel (a zip with ``METADATA``) or an
  sdist (a tar.gz with ``PKG-INFO``);
- ``http/h[0]/.../h[4]/h`` (pip < 23.3): one file, ``cc=4,`` and a msgpack document holding the body inline;
- ``wheels/k[:2]/k[2:4]/k[4:6]/k[6:]/NAME-VER-py3-none-any.whl`` + ``origin.json``, ``k`` the sha224 of pip's key
  parts for the sdist link (url + interpreter);
- ``selfcheck/<sha224>``.

Shares by file count: about 70 % ``http-v2``, 10 % ``http``, 20 % ``wheels`` (one wheel + ``origin.json`` a folder).
Projects are drawn with a Zipf-like popularity; the first one, ``PyYAML``, is the project the removal benchmarks name.
Index pages are 1-50 kB (lognormal, median 4 kB); wheels and sdists 10 kB-5 MB (lognormal, median 60-80 kB).
Modification times are spread uniformly over the year before ``base_time``.

Disk use is kept modest: at most ``REAL_CAP`` bytes of a file are written, and a larger file gets a hole (a sparse
region of zeros) up to its apparent size, placed inside the archive's payload member so that the archive stays
readable (zip: local headers and payload prefix, hole, central directory; tar.gz: the gzip stream, then zero
padding, which gzip readers skip). pip (``os.path.getsize``), ``du -sb`` and the engine all measure the apparent
size (``st_size``), so the figures are those of a cache of real files of those sizes.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import io
import itertools
import json
import math
import os
import random
import shutil
import struct
import sys
import tarfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENERATOR_VERSION = 1
"""Bump when what ``generate`` writes changes: caches of another version are regenerated."""

REAL_CAP = 32 * 1024
"""At most this many bytes of a file are really written; the rest of a larger file is a hole."""

SHARE_HTTP = 0.10  # legacy http/ files
SHARE_WHEEL_DIRS = 0.10  # wheel folders (2 files each): 20 % of the files
PAGE_SHARE = 0.80  # of HTTP entries: index pages; the rest are downloads (wheels and sdists)
WHEEL_DOWNLOAD_SHARE = 0.70  # of downloads: wheels; the rest are sdists
YEAR = 365 * 86400
TARGET = "PyYAML"
"""The project the removal benchmarks name (``pip cache remove PyYAML``); always the most popular one."""

_FIRST_NAMES = [TARGET, "requests", "numpy", "typing_extensions", "zope.interface", "charset-normalizer", "Django", "setuptools", "cffi", "MarkupSafe"]
_SYLLABLES = ["py", "lib", "ka", "zen", "tor", "mo", "rex", "al", "vin", "da", "ta", "flo", "qu", "ix", "bo", "net", "sta", "ck", "ur", "gen"]
_ZERO = bytes(1 << 20)
_INDEX_HOSTS = ["pypi.org", "mirror.example.org", "pypi.internal.example", "devpi.example.net"]


def sha224(text: str) -> str:
    return hashlib.sha224(text.encode("utf-8")).hexdigest()


def normalize(name: str) -> str:
    out = []
    previous_sep = False
    for char in name.lower():
        if char in "-_.":
            if not previous_sep:
                out.append("-")
            previous_sep = True
        else:
            out.append(char)
            previous_sep = False
    return "".join(out)


def wheel_escape(name: str) -> str:
    """The project part of a wheel name as older setuptools wrote it (case and dots kept)."""
    return "".join(char if char.isalnum() or char == "." else "_" for char in name)


# --------------------------------------------------------------------------------------------------
# Bytes with holes


class Body:
    """File content as segments: bytes are written, an int is a hole of that many zero bytes."""

    __slots__ = ("segments", "size")

    def __init__(self, segments: list[bytes | int] | None = None) -> None:
        self.segments: list[bytearray | int] = []
        self.size = 0
        for segment in segments or []:
            self.add(segment)

    def add(self, segment: bytes | bytearray | int) -> None:
        if isinstance(segment, int):
            if segment > 0:
                self.segments.append(segment)
                self.size += segment
        elif segment:
            last = self.segments[-1] if self.segments else 0
            if isinstance(last, bytearray):
                last += segment  # adjacent bytes are merged: one write per run of real bytes
            else:
                self.segments.append(bytearray(segment))
            self.size += len(segment)

    def extend(self, other: Body) -> None:
        for segment in other.segments:
            self.add(segment)

    def real(self) -> bytes:
        """The whole content as bytes (only for small bodies)."""
        return b"".join(bytes(segment) for segment in self.segments)


def write_file(path: str, body: Body, mtime: float) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        position = 0
        last_is_hole = False
        for segment in body.segments:
            if isinstance(segment, int):
                position += segment
                last_is_hole = True
            else:
                os.pwrite(fd, segment, position)
                position += len(segment)
                last_is_hole = False
        if last_is_hole:
            os.ftruncate(fd, position)
        os.utime(fd, (mtime, mtime))
    finally:
        os.close(fd)


def crc32_with_zeros(crc: int, zeros: int) -> int:
    while zeros > 0:
        chunk = min(zeros, len(_ZERO))
        crc = zlib.crc32(memoryview(_ZERO)[:chunk], crc)
        zeros -= chunk
    return crc


# --------------------------------------------------------------------------------------------------
# msgpack (the subset pip's cached responses use)


def _mp_len(length: int, fix: int | None, codes: tuple[int, int, int]) -> bytes:
    if fix is not None and length < 32 and fix == 0xA0:
        return bytes([0xA0 | length])
    if fix is not None and length < 16 and fix == 0x80:
        return bytes([0x80 | length])
    if length < 256 and codes[0]:
        return struct.pack(">BB", codes[0], length)
    if length < 65536:
        return struct.pack(">BH", codes[1], length)
    return struct.pack(">BI", codes[2], length)


def msgpack(value: Any, out: Body) -> None:
    """Append ``value`` encoded as msgpack to ``out``; a ``Body`` value becomes a bin holding its segments."""
    if value is None:
        out.add(b"\xc0")
    elif value is True:
        out.add(b"\xc3")
    elif value is False:
        out.add(b"\xc2")
    elif isinstance(value, int):
        out.add(struct.pack(">Bq", 0xD3, value) if value < 0 else (bytes([value]) if value < 128 else struct.pack(">BQ", 0xCF, value)))
    elif isinstance(value, str):
        data = value.encode("utf-8")
        out.add(_mp_len(len(data), 0xA0, (0xD9, 0xDA, 0xDB)) + data)
    elif isinstance(value, bytes):
        out.add(_mp_len(len(value), None, (0xC4, 0xC5, 0xC6)) + value)
    elif isinstance(value, Body):
        out.add(_mp_len(value.size, None, (0xC4, 0xC5, 0xC6)))
        out.extend(value)
    elif isinstance(value, dict):
        out.add(_mp_len(len(value), 0x80, (0, 0xDE, 0xDF)))
        for key, item in value.items():
            msgpack(key, out)
            msgpack(item, out)
    else:
        raise TypeError(f"cannot encode {type(value).__name__}")


def cached_response(body: Body | bytes, headers: dict[str, str]) -> Body:
    """pip's (cachecontrol's) serialisation: ``cc=4,`` then the msgpack document."""
    out = Body([b"cc=4,"])
    document = {
        "response": {"body": body, "headers": headers, "status": 200, "version": 11, "reason": "OK", "decode_content": False},
        "vary": {"Accept-Encoding": "gzip, deflate"} if "Content-Encoding" in headers else {},
    }
    msgpack(document, out)
    return out


# --------------------------------------------------------------------------------------------------
# Archives


def _zip_local(name: bytes, crc: int, size: int) -> bytes:
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, crc, size, size, len(name), 0) + name


def _zip_central(name: bytes, crc: int, size: int, offset: int) -> bytes:
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, crc, size, size, len(name), 0, 0, 0, 0, 0o644 << 16, offset) + name


def zip_body(members: list[tuple[str, bytes]], payload_name: str, size: int, rng: random.Random) -> Body:
    """A stored zip of ``members`` plus a payload member padded so that the archive is ``size`` bytes."""
    head = Body()
    central = []
    offset = 0
    for name, data in members:
        encoded = name.encode()
        crc = zlib.crc32(data)
        local = _zip_local(encoded, crc, len(data))
        central.append(_zip_central(encoded, crc, len(data), offset))
        head.add(local + data)
        offset += len(local) + len(data)
    payload = payload_name.encode()
    # central directory size: what is known now + the payload's entry + the end record
    tail_size = sum(len(entry) for entry in central) + 46 + len(payload) + 22
    payload_size = max(0, size - offset - 30 - len(payload) - tail_size)
    real = min(payload_size, max(0, REAL_CAP - offset - 30 - len(payload) - tail_size))
    prefix = rng.randbytes(real)
    crc = crc32_with_zeros(zlib.crc32(prefix), payload_size - real)
    head.add(_zip_local(payload, crc, payload_size) + prefix)
    head.add(payload_size - real)
    central.append(_zip_central(payload, crc, payload_size, offset))
    directory = b"".join(central)
    directory_offset = offset + 30 + len(payload) + payload_size
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), directory_offset, 0)
    head.add(directory + end)
    return head


def sdist_body(name: str, version: str, size: int, rng: random.Random) -> Body:
    """A tar.gz with ``PKG-INFO`` first; past ``REAL_CAP``, zero padding after the gzip stream (readers skip it)."""
    stem = f"{wheel_escape(name)}-{version}"
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {name} for the benchmarks\n".encode()
    payload = rng.randbytes(max(0, min(size, REAL_CAP) - 1200))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for member, data in ((f"{stem}/PKG-INFO", pkg_info), (f"{stem}/src/payload.bin", payload)):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mtime = 1_735_689_600
            archive.addfile(info, io.BytesIO(data))
    compressed = gzip.compress(raw.getvalue(), compresslevel=1, mtime=0)
    return Body([compressed, size - len(compressed)])


# --------------------------------------------------------------------------------------------------
# The model: projects, entries


@dataclass
class Project:
    name: str
    versions: list[str]
    page_size: int
    pages: dict[str, bytes] = field(default_factory=dict)


def _project_names(count: int, rng: random.Random) -> list[str]:
    names = list(_FIRST_NAMES[:count])
    seen = {normalize(name) for name in names}
    while len(names) < count:
        parts = [rng.choice(_SYLLABLES) + rng.choice(_SYLLABLES) for _part in range(rng.choice((1, 1, 2, 2, 3)))]
        separator = rng.choice(["-", "_", ".", "-", ""])
        name = separator.join(parts)
        if rng.random() < 0.2:
            name = name.capitalize()
        if rng.random() < 0.5:
            name += str(rng.randrange(2, 99))
        if normalize(name) not in seen:
            seen.add(normalize(name))
            names.append(name)
    return names


def _lognormal_size(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    return int(min(high, max(low, rng.lognormvariate(math.log(median), sigma))))


def _headers(rng: random.Random, content_type: str, length: int, *, gzipped: bool = False) -> dict[str, str]:
    headers = {
        "Connection": "keep-alive",
        "Content-Length": str(length),
        "Content-Type": content_type,
        "ETag": f'"{rng.randbytes(11).hex()}"',
        "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT",
        "Cache-Control": "max-age=600, public" if content_type != "application/octet-stream" else "max-age=365000000, immutable, public",
        "Accept-Ranges": "bytes",
        "Date": "Wed, 01 Jan 2025 00:00:00 GMT",
        "Age": str(rng.randrange(0, 600)),
        "X-Served-By": f"cache-iad-kiad{rng.randrange(7000, 7999)}-IAD, cache-fra-etou{rng.randrange(8000, 8999)}-FRA",
        "X-Cache": "HIT, HIT",
        "X-Cache-Hits": f"{rng.randrange(1, 900)}, {rng.randrange(1, 90)}",
        "X-Timer": f"S1735689600.{rng.randrange(10**6):06d},VS0,VE1",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload",
        "X-Frame-Options": "deny",
        "X-XSS-Protection": "1; mode=block",
        "X-Content-Type-Options": "nosniff",
        "X-Permitted-Cross-Domain-Policies": "none",
    }
    if content_type != "application/octet-stream":
        headers["X-PyPI-Last-Serial"] = str(rng.randrange(10**6, 3 * 10**7))
        headers["Vary"] = "Accept-Encoding"
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return headers


def _page(project: Project, kind: str, rng: random.Random) -> bytes:
    """The project's index page (``json``, ``html`` or ``json.gz``) of about ``page_size`` stored bytes."""
    cached = project.pages.get(kind)
    if cached is not None:
        return cached
    normalized = normalize(project.name)
    escaped = wheel_escape(project.name)
    ratio = 0.42 if kind.endswith(".gz") else 1.0
    wanted = project.page_size / ratio
    files: list[dict[str, Any]] = []
    anchors: list[str] = []
    length = 300
    for index in itertools.count():
        version = project.versions[index % len(project.versions)]
        filename = f"{escaped}-{version}{'-py3-none-any.whl' if index % 2 else '.tar.gz'}"
        digest = rng.randbytes(32).hex()
        url = f"https://files.pythonhosted.org/packages/{digest[:2]}/{digest[2:4]}/{digest[4:60]}/{filename}"
        if kind == "html":
            anchor = f'    <a href="{url}#sha256={digest}" data-requires-python="&gt;=3.8" >{filename}</a><br />\n'
            anchors.append(anchor)
            length += len(anchor)
        else:
            item = {
                "filename": filename,
                "hashes": {"sha256": digest},
                "requires-python": ">=3.8",
                "size": rng.randrange(10_000, 5_000_000),
                "upload-time": "2025-01-01T00:00:00.000000Z",
                "url": url,
                "yanked": False,
            }
            files.append(item)
            length += 330 + len(url)
        if length >= wanted:
            break
    if kind == "html":
        text = (
            '<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.1">\n'
            f"    <title>Links for {normalized}</title>\n  </head>\n"
            f"  <body>\n    <h1>Links for {normalized}</h1>\n{''.join(anchors)}  </body>\n</html>\n"
        )
        data = text.encode()
    else:
        document = {
            "files": files,
            "meta": {"_last-serial": rng.randrange(10**6, 3 * 10**7), "api-version": "1.1"},
            "name": normalized,
            "versions": sorted(set(project.versions)),
        }
        data = json.dumps(document, separators=(",", ":")).encode()
        if kind.endswith(".gz"):
            data = gzip.compress(data, compresslevel=6, mtime=0)
    project.pages[kind] = data
    return data


def _wheel_members(project: Project, version: str) -> tuple[list[tuple[str, bytes]], str]:
    escaped = wheel_escape(project.name)
    dist_info = f"{escaped}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {project.name}\nVersion: {version}\nSummary: {project.name} for the benchmarks\nRequires-Python: >=3.8\n".encode()
    wheel = b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    return [(f"{dist_info}/METADATA", metadata), (f"{dist_info}/WHEEL", wheel)], f"{normalize(project.name).replace('-', '_')}/_payload.bin"


@dataclass
class Plan:
    files: int
    http_v2_entries: int
    http_files: int
    wheel_dirs: int
    selfcheck: int = 1


def plan(files: int) -> Plan:
    if files < 20:
        raise ValueError("a benchmark cache needs at least 20 files")
    http_files = round(files * SHARE_HTTP)
    wheel_dirs = round(files * SHARE_WHEEL_DIRS)
    rest = files - 1 - http_files - 2 * wheel_dirs
    http_v2_entries, odd = divmod(rest, 2)
    return Plan(files, http_v2_entries, http_files + odd, wheel_dirs)


class _Writer:
    def __init__(self, root: Path, base_time: float, rng: random.Random, progress: Callable[[int], None] | None) -> None:
        self.root = str(root)
        self.base_time = base_time
        self.rng = rng
        self.made: set[str] = set()
        self.files = 0
        self.bytes = 0
        self.progress = progress

    def directory(self, relative: str) -> str:
        path = os.path.join(self.root, relative)
        if relative not in self.made:
            os.makedirs(path, exist_ok=True)
            parts = relative.split("/")
            for depth in range(1, len(parts) + 1):
                self.made.add("/".join(parts[:depth]))
        return path

    def mtime(self) -> float:
        return self.base_time - self.rng.uniform(60, YEAR)

    def write(self, directory: str, name: str, body: Body, mtime: float) -> None:
        write_file(os.path.join(directory, name), body, mtime)
        self.files += 1
        self.bytes += body.size
        if self.progress is not None and self.files % 50_000 == 0:
            self.progress(self.files)


def _http_key_dir(bucket: str, key: str) -> str:
    return f"{bucket}/{'/'.join(key[:5])}"


def generate(dest: Path, files: int, *, seed: int = 1, base_time: float | None = None, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Write a cache of exactly ``files`` files into ``dest`` (which must not exist); return its manifest."""
    layout = plan(files)
    rng = random.Random(f"fleet.cache bench v{GENERATOR_VERSION} seed {seed} files {files}")
    base_time = float(int(time.time()) if base_time is None else base_time)
    dest.mkdir(parents=True)
    writer = _Writer(dest, base_time, rng, progress)

    project_count = max(10, files // 40)
    names = _project_names(project_count, rng)
    projects: list[Project] = []
    for name in names:
        count = min(40, 1 + int(rng.lognormvariate(1.2, 0.9)))
        versions = [f"{rng.randrange(0, 9)}.{minor}.{rng.randrange(0, 12)}" for minor in range(count)]
        projects.append(Project(name, versions, _lognormal_size(rng, 4_000, 1.0, 1_000, 50_000)))
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) ** 0.7 for rank in range(project_count)))

    def pick() -> Project:
        return projects[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]

    target_paths: dict[str, list[str]] = {"wheels": [], "http-v2": [], "http": []}
    serial = itertools.count()

    def http_entry(bucket: str) -> None:
        project = pick()
        number = next(serial)
        mtime = writer.mtime()
        if rng.random() < PAGE_SHARE:
            host = _INDEX_HOSTS[number % len(_INDEX_HOSTS)]
            kind = "html" if bucket == "http" else rng.choice(["json.gz", "json.gz", "json", "html"])
            url = f"https://{host}/simple/{normalize(project.name)}/?bench={number}"
            data = _page(project, kind, rng)
            content_type = "text/html" if kind == "html" else "application/vnd.pypi.simple.v1+json"
            body = Body([data])
            headers = _headers(rng, content_type, len(data), gzipped=kind.endswith(".gz"))
        else:
            version = rng.choice(project.versions)
            size = _lognormal_size(rng, 80_000, 1.3, 10_000, 5_000_000)
            if rng.random() < WHEEL_DOWNLOAD_SHARE:
                filename = f"{wheel_escape(project.name)}-{version}-py3-none-any.whl"
                members, payload = _wheel_members(project, version)
                body = zip_body(members, payload, size, rng)
            else:
                filename = f"{wheel_escape(project.name)}-{version}.tar.gz"
                body = sdist_body(project.name, version, size, rng)
            url = f"https://files.pythonhosted.org/packages/{number % 251:02x}/{number % 241:02x}/{sha224(str(number))[:56]}/{filename}"
            headers = _headers(rng, "application/octet-stream", body.size)
        key = sha224(url)
        directory = writer.directory(_http_key_dir(bucket, key))
        if bucket == "http-v2":
            writer.write(directory, key, cached_response(b"", headers), mtime)
            writer.write(directory, key + ".body", body, mtime)
        else:
            writer.write(directory, key, cached_response(body, headers), mtime)
        if project.name == TARGET:
            target_paths[bucket].append(f"{_http_key_dir(bucket, key)}/{key}")

    for _entry in range(layout.http_v2_entries):
        http_entry("http-v2")
    for _entry in range(layout.http_files):
        http_entry("http")
    for number in range(layout.wheel_dirs):
        project = pick()
        version = rng.choice(project.versions)
        sdist_url = (
            f"https://files.pythonhosted.org/packages/{number % 251:02x}/{sha224('sdist' + str(number))[:60]}/{wheel_escape(project.name)}-{version}.tar.gz"
        )
        digest = rng.randbytes(32).hex()
        key_parts = {"url": sdist_url, "sha256": digest, "interpreter_name": "cp", "interpreter_version": rng.choice(["39", "310", "311", "312", "313"])}
        key = hashlib.sha224(json.dumps(key_parts, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()).hexdigest()
        relative = f"wheels/{key[:2]}/{key[2:4]}/{key[4:6]}/{key[6:]}"
        directory = writer.directory(relative)
        mtime = writer.mtime()
        members, payload = _wheel_members(project, version)
        size = _lognormal_size(rng, 60_000, 1.3, 10_000, 5_000_000)
        writer.write(directory, f"{wheel_escape(project.name)}-{version}-py3-none-any.whl", zip_body(members, payload, size, rng), mtime)
        origin = {"url": sdist_url, "archive_info": {"hash": f"sha256={digest}", "hashes": {"sha256": digest}}}
        writer.write(directory, "origin.json", Body([json.dumps(origin).encode()]), mtime)
        if project.name == TARGET:
            target_paths["wheels"].append(relative)
    selfcheck_key = sha224(sys.prefix)
    selfcheck = json.dumps({"key": sys.prefix, "last_check": "2025-01-01T00:00:00Z", "pypi_version": "26.3"}).encode()
    writer.write(writer.directory("selfcheck"), selfcheck_key, Body([selfcheck]), base_time - 3600)
    if writer.files != files:
        raise AssertionError(f"generated {writer.files} files, planned {files}")
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "files": files,
        "apparent_bytes": writer.bytes,
        "base_time": base_time,
        "projects": project_count,
        "layout": {"http-v2 entries": layout.http_v2_entries, "http files": layout.http_files, "wheel dirs": layout.wheel_dirs, "selfcheck": 1},
        "directories": len(writer.made),
        "target": TARGET,
        "target_paths": target_paths,
    }


# --------------------------------------------------------------------------------------------------
# The store: caches generated once into .bench/caches and reused


def cache_key(files: int, seed: int) -> str:
    return f"g{GENERATOR_VERSION}-{files}-s{seed}"


def _generated_once(home: Path, build: Callable[[Path, float], dict[str, Any]]) -> tuple[Path, dict[str, Any], bool]:
    """``home``'s cache and manifest, built by ``build(folder, started)`` into a staging folder first when there is
    no manifest yet (a half-built cache never passes for a whole one); the last value says whether it was built now."""
    manifest_path = home / "manifest.json"
    if manifest_path.exists():
        return home / "cache", json.loads(manifest_path.read_text(encoding="utf-8")), False
    if home.exists():
        shutil.rmtree(home)
    staging = home.parent / f".{home.name}.tmp{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    started = time.perf_counter()
    manifest = build(staging / "cache", started)
    manifest["generated_in_s"] = round(time.perf_counter() - started, 1)
    staging.rename(home)
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return home / "cache", manifest, True


def ensure_cache(store: Path, files: int, *, seed: int = 1, say: Callable[[str], None] = print) -> tuple[Path, dict[str, Any]]:
    """The generated cache of ``files`` files (its ``cache`` folder) and its manifest; generated on first use."""
    home = store / cache_key(files, seed)
    if not (home / "manifest.json").exists():
        for stale in store.glob(f"g*-{files}-s{seed}"):
            if stale.name != home.name:
                say(f"removing {stale.name} (another generator version)")
                shutil.rmtree(stale)

    def build(folder: Path, started: float) -> dict[str, Any]:
        say(f"generating a {files:,}-file cache into {home} (once; reused by later runs)")

        def progress(done: int) -> None:
            if files >= 200_000:
                say(f"  {done:,} / {files:,} files ({time.perf_counter() - started:.0f} s)")

        return generate(folder, files, seed=seed, progress=progress)

    cache, manifest, built = _generated_once(home, build)
    if built:
        say(f"  done: {files:,} files, {manifest['apparent_bytes'] / 1e9:.2f} GB apparent, {manifest['generated_in_s']} s")
    return cache, manifest


# --------------------------------------------------------------------------------------------------
# One large folder: the memory of a walk must not grow with the largest folder of a cache

ONE_FOLDER_KINDS = {
    "files": "http-v2/a/b/c/d/e holds every file: key and key.body pairs",
    "folders": "wheels/ab/cd/ef holds every wheel folder, one wheel in each",
}


def generate_one_folder(dest: Path, entries: int, kind: str, *, seed: int = 1, base_time: float | None = None) -> dict[str, Any]:
    """A cache of ``entries`` files whose one folder holds ``entries`` entries (``ONE_FOLDER_KINDS``): files directly
    in one http-v2 folder, or one wheel folder per file in one folder of the wheel cache. Files are sparse (their
    apparent sizes 1-60 kB, no blocks written), times spread over the year before ``base_time``."""
    if kind not in ONE_FOLDER_KINDS:
        raise ValueError(f"kind must be one of {sorted(ONE_FOLDER_KINDS)}")
    rng = random.Random(f"fleet.cache bench v{GENERATOR_VERSION} one folder {kind} seed {seed} entries {entries}")
    base_time = float(int(time.time()) if base_time is None else base_time)
    apparent = 0

    def write(path: str, size: int, mtime: float) -> None:
        nonlocal apparent
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            os.ftruncate(fd, size)
            os.utime(fd, (mtime, mtime))
        finally:
            os.close(fd)
        apparent += size

    if kind == "files":
        folder = dest / "http-v2" / "a" / "b" / "c" / "d" / "e"
        folder.mkdir(parents=True)
        for number in range(entries):
            key = sha224(f"{seed}-{number // 2}")
            mtime = base_time - rng.uniform(60, YEAR)
            write(os.path.join(folder, key + (".body" if number % 2 else "")), rng.randint(1_000, 60_000), mtime)
    else:
        folder = dest / "wheels" / "ab" / "cd" / "ef"
        folder.mkdir(parents=True)
        for number in range(entries):
            wheel_dir = os.path.join(folder, sha224(f"{seed}-{number}")[6:])
            os.mkdir(wheel_dir)
            write(os.path.join(wheel_dir, f"proj{number % 997}-1.{number}-py3-none-any.whl"), rng.randint(1_000, 60_000), base_time - rng.uniform(60, YEAR))
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "kind": kind,
        "layout": ONE_FOLDER_KINDS[kind],
        "entries": entries,
        "files": entries,
        "apparent_bytes": apparent,
        "base_time": base_time,
    }


def ensure_one_folder(store: Path, entries: int, kind: str, *, seed: int = 1, say: Callable[[str], None] = print) -> tuple[Path, dict[str, Any]]:
    """The generated one-folder cache (its ``cache`` folder) and its manifest; generated on first use."""
    home = store / f"g{GENERATOR_VERSION}-one-{kind}-{entries}-s{seed}"

    def build(folder: Path, _started: float) -> dict[str, Any]:
        say(f"generating a cache with {entries:,} entries in one folder ({ONE_FOLDER_KINDS[kind]}) into {home} (once)")
        return generate_one_folder(folder, entries, kind, seed=seed)

    cache, manifest, built = _generated_once(home, build)
    if built:
        say(f"  done in {manifest['generated_in_s']} s")
    return cache, manifest


def walk_files(root: Path) -> Iterator[Path]:
    for directory, _dirs, names in os.walk(root):
        for name in names:
            yield Path(directory) / name
