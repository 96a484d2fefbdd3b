# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scanning uv caches built by hand in each uv generation's layout: figures against an independent count (and du),
hard links, links of every kind, packages, unreferenced archives, stale revisions, files vanishing, unreadable folders,
flat memory."""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import subprocess
import time
import tracemalloc

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import walk as core_walk
from ansible_collections.fleet.cache.plugins.module_utils._uv import scan as uv_scan
from ansible_collections.fleet.cache.plugins.module_utils._uv.layout import (
    CURRENT,
    MARKER,
    NEWER,
    OTHER,
    ROLES,
    STALE,
    UvVersion,
    buckets_for,
)
from ansible_collections.fleet.cache.plugins.module_utils._uv.scan import Smallest, scan
from ansible_collections.fleet.cache.tests.unit.plugins.conftest import deny_listing

VERSIONS = ("0.4.30", "0.9.21", "0.13.10")
DAY = 86400
INDEX = "fdb3caac6344acb5"
REV = "7DKRFuRWBAnNggZ6"
OLD_REV = "oldRevisionXXXXX"


def _mp_str(text: str) -> bytes:
    raw = text.encode()
    return bytes([0xA0 | len(raw)]) + raw


def _revision_http(revision: str) -> bytes:
    """A revision.http as uv writes it: the msgpack Revision, then an HTTP cache policy and its length."""
    return b"\x92" + _mp_str(revision) + b"\x90" + b"POLICY" + struct.pack("<Q", 6)


class Cache:
    """A uv cache in the layout of one uv version, made by hand: ``path(...)`` names, ``write``, ``link`` (absolute
    as uv < 0.11.17 writes them, else relative), ``archive``."""

    def __init__(self, root: str, version: str) -> None:
        self.root = root
        self.buckets = buckets_for(version)
        self.absolute = self.buckets.version < UvVersion(0, 11, 17)
        os.makedirs(root, exist_ok=True)

    def bucket(self, family: str) -> str:
        name = self.buckets.name(family)
        assert name is not None
        return name

    def write(self, rel: str, data: bytes = b"", age: float = 1) -> str:
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        stamp = time.time() - age * DAY
        os.utime(path, (stamp, stamp))
        return path

    def link(self, rel: str, target_rel: str, *, absolute: bool | None = None) -> str:
        """A symbolic link at ``rel`` to ``target_rel`` (both below the root)."""
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if self.absolute if absolute is None else absolute:
            os.symlink(os.path.join(self.root, target_rel), path)
        else:
            os.symlink(os.path.relpath(os.path.join(self.root, target_rel), os.path.dirname(path)), path)
        return path

    def archive(self, archive_id: str, size: int = 700) -> str:
        self.write(f"archive-v0/{archive_id}/pkg_{archive_id}.py", b"x" * size, age=3)
        self.write(f"archive-v0/{archive_id}/pkg-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\n", age=3)
        return f"archive-v0/{archive_id}"

    def wheel(self, folder: str, stem: str, archive_id: str) -> None:
        """A downloaded wheel: its link to the archive and its HTTP entry (and a lock from uv 0.13)."""
        self.archive(archive_id)
        self.link(f"{folder}/{stem}", f"archive-v0/{archive_id}")
        self.write(f"{folder}/{stem}.http", b"h" * 300, age=2)
        if self.buckets.version >= UvVersion(0, 13, 0):
            self.write(f"{folder}/{stem}.lock")


def make_cache(root: str, version: str) -> Cache:
    """Packages foo (two wheels: index and url), bar (pypi), baz (an sdist built into a wheel); an orphan archive; an
    archive only a stale bucket points to; the markers of that version."""
    cache = Cache(root, version)
    wheels, sdists, simple = cache.bucket("wheels"), cache.bucket("sdists"), cache.bucket("simple")
    cache.write("CACHEDIR.TAG", b"Signature: 8a477f597d28d172789f06886806bc55")
    cache.write(".gitignore", b"*")
    if cache.buckets.version >= UvVersion(0, 8, 19):
        cache.write(".lock")
    cache.wheel(f"{wheels}/index/{INDEX}/foo", "1.0-py3-none-any", "A1foo")
    cache.wheel(f"{wheels}/url/0123456789abcdef/foo", "2.0-py3-none-any", "A3foo")
    cache.wheel(f"{wheels}/pypi/bar", "1.0-py3-none-any", "A2bar")
    revision = f"{sdists}/index/{INDEX}/baz/1.0"
    cache.write(f"{sdists}/.git")
    cache.write(f"{sdists}/.gitignore")
    cache.write(f"{revision}/.lock")
    cache.write(f"{revision}/revision.http", _revision_http(REV))
    cache.write(f"{revision}/{REV}/metadata.msgpack", b"\x95" + _mp_str("baz") + _mp_str("1.0") + b"\x90\xc0\x90")
    cache.write(f"{revision}/{REV}/baz-1.0-py3-none-any.whl", b"w" * 2000, age=10)
    cache.write(f"{revision}/{REV}/src/pyproject.toml", b"[project]\n", age=10)
    cache.archive("A4baz")
    cache.link(f"{revision}/{REV}/baz-1.0-py3-none-any", "archive-v0/A4baz")
    for name in ("foo", "bar", "baz"):
        cache.write(f"{simple}/index/{INDEX}/{name}.rkyv", b"s" * 100, age=5)
    cache.write(f"{cache.bucket('interpreter')}/89cce1313019dbd3.msgpack", b"i" * 50)
    os.makedirs(os.path.join(root, cache.bucket("builds")))
    cache.archive("ORPHAN")
    cache.archive("B1stale")
    cache.link(f"wheels-v1/index/{INDEX}/foo/1.0-py3-none-any", "archive-v0/B1stale")
    return cache


@pytest.fixture
def root(tmp_path):
    return os.path.realpath(str(tmp_path / "cache"))


@pytest.fixture(params=VERSIONS)
def built(request, root):
    return make_cache(root, request.param)


def independent(path, seen):
    """files, dirs, apparent bytes, allocated bytes under ``path`` (itself included), by os.walk and lstat, links never
    followed, a hard-linked file's blocks once (``seen``: (dev, ino) met so far)."""
    figures = {"files": 0, "dirs": 0, "bytes": 0, "allocated_bytes": 0}

    def one(entry):
        info = os.lstat(entry)
        if stat.S_ISDIR(info.st_mode):
            figures["dirs"] += 1
            figures["allocated_bytes"] += info.st_blocks * 512
            return
        figures["files"] += 1
        figures["bytes"] += info.st_size
        if info.st_nlink > 1:
            if (info.st_dev, info.st_ino) in seen:
                return
            seen.add((info.st_dev, info.st_ino))
        figures["allocated_bytes"] += info.st_blocks * 512

    one(path)
    if stat.S_ISDIR(os.lstat(path).st_mode):
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                one(os.path.join(folder, name))
    return figures


