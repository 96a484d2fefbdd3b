# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Removal by descriptor: a cache folder or sub-folder swapped for a link, a home or mount root by identity, another
file system inside the cache, linked buckets and (simulated) Windows reparse points are never entered."""

from __future__ import annotations

import os

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import cache_root as core_cache_root
from ansible_collections.fleet.cache.plugins.module_utils._core import walk as core_walk
from ansible_collections.fleet.cache.plugins.module_utils._core.errors import UnsafeCacheDir
from ansible_collections.fleet.cache.plugins.module_utils._pip import remove as pip_remove
from ansible_collections.fleet.cache.plugins.module_utils._pip.matching import NameMatcher
from ansible_collections.fleet.cache.plugins.module_utils._pip.remove import Request, check_cache_dir, remove
from ansible_collections.fleet.cache.plugins.module_utils._pip.scan import scan

pytestmark = pytest.mark.skipif(not core_walk._FD_MODE, reason="removal by descriptor is POSIX only")

# A cache in pip's layout; every file of it is removed by a purge.
TREE = {
    "http-v2/0/1/2/3/4/k1": (100, 10),
    "http-v2/0/1/2/3/4/k1.body": (1000, 10),
    "http/a/b/c/d/e/k2": (300, 10),
    "wheels/aa/bb/cc/dd/one-1.0-py3-none-any.whl": (4000, 10),
    "wheels/aa/bb/cc/dd/origin.json": (20, 10),
    "wheels/aa/bb/ee/ff/two-1.0-py3-none-any.whl": (5000, 10),
    "wheels/aa/bb/ee/ff/origin.json": (20, 10),
}


def purge(now, **kwargs):
    return Request(mode="purged", matcher=NameMatcher(glob="*"), now=now, **kwargs)


@pytest.fixture
def base(tmp_path):
    return os.path.realpath(str(tmp_path))


@pytest.fixture
def decoy(base, build_tree):
    """Somebody else's files, shaped like a cache so that a removal entering them would delete them."""
    return build_tree(os.path.join(base, "decoy"), TREE)


def files_under(root):
    return sorted(os.path.relpath(os.path.join(folder, name), root) for folder, _dirs, names in os.walk(root) for name in names)


# --- the cache folder itself ------------------------------------------------------------------------


@pytest.mark.parametrize("swapped", ["pip", ".cache"], ids=["last-component", "middle-component"])
@pytest.mark.parametrize("homes", [[], None], ids=["refusing", "allow-unsafe"])
def test_cache_dir_swapped_for_a_link_after_resolution(base, build_tree, decoy, tree_fingerprint, monkeypatch, swapped, homes):
    home = os.path.join(base, "home")
    cache = build_tree(os.path.join(home, ".cache", "pip"), TREE)
    build_tree(os.path.join(base, "decoy-parent", "pip"), TREE)  # what a swapped .cache leads to
    check_cache_dir(cache, homes=[home])  # the check on the path passes: it is a real folder then
    real_open = core_cache_root.open_dir_nofollow
    moved = []

    def swap_then_open(path):
        victim = cache if swapped == "pip" else os.path.dirname(cache)
        target = decoy if swapped == "pip" else os.path.join(base, "decoy-parent")
        os.rename(victim, os.path.join(base, "moved"))
        os.symlink(target, victim)
        moved.append(victim)
        return real_open(path)

    monkeypatch.setattr(core_cache_root, "open_dir_nofollow", swap_then_open)
    before = (tree_fingerprint(decoy), tree_fingerprint(os.path.join(base, "decoy-parent")))
    with pytest.raises(UnsafeCacheDir) as caught:
        remove(cache, purge(build_tree.now), dry_run=False, refuse_homes=homes)
    assert moved
    assert caught.value.path == cache
    assert "a link or a file now" in caught.value.msg
    assert (tree_fingerprint(decoy), tree_fingerprint(os.path.join(base, "decoy-parent"))) == before
    assert files_under(os.path.join(base, "moved")) == files_under(decoy if swapped == "pip" else os.path.join(base, "decoy-parent"))


