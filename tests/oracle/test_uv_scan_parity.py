# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The uv scan (plugins/module_utils/_uv/scan.py) against real uv, on caches real uv filled:

- allocated bytes == ``uv cache size`` (uv 0.9.8+) == ``du -sB1``; apparent bytes == the lstat sizes of every file
  (``du -sb --apparent-size`` without folders, links never followed); files == the N of ``uv cache clean``'s
  "Removed N files" (with the root ``.lock`` rule of each generation), and for uv <= 0.12 its size == our bytes in
  uv's words;
- the current buckets == the buckets the version created;
- on the long-lived cache (0.4.30 then 0.13.10), the stale buckets == the root entries ``uv cache prune`` removes;
- the unreferenced archives (an orphan and one only a stale sdist revision points to added) == the archive-v0
  entries that version's ``uv cache prune`` removes; the stale revisions == the revision folders it removes.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import engine  # noqa: F401  # pylint: disable=unused-import
import pytest
from piporacle import parse_version, tree_snapshot
from uvoracle import CACHE_SIZE_SINCE, UV_VERSIONS, OracleUv, copy_uv_cache, long_lived_cache, oracle_uvs, uv_isolated_env, uv_template_cache

from ansible_collections.fleet.cache.plugins.module_utils._uv.layout import CURRENT, MARKERS, NEWER, OTHER, STALE, uv_format_bytes
from ansible_collections.fleet.cache.plugins.module_utils._uv.scan import scan

ORPHAN = "ORPHANorphan0001"
STALE_REVISION = "staleRevision001"
STALE_ARCHIVE = "STALEarchive0001"


@pytest.fixture(scope="module")
def uvs() -> list[OracleUv]:
    return oracle_uvs()


@pytest.fixture(params=UV_VERSIONS, ids=lambda version: f"uv-{version}")
def oracle_uv(request: pytest.FixtureRequest, uvs: list[OracleUv]) -> OracleUv:
    return next(uv for uv in uvs if uv.version == request.param)


@pytest.fixture
def uv_env(tmp_path: Path) -> dict[str, str]:
    return uv_isolated_env(tmp_path / "env")


def _du(path: Path, *args: str) -> int:
    done = subprocess.run(["du", "-s", *args, str(path)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0])


def _apparent(root: Path) -> tuple[int, int]:
    """(files, bytes): every entry that is no folder (links included, never followed) and its lstat size."""
    files = size = 0
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            info = os.lstat(os.path.join(folder, name))
            if not stat.S_ISDIR(info.st_mode):
                files += 1
                size += info.st_size
    return files, size


def _clean_files(version: str, files: int, has_lock: bool) -> int:
    """What ``uv cache clean`` says it removed, from every file of the cache (uv_internals.md section 3)."""
    key = parse_version(version)
    if key >= (0, 13):
        return files - has_lock  # the root .lock stays, uncounted
    if key >= (0, 8, 19):
        return files - has_lock + 1  # the walk skips the .lock, then one more file for it, whatever
    return files  # everything, the root folder included


def test_sizes_and_counts_match_uv_and_du(oracle_uv: OracleUv, tmp_path: Path, uv_env: dict[str, str]) -> None:
    cache = copy_uv_cache(uv_template_cache(oracle_uv), tmp_path / "cache")
    result = scan(str(cache), version=oracle_uv.version)
    assert result.errors.count == 0 and result.warnings == [] and result.hardlinks_exact
    du = _du(cache, "-B1")
    assert result.cache_size == result.total.allocated == du
    size = oracle_uv.cache_size(cache, uv_env)
    if parse_version(oracle_uv.version) >= CACHE_SIZE_SINCE:
        assert size == result.total.allocated
    else:
        assert size is None
    files, apparent = _apparent(cache)
    assert (result.total.files, result.total.bytes) == (files, apparent)
    assert result.total.dirs == sum(1 for _folder in os.walk(cache))
    has_lock = (cache / ".lock").is_file()
    removed = oracle_uv.clean(cache, env=uv_env)
    assert removed.files_removed == _clean_files(oracle_uv.version, result.total.files, has_lock)
    if parse_version(oracle_uv.version) < (0, 13):
        assert removed.size == uv_format_bytes(result.total.bytes)  # logical bytes, in uv's words


def test_the_current_buckets_are_those_the_version_created(oracle_uv: OracleUv) -> None:
    template = uv_template_cache(oracle_uv)
    result = scan(str(template), version=f"uv {oracle_uv.version} (x86_64-unknown-linux-gnu)")
    created = {path.name for path in template.iterdir()} - set(MARKERS)
    assert set(result.names_of(CURRENT)) == created
    assert result.names_of(STALE) == result.names_of(NEWER) == result.names_of(OTHER) == []
    assert result.buckets.exact and result.unreferenced_count == 0 and result.stale_revision_count == 0
    assert result.packages_count == 5 and result.archives == sum(1 for _path in (template / "archive-v0").iterdir())
    assert all(package.archives >= 1 for _name, package in result.packages.sorted_items())