def figures_of(stats):
    return {key: value for key, value in stats.as_dict().items() if key in ("files", "dirs", "bytes", "allocated_bytes")}


def du_bytes(path):
    if shutil.which("du") is None:
        pytest.skip("no du here")
    done = subprocess.run(["du", "-sB1", path], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0])


def test_figures_equal_an_independent_count_and_du(built):
    result = scan(built.root, version=built.buckets.version)
    assert result.exists and result.errors.count == 0 and result.warnings == []
    seen: set = set()
    assert figures_of(result.total) == independent(built.root, seen)
    assert result.cache_size == result.total.allocated == du_bytes(built.root)
    for figures in result.entries:
        assert figures_of(figures.stats) == independent(os.path.join(built.root, figures.entry.name), set()), figures.entry.name
    names = set(os.listdir(built.root))
    assert {figures.entry.name for figures in result.entries} == names
    # The roles add up to the whole, the cache folder itself aside.
    summed = {key: sum(figures_of(result.roles[role])[key] for role in ROLES) for key in ("files", "dirs", "bytes")}
    assert summed == {"files": result.total.files, "dirs": result.total.dirs - 1, "bytes": result.total.bytes}


def test_every_folder_counts_its_blocks_the_cache_folder_too(root, monkeypatch):
    """A memory file system (the tests' scratch) gives folders no blocks; a disk does: each folder (the cache folder,
    every root entry's, unreadable ones) adds its own, as du counts them."""
    cache = make_cache(root, "0.13.10")
    real = uv_scan._Scan.allocated
    folders = []

    def folders_take_a_block(self, info):
        if stat.S_ISDIR(info.st_mode):
            folders.append(info.st_ino)
            return 4096
        return real(self, info)

    monkeypatch.setattr(uv_scan._Scan, "allocated", folders_take_a_block)
    deny_listing(monkeypatch, os.path.join(root, cache.bucket("builds")))
    result = scan(root, version="0.13.10")
    whole = independent(root, set())
    files_only = whole["allocated_bytes"] - sum(os.lstat(folder).st_blocks * 512 for folder, _dirs, _files in os.walk(root))
    assert len(folders) == whole["dirs"] == len(set(folders))
    assert result.total.allocated == files_only + 4096 * whole["dirs"]
    entry = result.entry(cache.bucket("builds"))
    assert entry is not None and entry.stats.allocated == 4096 and result.errors.count == 1


