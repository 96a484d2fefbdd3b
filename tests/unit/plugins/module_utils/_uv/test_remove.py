# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""uv's removal (``_uv/remove.py``) on caches built by hand in each uv generation's layout: what clean PKG, purge, prune
and prune --ci remove path by path, uv's line for it, dry run == real run (and a dry run changes nothing), a second run
removes nothing, links out of the cache never followed, a folder swapped for a link mid-run, files vanishing, permission
denied, hard links in uv 0.13's byte count, uv's lock (waits, times out, force; a dry run creates no .lock)."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from typing import Optional

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import fd as core_fd
from ansible_collections.fleet.cache.plugins.module_utils._core import walk as core_walk
from ansible_collections.fleet.cache.plugins.module_utils._core.errors import InvalidValue, UnsafeCacheDir
from ansible_collections.fleet.cache.plugins.module_utils._uv import remove as uv_remove
from ansible_collections.fleet.cache.plugins.module_utils._uv.layout import UvVersion, buckets_for
from ansible_collections.fleet.cache.plugins.module_utils._uv.lock import WAIT_MESSAGE, LockTimedOut
from ansible_collections.fleet.cache.plugins.module_utils._uv.remove import (
    UvRequest,
    metadata_name,
    normalize_package_name,
    remove,
    uv_removed_line,
)
from ansible_collections.fleet.cache.tests.unit.plugins.conftest import deny_listing, fingerprint

pytestmark = pytest.mark.skipif(not core_fd.FD_SUPPORTED, reason="removal by descriptor is POSIX only")

VERSIONS = ("0.4.30", "0.9.21", "0.13.10")
IDX = "fdb3caac6344acb5"
URLD = "0123456789abcdef"
PATHD = "fedcba9876543210"
REPO = "a1b2c3d4e5f60718"
REV, OLDREV, REVF, R1, R2, RSTALE = "REVbazCURRENT001", "REVbazOLD0000001", "REVfoobar2000001", "REVurl000000001a", "REVpath00000002a", "REVpathSTALE001a"
SHA1, SHA2 = "1111111111111111", "2222222222222222"


def mp_str(text: str) -> bytes:
    raw = text.encode()
    return bytes([0xA0 | len(raw)]) + raw


def metadata(name: str, version: str = "1.0") -> bytes:
    """metadata.msgpack as uv writes it: [name, version, requires_dist, requires_python, provides_extras]."""
    return b"\x95" + mp_str(name) + mp_str(version) + b"\x90\xc0\x90"


def revision_http(revision: str) -> bytes:
    return b"\x92" + mp_str(revision) + b"\x90" + b"POLICY" + (6).to_bytes(8, "little")


def revision_rev(revision: str) -> bytes:
    return b"\x92\x90" + b"\x92" + mp_str(revision) + b"\x90"


class Cache:
    """A uv cache in one uv version's layout, built by hand (bucket names from the layout table; links absolute before
    uv 0.11.17, relative after; ``.lock`` from 0.8.19)."""

    def __init__(self, root: str, version: str, outside: str) -> None:
        self.root = root
        self.version = version
        self.buckets = buckets_for(version)
        self.absolute = self.buckets.version < UvVersion(0, 11, 17)
        self.outside = outside
        os.makedirs(root, exist_ok=True)

    def b(self, family: str) -> str:
        name = self.buckets.name(family)
        assert name is not None
        return name

    def write(self, rel: str, data: bytes = b"") -> str:
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        return path

    def link(self, rel: str, target_rel: str) -> None:
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        target = os.path.join(self.root, target_rel)
        os.symlink(target if self.absolute else os.path.relpath(target, os.path.dirname(path)), path)

    def link_out(self, rel: str) -> None:
        """A link to the decoy folder outside the cache."""
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(self.outside, path)

    def archive(self, archive_id: str, size: int = 700) -> str:
        self.write(f"archive-v0/{archive_id}/mod_{archive_id.lower()}.py", b"x" * size)
        self.write(f"archive-v0/{archive_id}/pkg-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\n")
        return f"archive-v0/{archive_id}"

    def wheel(self, folder: str, stem: str, archive_id: str, *, new_archive: bool = True) -> None:
        if new_archive:
            self.archive(archive_id)
        self.link(f"{folder}/{stem}", f"archive-v0/{archive_id}")
        self.write(f"{folder}/{stem}.http", b"h" * 300)
        if self.buckets.version >= UvVersion(0, 13, 0):
            self.write(f"{folder}/{stem}.lock")

    def revision(self, folder: str, name: str, archive_id: Optional[str] = None, *, dist: str = "pkg", src: bool = True) -> None:
        """A built revision folder: metadata, the built wheel, its unzipped link, the unpacked sdist."""
        self.write(f"{folder}/{METADATA}", metadata(name))
        self.write(f"{folder}/{dist}-1.0-py3-none-any.whl", b"w" * 2000)
        if archive_id is not None:
            self.archive(archive_id)
            self.link(f"{folder}/{dist}-1.0-py3-none-any", f"archive-v0/{archive_id}")
        if src:
            self.write(f"{folder}/src/pyproject.toml", b"[project]\n")
        if self.buckets.version >= UvVersion(0, 13, 0):
            self.write(f"{folder}/1.0-py3-none-any.lock")


METADATA = "metadata.msgpack"


