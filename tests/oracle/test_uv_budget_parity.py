# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Size and age budgets of our uv prune (plugins/module_utils/_uv/remove.py, what uv cannot do) against real uv, for
every oracle uv.

A cache real uv filled from the loopback index (every release of every project), copied (``copy_uv_cache``), each
release's files and archive aged so that the releases have distinct ages (a project's index page as old as its newest
release, as uv writes it when it fetches that one). Our prune with ``max_age``, then with ``max_size`` (each on its own
copy; a dry run first, which changes nothing and says what the real run does), and then real uv reads the result:

- ``uv pip install --offline --no-deps --target T --cache-dir C PKG`` (the fill's arguments, offline) installs every
  release the result says was kept (its wheel or built sdist, and its project's index page) and fails for every release
  whose entry went;
- ``uv cache size`` (uv >= 0.9.8) is what our result says the cache takes, and within ``max_size`` when it says so (du
  reads the same for every version);
- ``uv cache prune`` right after ours finds nothing to remove (uv 0.4.30 removes the ``.lock`` we took its lock with,
  as it removes any ``.lock``: the one difference kept on purpose, see test_uv_remove_parity.py).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import engine  # noqa: F401  # pylint: disable=unused-import
import pytest
from piporacle import PackageIndex, parse_version
from uvoracle import UV_VERSIONS, OracleUv, copy_uv_cache, fill_uv_cache, oracle_uvs, parse_removal, uv_index_args, uv_isolated_env, uv_python

from ansible_collections.fleet.cache.plugins.module_utils._uv.layout import buckets_for
from ansible_collections.fleet.cache.plugins.module_utils._uv.remove import UvOutcome, UvRequest, remove

DAY = 86_400
MAX_AGE_DAYS = 5.5  # the releases 6 days old and older go
SIZE_SHARE = 0.55  # max_size: this share of the cache


@dataclass(frozen=True)
class Release:
    requirement: str
    project: str  # normalized
    version: str
    age: int  # seconds


@dataclass(frozen=True)
class Filled:
    cache: Path
    index_args: list[str]
    releases: list[Release]
    env: dict[str, str]


@pytest.fixture(scope="module")
def uvs() -> list[OracleUv]:
    return oracle_uvs()


@pytest.fixture(params=UV_VERSIONS, ids=lambda version: f"uv-{version}")
def oracle_uv(request: pytest.FixtureRequest, uvs: list[OracleUv]) -> OracleUv:
    return next(uv for uv in uvs if uv.version == request.param)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[OracleUv], Filled]]:
    """uv version -> a cache that uv filled with every release from the session's index (once per module), with the
    index arguments it used (the index may be gone: installs from it are offline) and each release's age to give it:
    releases interleaved across projects, one day apart, the oldest first."""
    made: dict[str, Filled] = {}

    def get(uv: OracleUv) -> Filled:
        if uv.version not in made:
            root = tmp_path_factory.mktemp(f"uv-budget-{uv.version}")
            env = uv_isolated_env(root / "env")
            with PackageIndex(root / "dists") as index:
                pairs = [(rank, project, version) for project in index.projects for rank, version in enumerate(project.versions)]
                pairs.sort(key=lambda pair: (pair[0], pair[1].normalized))
                releases = [
                    Release(project.requirement(version), project.normalized, version, (len(pairs) - number) * DAY + 3600)
                    for number, (_rank, project, version) in enumerate(pairs)
                ]
                fill_uv_cache(uv, root / "cache", index, [release.requirement for release in releases], env)
                made[uv.version] = Filled(root / "cache", uv_index_args(index), releases, env)
        return made[uv.version]

    yield get


# --------------------------------------------------------------------------------------------------
# Ageing the copy


def _stem_version(stem: str, version: str) -> bool:
    """Whether a wheel's file stem in the wheels bucket is of that version (``1.0-py3-none-any``, or before uv 0.6.4
    ``simple-1.0-py3-none-any``)."""
    pieces = stem.split("-")
    return version in pieces[:2]


def _touch(path: Path, stamp: float) -> None:
    os.utime(path, (stamp, stamp), follow_symlinks=False)


def _archive(cache: Path, link: Path) -> Path | None:
    target = Path(os.path.realpath(link))
    return target if target.parent == Path(os.path.realpath(cache / "archive-v0")) else None