def test_each_root_entry_gets_its_role(built):
    result = scan(built.root, version=str(built.buckets.version))
    markers = {"CACHEDIR.TAG", ".gitignore"} | ({".lock"} if built.buckets.version >= UvVersion(0, 8, 19) else set())
    current = {built.bucket(family) for family in ("wheels", "sdists", "simple", "interpreter", "builds")} | {"archive-v0"}
    assert set(result.names_of(MARKER)) == markers
    assert set(result.names_of(CURRENT)) == current
    assert result.names_of(STALE) == ["wheels-v1"]
    stale = result.entry("wheels-v1")
    assert stale is not None and (stale.entry.family, stale.entry.number, stale.entry.from_newer_uv) == ("wheels", 1, False)
    assert result.version == built.buckets.version


def test_the_same_cache_seen_by_another_uv(root):
    make_cache(root, "0.4.30")
    result = scan(root, version="uv 0.13.10 (x86_64-unknown-linux-gnu)")
    assert set(result.names_of(STALE)) == {"wheels-v1", "wheels-v2", "sdists-v5", "simple-v13", "interpreter-v2"}
    assert result.names_of(CURRENT) == ["archive-v0", "builds-v0"]
    assert result.packages_count == 0 and result.archives == 6
    # Nothing the uv uses points into archive-v0: every archive is unreferenced (what its prune deletes).
    assert result.unreferenced_count == 6 and [name for name, _stats in result.unreferenced.sorted_items()][:2] == ["A1foo", "A2bar"]


def test_buckets_newer_than_known_and_unknown_entries(root):
    cache = make_cache(root, "0.13.10")
    cache.write("wheels-v99/pypi/foo/x", b"n" * 10)
    cache.write("built-wheels-v3/x", b"o")
    cache.write("junk.txt", b"junk")
    os.makedirs(os.path.join(root, "unknown-dir"))
    outside = os.path.realpath(os.path.join(root, "..", "outside"))
    os.makedirs(outside)
    with open(os.path.join(outside, "big.bin"), "wb") as handle:
        handle.write(b"o" * 100_000)
    os.symlink(outside, os.path.join(root, "flat-index-v7"))
    result = scan(root, version="0.13.10")
    roles = {figures.entry.name: (figures.entry.role, figures.entry.kind) for figures in result.entries}
    assert roles["wheels-v99"] == (NEWER, "dir") and roles["built-wheels-v3"] == (STALE, "dir")
    assert roles["junk.txt"] == (OTHER, "file") and roles["unknown-dir"] == (OTHER, "dir")
    assert roles["flat-index-v7"] == (OTHER, "link")  # never followed, whatever its name
    assert result.warnings == [f"{root}/flat-index-v7 is a symbolic link: left alone, its target is neither counted nor entered"]
    assert figures_of(result.total) == independent(root, set())  # the 100 kB behind the link are not counted
    assert figures_of(result.roles[NEWER]) == independent(os.path.join(root, "wheels-v99"), set())