def test_cache_dir_that_is_a_home_is_refused(base, build_tree, tree_fingerprint):
    home = build_tree(os.path.join(base, "home"), TREE)
    before = tree_fingerprint(home)
    with pytest.raises(UnsafeCacheDir) as caught:
        remove(home, purge(build_tree.now), dry_run=False, refuse_homes=[os.path.join(base, "elsewhere"), home])
    assert "a home folder" in caught.value.msg
    assert caught.value.path == home
    assert tree_fingerprint(home) == before
    # The same folder, not in the list: emptied (the refusal above came from the list).
    outcome = remove(home, purge(build_tree.now), dry_run=False, refuse_homes=[os.path.join(base, "elsewhere")])
    assert outcome.files + outcome.extra_files == len(TREE)
    assert files_under(home) == []


def test_home_is_compared_by_identity_not_by_name(base, build_tree, tree_fingerprint):
    """A home listed under another name (here: through a link, as a passwd entry under a linked /home would be)."""
    cache = build_tree(os.path.join(base, "real-home"), TREE)
    alias = os.path.join(base, "alias-home")
    os.symlink(cache, alias)
    before = tree_fingerprint(cache)
    with pytest.raises(UnsafeCacheDir) as caught:
        remove(cache, purge(build_tree.now), dry_run=False, refuse_homes=[alias])
    assert "a home folder" in caught.value.msg
    assert alias in caught.value.msg  # "the folder opened there is ..."
    assert tree_fingerprint(cache) == before


def test_system_folder_is_refused_by_identity(build_tree):
    if not os.path.isdir("/usr") or os.path.islink("/usr"):
        pytest.skip("needs a real /usr")
    with pytest.raises(UnsafeCacheDir) as caught:
        remove("/usr", purge(build_tree.now), dry_run=True, refuse_homes=[])
    assert "a system folder" in caught.value.msg


class StatProxy:
    """A stat result with some fields changed."""

    def __init__(self, real, **changes):
        self._real = real
        self._changes = changes

    def __getattr__(self, name):
        if name in self._changes:
            return self._changes[name]
        return getattr(self._real, name)


def test_mount_root_is_refused_by_identity(base, build_tree, tree_fingerprint, monkeypatch):
    cache = build_tree(os.path.join(base, "cache"), TREE)
    real_stat = os.stat

    def stat(path, *args, dir_fd=None, **kwargs):
        found = real_stat(path, *args, dir_fd=dir_fd, **kwargs)
        if path == ".." and dir_fd is not None:
            return StatProxy(found, st_dev=found.st_dev + 1)  # the parent is on another device: a mount root
        return found

    monkeypatch.setattr(os, "stat", stat)
    before = tree_fingerprint(cache)
    with pytest.raises(UnsafeCacheDir) as caught:
        remove(cache, purge(build_tree.now), dry_run=False, refuse_homes=[])
    assert "the root of a mounted file system" in caught.value.msg
    assert tree_fingerprint(cache) == before
    # allow_unsafe_cache_dir (refuse_homes=None) skips the refusals
    unchecked = remove(cache, purge(build_tree.now), dry_run=True, refuse_homes=None)
    assert unchecked.files + unchecked.extra_files == len(TREE)


# --- inside the cache, during the walk --------------------------------------------------------------


@pytest.mark.parametrize("into", ["link", "file"])
def test_sub_folder_swapped_during_the_walk(base, build_tree, decoy, tree_fingerprint, monkeypatch, into):
    cache = build_tree(os.path.join(base, "cache"), TREE)
    parent = os.path.join(cache, "wheels", "aa", "bb")
    victim = os.path.join(parent, "cc")
    real_list = core_walk.list_dir
    swapped = []

    def list_then_swap(path, fd):
        entries = real_list(path, fd)
        if path == parent and not swapped:
            os.rename(victim, os.path.join(base, "stash"))
            if into == "link":
                os.symlink(os.path.join(decoy, "wheels", "aa", "bb", "cc"), victim)
            else:
                with open(victim, "w", encoding="utf-8") as handle:
                    handle.write("now a file")
            swapped.append(path)
        return entries

    monkeypatch.setattr(core_walk, "list_dir", list_then_swap)
    before = tree_fingerprint(decoy)
    outcome = remove(cache, purge(build_tree.now), dry_run=False, refuse_homes=[])
    assert swapped == [parent]
    assert tree_fingerprint(decoy) == before
    assert files_under(os.path.join(base, "stash")) == ["dd/one-1.0-py3-none-any.whl", "dd/origin.json"]  # moved away whole
    if into == "link":
        assert os.path.islink(victim)
    else:
        assert os.path.isfile(victim)
    assert [item for item in outcome.errors.items if item["path"] == victim] == [
        {"path": victim, "error": "changed into a link or a file while the cache was walked: left alone"}
    ]
    # The rest went: two files of the other wheel folder, both HTTP files and the old-style one.
    assert files_under(cache) == (["wheels/aa/bb/cc"] if into == "file" else [])
    assert outcome.files + outcome.extra_files == 5
    assert os.path.join(decoy, "wheels", "aa", "bb", "cc", "dd", "one-1.0-py3-none-any.whl") not in [
        str(path) for path in (item["path"] for item in outcome.gone.items())
    ]