def age_release(cache: Path, version_name: str, release: Release, now: float) -> int:
    """Every file of the release's entry (its wheel files, or its built sdist's folder) and its archive folder get the
    release's age; returns how many files were aged (0: no entry found)."""
    buckets = buckets_for(version_name)
    stamp = now - release.age
    touched = 0
    for folder in sorted((cache / str(buckets.name("wheels"))).glob(f"*/*/{release.project}")):
        for path in folder.iterdir():
            stem = path.name[: -len(path.suffix)] if path.suffix in (".http", ".lock", ".msgpack") else path.name
            if _stem_version(stem, release.version):
                if path.is_symlink() and (archive := _archive(cache, path)) is not None:
                    _touch(archive, stamp)
                _touch(path, stamp)
                touched += 1
    for entry in sorted((cache / str(buckets.name("sdists"))).glob(f"*/*/{release.project}/{release.version}")):
        for folder, dirs, files in os.walk(entry):
            for name in dirs + files:
                path = Path(folder) / name
                if path.is_symlink() and (archive := _archive(cache, path)) is not None:
                    _touch(archive, stamp)
                if not path.is_dir() or path.is_symlink():
                    _touch(path, stamp)
                    touched += 1
    return touched


def age_cache(cache: Path, version_name: str, releases: list[Release], now: float) -> None:
    simple = cache / str(buckets_for(version_name).name("simple"))
    for release in releases:
        assert age_release(cache, version_name, release, now) > 0, f"no entry of {release.requirement} in the cache uv {version_name} filled"
    for project in {release.project for release in releases}:
        newest = min(release.age for release in releases if release.project == project)
        pages = list(simple.glob(f"*/*/{project}.rkyv"))
        assert pages, f"no index page of {project}"
        for page in pages:
            _touch(page, now - newest)