def test_hard_links_count_once_in_allocated_bytes_and_per_link_in_bytes(root, tmp_path):
    cache = make_cache(root, "0.13.10")
    big = cache.write("archive-v0/A1foo/big.bin", b"b" * 20_000)
    os.link(big, os.path.join(root, "archive-v0", "A2bar", "big.bin"))  # in the same root entry
    os.link(big, os.path.join(root, cache.bucket("simple"), "big.bin"))  # in another one
    outside = str(tmp_path / "venv-file.bin")  # as uv links a file into a virtual environment
    with open(outside, "wb") as handle:
        handle.write(b"v" * 30_000)
    os.link(outside, os.path.join(root, "archive-v0", "A4baz", "linked.bin"))
    result = scan(root, version="0.13.10")
    expected = independent(root, set())
    assert figures_of(result.total) == expected
    assert result.total.allocated == du_bytes(root)
    assert result.total.bytes == expected["bytes"]  # 20 kB three times, 30 kB once: bytes per link, as uv's clean counts
    every = [root] + [os.path.join(folder, name) for folder, dirs, files in os.walk(root) for name in dirs + files]
    assert result.total.allocated < sum(os.lstat(path).st_blocks * 512 for path in every)  # each link's blocks: more
    assert result.hardlinks_exact


class _Info:
    """What _Inodes reads of an lstat."""

    def __init__(self, ino, nlink, mode=stat.S_IFREG):
        self.st_dev, self.st_ino, self.st_nlink, self.st_mode = 1, ino, nlink, mode


def test_only_files_with_several_links_are_remembered_and_forgotten_once_all_are_met(monkeypatch):
    inodes = uv_scan._Inodes()
    assert all(inodes.first(_Info(number, 1)) for number in range(10_000))
    assert inodes.left == {}  # single-link files: nothing kept, however many
    assert inodes.first(_Info(1, 3)) and inodes.left == {(1, 1): 2}
    assert not inodes.first(_Info(1, 3)) and inodes.left == {(1, 1): 1}
    assert not inodes.first(_Info(1, 3)) and inodes.left == {}  # every link met: forgotten
    assert inodes.first(_Info(2, 5, stat.S_IFDIR)) and inodes.left == {}  # folders are never hard links
    monkeypatch.setattr(uv_scan, "LINKED_CAP", 1)
    assert inodes.first(_Info(3, 2)) and inodes.first(_Info(4, 2)) and inodes.first(_Info(4, 2))
    assert not inodes.exact and inodes.left == {(1, 3): 1}


def test_the_cap_on_remembered_hard_links_says_so(root, monkeypatch):
    cache = make_cache(root, "0.13.10")
    for number in range(3):
        first = cache.write(f"archive-v0/A1foo/h{number}", b"h" * 5000)
        os.link(first, os.path.join(root, "archive-v0", "A2bar", f"h{number}"))
    monkeypatch.setattr(uv_scan, "LINKED_CAP", 1)
    result = scan(root, version="0.13.10")
    assert not result.hardlinks_exact and result.total.allocated > independent(root, set())["allocated_bytes"]
    assert any("hard-linked files" in warning for warning in result.warnings)


