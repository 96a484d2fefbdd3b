# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""uv's cache layout per version: the bucket table, what a root entry is to a uv, archive links, revision pointers,
uv's byte wording."""

from __future__ import annotations

import struct

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import InvalidValue
from ansible_collections.fleet.cache.plugins.module_utils._uv import layout
from ansible_collections.fleet.cache.plugins.module_utils._uv.layout import (
    CURRENT,
    MARKER,
    NEWER,
    NEWEST_KNOWN,
    OTHER,
    STALE,
    UvStats,
    UvVersion,
    archive_id_of_pointer,
    archive_id_of_target,
    archive_ref_families,
    buckets_for,
    classify_root_entry,
    msgpack_value,
    package_of_folder,
    package_of_simple_file,
    parse_bucket_name,
    parse_uv_version,
    ref_name_skipped,
    revision_pointer_id,
    uv_format_bytes,
    version_option,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("uv 0.13.10 (x86_64-unknown-linux-gnu)", UvVersion(0, 13, 10)),
        ("uv 0.9.21 (2c2bd9ee6 2025-12-30)", UvVersion(0, 9, 21)),
        ("uv 0.4.30\n", UvVersion(0, 4, 30)),
        ("0.13.10", UvVersion(0, 13, 10)),
        ("  v0.5.1 ", UvVersion(0, 5, 1)),
        ("0.13", UvVersion(0, 13, 0)),
        ("1.2.3-rc.1", UvVersion(1, 2, 3)),
        ("uv 0.13.10.4", None),
        ("uvx 0.13.10", None),
        ("ruff 0.13.10", None),
        ("", None),
        ("latest", None),
    ],
)
def test_parse_uv_version(text, expected):
    assert parse_uv_version(text) == expected


def test_versions_order_and_print():
    assert UvVersion(0, 9, 30) < UvVersion(0, 10, 0) < UvVersion(0, 13, 10) == NEWEST_KNOWN
    assert str(UvVersion(0, 4, 30)) == "0.4.30"
    assert UvVersion(0, 8, 19) == (0, 8, 19) and UvVersion(0, 9) >= (0, 8, 19) and list(UvVersion(0, 9)) == [0, 9, 0]


@pytest.mark.parametrize("value", ["newest", "", None, 13, "0", (), (0, -1), (True, 1), (0, 1, 2, 3), ("0", "1")])
def test_version_option_names_the_option(value):
    with pytest.raises(InvalidValue, match=r"uv_version: expected a uv version such as 0\.13\.10"):
        version_option(value)
    assert version_option("uv 0.9.21 (x)") == UvVersion(0, 9, 21)
    assert version_option(UvVersion(0, 4, 30)) == (0, 4, 30)
    assert version_option((0, 13)) == UvVersion(0, 13, 0) and buckets_for((0, 13, 10)).exact


# The table of uv_internals.md section 2 (from uv's source at each tag, and from what uv 0.13.10 creates).
SECTION_2 = {
    "0.4.30": "wheels-v2 sdists-v5 simple-v13 flat-index-v1 interpreter-v2 git-v0 archive-v0 builds-v0 environments-v1",
    "0.5.11": "wheels-v3 sdists-v6 simple-v14 flat-index-v2 interpreter-v4 git-v0 archive-v0 builds-v0 environments-v1",
    "0.8.22": "wheels-v5 sdists-v9 simple-v18 flat-index-v2 interpreter-v4 git-v0 archive-v0 builds-v0 environments-v2 python-v0 binaries-v0",
    "0.9.21": "wheels-v5 sdists-v9 simple-v18 flat-index-v2 interpreter-v4 git-v0 archive-v0 builds-v0 environments-v2 python-v0 binaries-v0",
    "0.9.30": "wheels-v5 sdists-v9 simple-v19 flat-index-v2 interpreter-v4 git-v0 archive-v0 builds-v0 environments-v2 python-v0 binaries-v0",
    "0.12.5": "wheels-v6 sdists-v9 simple-v24 flat-index-v4 interpreter-v4 git-v0 archive-v0 builds-v0 environments-v2 python-v0 binaries-v0 osv-v0",
    "0.13.10": "wheels-v8 sdists-v11 simple-v28 flat-index-v7 interpreter-v6 git-v2 archive-v0 builds-v0 environments-v2 python-v1 binaries-v0 osv-v1",
}


@pytest.mark.parametrize("version", sorted(SECTION_2))
def test_buckets_of_the_versions_in_the_notes(version):
    buckets = buckets_for(version)
    assert sorted(buckets.names.values()) == sorted(SECTION_2[version].split())
    assert buckets.exact and buckets.possible == {}
    assert buckets.version == parse_uv_version(version)


