# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP cache entries identified by content: http-v2 pairs and legacy msgpack files built here."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import struct
import tarfile
import zipfile

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.units import human_size
from ansible_collections.fleet.cache.plugins.module_utils._pip import http
from ansible_collections.fleet.cache.plugins.module_utils._pip.http import Identity, identify_entry, identify_for_removal, list_downloads
from ansible_collections.fleet.cache.plugins.module_utils._pip.version import parse_requirement

# --- a tiny msgpack encoder (the subset cachecontrol writes, with every length form) ---------------


def _with_length(codes, data):
    """``data`` after its type byte and its length in the smallest of 8, 16 and 32 bits (``codes``: the three type bytes)."""
    for code, form, largest in zip(codes, ("B", ">H", ">I"), (0xFF, 0xFFFF, 0xFFFFFFFF)):
        if len(data) <= largest:
            return bytes([code]) + struct.pack(form, len(data)) + data
    raise ValueError(f"{len(data)} bytes is more than msgpack holds")


def mp(obj):
    if obj is None:
        return b"\xc0"
    if obj is True:
        return b"\xc3"
    if obj is False:
        return b"\xc2"
    if isinstance(obj, int):
        if 0 <= obj <= 0x7F:
            return bytes([obj])
        if -32 <= obj < 0:
            return struct.pack("b", obj)
        if 0 <= obj <= 0xFF:
            return b"\xcc" + struct.pack("B", obj)
        if 0 <= obj <= 0xFFFF:
            return b"\xcd" + struct.pack(">H", obj)
        if 0 <= obj <= 0xFFFFFFFF:
            return b"\xce" + struct.pack(">I", obj)
        if obj > 0:
            return b"\xcf" + struct.pack(">Q", obj)
        return b"\xd3" + struct.pack(">q", obj)
    if isinstance(obj, float):
        return b"\xcb" + struct.pack(">d", obj)
    if isinstance(obj, str):
        data = obj.encode("utf-8")
        if len(data) < 32:
            return bytes([0xA0 | len(data)]) + data
        return _with_length(b"\xd9\xda\xdb", data)
    if isinstance(obj, bytes):
        return _with_length(b"\xc4\xc5\xc6", obj)
    if isinstance(obj, dict):
        head = bytes([0x80 | len(obj)]) if len(obj) < 16 else b"\xde" + struct.pack(">H", len(obj))
        return head + b"".join(mp(key) + mp(value) for key, value in obj.items())
    if isinstance(obj, (list, tuple)):
        head = bytes([0x90 | len(obj)]) if len(obj) < 16 else b"\xdc" + struct.pack(">H", len(obj))
        return head + b"".join(mp(item) for item in obj)
    raise TypeError(type(obj))


def legacy_document(body, *, headers=None):
    """What pip's cachecontrol (serializer v4) writes into a legacy http/ file."""
    response = {
        "body": body,
        "headers": headers if headers is not None else {"Content-Type": "application/octet-stream", "ETag": '"abc"', "Date": "Mon, 01 Jan 2024 00:00:00 GMT"},
        "status": 200,
        "version": 11,
        "reason": "OK",
        "decode_content": False,
    }
    return b"cc=4," + mp({"response": response, "vary": {}})


# --- bodies ---------------------------------------------------------------------------------------


def wheel_bytes(name="Foo_Bar", version="1.2.3", *, padding=0, metadata=None):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{name.lower()}/__init__.py", "")
        if padding:
            archive.writestr(f"{name.lower()}/blob.bin", random.Random(7).getrandbits(8 * padding).to_bytes(padding, "little"))
        text = metadata if metadata is not None else f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test\n\nLong description\n"
        archive.writestr(f"{name}-{version}.dist-info/METADATA", text)
        archive.writestr(f"{name}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return buffer.getvalue()


def sdist_tar_gz(name="foo", version="1.0", *, extra_members=0):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:

        def add(path, data):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))

        for index in range(extra_members):
            add(f"{name}-{version}/src/m{index}.py", b"")
        add(f"{name}-{version}/PKG-INFO", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode())
        add(f"{name}-{version}/setup.py", b"")
    return buffer.getvalue()