def test_links_of_every_kind(root, tmp_path):
    cache = make_cache(root, "0.13.10")
    folder = f"{cache.bucket('wheels')}/pypi/qux"
    cache.archive("ABSOLUTE")
    cache.link(f"{folder}/1.0-py3-none-any", "archive-v0/ABSOLUTE", absolute=True)
    cache.archive("RELATIVE")
    cache.link(f"{folder}/2.0-py3-none-any", "archive-v0/RELATIVE", absolute=False)
    os.symlink("../../../archive-v0/MISSING", os.path.join(root, folder, "3.0-py3-none-any"))  # dangling
    # Out of the cache: another cache's archive-v0 of the same names, by absolute and relative paths; never followed.
    other = str(tmp_path / "other")
    os.makedirs(os.path.join(other, "archive-v0", "ORPHAN"))
    with open(os.path.join(other, "archive-v0", "ORPHAN", "big.bin"), "wb") as handle:
        handle.write(b"o" * 50_000)
    os.symlink(os.path.join(other, "archive-v0", "ORPHAN"), os.path.join(root, folder, "4.0-py3-none-any"))
    os.symlink("../../../../other/archive-v0/ORPHAN", os.path.join(root, folder, "5.0-py3-none-any"))
    os.symlink("../../../../cache/archive-v0/B1stale", os.path.join(root, folder, "6.0-py3-none-any"))  # out and back
    cache.archive("WINDOWS")
    cache.write(f"{folder}/7.0-py3-none-any", b"archive-v0/WINDOWS")  # a Windows link file
    cache.archive("FILTERED")
    cache.link(f"{folder}/8.0-py3-none-any.whl", "archive-v0/FILTERED")  # uv 0.6.17+ never reads *.whl
    before = os.stat(os.path.join(other, "archive-v0", "ORPHAN", "big.bin")).st_atime_ns
    result = scan(root, version="0.13.10")
    assert result.errors.count == 0
    unreferenced = {name for name, _stats in result.unreferenced.sorted_items()}
    assert unreferenced == {"ORPHAN", "B1stale", "FILTERED"}
    qux = result.packages.kept("qux")
    assert qux is not None and qux.archives == 3  # ABSOLUTE, RELATIVE, WINDOWS
    assert figures_of(result.total) == independent(root, set())
    assert os.stat(os.path.join(other, "archive-v0", "ORPHAN", "big.bin")).st_atime_ns == before
    links = [os.path.join(root, folder, name) for name in os.listdir(os.path.join(root, folder)) if os.path.islink(os.path.join(root, folder, name))]
    link_bytes = sum(len(os.readlink(link)) for link in links)
    entry = result.entry(cache.bucket("wheels"))
    assert entry is not None and entry.stats.bytes >= link_bytes  # a link is its own length, never its target's


def test_older_uvs_take_links_from_every_current_bucket_unfiltered(root):
    cache = make_cache(root, "0.4.30")
    cache.archive("FROMSIMPLE")
    cache.link(f"{cache.bucket('simple')}/extra", "archive-v0/FROMSIMPLE")
    cache.archive("WHLNAME")
    cache.link(f"{cache.bucket('wheels')}/pypi/bar/bar-9.0-py3-none-any.whl", "archive-v0/WHLNAME")
    older = scan(root, version="0.4.30")
    assert {name for name, _stats in older.unreferenced.sorted_items()} == {"ORPHAN", "B1stale"}
    assert older.errors.count == 0


def test_filtered_reference_rules_from_0_6_17(root):
    cache = make_cache(root, "0.6.17")
    cache.archive("FROMSIMPLE")
    cache.link(f"{cache.bucket('simple')}/extra", "archive-v0/FROMSIMPLE")
    cache.archive("INSRC")
    sdists = cache.bucket("sdists")
    cache.link(f"{sdists}/index/{INDEX}/baz/1.0/{REV}/src/link", "archive-v0/INSRC")
    result = scan(root, version="0.6.17")
    assert {name for name, _stats in result.unreferenced.sorted_items()} == {"ORPHAN", "B1stale", "FROMSIMPLE", "INSRC"}
    older = scan(root, version="0.6.16")  # same names (no bucket changed between them): every link counts
    assert {name for name, _stats in older.unreferenced.sorted_items()} == {"ORPHAN", "B1stale"}