def make_cache(root: str, version: str, outside: str) -> Cache:
    """Packages foo-bar (wheels from pypi, an index and a URL; sdists from pypi, a URL and git), other (a wheel sharing
    foo-bar's index archive), baz (an sdist with a stale revision), qux (a path sdist with a stale revision); an orphan
    archive, one only a stale bucket points to, one only a link inside ``src`` points to; stray root entries, a
    bucket of a newer uv, environments, a build environment, links out of the cache."""
    c = Cache(root, version, outside)
    wheels, sdists, simple = c.b("wheels"), c.b("sdists"), c.b("simple")
    c.write("CACHEDIR.TAG", b"Signature: 8a477f597d28d172789f06886806bc55")
    c.write(".gitignore", b"*")
    if c.buckets.version >= UvVersion(0, 8, 19):
        c.write(".lock")
    c.wheel(f"{wheels}/pypi/foo-bar", "1.0-py3-none-any", "A1")
    c.wheel(f"{wheels}/index/{IDX}/foo-bar", "1.1-py3-none-any", "SHARED")
    c.wheel(f"{wheels}/index/{IDX}/other", "1.0-py3-none-any", "SHARED", new_archive=False)
    c.wheel(f"{wheels}/url/{URLD}/foo-bar", "1.2-py3-none-any", "A3")
    c.write(f"{wheels}/stray.txt", b"stray")
    c.write(f"{sdists}/.git")
    c.write(f"{sdists}/.gitignore")
    c.write(f"{sdists}/pypi/foo-bar/2.0/revision.http", revision_http(REVF))
    c.revision(f"{sdists}/pypi/foo-bar/2.0/{REVF}", "foo_bar", "A5", dist="foo_bar")
    c.write(f"{sdists}/url/{URLD}/revision.http", revision_http(R1))
    c.revision(f"{sdists}/url/{URLD}/{R1}", "Foo.Bar", "A6", dist="foo_bar")
    c.write(f"{sdists}/index/{IDX}/baz/1.0/.lock")
    c.write(f"{sdists}/index/{IDX}/baz/1.0/revision.http", revision_http(REV))
    c.revision(f"{sdists}/index/{IDX}/baz/1.0/{REV}", "baz", "B1", dist="baz")
    c.archive("INSRC")
    c.link(f"{sdists}/index/{IDX}/baz/1.0/{REV}/src/link", "archive-v0/INSRC")
    c.revision(f"{sdists}/index/{IDX}/baz/1.0/{OLDREV}", "baz", "B0", dist="baz")
    c.write(f"{sdists}/path/{PATHD}/revision.rev", revision_rev(R2))
    map_metadata = b"\x82" + mp_str("name") + mp_str("qux") + mp_str("version") + mp_str("1.0")
    c.revision(f"{sdists}/path/{PATHD}/{R2}", "qux", "Q2", dist="qux")
    c.write(f"{sdists}/path/{PATHD}/{R2}/{METADATA}", map_metadata)
    c.write(f"{sdists}/path/{PATHD}/{RSTALE}/old.txt", b"old")
    c.revision(f"{sdists}/git/{REPO}/{SHA1}", "foo-bar", "G1", dist="foo_bar", src=False)
    c.revision(f"{sdists}/git/{REPO}/{SHA2}", "qux", None, dist="qux", src=False)
    for name in ("foo-bar", "other", "baz"):
        c.write(f"{simple}/index/{IDX}/{name}.rkyv", b"s" * 100)
    c.write(f"{simple}/pypi/foo-bar.rkyv", b"p" * 120)
    c.write(f"{c.b('flat-index')}/{IDX}.rkyv", b"f" * 80)
    c.write(f"{c.b('interpreter')}/89cce1313019dbd3.msgpack", b"i" * 50)
    c.write(f"{c.b('builds')}/tmpB/pyvenv.cfg", b"home = /usr\n")
    c.write(f"{c.b('environments')}/envA/pyvenv.cfg", b"home = /usr\n")
    c.link_out(f"{c.b('environments')}/envlink")
    c.archive("ORPHAN")
    c.archive("STALEONLY")
    c.link(f"wheels-v1/index/{IDX}/foo-bar/1.0-py3-none-any", "archive-v0/STALEONLY")
    c.write("junk.txt", b"junk")
    c.write("unknown-dir/x", b"u")
    c.link_out("rootlink")
    c.write("wheels-v99/pypi/new/x", b"n" * 10)
    return c