def test_sub_folder_on_another_file_system_is_not_entered(base, build_tree, tree_fingerprint, monkeypatch):
    cache = build_tree(os.path.join(base, "cache"), TREE)
    mounted = os.path.join(cache, "wheels", "aa", "bb", "ee")
    mounted_id = (os.lstat(mounted).st_dev, os.lstat(mounted).st_ino)
    real_fstat = os.fstat
    seen = []

    def fstat(fd):
        found = real_fstat(fd)
        if (found.st_dev, found.st_ino) == mounted_id:
            seen.append(fd)
            return StatProxy(found, st_dev=found.st_dev + 1)
        return found

    monkeypatch.setattr(os, "fstat", fstat)
    before = tree_fingerprint(mounted)
    dry = remove(cache, purge(build_tree.now), dry_run=True, refuse_homes=[])
    real = remove(cache, purge(build_tree.now), dry_run=False, refuse_homes=[])
    assert seen
    assert real.as_dict() == dry.as_dict()
    assert tree_fingerprint(mounted) == before
    assert [item for item in real.errors.items if item["path"] == mounted] == [
        {"path": mounted, "error": "another file system is mounted here: left alone, never entered"}
    ]
    assert files_under(cache) == ["wheels/aa/bb/ee/ff/origin.json", "wheels/aa/bb/ee/ff/two-1.0-py3-none-any.whl"]
    assert real.files + real.extra_files == len(TREE) - 2


# --- buckets that are links -------------------------------------------------------------------------


@pytest.mark.parametrize("bucket", ["http-v2", "http", "wheels", "selfcheck"])
def test_bucket_that_is_a_link(base, build_tree, decoy, tree_fingerprint, bucket):
    tree = {rel: value for rel, value in TREE.items() if not rel.startswith(bucket + "/")}
    cache = build_tree(os.path.join(base, "cache"), tree)
    target = os.path.join(decoy, bucket)
    if bucket == "selfcheck":
        build_tree(target, {"5a5a": (100, 10)})
    os.symlink(target, os.path.join(cache, bucket))
    before_decoy = tree_fingerprint(decoy)
    expected_warning = f"{os.path.join(cache, bucket)} is a symbolic link: left alone, its target is neither counted nor entered"
    request = purge(build_tree.now, purge_extras=frozenset({"selfcheck"}))

    for helpers in (0, None):
        before = scan(cache, helpers=helpers)
        assert before.warnings == [expected_warning]
        assert before.buckets[bucket].as_dict()["files"] == 0
        assert before.total.files == len(tree)
    walked = scan(cache, on_http_file=lambda listing, item: None)  # the other path of the scan: walk() per bucket
    assert walked.warnings == [expected_warning]
    assert walked.total.files == len(tree)

    before = scan(cache).total
    dry = remove(cache, request, dry_run=True, refuse_homes=[])
    real = remove(cache, request, dry_run=False, refuse_homes=[])
    after = scan(cache).total
    assert real.as_dict() == dry.as_dict()
    assert real.warnings == dry.warnings == [expected_warning]
    gone = (real.files + real.extra_files, real.bytes + real.extra_bytes)
    assert gone == (before.files - after.files, before.bytes - after.bytes) == (len(tree), sum(size for size, _age in tree.values()))
    assert os.path.islink(os.path.join(cache, bucket))
    assert tree_fingerprint(decoy) == before_decoy


# --- Windows reparse points (simulated) -------------------------------------------------------------