def sdist_zip(name="legacy-proj", version="0.3"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{name}-{version}/setup.py", "")
        archive.writestr(f"{name}-{version}/PKG-INFO", f"Metadata-Version: 1.0\nName: {name}\nVersion: {version}\n")
    return buffer.getvalue()


SIMPLE_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Links for requests</title></head><body>\n<h1>Links for requests</h1>\n"
    b'<a href="https://files.example.invalid/packages/requests-2.31.0-py3-none-any.whl#sha256=00">requests-2.31.0-py3-none-any.whl</a><br/>\n'
    b"</body></html>\n"
)
PAGE_WITHOUT_H1 = b'<html><body>\n<a href="../../packages/ab/cd/Typing_Extensions-4.9.0-py3-none-any.whl#sha256=1">x</a>\n</body></html>\n'
PAGE_WITH_SDIST_ONLY = b"<html><body><a href='/p/zope.interface-6.1.tar.gz'>zope.interface-6.1.tar.gz</a></body></html>"
PAGE_WITHOUT_PROJECT = b"<html><body><p>nothing to see</p><a href='/about/'>about</a></body></html>"
JSON_PAGE = json.dumps({"meta": {"api-version": "1.1"}, "name": "pyyaml", "files": [], "versions": ["6.0.1"]}).encode()