@pytest.mark.parametrize(
    ("before", "first", "changed"),
    [
        ("0.4.12", "0.4.13", {"built-wheels-v3": None, "sdists": "sdists-v4", "simple": "simple-v13", "wheels": "wheels-v2"}),
        ("0.5.25", "0.5.26", {"sdists": "sdists-v7"}),
        ("0.8.3", "0.8.4", {"python": "python-v0"}),
        ("0.9.26", "0.9.27", {"simple": "simple-v19"}),
        ("0.11.29", "0.11.30", {"flat-index": "flat-index-v4", "simple": "simple-v24"}),
    ],
)
def test_change_points(before, first, changed):
    old, new = buckets_for(before).names, buckets_for(first).names
    for family, name in changed.items():
        if name is None:
            assert family.rsplit("-v", 1)[0] in old and family.rsplit("-v", 1)[0] not in new
        else:
            assert new[family] == name and old.get(family) != name
    assert {family: name for family, name in new.items() if old.get(family) != name} == {f: n for f, n in changed.items() if n is not None}


def test_a_version_between_the_source_and_the_newest_known_may_use_either_numbers():
    buckets = buckets_for("0.13.0")
    assert not buckets.exact
    assert buckets.name("wheels") == "wheels-v6"  # the older end's numbers
    assert buckets.possible["wheels"] == (6, 7, 8) and "archive" not in buckets.possible
    for number in (6, 7, 8):
        assert classify_root_entry(f"wheels-v{number}", "dir", buckets).role == CURRENT
    assert classify_root_entry("wheels-v5", "dir", buckets).role == STALE
    assert buckets.as_dict()["possible"]["git"] == ["git-v0", "git-v1", "git-v2"]


def test_versions_outside_the_table():
    newer = buckets_for("0.20.1")
    assert not newer.exact and newer.names == buckets_for(NEWEST_KNOWN).names
    assert buckets_for(None).version == NEWEST_KNOWN and buckets_for(None).exact
    oldest = buckets_for("0.0.5")
    assert not oldest.exact and oldest.name("simple") == "simple-v0" and oldest.name("sdists") is None


def test_parse_bucket_name():
    assert parse_bucket_name("wheels-v8") == ("wheels", 8)
    assert parse_bucket_name("built-wheels-v3") == ("built-wheels", 3)
    assert parse_bucket_name("flat-index-v12") == ("flat-index", 12)
    for name in ("wheels", "wheels-v", "wheels-v8x", "Wheels-v8", "unknown-v1", "wheels-8", ".lock", "archive-v0/x", "wheels-v8\n"):
        assert parse_bucket_name(name) is None, name


@pytest.mark.parametrize(
    ("name", "kind", "version", "role", "from_newer"),
    [
        ("wheels-v8", "dir", "0.13.10", CURRENT, False),
        ("archive-v0", "dir", "0.4.30", CURRENT, False),
        ("wheels-v2", "dir", "0.13.10", STALE, False),
        ("built-wheels-v3", "dir", "0.13.10", STALE, False),
        ("wheels-v8", "dir", "0.4.30", STALE, True),  # left by a newer uv than the one asked about
        ("osv-v0", "dir", "0.9.21", STALE, True),  # a family uv 0.9.21 does not use yet
        ("wheels-v9", "dir", "0.13.10", NEWER, True),
        ("archive-v1", "dir", "0.4.30", NEWER, True),
        (".lock", "file", "0.4.30", MARKER, False),
        ("CACHEDIR.TAG", "file", "0.13.10", MARKER, False),
        (".gitignore", "file", "0.13.10", MARKER, False),
        (".git", "dir", "0.13.10", MARKER, False),
        ("junk", "dir", "0.13.10", OTHER, False),
        ("notes.txt", "file", "0.13.10", OTHER, False),
        ("wheels-v8", "file", "0.13.10", OTHER, False),  # only a folder is a bucket
        ("wheels-v8", "link", "0.13.10", OTHER, False),  # a link is never followed
        ("mything-v3", "dir", "0.13.10", OTHER, False),
    ],
)
def test_classify_root_entry(name, kind, version, role, from_newer):
    entry = classify_root_entry(name, kind, buckets_for(version))
    assert (entry.name, entry.kind, entry.role, entry.from_newer_uv) == (name, kind, role, from_newer)
    if role in (CURRENT, STALE, NEWER):
        assert (entry.family, entry.number) == parse_bucket_name(name)
    assert entry.as_dict()["role"] == role