def expected_paths(c: Cache, mode: str, *, ci: bool = False, packages: tuple[str, ...] = ()) -> set[str]:
    """What the uv of ``c.version`` removes (top-level paths: a folder with all it holds), written out by hand."""
    v = c.buckets.version
    wheels, sdists, simple, flat = c.b("wheels"), c.b("sdists"), c.b("simple"), c.b("flat-index")
    filtered = v >= UvVersion(0, 6, 17)
    if mode == "purge":
        return set(os.listdir(c.root)) - {".lock", "wheels-v99"}
    if mode == "clean":
        gone: set[str] = set()
        for name in packages:
            gone.add(flat)
            if name == "foo-bar":
                gone |= {f"{wheels}/pypi/foo-bar", f"{wheels}/index/{IDX}/foo-bar", f"{wheels}/url/{URLD}/foo-bar"}
                gone |= {f"{sdists}/pypi/foo-bar", f"{sdists}/url/{URLD}", f"{sdists}/git/{REPO}/{SHA1}"}
                gone |= {f"{simple}/pypi/foo-bar.rkyv", f"{simple}/index/{IDX}/foo-bar.rkyv"}
                gone |= {"archive-v0/A1", "archive-v0/A3", "archive-v0/A5", "archive-v0/A6", "archive-v0/G1"}
            if name == "baz":
                gone |= {f"{sdists}/index/{IDX}/baz", f"{simple}/index/{IDX}/baz.rkyv", "archive-v0/B1", "archive-v0/B0"}
                if not filtered:
                    gone.add("archive-v0/INSRC")  # uv < 0.6.17 takes links inside src/ for references too
            if name == "qux":
                gone |= {f"{sdists}/path/{PATHD}", f"{sdists}/git/{REPO}/{SHA2}", "archive-v0/Q2"}
            if name == "other" and "foo-bar" in packages:
                gone |= {f"{wheels}/index/{IDX}/other", f"{simple}/index/{IDX}/other.rkyv", "archive-v0/SHARED"}
            elif name == "other":
                gone |= {f"{wheels}/index/{IDX}/other", f"{simple}/index/{IDX}/other.rkyv"}
        return gone
    gone = {f"{sdists}/index/{IDX}/baz/1.0/{OLDREV}", f"{sdists}/path/{PATHD}/{RSTALE}"}
    gone |= {"wheels-v1", "junk.txt", "unknown-dir", "rootlink"}
    gone |= {f"{c.b('environments')}/envA", f"{c.b('environments')}/envlink"}
    if v >= UvVersion(0, 13, 0):
        gone.add(f"{c.b('builds')}/tmpB")
    gone |= {"archive-v0/ORPHAN", "archive-v0/STALEONLY", "archive-v0/B0"}
    if filtered:
        gone.add("archive-v0/INSRC")
    if ci:
        gone |= {f"{wheels}/pypi", f"{wheels}/index", f"{wheels}/url"}
        revisions = [f"{sdists}/pypi/foo-bar/2.0/{REVF}", f"{sdists}/url/{URLD}/{R1}", f"{sdists}/index/{IDX}/baz/1.0/{REV}"]
        revisions += [f"{sdists}/path/{PATHD}/{R2}", f"{sdists}/git/{REPO}/{SHA1}", f"{sdists}/git/{REPO}/{SHA2}"]
        for revision in revisions:
            for name in os.listdir(os.path.join(c.root, revision)):
                path = os.path.join(c.root, revision, name)
                if v >= UvVersion(0, 6, 0):
                    if name != METADATA and not name.endswith(".whl"):
                        gone.add(f"{revision}/{name}")
                elif os.path.islink(path) or os.path.isdir(path):
                    gone.add(f"{revision}/{name}")
        gone |= {f"archive-v0/{name}" for name in os.listdir(os.path.join(c.root, "archive-v0"))}  # no link left
    return gone


def figures_of(root: str, rels: set[str], version: UvVersion) -> dict[str, int]:
    """files, dirs, bytes, allocated and uv's bytes of the paths ``rels`` (each with all it holds), by os.walk/lstat."""
    figures = {"files": 0, "dirs": 0, "bytes": 0, "allocated": 0, "uv_bytes": 0}

    def one(path: str) -> None:
        info = os.lstat(path)
        if stat.S_ISDIR(info.st_mode):
            figures["dirs"] += 1
            figures["allocated"] += info.st_blocks * 512
            return
        figures["files"] += 1
        figures["bytes"] += info.st_size
        figures["allocated"] += info.st_blocks * 512
        figures["uv_bytes"] += info.st_blocks * 512 if version >= UvVersion(0, 13, 0) else info.st_size

    for rel in rels:
        path = os.path.join(root, rel)
        one(path)
        if os.path.isdir(path) and not os.path.islink(path):
            for folder, dirs, files in os.walk(path):
                for name in dirs + files:
                    one(os.path.join(folder, name))
    return figures


def outcome_figures(outcome: uv_remove.UvOutcome) -> dict[str, int]:
    removed = outcome.removed
    return {"files": removed.files, "dirs": removed.dirs, "bytes": removed.bytes, "allocated": removed.allocated, "uv_bytes": removed.uv_bytes}


def tree(root: str) -> set[str]:
    return {os.path.relpath(os.path.join(folder, name), root) for folder, dirs, files in os.walk(root) for name in dirs + files}


def under(root: str, rels: set[str]) -> set[str]:
    """Every path the top-level paths ``rels`` cover."""
    found = set()
    for rel in rels:
        found.add(rel)
        path = os.path.join(root, rel)
        if os.path.isdir(path) and not os.path.islink(path):
            found |= {os.path.relpath(os.path.join(folder, name), root) for folder, dirs, files in os.walk(path) for name in dirs + files}
    return found


def decoy_tree(path: str) -> str:
    """Somebody else's files, shaped like a cache's archive, where links out of the cache point."""
    os.makedirs(os.path.join(path, "pkg-1.0.dist-info"), exist_ok=True)
    with open(os.path.join(path, "precious.py"), "wb") as handle:
        handle.write(b"p" * 5000)
    with open(os.path.join(path, "pkg-1.0.dist-info", "METADATA"), "wb") as handle:
        handle.write(b"Name: precious\n")
    return path


@pytest.fixture
def base(tmp_path):
    return os.path.realpath(str(tmp_path))


@pytest.fixture
def decoy(base):
    return decoy_tree(os.path.join(base, "decoy"))


@pytest.fixture(params=VERSIONS, ids=lambda version: f"uv-{version}")
def built(request, base, decoy):
    return make_cache(os.path.join(base, "cache"), request.param, decoy)


def request_for(mode: str, version: str, **kwargs) -> UvRequest:
    return UvRequest(mode=mode, version=version, lock_timeout=5, **kwargs)


def run_both(c: Cache, mode: str, **kwargs) -> uv_remove.UvOutcome:
    """A dry run (which must change nothing: read back), then the real run; both must say the same."""
    before = fingerprint(c.root)
    dry = remove(c.root, request_for(mode, c.version, dry_run=True, **kwargs), homes=[])
    assert fingerprint(c.root) == before, "a dry run changed the cache"
    real = remove(c.root, request_for(mode, c.version, **kwargs), homes=[])
    assert comparable(dry) == comparable(real)
    return real


def comparable(outcome: uv_remove.UvOutcome) -> dict:
    data = outcome.as_dict()
    data.pop("dry_run")
    data.pop("lock")
    return data