class FakeEntry:
    def __init__(self, attributes):
        self.attributes = attributes

    def stat(self, follow_symlinks=True):
        return StatProxy(os.stat("/"), st_file_attributes=self.attributes)


def test_is_reparse_point(monkeypatch):
    assert core_walk.is_reparse_point(FakeEntry(0x400)) is (os.name == "nt")
    monkeypatch.setattr(core_walk, "WINDOWS", True)
    assert core_walk.is_reparse_point(FakeEntry(0x400 | 0x10)) is True
    assert core_walk.is_reparse_point(FakeEntry(0x10)) is False


@pytest.fixture
def junction(base, build_tree, monkeypatch):
    """A cache whose wheels/aa/bb/cc passes for a Windows junction (a reparse point is_dir() takes for a folder)."""
    cache = build_tree(os.path.join(base, "cache"), TREE)
    monkeypatch.setattr(core_walk, "WINDOWS", True)
    monkeypatch.setattr(core_walk, "is_reparse_point", lambda entry: entry.name == "cc")
    return cache, os.path.join(cache, "wheels", "aa", "bb", "cc")


def test_reparse_point_is_treated_as_a_link(junction, build_tree, tree_fingerprint, monkeypatch):
    cache, point = junction
    before = tree_fingerprint(cache)
    unlinked = []
    real_unlink = core_walk.Listing.unlink

    def recording_unlink(listing, item):
        unlinked.append(listing.file_path(item.name))
        return real_unlink(listing, item)

    monkeypatch.setattr(core_walk.Listing, "unlink", recording_unlink)
    outcome = remove(cache, purge(build_tree.now), dry_run=True, refuse_homes=[])
    assert tree_fingerprint(cache) == before
    assert point in unlinked  # removed as a link: itself
    assert not [path for path in unlinked if path.startswith(point + os.sep)]  # never entered
    assert not [item for item in outcome.gone.items() if item["path"].startswith(point + os.sep)]
    assert outcome.files + outcome.extra_files == len(TREE) - 2  # a link to a folder is no file
    assert outcome.errors.count == 0
    # The control: the same folder, not a reparse point, is entered and emptied.
    monkeypatch.setattr(core_walk, "is_reparse_point", lambda entry: False)
    plain = remove(cache, purge(build_tree.now), dry_run=True, refuse_homes=[])
    assert plain.files + plain.extra_files == len(TREE)
    assert os.path.join(point, "dd", "one-1.0-py3-none-any.whl") in [str(path) for path in (item["path"] for item in plain.gone.items())]


def test_scan_treats_a_reparse_point_as_the_walk_does(junction):
    cache, _point = junction
    counted = scan(cache, helpers=0)
    walked = scan(cache, on_http_file=lambda listing, item: None)
    assert walked.buckets["wheels"].files == 2  # walk(): the junction's contents are not counted
    assert counted.buckets["wheels"].as_dict() == walked.buckets["wheels"].as_dict()


def test_bucket_that_is_a_reparse_point_is_not_entered(base, build_tree, monkeypatch):
    """Windows as far as this host can play it: no descriptors, and a bucket whose lstat says 'reparse point'."""
    cache = build_tree(os.path.join(base, "cache"), TREE)
    bucket = os.path.join(cache, "http")
    monkeypatch.setattr(core_walk, "_FD_MODE", False)
    monkeypatch.setattr(pip_remove, "_FD_MODE", False)
    monkeypatch.setattr(core_cache_root, "_FD_MODE", False)
    monkeypatch.setattr(core_walk, "WINDOWS", True)
    monkeypatch.setattr(core_walk, "is_reparse_point", lambda entry: entry.path == bucket)
    real_lstat = os.lstat

    def lstat(path, *args, **kwargs):
        found = real_lstat(path, *args, **kwargs)
        if os.fspath(path) == bucket:
            return StatProxy(found, st_file_attributes=0x400 | 0x10, st_reparse_tag=0xA0000003)  # a junction
        return found

    monkeypatch.setattr(os, "lstat", lstat)
    outcome = remove(cache, purge(build_tree.now), dry_run=True, refuse_homes=[])
    assert outcome.files + outcome.extra_files == len(TREE) - 1  # http/a/b/c/d/e/k2 is behind the junction
    assert not [path for path in (item["path"] for item in outcome.gone.items()) if str(path).startswith(bucket + os.sep)]