def test_packages_and_their_archives(built):
    result = scan(built.root, version=built.buckets.version)
    assert result.packages_count == 3 and not result.packages.dropped and result.packages_count_exact
    by_name = dict(result.packages.sorted_items())
    assert sorted(by_name) == ["bar", "baz", "foo"]
    wheels, sdists, simple = built.bucket("wheels"), built.bucket("sdists"), built.bucket("simple")
    seen: set = set()
    parts = [
        independent(os.path.join(built.root, wheels, "index", INDEX, "foo"), seen),
        independent(os.path.join(built.root, wheels, "url", "0123456789abcdef", "foo"), seen),
        independent(os.path.join(built.root, simple, "index", INDEX, "foo.rkyv"), seen),
    ]
    assert figures_of(by_name["foo"].stats) == {key: sum(part[key] for part in parts) for key in parts[0]}
    archives = [independent(os.path.join(built.root, "archive-v0", name), set()) for name in ("A1foo", "A3foo")]
    assert figures_of(by_name["foo"].archive_stats) == {key: sum(part[key] for part in archives) for key in archives[0]}
    assert (by_name["foo"].archives, by_name["bar"].archives, by_name["baz"].archives) == (2, 1, 1)
    assert by_name["baz"].families == {"sdists", "simple"} and by_name["foo"].families == {"wheels", "simple"}
    third = independent(os.path.join(built.root, sdists, "index", INDEX, "baz"), set())
    baz_page = independent(os.path.join(built.root, simple, "index", INDEX, "baz.rkyv"), set())
    assert figures_of(by_name["baz"].stats) == {key: third[key] + baz_page[key] for key in third}
    assert by_name["baz"].stats.oldest == pytest.approx(time.time() - 10 * DAY, abs=60)
    item = result.as_dict()["packages"]["items"][0]
    assert item["name"] == "bar" and item["total"]["files"] == item["in_buckets"]["files"] + item["in_archives"]["files"]


def test_the_package_list_is_capped_and_says_so(root):
    make_cache(root, "0.13.10")
    two = scan(root, version="0.13.10", packages_limit=2)
    assert [name for name, _package in two.packages.sorted_items()] == ["bar", "baz"]
    assert two.packages_count == 3 and two.packages.dropped
    assert two.as_dict()["packages"]["truncated"] is True and two.as_dict()["packages"]["count"] == 3
    full = scan(root, version="0.13.10")
    assert figures_of(two.packages.items["baz"].stats) == figures_of(full.packages.items["baz"].stats)
    none = scan(root, version="0.13.10", packages_limit=0)
    assert none.packages.sorted_items() == [] and none.packages_count == 3 and none.packages.dropped


def test_smallest_keeps_the_smallest_keys_whatever_the_order():
    for order in (["d", "a", "c", "b", "a", "e", "d"], ["e", "d", "c", "b", "a", "c", "e"], sorted("abcde")):
        kept = Smallest(2)
        counts: dict[str, int] = {}
        for key in order:
            item = kept.get(key, dict)
            if item is not None:
                item["n"] = item.get("n", 0) + 1
                counts[key] = counts.get(key, 0) + 1
        assert sorted(kept.items) == ["a", "b"] and kept.dropped
        assert {key: item["n"] for key, item in kept.items.items()} == {key: order.count(key) for key in ("a", "b")}


def test_unreferenced_archives_are_what_prune_would_delete(built):
    result = scan(built.root, version=built.buckets.version, unreferenced_limit=1)
    assert result.archives == 6 and result.unreferenced_count == 2 and result.unreferenced_known
    assert [name for name, _stats in result.unreferenced.sorted_items()] == ["B1stale"] and result.unreferenced.dropped
    expected = [independent(os.path.join(built.root, "archive-v0", name), set()) for name in ("B1stale", "ORPHAN")]
    assert figures_of(result.unreferenced_stats) == {key: sum(part[key] for part in expected) for key in expected[0]}
    shown = result.as_dict()["unreferenced_archives"]
    assert (shown["count"], shown["truncated"], shown["items"][0]["name"]) == (2, True, "B1stale")


def test_a_file_in_archive_v0_is_an_archive_entry_too(root):
    cache = make_cache(root, "0.13.10")
    cache.write("archive-v0/stray", b"x" * 10)
    result = scan(root, version="0.13.10")
    assert result.archives == 7 and result.unreferenced.kept("stray") is not None