def uv_line_for(c: Cache, mode: str, figures: dict[str, int], *, lock_existed: bool) -> str:
    """uv's line, from the figures of what goes and each generation's rules for the root and .lock (section 3)."""
    v = c.buckets.version
    files, dirs, num_bytes = figures["files"], figures["dirs"], figures["uv_bytes"]
    if mode == "purge" and v < UvVersion(0, 13, 0):
        dirs += 1
        if v >= UvVersion(0, 8, 19) or lock_existed:
            files += 1
    if mode == "prune" and v < UvVersion(0, 8, 19) and lock_existed:
        files += 1
    return uv_removed_line(files, dirs, num_bytes, prune=mode == "prune")


# --------------------------------------------------------------------------------------------------
# What each request removes, per generation


@pytest.mark.parametrize(("mode", "ci"), [("purge", False), ("prune", False), ("prune", True)], ids=["purge", "prune", "prune-ci"])
def test_removes_what_that_uv_removes_and_says_what_uv_says(built, decoy, mode, ci):
    c = built
    lock_existed = os.path.exists(os.path.join(c.root, ".lock"))
    gone = expected_paths(c, mode, ci=ci)
    expected = figures_of(c.root, gone, c.buckets.version)
    before = tree(c.root)
    covered = under(c.root, gone)
    decoy_before = fingerprint(decoy)
    outcome = run_both(c, mode, ci=ci)
    assert outcome.errors.count == 0
    assert tree(c.root) == (before - covered) | {".lock"}
    assert outcome_figures(outcome) == expected
    assert outcome.uv_lines == [uv_line_for(c, mode, expected, lock_existed=lock_existed)]
    assert (outcome.uv_files, outcome.uv_dirs, outcome.uv_bytes) != (0, 0, 0)
    assert fingerprint(decoy) == decoy_before  # links out of the cache went as links; what they point to stays
    assert os.path.isdir(c.root) and os.path.isfile(os.path.join(c.root, ".lock"))
    if not lock_existed:  # uv < 0.8.19's cache: the lock this run took was created as uv creates it
        assert stat.S_IMODE(os.stat(os.path.join(c.root, ".lock")).st_mode) == 0o666
    assert "wheels-v99" in outcome.kept_newer and any("newer than this engine knows" in warning for warning in outcome.warnings)
    again = remove(c.root, request_for(mode, c.version, ci=ci), homes=[])
    assert not again.changed and again.errors.count == 0


def test_purge_leaves_the_root_its_lock_and_a_newer_uvs_bucket(built):
    outcome = run_both(built, "purge")
    assert tree(built.root) == {".lock", "wheels-v99", "wheels-v99/pypi", "wheels-v99/pypi/new", "wheels-v99/pypi/new/x"}
    roles = {entry.name: entry.role for entry in outcome.entries}
    assert roles["wheels-v1"] == "stale" and roles["junk.txt"] == "other" and roles[built.b("wheels")] == "current"
    assert roles["CACHEDIR.TAG"] == "marker" and ".lock" not in roles and "wheels-v99" not in roles
    per_entry = sum(entry.figures.files for entry in outcome.entries)
    assert per_entry == outcome.removed.files


@pytest.mark.parametrize(
    "packages",
    [("foo-bar",), ("baz",), ("qux",), ("other",), ("foo-bar", "other"), ("foo-bar", "baz", "qux")],
    ids="+".join,
)
def test_clean_removes_each_packages_entries_and_the_archives_only_it_used(built, decoy, packages):
    c = built
    gone = expected_paths(c, "clean", packages=packages)
    expected = figures_of(c.root, gone, c.buckets.version)
    lines = []  # uv < 0.5: one line per package, each with what its step removed (its archives included)
    for number, name in enumerate(packages):
        own = expected_paths(c, "clean", packages=packages[: number + 1]) - expected_paths(c, "clean", packages=packages[:number])
        figures = figures_of(c.root, own, c.buckets.version)
        lines.append(uv_removed_line(figures["files"], figures["dirs"], figures["uv_bytes"], package=name))
    before = tree(c.root)
    covered = under(c.root, gone)
    decoy_before = fingerprint(decoy)
    outcome = run_both(c, "clean", packages=list(packages))
    assert outcome.errors.count == 0 and outcome.warnings == []
    assert tree(c.root) == (before - covered) | {".lock"}
    assert outcome_figures(outcome) == expected
    archives = {name for name, _figures in outcome.archives.sorted_items()}
    assert archives == {rel.split("/")[1] for rel in gone if rel.startswith("archive-v0/")} and outcome.archive_count == len(archives)
    assert "archive-v0/SHARED" in gone or os.path.isdir(os.path.join(c.root, "archive-v0", "SHARED"))
    assert [package.name for package in outcome.packages] == list(packages)
    assert fingerprint(decoy) == decoy_before
    if c.buckets.version < UvVersion(0, 5, 0):
        assert outcome.uv_lines == lines
        assert sum(package.figures.files for package in outcome.packages) == expected["files"]
    else:
        assert outcome.uv_lines == [uv_removed_line(expected["files"], expected["dirs"], expected["uv_bytes"])]
    again = remove(c.root, request_for("clean", c.version, packages=list(packages)), homes=[])
    assert not again.changed
    assert again.uv_lines == ([f"No cache entries found for {name}" for name in packages] if c.version == "0.4.30" else ["No cache entries found"])