# --------------------------------------------------------------------------------------------------
# Reading back


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    found: dict[str, tuple[str, int, str]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            kind = "link" if stat.S_ISLNK(info.st_mode) else "dir" if stat.S_ISDIR(info.st_mode) else "file"
            found[os.path.relpath(path, root)] = (kind, info.st_size if kind == "file" else 0, os.readlink(path) if kind == "link" else "")
    return found


def du(root: Path) -> int:
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, dirs, files in os.walk(root):
        for name in [".", *dirs, *files] if folder == str(root) else [*dirs, *files]:
            info = os.lstat(os.path.join(folder, name))
            key = (info.st_dev, info.st_ino)
            if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
                if key in seen:
                    continue
                seen.add(key)
            total += info.st_blocks * 512
    return total


def comparable(outcome: UvOutcome) -> dict:
    data = outcome.as_dict()
    data.pop("dry_run")
    data.pop("lock")
    return data


def ours(cache: Path, version: str, now: float, **budget: int) -> UvOutcome:
    before = snapshot(cache)
    dry = remove(str(cache), UvRequest(mode="prune", version=version, dry_run=True, lock_timeout=30, now=now, **budget), homes=[])  # type: ignore[arg-type]
    assert snapshot(cache) == before, "a dry run changed the cache"
    real = remove(str(cache), UvRequest(mode="prune", version=version, lock_timeout=30, now=now, **budget), homes=[])  # type: ignore[arg-type]
    assert comparable(dry) == comparable(real)
    assert real.errors.count == 0, real.errors.items
    assert real.budget is not None and not real.budget.items.dropped
    return real


def removed(outcome: UvOutcome) -> tuple[set[tuple[str, str]], set[str]]:
    """(package, version) of the wheels and sdists the budget removed, and the projects whose index page it removed."""
    assert outcome.budget is not None
    items = [item for _path, item in outcome.budget.items.sorted_items()]
    dists = {(str(item.package), str(item.version)) for item in items if item.kind in ("wheel", "sdist")}
    pages = {str(item.package) for item in items if item.kind == "index page"}
    assert all(item.package is not None for item in items)
    return dists, pages


def installs(uv: OracleUv, filled: Filled, cache: Path, tmp: Path) -> dict[str, bool]:
    """Each release: whether ``uv pip install --offline`` from the cache installs it."""
    found = {}
    for number, release in enumerate(filled.releases):
        target = tmp / "targets" / str(number)
        args = ["pip", "install", "--no-config", "--offline", "--no-deps", "--target", str(target), *filled.index_args]
        proc = uv.run(*args, "--cache-dir", cache, "--python", str(uv_python()), release.requirement, env=filled.env, cwd=tmp, check=False)
        found[release.requirement] = proc.returncode == 0 and any(target.glob("*.dist-info"))
    return found


def check_with_real_uv(uv: OracleUv, filled: Filled, cache: Path, tmp: Path, outcome: UvOutcome) -> dict[str, bool]:
    """What real uv reads in our result: its size, nothing for its prune, each release installed or not."""
    budget = outcome.budget
    assert budget is not None and budget.size_after == du(cache)
    size = uv.cache_size(cache, filled.env)
    if size is not None:
        assert size == budget.size_after
        if budget.within:
            assert budget.max_size is not None and size <= budget.max_size
    before = snapshot(cache)
    pruned = parse_removal(uv, uv.run("cache", "prune", "--cache-dir", cache, env=filled.env))
    after = snapshot(cache)
    if parse_version(uv.version) >= (0, 8, 19):
        assert pruned.nothing_found and after == before, pruned.stderr
    else:
        assert set(before) - set(after) <= {".lock"} and set(after) <= set(before), pruned.stderr
    request = UvRequest(mode="prune", version=uv.version, lock_timeout=30, max_size=budget.max_size, max_age=budget.max_age, now=time.time())
    again = remove(str(cache), request, homes=[])
    assert again.budget is not None and again.budget.entries == 0 and not again.changed, again.as_dict()["budget"]
    dists, pages = removed(outcome)
    result = installs(uv, filled, cache, tmp)
    for release in filled.releases:
        kept = (release.project, release.version) not in dists and release.project not in pages
        gone = (release.project, release.version) in dists
        if kept:
            assert result[release.requirement], f"{release.requirement} was kept but uv cannot install it offline"
        if gone:
            assert not result[release.requirement], f"{release.requirement} was removed but uv still installs it offline"
    return result


# --------------------------------------------------------------------------------------------------
# The tests


def test_max_age(oracle_uv: OracleUv, filled: Callable[[OracleUv], Filled], tmp_path: Path) -> None:
    fill = filled(oracle_uv)
    cache = copy_uv_cache(fill.cache, tmp_path / "cache")
    now = time.time()
    age_cache(cache, oracle_uv.version, fill.releases, now)
    outcome = ours(cache, oracle_uv.version, now, max_age=int(MAX_AGE_DAYS * DAY))
    old = {(release.project, release.version) for release in fill.releases if release.age > MAX_AGE_DAYS * DAY}
    newest = {release.project: min(r.age for r in fill.releases if r.project == release.project) for release in fill.releases}
    dists, pages = removed(outcome)
    assert dists == old and pages == {project for project, age in newest.items() if age > MAX_AGE_DAYS * DAY}
    assert outcome.budget is not None and outcome.budget.by_age == outcome.budget.entries == len(old) + len(pages)
    result = check_with_real_uv(oracle_uv, fill, cache, tmp_path, outcome)
    sizes = f"{outcome.budget.size_before} -> {outcome.budget.size_after}"
    print(f"uv {oracle_uv.version}: max_age {MAX_AGE_DAYS} days, cache_size {sizes}; installs {sum(result.values())}/{len(result)}")
    assert sorted(requirement for requirement, ok in result.items() if ok) == sorted(
        release.requirement for release in fill.releases if release.age <= MAX_AGE_DAYS * DAY
    )


def test_max_size(oracle_uv: OracleUv, filled: Callable[[OracleUv], Filled], tmp_path: Path) -> None:
    fill = filled(oracle_uv)
    cache = copy_uv_cache(fill.cache, tmp_path / "cache")
    now = time.time()
    age_cache(cache, oracle_uv.version, fill.releases, now)
    total = du(cache)
    max_size = int(total * SIZE_SHARE)
    outcome = ours(cache, oracle_uv.version, now, max_size=max_size)
    budget = outcome.budget
    assert budget is not None and budget.size_before == total and budget.within is True and budget.reason is None
    assert budget.size_after is not None and budget.size_after <= max_size < budget.size_before
    dists, _pages = removed(outcome)
    assert dists and len(dists) < len(fill.releases)
    # oldest first: every release removed is at least as old as every release kept
    ages = {(release.project, release.version): release.age for release in fill.releases}
    assert min(ages[dist] for dist in dists) >= max(age for dist, age in ages.items() if dist not in dists)
    result = check_with_real_uv(oracle_uv, fill, cache, tmp_path, outcome)
    installed = sum(result.values())
    print(f"uv {oracle_uv.version}: cache_size {budget.size_before} -> {budget.size_after} (max_size {max_size}); installs {installed}/{len(result)}")