def test_stale_revisions_and_what_only_they_point_to(root):
    cache = make_cache(root, "0.13.10")
    revision = f"{cache.bucket('sdists')}/index/{INDEX}/baz/1.0"
    cache.write(f"{revision}/{OLD_REV}/baz-0.9-py3-none-any.whl", b"w" * 3000)
    cache.archive("OLDBUILD")
    cache.link(f"{revision}/{OLD_REV}/baz-0.9-py3-none-any", "archive-v0/OLDBUILD")
    cache.write(f"{revision}/not-a-revision.txt", b"kept")  # a file beside them is no revision folder
    result = scan(root, version="0.13.10")
    assert result.stale_revision_count == 1
    assert figures_of(result.stale_revisions) == independent(os.path.join(root, revision, OLD_REV), set())
    assert {name for name, _stats in result.unreferenced.sorted_items()} == {"ORPHAN", "B1stale", "OLDBUILD"}
    # An undecodable pointer: uv prunes nothing there, and the link keeps its archive.
    cache.write(f"{revision}/revision.http", b"\xc1garbage")
    again = scan(root, version="0.13.10")
    assert again.stale_revision_count == 0 and again.stale_revisions.files == 0
    assert {name for name, _stats in again.unreferenced.sorted_items()} == {"ORPHAN", "B1stale"}


def test_a_file_vanishing_after_the_listing_is_skipped(root, monkeypatch):
    cache = make_cache(root, "0.13.10")
    folder = os.path.join(root, "archive-v0", "A1foo")
    victim = os.path.join(folder, "pkg_A1foo.py")
    real_list_dir = core_walk.list_dir

    def list_then_delete(path, fd):
        entries = real_list_dir(path, fd)
        if path == folder and os.path.exists(victim):
            os.unlink(victim)  # listed, then gone before it is looked at
        return entries

    monkeypatch.setattr(core_walk, "list_dir", list_then_delete)
    result = scan(root, version=cache.buckets.version)
    assert not os.path.exists(victim)
    assert result.errors.count == 0
    assert figures_of(result.total) == independent(root, set())


def test_a_file_vanishing_between_its_classification_and_its_count_is_skipped(root, monkeypatch):
    make_cache(root, "0.13.10")
    victim = os.path.join(root, "archive-v0", "A2bar", "pkg_A2bar.py")
    real_classify = core_walk.classify

    def classify_then_delete(entry, fd, path):
        item = real_classify(entry, fd, path)
        if os.path.join(path, entry.name) == victim:
            os.unlink(victim)
        return item

    monkeypatch.setattr(core_walk, "classify", classify_then_delete)
    result = scan(root, version="0.13.10")
    assert not os.path.exists(victim) and result.errors.count == 0
    assert figures_of(result.total) == independent(root, set())


def test_an_unreadable_folder_is_reported_and_the_rest_counted(root, monkeypatch):
    cache = make_cache(root, "0.13.10")
    locked = os.path.join(root, cache.bucket("sdists"), "index", INDEX, "baz", "1.0", REV, "src")
    deny_listing(monkeypatch, locked)
    result = scan(root, version="0.13.10")
    assert result.errors.count == 1 and result.errors.items == [{"path": locked, "error": "Permission denied"}]
    hidden = independent(locked, set())
    whole = independent(root, set())
    # The folder's own blocks still count (du counts a folder it cannot read); what is inside is not seen.
    assert figures_of(result.total) == {
        "files": whole["files"] - hidden["files"],
        "dirs": whole["dirs"] - hidden["dirs"] + 1,
        "bytes": whole["bytes"] - hidden["bytes"],
        "allocated_bytes": whole["allocated_bytes"] - hidden["allocated_bytes"] + os.lstat(locked).st_blocks * 512,
    }