def write_pair(directory, key, body, metadata=None):
    """An http-v2 entry: the metadata file and its .body."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, key), "wb") as handle:
        handle.write(metadata if metadata is not None else legacy_document(b""))
    with open(os.path.join(directory, key + ".body"), "wb") as handle:
        handle.write(body)
    return [key, key + ".body"]


def write_legacy(directory, key, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, key), "wb") as handle:
        handle.write(data)
    return [key]


# --- the encoder itself against the engine's reader -----------------------------------------------


MSGPACK_VALUES = [
    0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, -1, -32, -33, -(2**40), 1.5, None, True, False,
    "", "x" * 31, "y" * 32, "z" * 300, "w" * 70000, b"", b"\x00" * 255, b"\x01" * 256, b"\x02" * 65536,
    [1, "a", b"b"], list(range(20)), {"k": {"n": [None]}}, {f"k{i}": i for i in range(20)},
]  # fmt: skip


def test_msgpack_round_trip():
    for value in MSGPACK_VALUES:
        handle = io.BytesIO(mp(value))
        decoded = http._read_msgpack(handle)
        if isinstance(decoded, http._Blob):
            # Strings and byte strings over 64 KiB stay on disk: only where they start and how long they are.
            data = mp(value)
            assert (decoded.length, decoded.offset) == (len(value), len(data) - len(value))
        else:
            assert decoded == value
        assert handle.read() == b"", value


def test_msgpack_bin32_body_is_left_on_disk():
    body = b"\x03" * 70000
    encoded = mp({"body": body})
    assert encoded[1:6] == mp("body")
    assert encoded[6:7] == b"\xc6"  # bin32
    handle = io.BytesIO(encoded)
    document = http._read_msgpack(handle)
    assert isinstance(document["body"], http._Blob)
    assert (document["body"].offset, document["body"].length) == (11, 70000)


def test_msgpack_errors():
    for data in [b"", b"\x81", b"\x81\xa4body", b"\xc5\x00\x10abc", b"\xdb\x00\x00", b"\x91" * 40 + b"\x00", b"\xc1", b"\xd4\x01\x02"]:
        with pytest.raises(ValueError):
            http._read_msgpack(io.BytesIO(data))


# --- http-v2 pairs --------------------------------------------------------------------------------


V2_BODIES = {
    "wheel": (wheel_bytes(), Identity("wheel", "Foo_Bar", "1.2.3")),
    "sdist-tar-gz": (sdist_tar_gz(), Identity("sdist", "foo", "1.0")),
    "sdist-zip": (sdist_zip(), Identity("sdist", "legacy-proj", "0.3")),
    "simple-h1": (SIMPLE_PAGE, Identity("index", "requests", None)),
    "simple-no-h1": (PAGE_WITHOUT_H1, Identity("index", "Typing_Extensions", None)),
    "simple-sdist-href": (PAGE_WITH_SDIST_ONLY, Identity("index", "zope.interface", None)),
    "pep691-json": (JSON_PAGE, Identity("index", "pyyaml", None)),
    "json-with-bom": (b"\xef\xbb\xbf  " + JSON_PAGE, Identity("index", "pyyaml", None)),
    "gzip-page": (gzip.compress(SIMPLE_PAGE), Identity("index", "requests", None)),
    "page-without-project": (PAGE_WITHOUT_PROJECT, None),
    "json-without-name": (b'{"meta": {}, "files": []}', None),
    "bad-json": (b"{not json", None),
    "json-list": (b"[1, 2]", None),
    "empty": (b"", None),
    "random": (random.Random(1).getrandbits(8 * 4096).to_bytes(4096, "little"), None),
    "zip-magic-only": (b"PK\x03\x04" + b"\x00" * 100, None),
    "gzip-magic-only": (b"\x1f\x8b" + b"\x00" * 100, None),
    "truncated-wheel": (wheel_bytes()[:-30], None),
    "metadata-without-name": (wheel_bytes(metadata="Metadata-Version: 2.1\nVersion: 1.0\n"), None),
}


def test_identify_http_v2_pair(tmp_path):
    got = {}
    for case, (body, _expected) in V2_BODIES.items():
        directory = str(tmp_path / case)
        names = write_pair(directory, "0123456789abcdef", body)
        got[case] = identify_entry(directory, names)
        # The order of the names does not matter.
        assert identify_entry(directory, list(reversed(names))) == got[case]
    assert got == {case: expected for case, (_body, expected) in V2_BODIES.items()}


def test_identity_normalized_name():
    assert Identity("wheel", "Foo_Bar", "1.0").normalized == "foo-bar"


def test_identify_for_removal(tmp_path):
    names = write_pair(str(tmp_path), "k", wheel_bytes("Tiny", "0.1"))
    assert identify_for_removal(str(tmp_path), names) == ("wheel", "Tiny", "0.1")
    names = write_pair(str(tmp_path), "j", b"garbage")
    assert identify_for_removal(str(tmp_path), names) is None


def test_sdist_behind_too_many_tar_members_is_not_read(tmp_path):
    names = write_pair(str(tmp_path), "k", sdist_tar_gz(extra_members=http.MAX_TAR_MEMBERS + 5))
    assert identify_entry(str(tmp_path), names) is None
    names = write_pair(str(tmp_path), "j", sdist_tar_gz(extra_members=20))
    assert identify_entry(str(tmp_path), names) == Identity("sdist", "foo", "1.0")


def test_missing_body_file_is_not_an_error(tmp_path):
    assert identify_entry(str(tmp_path), ["gone", "gone.body"]) is None


# --- legacy http/ files ---------------------------------------------------------------------------


LEGACY_BODIES = {
    "page": (SIMPLE_PAGE, Identity("index", "requests", None)),  # bin16
    "json": (JSON_PAGE, Identity("index", "pyyaml", None)),  # bin8
    "wheel": (wheel_bytes(), Identity("wheel", "Foo_Bar", "1.2.3")),
    "wheel-bin32": (wheel_bytes("big_one", "3.0", padding=100_000), Identity("wheel", "big_one", "3.0")),  # bin32, left on disk
    "sdist": (sdist_tar_gz("bigsdist", "2.0", extra_members=250), Identity("sdist", "bigsdist", "2.0")),
    "page-bin32": (SIMPLE_PAGE + b"<!--" + b"x" * 70_000 + b"-->", Identity("index", "requests", None)),  # bin32 page
    "gzip-json": (gzip.compress(JSON_PAGE), Identity("index", "pyyaml", None)),
    "empty": (b"", None),
    "text": (b"plain text", None),
}


def test_identify_legacy_file(tmp_path):
    got = {}
    for case, (body, _expected) in LEGACY_BODIES.items():
        data = legacy_document(body)
        if len(body) > 65535:
            assert b"\xc6" + struct.pack(">I", len(body)) + body in data
        names = write_legacy(str(tmp_path / case), "0f" * 28, data)
        got[case] = identify_entry(str(tmp_path / case), names)
    assert got == {case: expected for case, (_body, expected) in LEGACY_BODIES.items()}


def test_legacy_file_with_long_header_strings(tmp_path):
    headers = {"Content-Type": "text/html", "X-Long": "v" * 300, "X-Longer": "w" * 70_000}
    names = write_legacy(str(tmp_path), "k", legacy_document(SIMPLE_PAGE, headers=headers))
    assert identify_entry(str(tmp_path), names) == Identity("index", "requests", None)


def test_truncated_legacy_file_is_unrecognised(tmp_path):
    data = legacy_document(wheel_bytes())
    for cut in [5, 6, 20, 60, -1]:
        names = write_legacy(str(tmp_path), "k", data[:cut])
        assert identify_entry(str(tmp_path), names) is None, cut


def test_truncated_big_body_is_unrecognised(tmp_path):
    data = legacy_document(wheel_bytes("big", "1.0", padding=100_000))
    names = write_legacy(str(tmp_path), "k", data[: len(data) // 2])
    assert identify_entry(str(tmp_path), names) is None


UNUSABLE = dict(
    zip(
        ["old-serializer", "no-comma", "array-document", "response-not-map", "body-nil", "no-body", "too-deep", "empty", "raw-page"],
        [
            b"cc=2," + mp({"response": {"body": SIMPLE_PAGE}}),
            b"cc=4" + mp({"response": {"body": SIMPLE_PAGE}}),
            b"cc=4," + mp([SIMPLE_PAGE]),
            b"cc=4," + mp({"response": "not a map"}),
            b"cc=4," + mp({"response": {"body": None}}),
            b"cc=4," + mp({"response": {"headers": {}}}),
            b"cc=4," + b"\x91" * 30 + mp({"response": {"body": SIMPLE_PAGE}}),
            b"",
            SIMPLE_PAGE,
        ],
    )
)


def test_unusable_legacy_documents(tmp_path):
    got = {}
    for case, data in UNUSABLE.items():
        names = write_legacy(str(tmp_path / case), "k", data)
        got[case] = identify_entry(str(tmp_path / case), names)
    assert got == dict.fromkeys(UNUSABLE)


def test_two_files_without_a_body_are_not_an_entry(tmp_path):
    write_legacy(str(tmp_path), "a", legacy_document(SIMPLE_PAGE))
    write_legacy(str(tmp_path), "b", legacy_document(SIMPLE_PAGE))
    assert identify_entry(str(tmp_path), ["a", "b"]) is None
    assert identify_entry(str(tmp_path), ["a"]) == Identity("index", "requests", None)


# --- list_downloads over a cache ------------------------------------------------------------------


def build_http_cache(root):
    v2 = os.path.join(root, "http-v2", "a", "b", "c", "d", "e")
    write_pair(v2, "k1", wheel_bytes("PyYAML", "6.0.1"))
    write_pair(v2, "k2", sdist_tar_gz("PyYAML", "5.4"))
    write_pair(v2, "k3", SIMPLE_PAGE)
    write_pair(os.path.join(root, "http-v2", "f", "0", "1", "2", "3"), "k4", b"unrecognisable")
    legacy = os.path.join(root, "http", "1", "2", "3", "4", "5")
    write_legacy(legacy, "k5", legacy_document(wheel_bytes("requests", "2.0.1")))
    write_legacy(legacy, "k6", legacy_document(JSON_PAGE))


def test_list_downloads_identifies_every_entry(tmp_path):
    build_http_cache(str(tmp_path))
    items, count, truncated, unknown = list_downloads(str(tmp_path))
    assert (count, truncated, unknown) == (5, False, 1)
    summary = sorted((item["kind"], item["normalized_name"], item["version"], item["files"]) for item in items)
    assert summary == [
        ("index", "pyyaml", None, 1),
        ("index", "requests", None, 2),
        ("sdist", "pyyaml", "5.4", 2),
        ("wheel", "pyyaml", "6.0.1", 2),
        ("wheel", "requests", "2.0.1", 1),
    ]
    first = next(item for item in items if item["version"] == "6.0.1")
    base = os.path.join(str(tmp_path), "http-v2", "a", "b", "c", "d", "e", "k1")
    assert first["path"] == base
    assert first["bytes"] == os.path.getsize(base) + os.path.getsize(base + ".body")
    assert first["size"] == human_size(first["bytes"])
    assert first["mtime"].endswith("Z")
    assert [item["path"] for item in items] == sorted(item["path"] for item in items)


def test_list_downloads_filters_by_requirement_and_caps(tmp_path):
    build_http_cache(str(tmp_path))
    items, count, truncated, unknown = list_downloads(str(tmp_path), requirements=[parse_requirement("pyyaml>=6")])
    # The index page has no version: it belongs to every version of its project.
    assert sorted((item["kind"], item["version"]) for item in items) == [("index", None), ("wheel", "6.0.1")]
    assert (count, truncated, unknown) == (2, False, 1)
    items, count, truncated, _unknown = list_downloads(str(tmp_path), limit=2)
    assert (len(items), count, truncated) == (2, 5, True)
    items, count, truncated, _unknown = list_downloads(str(tmp_path), limit=0)
    assert (items, count, truncated) == ([], 5, True)


def test_list_downloads_of_a_missing_cache(tmp_path):
    assert list_downloads(str(tmp_path / "nothing")) == ([], 0, False, 0)


def sdist_tar(name, version, compression):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}") as archive:
        data = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        info = tarfile.TarInfo(f"{name}-{version}/PKG-INFO")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


NO_MORE_IMPORTS = """
import json, sys
from ansible_collections.fleet.cache.plugins.module_utils._pip import http as pip_http