@pytest.mark.parametrize("version", [UV_VERSIONS[-1], UV_VERSIONS[0]], ids=lambda version: f"uv-{version}")
def test_on_the_long_lived_cache_prune_removes_the_stale_buckets(version: str, uvs: list[OracleUv], tmp_path: Path, uv_env: dict[str, str]) -> None:
    uv = next(one for one in uvs if one.version == version)
    cache = copy_uv_cache(long_lived_cache(), tmp_path / "cache")
    result = scan(str(cache), version=version)
    assert result.errors.count == 0 and result.total.allocated == _du(cache, "-B1")
    stale = set(result.names_of(STALE))
    assert stale and not result.names_of(OTHER) and not result.names_of(NEWER)
    before = {path.name for path in cache.iterdir()}
    uv.prune(cache, env=uv_env)
    gone = before - {path.name for path in cache.iterdir()}
    if parse_version(version) >= (0, 8, 19):
        assert gone == stale
    else:
        assert gone == stale | {".lock"}  # uv < 0.8.19 knows no lock: its prune removes the newer uv's (a marker here)


def _add_orphan_and_stale_revision(cache: Path, sdists: str) -> None:
    """An archive nothing points to, and a second revision folder of a built sdist (uv's prune removes every revision
    its revision.http does not name) whose wheel link points to an archive only it points to."""
    archives = cache / "archive-v0"
    first = sorted(path for path in archives.iterdir())[0]
    shutil.copytree(first, archives / ORPHAN)
    pointer = sorted((cache / sdists).rglob("revision.http"))[0]
    current = next(path for path in pointer.parent.iterdir() if path.is_dir() and not path.is_symlink())
    stale = pointer.parent / STALE_REVISION
    shutil.copytree(current, stale, symlinks=True)
    link = next(path for path in stale.iterdir() if path.is_symlink())
    shutil.copytree(os.path.realpath(link), archives / STALE_ARCHIVE)
    absolute = os.path.isabs(os.readlink(link))
    link.unlink()
    target = archives / STALE_ARCHIVE
    link.symlink_to(target if absolute else os.path.relpath(target, link.parent))


def test_unreferenced_archives_are_what_prune_removes(oracle_uv: OracleUv, tmp_path: Path, uv_env: dict[str, str]) -> None:
    cache = copy_uv_cache(uv_template_cache(oracle_uv), tmp_path / "cache")
    sdists = next(path.name for path in cache.iterdir() if path.name.startswith("sdists-v"))
    _add_orphan_and_stale_revision(cache, sdists)
    result = scan(str(cache), version=oracle_uv.version)
    assert result.errors.count == 0 and result.unreferenced_known
    unreferenced = {name for name, _stats in result.unreferenced.sorted_items()}
    assert unreferenced == {ORPHAN, STALE_ARCHIVE} and result.unreferenced_count == 2
    assert result.stale_revision_count == 1
    archives_before = {path.name for path in (cache / "archive-v0").iterdir()}
    snapshot = tree_snapshot(cache)
    oracle_uv.prune(cache, env=uv_env)
    assert archives_before - {path.name for path in (cache / "archive-v0").iterdir()} == unreferenced
    gone = set(snapshot) - set(tree_snapshot(cache))
    revisions = {path for path in gone if path.endswith("/" + STALE_REVISION)}
    assert len(revisions) == 1
    revision_files = [path for path in gone if path.startswith(next(iter(revisions)) + "/") and snapshot[path][0] != "d"]
    assert len(revision_files) == result.stale_revisions.files


def test_unreferenced_archives_on_the_long_lived_cache(uvs: list[OracleUv], tmp_path: Path, uv_env: dict[str, str]) -> None:
    """Each uv sees the other's archives as unreferenced: its prune removes the other's buckets, then their archives."""
    for uv in (uvs[0], uvs[-1]):
        cache = copy_uv_cache(long_lived_cache(), tmp_path / f"cache-{uv.version}")
        result = scan(str(cache), version=uv.version)
        unreferenced = {name for name, _stats in result.unreferenced.sorted_items()}
        before = {path.name for path in (cache / "archive-v0").iterdir()}
        assert unreferenced and unreferenced < before
        uv.prune(cache, env=uv_env)
        assert before - {path.name for path in (cache / "archive-v0").iterdir()} == unreferenced, uv.version