@pytest.mark.parametrize("version", VERSIONS, ids=lambda version: f"uv-{version}")
def test_names_as_people_write_them(base, decoy, version):
    c = make_cache(os.path.join(base, "cache"), version, decoy)
    gone = expected_paths(c, "clean", packages=("foo-bar",))
    expected = figures_of(c.root, gone, c.buckets.version)
    outcome = run_both(c, "clean", packages=["Foo.Bar", "FOO__bar", "foo_bar", "nonexist"])
    assert [(package.requested, package.name) for package in outcome.packages] == [
        ("Foo.Bar", "foo-bar"),
        ("FOO__bar", "foo-bar"),
        ("foo_bar", "foo-bar"),
        ("nonexist", "nonexist"),
    ]
    assert outcome_figures(outcome) == expected
    assert not any(os.path.lexists(os.path.join(c.root, rel)) for rel in gone)
    first = outcome.packages[0].figures
    assert (first.files, first.dirs) == (outcome.removed.files, outcome.removed.dirs)  # the repeats find nothing left
    if version == "0.4.30":
        assert outcome.uv_lines[1:] == ["No cache entries found for foo-bar", "No cache entries found for foo-bar", "No cache entries found for nonexist"]
        assert outcome.uv_lines[0].startswith(f"Removed {first.files} files for foo-bar (")


def test_the_flat_index_bucket_goes_whole_for_any_package(base, decoy):
    c = make_cache(os.path.join(base, "cache"), "0.13.10", decoy)
    expected = figures_of(c.root, {c.b("flat-index")}, c.buckets.version)
    outcome = run_both(c, "clean", packages=["nonexist"])
    assert not os.path.lexists(os.path.join(c.root, c.b("flat-index")))
    assert outcome.uv_lines == [uv_removed_line(1, 1, expected["uv_bytes"])] and outcome_figures(outcome) == expected
    assert (outcome.removed.files, outcome.removed.dirs) == (1, 1)
    entry = next(entry for entry in outcome.entries if entry.name == c.b("flat-index"))
    assert (entry.role, entry.figures.files, entry.figures.dirs) == ("current", 1, 1)


@pytest.mark.parametrize("name", ["", "-foo", "foo-", "foo bar", "föo", "foo/bar", "../x", ".", 3, None])
def test_invalid_names_are_refused_before_anything_is_touched(base, decoy, name):
    c = make_cache(os.path.join(base, "cache"), "0.13.10", decoy)
    before = fingerprint(c.root)
    with pytest.raises(InvalidValue) as raised:
        remove(c.root, request_for("clean", "0.13.10", packages=["foo-bar", name]), homes=[])
    assert raised.value.option == "name" and "Names must start and end with a letter or digit" in raised.value.msg
    assert fingerprint(c.root) == before


def test_other_bad_requests(base, decoy):
    c = make_cache(os.path.join(base, "cache"), "0.13.10", decoy)
    with pytest.raises(InvalidValue) as raised:
        remove(c.root, request_for("clean", "0.13.10"), homes=[])
    assert raised.value.option == "name"
    with pytest.raises(InvalidValue) as raised:
        remove(c.root, request_for("wipe", "0.13.10"), homes=[])
    assert raised.value.option == "mode"
    with pytest.raises(InvalidValue):
        remove(c.root, request_for("purge", "not a version"), homes=[])


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("Foo.Bar", "foo-bar"), ("foo__bar", "foo-bar"), ("A-_.b", "a-b"), ("zope.tiny", "zope-tiny"), ("X", "x"), ("a1", "a1")],
)
def test_normalize_package_name(raw, normalized):
    assert normalize_package_name(raw) == normalized


def test_metadata_name_reads_only_the_name():
    assert metadata_name(metadata("Foo_Bar")) == "foo-bar"
    assert metadata_name(b"\x82" + mp_str("version") + mp_str("1") + mp_str("name") + mp_str("Qux")) == "qux"
    assert metadata_name(metadata("baz")[:8] + b"\x90") == "baz"  # the rest may be cut off
    assert metadata_name(b"\xdc\x00\x01" + mp_str("long")) == "long"
    for bad in (b"", b"\x90", b"\x95", b"\x95\xc0", b"\x91" + mp_str("bad name"), b"\xa3abc", b"\x81" + mp_str("name")):
        assert metadata_name(bad) is None


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ((0, 0, 0), "No cache entries found"),
        ((0, 1, 0), "Removed 1 directory"),
        ((0, 3, 0), "Removed 3 directories"),
        ((1, 5, 0), "Removed 1 file"),
        ((1, 1, 43), "Removed 1 file (43B)"),
        ((135, 72, 618496), "Removed 135 files (604.0KiB)"),
        ((2, 1, 1023), "Removed 2 files (1023B)"),
    ],
)
def test_uvs_wording(args, line):
    assert uv_removed_line(*args) == line


def test_uvs_wording_for_prune_and_per_package():
    assert uv_removed_line(0, 0, 0, prune=True) == "No unused entries found"
    assert uv_removed_line(13, 4, 8397, package="foo-bar") == "Removed 13 files for foo-bar (8.2KiB)"
    assert uv_removed_line(0, 0, 0, package="nonexist") == "No cache entries found for nonexist"


def test_prune_of_an_old_uv_keeps_the_lock_it_would_delete_and_counts_it(base, decoy):
    c = make_cache(os.path.join(base, "cache"), "0.4.30", decoy)
    c.write(".lock")  # a newer uv used this cache too
    gone = expected_paths(c, "prune")
    expected = figures_of(c.root, gone, c.buckets.version)
    outcome = run_both(c, "prune")
    assert os.path.isfile(os.path.join(c.root, ".lock"))
    assert (outcome.removed.files, outcome.uv_files) == (expected["files"], expected["files"] + 1)
    assert outcome.uv_lines == [uv_line_for(c, "prune", expected, lock_existed=True)]