def test_package_folders_and_simple_files():
    assert package_of_folder("wheels", ("pypi", "foo")) == "foo"
    assert package_of_folder("wheels", ("index", "0123abcd", "foo-bar")) == "foo-bar"
    assert package_of_folder("wheels", ("url", "0123abcd", "foo")) == "foo"
    assert package_of_folder("sdists", ("index", "0123abcd", "foo")) == "foo"
    assert package_of_folder("sdists", ("url", "0123abcd", "foo")) is None  # named by metadata.msgpack only
    for parts in [(), ("pypi",), ("index", "d"), ("pypi", "foo", "1.0"), ("index", "d", "foo", "1.0"), ("git", "d", "foo")]:
        assert package_of_folder("sdists", parts) is None, parts
    assert package_of_folder("simple", ("pypi", "foo")) is None
    assert package_of_simple_file(("pypi",), "foo.rkyv") == "foo"
    assert package_of_simple_file(("index", "d"), "zope-tiny.rkyv") == "zope-tiny"
    assert package_of_simple_file(("index",), "foo.rkyv") is None
    assert package_of_simple_file(("pypi",), "foo.lock") is None
    assert package_of_simple_file(("pypi",), ".rkyv") is None


ROOTS = ("/c/uv", "/real/uv")


@pytest.mark.parametrize(
    ("target", "folder", "expected"),
    [
        ("/c/uv/archive-v0/abc_DEF-123", ("wheels-v2", "pypi", "foo"), "abc_DEF-123"),
        ("/real/uv/archive-v0/abc", ("wheels-v2", "pypi", "foo"), "abc"),
        ("/c/uv//archive-v0/./abc/", ("wheels-v2",), "abc"),
        ("../../../../archive-v0/abc", ("wheels-v8", "index", "d", "foo"), "abc"),
        ("../../../../../../archive-v0/abc", ("sdists-v11", "index", "d", "foo", "1.0", "rev"), "abc"),
        ("../../../archive-v0/abc", ("wheels-v8", "index", "d", "foo"), None),  # one level short: wheels-v8/archive-v0
        ("../../../../../archive-v0/abc", ("wheels-v8", "index", "d", "foo"), None),  # above the cache: out of it
        ("../../../../../uv/archive-v0/abc", ("wheels-v8", "index", "d", "foo"), None),  # out and back in: never
        ("/c/uv/archive-v0/abc/foo.py", ("wheels-v2",), None),  # inside an archive
        ("/c/uv/archive-v0", ("wheels-v2",), None),
        ("/c/uv/archive-v0/../etc", ("wheels-v2",), None),
        ("/c/uvx/archive-v0/abc", ("wheels-v2",), None),  # another folder whose name starts alike
        ("/other/archive-v0/abc", ("wheels-v2",), None),
        ("/etc/passwd", ("wheels-v2",), None),
        ("/c/uv/archive-v0/a b", ("wheels-v2",), None),
        ("", ("wheels-v2",), None),
        ("/c/uv/archive-v0/a\x00", ("wheels-v2",), None),
    ],
)
def test_archive_link_targets_resolve_as_text_inside_the_cache(target, folder, expected):
    assert archive_id_of_target(target, folder, ROOTS) == expected


def test_archive_link_targets_with_windows_separators():
    assert archive_id_of_target("..\\..\\..\\..\\archive-v0\\abc", ("wheels-v8", "index", "d", "foo"), ("C:\\c\\uv",), "\\") == "abc"
    assert archive_id_of_target("C:\\c\\uv\\archive-v0\\abc", ("wheels-v8",), ("C:\\c\\uv",), "\\") == "abc"
    assert archive_id_of_target("D:\\c\\uv\\archive-v0\\abc", ("wheels-v8",), ("C:\\c\\uv",), "\\") is None


def test_windows_pointer_files():
    assert archive_id_of_pointer(b"archive-v0/k-GFJaMQy2-8_x-p") == "k-GFJaMQy2-8_x-p"
    for data in (b"archive-v1/abc", b"archive-v0/abc\n", b"archive-v0/", b"archive-v0/../x", b"\xff\xfe", b"wheels", b"archive-v0/a/b"):
        assert archive_id_of_pointer(data) is None, data


def test_archive_reference_rules_per_version():
    assert archive_ref_families(buckets_for("0.13.10")) == (("sdists", "wheels"), True)
    assert archive_ref_families(buckets_for("0.6.17")) == (("sdists", "wheels"), True)
    families, filtered = archive_ref_families(buckets_for("0.6.16"))
    assert not filtered and "archive" not in families and {"wheels", "sdists", "simple", "environments"} <= set(families)
    skipped = ["src", ".lock", ".gitignore", "x.LOCK", "a.whl", "b.http", "revision.rev", "metadata.msgpack", "1.0-py3-none-any.lock"]
    for name in skipped:
        assert ref_name_skipped(name), name
    for name in ["1.0-py3-none-any", "foo_bar-1.0-py3-none-any", "lock", ".whl", "source", "x.tar.gz", ".git"]:
        assert not ref_name_skipped(name), name