def test_an_unreadable_bucket_still_counts_its_own_folder(root, monkeypatch):
    cache = make_cache(root, "0.13.10")
    locked = os.path.join(root, cache.bucket("simple"))
    deny_listing(monkeypatch, locked)
    result = scan(root, version="0.13.10")
    entry = result.entry(cache.bucket("simple"))
    assert entry is not None and figures_of(entry.stats) == {"files": 0, "dirs": 1, "bytes": 0, "allocated_bytes": os.lstat(locked).st_blocks * 512}
    assert [item["path"] for item in result.errors.items] == [locked]
    assert result.packages_count == 3  # the wheels and sdists still name them


def test_an_unreadable_cache_folder(root, monkeypatch):
    make_cache(root, "0.13.10")
    deny_listing(monkeypatch, root)
    result = scan(root, version="0.13.10")
    assert result.exists and result.entries == [] and result.errors.items == [{"path": root, "error": "Permission denied"}]
    assert result.total.dirs == 1 and result.cache_size == os.lstat(root).st_blocks * 512


def test_missing_cache_and_a_file_in_its_place(tmp_path):
    missing = scan(str(tmp_path / "missing"), version="0.13.10")
    assert not missing.exists and missing.cache_size == 0 and missing.entries == [] and missing.errors.count == 0
    assert missing.as_dict()["total"]["files"] == 0
    path = tmp_path / "file"
    path.write_text("x")
    result = scan(str(path))
    assert not result.exists and result.warnings == [f"{path} is not a folder: nothing scanned"]
    assert result.version == buckets_for(None).version


def test_the_walk_by_path_counts_the_same(root, monkeypatch):
    """Where no descriptors are held (Windows), every entry is looked up by its path: the same figures."""
    cache = make_cache(root, "0.13.10")
    cache.write(f"{cache.bucket('wheels')}/pypi/bar/9.0-py3-none-any", b"archive-v0/ORPHAN")
    by_fd = scan(root, version="0.13.10").as_dict()
    monkeypatch.setattr(core_walk, "_FD_MODE", False)
    by_path = scan(root, version="0.13.10").as_dict()
    assert by_path == by_fd
    assert by_fd["unreferenced_archives"]["count"] == 1  # the link file keeps ORPHAN


def test_the_result_as_data(built):
    data = scan(built.root, version=built.buckets.version).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["uv"]["version"] == str(built.buckets.version) and data["uv"]["exact"] is True
    assert data["cache_size"] == data["total"]["allocated_bytes"] > 0
    assert set(data["roles"]) == set(ROLES)
    assert {entry["name"]: entry["role"] for entry in data["entries"]}["wheels-v1"] == STALE
    assert data["stale_revisions"] == {"files": 0, "dirs": 0, "bytes": 0, "allocated_bytes": 0, "oldest": None, "newest": None, "count": 0}


def test_many_other_root_entries_are_summed_past_the_cap(root, monkeypatch):
    cache = make_cache(root, "0.13.10")
    for number in range(5):
        cache.write(f"junk-{number}", b"j" * number)
    monkeypatch.setattr(uv_scan, "OTHER_ENTRIES_CAP", 2)
    result = scan(root, version="0.13.10")
    assert len(result.names_of(OTHER)) == 2 and result.more_entries_count == 3
    assert result.roles[OTHER].files == 5 and result.roles[OTHER].bytes == 10
    assert len(result.names_of(CURRENT)) == 6 and result.names_of(STALE) == ["wheels-v1"]


def _peak(cache):
    scan(cache, version="0.13.10")  # imports and caches warmed first
    tracemalloc.start()
    try:
        scan(cache, version="0.13.10")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_files(tmp_path):
    peaks = {}
    for count in (1500, 15_000):
        cache = make_cache(str(tmp_path / f"c{count}"), "0.13.10")
        folder = os.path.join(cache.root, "archive-v0", "A1foo")
        for number in range(count):
            os.close(os.open(os.path.join(folder, f"f{number:06d}"), os.O_WRONLY | os.O_CREAT, 0o644))
        peaks[count] = _peak(cache.root)
    assert peaks[15_000] < 2 * max(peaks[1500], 64 * 1024), peaks