@pytest.mark.parametrize("version", VERSIONS, ids=lambda version: f"uv-{version}")
def test_purge_of_an_empty_cache_says_what_each_uv_says(base, version):
    root = os.path.join(base, "cache")
    os.makedirs(root)
    outcome = run_both(Cache(root, version, base), "purge")
    # 0.13: nothing; 0.8.19-0.12: .lock and the root; <= 0.8.18: the root (its .lock is this run's own).
    assert outcome.uv_lines == {"0.13.10": ["No cache entries found"], "0.9.21": ["Removed 1 file"], "0.4.30": ["Removed 1 directory"]}[version]
    assert os.listdir(root) == [".lock"]


def test_a_missing_cache(base):
    outcome = remove(os.path.join(base, "nothing"), request_for("purge", "0.13.10"), homes=[])
    assert not outcome.exists and not outcome.changed and outcome.uv_lines == [f"No cache found at: {base}/nothing"]
    assert not os.path.exists(os.path.join(base, "nothing"))


def test_refused_folders(base, decoy):
    c = make_cache(os.path.join(base, "cache"), "0.13.10", decoy)
    before = fingerprint(c.root)
    with pytest.raises(UnsafeCacheDir):
        remove(c.root, request_for("purge", "0.13.10"), homes=[c.root])
    with pytest.raises(UnsafeCacheDir):
        remove("/", request_for("purge", "0.13.10"), homes=[])
    assert fingerprint(c.root) == before


# --------------------------------------------------------------------------------------------------
# Links, swaps, vanishing files, errors


@pytest.mark.parametrize("mode", ["purge", "prune", "clean"])
def test_links_out_of_the_cache_go_as_links(base, decoy, mode):
    c = make_cache(os.path.join(base, "cache"), "0.9.21", decoy)
    wheels = c.b("wheels")
    c.link_out(f"{wheels}/pypi/foo-bar/9.9-py3-none-any")  # a wheel link leading out
    c.link_out("archive-v0/OUTLINK")  # an archive that is a link out
    c.link_out(f"{c.b('sdists')}/index/{IDX}/baz/1.0/{OLDREV}/out")
    os.symlink(os.path.join(decoy, "precious.py"), os.path.join(c.root, "archive-v0", "OUTFILE"))
    before = fingerprint(decoy)
    outcome = run_both(c, mode, packages=["foo-bar", "baz"] if mode == "clean" else [], ci=mode == "prune")
    assert outcome.errors.count == 0
    assert fingerprint(decoy) == before
    gone = ["rootlink", f"{c.b('environments')}/envlink", "archive-v0/OUTLINK", "archive-v0/OUTFILE"] if mode != "clean" else []
    gone += [f"{wheels}/pypi/foo-bar/9.9-py3-none-any", f"{c.b('sdists')}/index/{IDX}/baz/1.0/{OLDREV}/out"]
    assert not any(os.path.lexists(os.path.join(c.root, rel)) for rel in gone)


def test_a_bucket_that_is_a_link_is_never_entered(base, decoy):
    c = make_cache(os.path.join(base, "cache"), "0.13.10", decoy)
    wheels = os.path.join(c.root, c.b("wheels"))
    os.rename(wheels, os.path.join(base, "moved-wheels"))
    os.symlink(os.path.join(base, "moved-wheels"), wheels)
    before = fingerprint(os.path.join(base, "moved-wheels"))
    outcome = run_both(c, "clean", packages=["foo-bar"])
    assert fingerprint(os.path.join(base, "moved-wheels")) == before and os.path.islink(wheels)
    assert f"{wheels} is a symbolic link: left alone, its target is neither counted nor entered" in outcome.warnings
    outcome = run_both(c, "prune")  # at the root a link is a stray entry: removed as a link
    assert not os.path.lexists(wheels) and fingerprint(os.path.join(base, "moved-wheels")) == before
    assert next(entry for entry in outcome.entries if entry.name == c.b("wheels")).role == "other"


@pytest.mark.parametrize("into", ["link", "file"])
def test_a_folder_swapped_mid_run_is_left_alone(base, decoy, monkeypatch, into):
    c = make_cache(os.path.join(base, "cache"), "0.13.10", decoy)
    parent = os.path.join(c.root, c.b("wheels"), "index")
    victim = os.path.join(parent, IDX)
    real_list = core_walk.list_dir
    swapped = []

    def list_then_swap(path, fd):
        entries = real_list(path, fd)
        if path == parent and not swapped:
            os.rename(victim, os.path.join(base, "stash"))
            if into == "link":
                os.symlink(decoy, victim)
            else:
                with open(victim, "w", encoding="utf-8") as handle:
                    handle.write("now a file")
            swapped.append(path)
        return entries

    monkeypatch.setattr(core_walk, "list_dir", list_then_swap)
    before = fingerprint(decoy)
    outcome = remove(c.root, request_for("purge", "0.13.10"), homes=[])
    assert swapped == [parent] and fingerprint(decoy) == before
    assert "foo-bar/1.1-py3-none-any.http" in tree(os.path.join(base, "stash"))  # moved away whole, untouched
    assert {"path": victim, "error": "changed into a link or a file while the cache was walked: left alone"} in outcome.errors.items
    assert tree(c.root) == {".lock", c.b("wheels"), f"{c.b('wheels')}/index", f"{c.b('wheels')}/index/{IDX}"} | {
        "wheels-v99",
        "wheels-v99/pypi",
        "wheels-v99/pypi/new",
        "wheels-v99/pypi/new/x",
    }
    assert outcome.uv_lines[0].startswith("Removed ")