class Refuse:
    def find_spec(self, name, path=None, target=None):
        raise ImportError("imported after load: " + name)

sys.meta_path.insert(0, Refuse())  # as the process acting for a user that cannot read the interpreter's library
found = {}
for directory, names in json.loads(sys.argv[1]):
    identity = pip_http.identify_entry(directory, names)
    found[names[0]] = None if identity is None else [identity.kind, identity.name, identity.version]
print(json.dumps(found))
"""


def test_identification_imports_nothing_after_load(tmp_path):
    """The process that acts for a user may not read the interpreter's own library (a Python installed under root's
    home): identifying entries of every kind must need no module that was not imported when the engine loaded
    (zipfile reads names as cp437, METADATA parses into email.message). Only gzip tars are opened (PEP 625 sdists):
    a .tar.bz2 or .tar.xz is left unrecognised, never handed to tarfile, which would import bz2 or lzma then."""
    import subprocess
    import sys

    folder = str(tmp_path / "e")
    entries = [
        write_pair(folder, "wheel", wheel_bytes("PyYAML", "6.0.1")),
        write_pair(folder, "sdist", sdist_tar_gz("PyYAML", "5.4")),
        write_pair(folder, "sdist-bz2", sdist_tar("bzproj", "1.0", "bz2")),
        write_pair(folder, "sdist-xz", sdist_tar("xzproj", "2.0", "xz")),
        write_pair(folder, "sdist-zip", sdist_zip()),
        write_pair(folder, "page", SIMPLE_PAGE),
        write_pair(folder, "page-gz", gzip.compress(SIMPLE_PAGE)),
        write_pair(folder, "json", JSON_PAGE),
        write_legacy(folder, "legacy", legacy_document(wheel_bytes("requests", "2.0.1"))),
    ]
    expected = {}
    for names in entries:
        identity = identify_entry(folder, names)
        expected[names[0]] = None if identity is None else [identity.kind, identity.name, identity.version]
    assert expected["sdist-bz2"] is None and expected["sdist-xz"] is None
    assert expected["wheel"] == ["wheel", "PyYAML", "6.0.1"] and expected["sdist-zip"] == ["sdist", "legacy-proj", "0.3"]
    assert expected["page-gz"] == ["index", "requests", None]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run(
        [sys.executable, "-c", NO_MORE_IMPORTS, json.dumps([(folder, names) for names in entries])], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected
