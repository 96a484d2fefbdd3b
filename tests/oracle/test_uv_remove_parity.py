# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""uv's removal (plugins/module_utils/_uv/remove.py) against real uv, for every oracle uv, on the cache that uv filled
and on the long-lived cache (0.4.30 then 0.13.10 side by side).

Two copies of one cache (``copy_uv_cache``: absolute links re-pointed): real ``uv cache clean PKG...`` / ``uv cache
clean`` / ``uv cache prune [--ci]`` on copy A, our ``remove()`` for the same version on copy B. The two trees must be
equal path by path (kind, size, link target) but for the differences kept on purpose (``kept_differences``), and the
figures we report must be uv's: our file count == uv's "Removed N files", our line == uv's line(s), word for word
(apparent bytes up to 0.12, disk blocks in 0.13; one line per package in 0.4.30).

The differences kept on purpose (remove.py's docstring says why), and only these:

- ``uv cache clean`` of uv 0.8.19-0.12 (0.9.21) removes the cache folder and its ``.lock``; of uv <= 0.8.18 (0.4.30)
  the cache folder: we keep the folder and ``.lock`` (0.13.10 does so too), so our tree is ``{".lock"}`` where uv's is
  gone. The figures count them as that uv does.
- We always take uv's lock, creating ``.lock`` in a cache of uv < 0.8.19 that has none (as any newer uv would).
- uv <= 0.8.18's ``prune`` deletes the root ``.lock`` of a newer uv (the long-lived cache); we keep it (counted).
- uv 0.9.21's ``prune --ci`` fails ("Failed to prune cache at") on a cache without its own sdists bucket (it walks
  the missing folder; 0.12 checks first): on the long-lived cache both copies get the empty bucket uv would have made.

Then, after our prune on a cache real uv filled from the session's index, ``uv pip install --offline`` from that cache
installs every package the cache still holds (after ``--ci``: the ones built from sdists, whose wheels stay).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import engine  # noqa: F401  # pylint: disable=unused-import
import pytest
from piporacle import PackageIndex, parse_version
from uvoracle import (
    UV_VERSIONS,
    OracleUv,
    copy_uv_cache,
    fill_uv_cache,
    long_lived_cache,
    oracle_uvs,
    parse_removal,
    uv_index_args,
    uv_isolated_env,
    uv_python,
    uv_template_cache,
)

from ansible_collections.fleet.cache.plugins.module_utils._uv.layout import buckets_for
from ansible_collections.fleet.cache.plugins.module_utils._uv.remove import UvOutcome, UvRequest, remove

ORPHAN = "ORPHANorphan0001"
STALE_REVISION = "staleRevision001"
STALE_ARCHIVE = "STALEarchive0001"
SHARED_LINK = "9.9-py3-none-any"  # a link of the package "simple" to one of typing-tiny's archives
# Names as people write them, an unknown one; the two typing-tiny cases share an archive with "simple".
CLEANS = {
    "spellings": ["Zope.Tiny", "tiny_requests", "TinyYAML", "nonexist"],
    "shared-kept": ["typing_tiny"],
    "shared-gone": ["TYPING-TINY", "Simple"],
}


@pytest.fixture(scope="module")
def uvs() -> list[OracleUv]:
    return oracle_uvs()


@pytest.fixture(params=UV_VERSIONS, ids=lambda version: f"uv-{version}")
def oracle_uv(request: pytest.FixtureRequest, uvs: list[OracleUv]) -> OracleUv:
    return next(uv for uv in uvs if uv.version == request.param)


@pytest.fixture
def uv_env(tmp_path: Path) -> dict[str, str]:
    return uv_isolated_env(tmp_path / "env")


@pytest.fixture(params=["template", "long-lived"])
def source(request: pytest.FixtureRequest, oracle_uv: OracleUv) -> tuple[str, Path]:
    """(which, cache): the cache this uv filled, or the long-lived one (0.4.30 then 0.13.10); read-only."""
    return request.param, uv_template_cache(oracle_uv) if request.param == "template" else long_lived_cache()


# --------------------------------------------------------------------------------------------------
# Helpers


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """relative path -> (kind, size, link target with the copy's own path written ``<root>``); links never followed."""
    found: dict[str, tuple[str, int, str]] = {}
    prefix = str(root) + os.sep
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(info.st_mode):
                target = os.readlink(path)
                found[rel] = ("link", 0, "<root>/" + target[len(prefix) :] if target.startswith(prefix) else target)
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", 0, "")
            else:
                found[rel] = ("file", info.st_size, "")
    return found


def kept_differences(version: str, mode: str, had_lock: bool) -> set[str]:
    """The paths our tree may hold that uv's does not (see the module docstring); every one is the root ``.lock``."""
    key = parse_version(version)
    if mode == "purge" and key < (0, 13):
        return {".lock"}  # uv removed the folder itself
    if not had_lock or (mode == "prune" and key < (0, 8, 19)):
        return {".lock"}
    return set()


def compare(a: Path, b: Path, version: str, mode: str, had_lock: bool) -> None:
    """uv's tree (A) and ours (B): equal but for the kept differences, and those exactly."""
    ours = snapshot(b)
    key = parse_version(version)
    if mode == "purge" and key < (0, 13):
        assert not a.exists(), f"uv {version} removes the cache folder in a full clean"
        assert set(ours) == {".lock"}
        return
    theirs = snapshot(a)
    extra = kept_differences(version, mode, had_lock)
    assert {path: ours[path] for path in extra} == {path: ("file", 0, "") for path in extra}
    assert {path: kind for path, kind in ours.items() if path not in extra} == theirs


def uv_lines(proc_stderr: str) -> list[str]:
    """uv's summary line(s): what follows its "Clearing/Pruning cache at" line."""
    return [line for line in proc_stderr.splitlines() if line and not line.startswith(("Clearing cache at", "Pruning cache at"))]


def add_junk(cache: Path, version: str) -> None:
    """What a prune has to do on a cache: an archive nothing points to, a stale revision of a built sdist (its wheel
    link to an archive only it points to), a stray file and folder at the root, an environment, a build environment."""
    buckets = buckets_for(version)
    archives = cache / "archive-v0"
    first = sorted(path for path in archives.iterdir())[0]
    shutil.copytree(first, archives / ORPHAN)
    sdists = cache / str(buckets.name("sdists"))
    pointer = sorted(sdists.rglob("revision.http"))[0]
    current = next(path for path in pointer.parent.iterdir() if path.is_dir() and not path.is_symlink())
    stale = pointer.parent / STALE_REVISION
    shutil.copytree(current, stale, symlinks=True)
    link = next(path for path in stale.iterdir() if path.is_symlink())
    shutil.copytree(os.path.realpath(link), archives / STALE_ARCHIVE)
    absolute = os.path.isabs(os.readlink(link))
    link.unlink()
    link.symlink_to(archives / STALE_ARCHIVE if absolute else os.path.relpath(archives / STALE_ARCHIVE, link.parent))
    (cache / "junk.txt").write_text("junk")
    (cache / "unknown-dir").mkdir()
    (cache / "unknown-dir" / "x").write_text("x")
    envs = cache / str(buckets.name("environments")) / "envA"
    envs.mkdir(parents=True)
    (envs / "pyvenv.cfg").write_text("home = /usr\n")
    (cache / "builds-v0" / "tmpB").mkdir(parents=True)
    (cache / "builds-v0" / "tmpB" / "pyvenv.cfg").write_text("home = /usr\n")


def add_shared_link(cache: Path, version: str) -> bool:
    """A link of the package ``simple`` to one of typing-tiny's archives (same depth: the same target text as uv
    wrote it); False when this cache has no such wheels for this version."""
    wheels = buckets_for(version).name("wheels")
    found = sorted((cache / str(wheels)).glob("index/*/typing-tiny/*")) if wheels else []
    links = [path for path in found if path.is_symlink()]
    if not links or not (links[0].parent.parent / "simple").is_dir():
        return False
    (links[0].parent.parent / "simple" / SHARED_LINK).symlink_to(os.readlink(links[0]))
    return True


def ours(cache: Path, version: str, mode: str, **kwargs: object) -> UvOutcome:
    """Our removal on ``cache``: a dry run first (it must predict the real run and change nothing), then the real run."""
    before = snapshot(cache)
    dry = remove(str(cache), UvRequest(mode=mode, version=version, dry_run=True, lock_timeout=30, **kwargs), homes=[])  # type: ignore[arg-type]
    assert snapshot(cache) == before
    real = remove(str(cache), UvRequest(mode=mode, version=version, lock_timeout=30, **kwargs), homes=[])  # type: ignore[arg-type]
    assert (dry.uv_lines, dry.removed, dry.archive_count) == (real.uv_lines, real.removed, real.archive_count)
    assert real.errors.count == 0, real.errors.items
    return real


def pair(src: Path, tmp_path: Path) -> tuple[Path, Path]:
    return copy_uv_cache(src, tmp_path / "A"), copy_uv_cache(src, tmp_path / "B")


def check_figures(uv: OracleUv, proc: subprocess.CompletedProcess[str], outcome: UvOutcome) -> None:
    parsed = parse_removal(uv, proc)
    assert outcome.uv_files == parsed.files_removed
    assert outcome.uv_lines == uv_lines(proc.stderr), proc.stderr


# --------------------------------------------------------------------------------------------------
# Differential


def test_purge(oracle_uv: OracleUv, source: tuple[str, Path], tmp_path: Path, uv_env: dict[str, str]) -> None:
    a, b = pair(source[1], tmp_path)
    had_lock = (a / ".lock").exists()
    proc = oracle_uv.run("cache", "clean", "--cache-dir", a, env=uv_env)
    outcome = ours(b, oracle_uv.version, "purge")
    compare(a, b, oracle_uv.version, "purge", had_lock)
    check_figures(oracle_uv, proc, outcome)


@pytest.mark.parametrize("ci", [False, True], ids=["prune", "prune-ci"])
def test_prune(oracle_uv: OracleUv, source: tuple[str, Path], ci: bool, tmp_path: Path, uv_env: dict[str, str]) -> None:
    version = oracle_uv.version
    a, b = pair(source[1], tmp_path)
    sdists = str(buckets_for(version).name("sdists"))
    if (a / sdists).is_dir():
        add_junk(a, version)
        add_junk(b, version)
    elif ci and version == "0.9.21":
        for copy in (a, b):
            (copy / sdists).mkdir()  # see test_uv_0_9_21_ci_prune_fails_without_its_sdists_bucket
    had_lock = (a / ".lock").exists()
    proc = oracle_uv.run("cache", "prune", *(["--ci"] if ci else []), "--cache-dir", a, env=uv_env)
    outcome = ours(b, version, "prune", ci=ci)
    compare(a, b, version, "prune", had_lock)
    check_figures(oracle_uv, proc, outcome)
    if source[0] == "template" and not ci:
        assert outcome.stale_revisions == 1 and {ORPHAN, STALE_ARCHIVE} <= {name for name, _figures in outcome.archives.sorted_items()}


@pytest.mark.parametrize("case", sorted(CLEANS))
def test_clean_packages(oracle_uv: OracleUv, source: tuple[str, Path], case: str, tmp_path: Path, uv_env: dict[str, str]) -> None:
    version = oracle_uv.version
    a, b = pair(source[1], tmp_path)
    shared = case.startswith("shared") and add_shared_link(a, version) and add_shared_link(b, version)
    if case.startswith("shared") and not shared and source[0] == "template":
        pytest.fail(f"uv {version}'s template has no typing-tiny wheel link to share")
    had_lock = (a / ".lock").exists()
    names = CLEANS[case]
    shared_archive = os.path.basename(os.readlink(a / next(a.glob(f"*/index/*/simple/{SHARED_LINK}")))) if shared else None
    proc = oracle_uv.run("cache", "clean", *names, "--cache-dir", a, env=uv_env)
    outcome = ours(b, version, "clean", packages=names)
    compare(a, b, version, "clean", had_lock)
    check_figures(oracle_uv, proc, outcome)
    if shared_archive is not None:
        # kept while "simple" still links it; gone with it (uv and we agree, compare() said so: this says which it is)
        assert (b / "archive-v0" / shared_archive).is_dir() == (case == "shared-kept")


def test_uv_0_9_21_ci_prune_fails_without_its_sdists_bucket(uvs: list[OracleUv], tmp_path: Path, uv_env: dict[str, str]) -> None:
    """The one case where uv does not finish: its --ci walks its sdists bucket without checking it exists (0.12.5
    checks). We go on, as uv does once the bucket exists (test_prune creates it in both copies there)."""
    uv = next(one for one in uvs if one.version == "0.9.21")
    a, b = pair(long_lived_cache(), tmp_path)
    proc = uv.run("cache", "prune", "--ci", "--cache-dir", a, env=uv_env, check=False)
    assert proc.returncode == 2 and "Failed to prune cache at" in proc.stderr and "sdists-v9" in proc.stderr
    outcome = ours(b, "0.9.21", "prune", ci=True)
    assert outcome.changed and not (b / "sdists-v9").exists()


# --------------------------------------------------------------------------------------------------
# After our prune, uv still installs from the cache


@pytest.mark.parametrize("ci", [False, True], ids=["prune", "prune-ci"])
def test_uv_installs_offline_after_our_prune(oracle_uv: OracleUv, ci: bool, tmp_path: Path, uv_env: dict[str, str]) -> None:
    version = oracle_uv.version
    cache = tmp_path / "cache"
    with PackageIndex(tmp_path / "dists") as index:
        requirements = [project.requirement(release) for project in index.projects for release in project.versions]
        from_sdist = {project.requirement(release) for project in index.projects for release in project.versions if project.kinds[release] == "sdist"}
        fill_uv_cache(oracle_uv, cache, index, requirements, uv_env)
        index_args = uv_index_args(index)
    add_junk(cache, version)
    outcome = ours(cache, version, "prune", ci=ci)
    assert outcome.changed and not (cache / ORPHAN).exists()
    installed, failed = [], []
    for number, requirement in enumerate(requirements):
        target = tmp_path / "targets" / str(number)
        args = ["pip", "install", "--no-config", "--offline", "--no-deps", "--target", str(target), *index_args]
        proc = oracle_uv.run(*args, "--cache-dir", cache, "--python", str(uv_python()), requirement, env=uv_env, cwd=tmp_path, check=False)
        (installed if proc.returncode == 0 and any(target.glob("*.dist-info")) else failed).append(requirement)
    # Every package the pruned cache still holds installs offline: all of them, and after --ci those built from
    # sdists (their wheels stay; downloaded wheels were unzipped only, and --ci removes them).
    assert sorted(installed) == sorted(from_sdist if ci else requirements), failed