def test_files_vanishing_mid_run_are_not_counted_and_no_error(base, decoy, monkeypatch):
    c = make_cache(os.path.join(base, "cache"), "0.9.21", decoy)
    folder = os.path.join(c.root, c.b("simple"), "index", IDX)
    gone_by_itself = os.path.join(folder, "baz.rkyv")
    real_list = core_walk.list_dir

    def list_then_delete(path, fd):
        entries = real_list(path, fd)
        if path == folder and os.path.exists(gone_by_itself):
            os.unlink(gone_by_itself)  # another process removed it after the listing
        return entries

    expected = figures_of(c.root, expected_paths(c, "purge"), c.buckets.version)
    monkeypatch.setattr(core_walk, "list_dir", list_then_delete)
    outcome = remove(c.root, request_for("purge", "0.9.21"), homes=[])
    assert outcome.errors.count == 0 and tree(c.root) == {".lock", *under(c.root, {"wheels-v99"})}
    assert (outcome.removed.files, outcome.removed.bytes) == (expected["files"] - 1, expected["bytes"] - 100)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda version: f"uv-{version}")
def test_a_folder_that_cannot_be_listed_stays(base, decoy, monkeypatch, version):
    c = make_cache(os.path.join(base, "cache"), version, decoy)
    locked = os.path.join(c.root, "unknown-dir")
    deny_listing(monkeypatch, locked)
    gone = expected_paths(c, "prune") - {"unknown-dir"}
    expected = figures_of(c.root, gone, c.buckets.version)
    before = tree(c.root)
    covered = under(c.root, gone)
    outcome = run_both(c, "prune")
    assert outcome.errors.items == [{"path": locked, "error": "Permission denied"}]
    assert tree(c.root) == (before - covered) | {".lock"} and os.path.isdir(locked)
    assert outcome_figures(outcome) == expected and outcome.stale_revisions == 2


def test_an_unreadable_bucket_keeps_every_archive(base, decoy, monkeypatch):
    c = make_cache(os.path.join(base, "cache"), "0.13.10", decoy)
    locked = os.path.join(c.root, c.b("wheels"), "url")
    deny_listing(monkeypatch, locked)
    before = set(os.listdir(os.path.join(c.root, "archive-v0")))
    outcome = remove(c.root, request_for("prune", "0.13.10"), homes=[])
    assert set(os.listdir(os.path.join(c.root, "archive-v0"))) == before and outcome.archive_count == 0
    assert "some folders holding archive links could not be read: no archive was removed" in outcome.warnings


def test_a_file_that_cannot_be_unlinked_stays(base, decoy, monkeypatch):
    c = make_cache(os.path.join(base, "cache"), "0.13.10", decoy)
    real_unlink = os.unlink

    def refuse(path, *args, **kwargs):
        if os.path.basename(str(path)) == "foo-bar.rkyv":
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", refuse)
    outcome = remove(c.root, request_for("clean", "0.13.10", packages=["foo-bar"]), homes=[])
    monkeypatch.undo()
    kept = [os.path.join(c.root, c.b("simple"), "pypi", "foo-bar.rkyv"), os.path.join(c.root, c.b("simple"), "index", IDX, "foo-bar.rkyv")]
    assert all(os.path.isfile(path) for path in kept)
    assert sorted(item["path"] for item in outcome.errors.items) == sorted(kept)
    assert not os.path.exists(os.path.join(c.root, c.b("wheels"), "pypi", "foo-bar"))


@pytest.mark.parametrize("version", ["0.9.21", "0.13.10"], ids=lambda version: f"uv-{version}")
def test_hard_links_in_uvs_byte_count(base, version):
    """uv 0.13 counts a file's blocks when its last link goes (nothing while another link is left, in the cache or
    out of it); uv <= 0.12 counts each link's apparent size. A dry run counts what the real run does."""
    c = Cache(os.path.join(base, "cache"), version, base)
    big = c.write("archive-v0/X/big.bin", b"b" * 50_000)
    os.makedirs(os.path.join(c.root, "archive-v0", "Y"))
    os.link(big, os.path.join(c.root, "archive-v0", "Y", "big.bin"))  # both links go
    outside = os.path.join(base, "venv-file.bin")
    with open(outside, "wb") as handle:
        handle.write(b"v" * 30_000)
    os.makedirs(os.path.join(c.root, "archive-v0", "Z"))
    os.link(outside, os.path.join(c.root, "archive-v0", "Z", "linked.bin"))  # one link stays outside
    big_blocks, outside_blocks = os.lstat(big).st_blocks * 512, os.lstat(outside).st_blocks * 512
    dir_blocks = sum(os.lstat(os.path.join(c.root, "archive-v0", name)).st_blocks * 512 for name in ("", "X", "Y", "Z"))
    outcome = run_both(c, "purge")
    assert (outcome.removed.files, outcome.removed.bytes) == (3, 130_000)
    assert outcome.removed.allocated == big_blocks + outside_blocks + dir_blocks  # as du counts what went
    assert outcome.removed.uv_bytes == (big_blocks if version == "0.13.10" else 130_000)
    assert os.path.isfile(outside) and os.lstat(outside).st_nlink == 1


# --------------------------------------------------------------------------------------------------
# The lock

HOLD = "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_SH); print('held', flush=True); sys.stdin.read()"