def _str(text: str) -> bytes:
    raw = text.encode()
    return (bytes([0xA0 | len(raw)]) if len(raw) < 32 else b"\xd9" + bytes([len(raw)])) + raw


def test_msgpack_values():
    assert msgpack_value(b"\x05") == (5, 1)
    assert msgpack_value(b"\xff") == (-1, 1)
    assert msgpack_value(b"\xc0\xc3\xc2")[0] is None
    assert msgpack_value(b"\xcd\x01\x00") == (256, 3)
    assert msgpack_value(b"\xd3" + struct.pack(">q", -(2**40))) == (-(2**40), 9)
    assert msgpack_value(b"\xcb" + struct.pack(">d", 1.5)) == (1.5, 9)
    assert msgpack_value(b"\xc4\x02ab") == (b"ab", 4)
    assert msgpack_value(b"\xd6\x01abcd")[1] == 6  # fixext 4
    assert msgpack_value(b"\x92\xa1x\x80") == (["x", {}], 4)
    assert msgpack_value(b"\x81\xa2id\xa3abc") == ({"id": "abc"}, 8)
    assert msgpack_value(b"\xdc\x00\x01\x01") == ([1], 4)
    for bad in (b"", b"\x92\x01", b"\xa5abc", b"\xd9\x05ab", b"\xc1", b"\xdd\xff\xff\xff\xff", b"\xa2\xff\xfe", b"\x91" * 100):
        with pytest.raises(layout.MsgpackError):
            msgpack_value(bad)


def test_revision_pointers_of_each_generation():
    policy = b"POLICY" + struct.pack("<Q", 6)
    old = b"\x92" + _str("j4nyNL1jeqdHTRqulDvnZ") + b"\x90" + policy  # uv 0.4.30 / 0.9.x: [id, hashes]
    new = b"\x93" + _str("7DKRFuRWBAnNggZ6") + b"\x91\x81" + _str("Sha256") + _str("ab" * 32) + b"\xcd\x07\x44" + policy  # 0.13
    mapped = b"\x83" + _str("id") + _str("abc") + _str("hashes") + b"\x90" + _str("size") + b"\xc0"  # 0.12.5's map form
    assert revision_pointer_id("revision.http", old) == "j4nyNL1jeqdHTRqulDvnZ"
    assert revision_pointer_id("revision.http", new) == "7DKRFuRWBAnNggZ6"
    assert revision_pointer_id("revision.http", mapped) == "abc"
    local = b"\x92\x93\x01\x02\x03" + b"\x93" + _str("rev16rev16rev16x") + b"\x90\xc0"  # revision.rev: [cache_info, revision]
    assert revision_pointer_id("revision.rev", local) == "rev16rev16rev16x"
    assert revision_pointer_id("revision.rev", old) is None  # its second item is no revision
    for bad in (b"", b"garbage", b"\x92\x01\x02", b"\x92" + _str("abc")):
        assert revision_pointer_id("revision.http", bad) is None


@pytest.mark.parametrize(
    ("size", "clean", "human"),
    [
        (0, "0B", "0B"),
        (1023, "1023B", "1023.0B"),
        (1024, "1.0KiB", "1.0KiB"),
        (1075, "1.0KiB", "1.0KiB"),
        (1126, "1.1KiB", "1.1KiB"),
        (1280, "1.2KiB", "1.2KiB"),
        (1792, "1.8KiB", "1.8KiB"),
        (2304, "2.2KiB", "2.2KiB"),
        (12288, "12.0KiB", "12.0KiB"),
        (356352, "348.0KiB", "348.0KiB"),
        (1048575, "1024.0KiB", "1024.0KiB"),
        (2**20, "1.0MiB", "1.0MiB"),
        (1073741000, "1024.0MiB", "1024.0MiB"),
        (2**30, "1.0GiB", "1.0GiB"),
    ],
)
def test_uv_format_bytes(size, clean, human):
    assert uv_format_bytes(size) == clean
    assert uv_format_bytes(size, short_below_kib=False) == human


def test_uv_stats():
    stats = UvStats()
    stats.add_file(10, 4096, 200.0)
    stats.add_file(5, 0, 100.0)
    stats.add_dir(4096)
    other = UvStats(files=1, dirs=1, bytes=1, allocated=1, oldest=50.0, newest=300.0)
    stats.merge(other)
    assert (stats.files, stats.dirs, stats.bytes, stats.allocated, stats.oldest, stats.newest) == (3, 2, 16, 8193, 50.0, 300.0)
    assert stats.as_dict(allocated_known=False)["allocated_bytes"] is None
    assert UvStats().as_dict() == {"files": 0, "dirs": 0, "bytes": 0, "allocated_bytes": 0, "oldest": None, "newest": None}