class Holder:
    """A process holding uv's lock shared, as a running uv does."""

    def __init__(self, path: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


@pytest.mark.parametrize("dry_run", [False, True], ids=["real", "dry-run"])
def test_a_busy_cache_is_waited_for_then_times_out(base, decoy, dry_run):
    c = make_cache(os.path.join(base, "cache"), "0.13.10", decoy)
    before = fingerprint(c.root)
    holder = Holder(os.path.join(c.root, ".lock"))
    heard = []
    try:
        started = time.monotonic()
        with pytest.raises(LockTimedOut):
            remove(c.root, UvRequest(mode="purge", version="0.13.10", lock_timeout=1, on_wait=heard.append, dry_run=dry_run), homes=[])
        assert time.monotonic() - started >= 0.9
    finally:
        holder.release()
    assert heard == [WAIT_MESSAGE] and fingerprint(c.root) == before


def test_a_busy_cache_goes_on_once_released(base, decoy):
    c = make_cache(os.path.join(base, "cache"), "0.13.10", decoy)
    holder = Holder(os.path.join(c.root, ".lock"))
    heard = []
    timer = threading.Timer(0.5, holder.release)
    timer.start()
    try:
        outcome = remove(c.root, UvRequest(mode="purge", version="0.13.10", lock_timeout=20, on_wait=heard.append), homes=[])
    finally:
        timer.join()
    assert heard == [WAIT_MESSAGE] and outcome.lock["waited"] and outcome.lock["held"] and outcome.changed


def test_force_goes_on_without_the_lock(base, decoy):
    c = make_cache(os.path.join(base, "cache"), "0.13.10", decoy)
    holder = Holder(os.path.join(c.root, ".lock"))
    try:
        outcome = remove(c.root, UvRequest(mode="prune", version="0.13.10", lock_timeout=0, force=True), homes=[])
    finally:
        holder.release()
    assert outcome.lock["forced"] and not outcome.lock["held"] and outcome.changed
    assert any("force: true went on without the lock" in warning for warning in outcome.warnings)


def test_a_dry_run_creates_no_lock_and_a_real_run_creates_uvs(base, decoy):
    c = make_cache(os.path.join(base, "cache"), "0.4.30", decoy)
    lock = os.path.join(c.root, ".lock")
    assert not os.path.exists(lock)
    dry = remove(c.root, request_for("prune", "0.4.30", dry_run=True), homes=[])
    assert not os.path.exists(lock) and not dry.lock["held"] and not dry.lock["forced"] and "does not exist" in dry.lock["reason"]
    real = remove(c.root, request_for("prune", "0.4.30"), homes=[])
    assert real.lock["created"] and real.lock["held"] and stat.S_IMODE(os.stat(lock).st_mode) == 0o666
    assert comparable(dry) == comparable(real)


def test_the_lock_is_held_while_removing(base, decoy, monkeypatch):
    c = make_cache(os.path.join(base, "cache"), "0.13.10", decoy)
    seen = []
    real_walk = core_walk.walk
    fcntl = pytest.importorskip("fcntl")

    def walk_and_probe(*args, **kwargs):
        fd = os.open(os.path.join(c.root, ".lock"), os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            seen.append("free")
        except BlockingIOError:
            seen.append("held")
        finally:
            os.close(fd)
        return real_walk(*args, **kwargs)

    monkeypatch.setattr(core_walk, "walk", walk_and_probe)
    remove(c.root, request_for("purge", "0.13.10"), homes=[])
    assert seen and set(seen) == {"held"}


def test_as_dict_is_plain_data(base, decoy):
    c = make_cache(os.path.join(base, "cache"), "0.9.21", decoy)
    data = remove(c.root, request_for("clean", "0.9.21", packages=["foo-bar"], list_limit=2), homes=[]).as_dict()
    assert data["mode"] == "clean" and data["uv_version"] == "0.9.21" and data["changed"]
    assert data["archives"]["count"] == 5 and data["archives"]["truncated"] and [item["name"] for item in data["archives"]["items"]] == ["A1", "A3"]
    assert {entry["name"] for entry in data["entries"]} == {c.b("wheels"), c.b("sdists"), c.b("simple"), c.b("flat-index"), "archive-v0"}
    assert data["uv"]["summary"] == data["uv"]["lines"][0] and data["packages"][0]["archives"] == 5


def test_a_forced_full_clean_of_uv_0_9_counts_the_lock_but_not_the_root(base, decoy):
    """uv 0.8.19-0.12 with --force on a busy cache: .lock stays (another uv holds it), so the root stays; the file
    is counted all the same."""
    c = make_cache(os.path.join(base, "cache"), "0.9.21", decoy)
    holder = Holder(os.path.join(c.root, ".lock"))
    try:
        outcome = remove(c.root, UvRequest(mode="purge", version="0.9.21", lock_timeout=0, force=True), homes=[])
    finally:
        holder.release()
    assert outcome.lock["forced"]
    assert (outcome.uv_files, outcome.uv_dirs) == (outcome.removed.files + 1, outcome.removed.dirs)
    kept = remove(c.root, UvRequest(mode="purge", version="0.9.21", lock_timeout=0), homes=[])
    assert (kept.uv_files, kept.uv_dirs) == (1, 0)  # a newer uv's bucket stays: the root could not go either
    shutil.rmtree(os.path.join(c.root, "wheels-v99"))
    free = remove(c.root, UvRequest(mode="purge", version="0.9.21", lock_timeout=0), homes=[])
    assert (free.uv_files, free.uv_dirs, free.uv_lines) == (1, 1, ["Removed 1 file"])


def test_uv_0_4_searches_the_buckets_it_empties_an_unreadable_one_keeps_every_archive(base, decoy, monkeypatch):
    """uv < 0.6.17 looks for archive links in every current bucket, environments included: a folder there that cannot
    be read may hold one, so no archive goes; the folder is reported once."""
    c = make_cache(os.path.join(base, "cache"), "0.4.30", decoy)
    locked = os.path.join(c.root, c.b("environments"), "envA")
    deny_listing(monkeypatch, locked)
    before = set(os.listdir(os.path.join(c.root, "archive-v0")))
    outcome = run_both(c, "prune")
    assert outcome.errors.count == 1 and outcome.errors.items == [{"path": locked, "error": "Permission denied"}]
    assert set(os.listdir(os.path.join(c.root, "archive-v0"))) == before and outcome.archive_count == 0
    assert "some folders holding archive links could not be read: no archive was removed" in outcome.warnings
    assert not os.path.lexists(os.path.join(c.root, "junk.txt"))  # the rest of the prune went on
