# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The uv oracle itself is checked here: the uvs install, real uv filled the caches, the parsers read real output."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import piporacle
import pytest
import uvoracle
from piporacle import ORACLE_DIR, OracleError, PackageIndex, Project, chown_tree, make_projects, parse_version, tree_snapshot
from uvoracle import (
    CACHE_SIZE_SINCE,
    UV_VERSIONS,
    OracleUv,
    copy_uv_cache,
    fill_uv_cache,
    get_uv,
    long_lived_cache,
    oracle_uvs,
    parse_removal,
    template_record,
    uv_isolated_env,
    uv_python,
    uv_template_cache,
)

# What a fill of every project leaves in the cache root, per uv version (as found).
ROOT_ENTRIES: dict[str, set[str]] = {
    "0.4.30": {".gitignore", "CACHEDIR.TAG", "archive-v0", "builds-v0", "interpreter-v2", "sdists-v5", "simple-v13", "wheels-v2"},
    "0.9.21": {".gitignore", ".lock", "CACHEDIR.TAG", "archive-v0", "builds-v0", "interpreter-v4", "sdists-v9", "simple-v18", "wheels-v5"},
    "0.13.10": {".gitignore", ".lock", "CACHEDIR.TAG", "archive-v0", "builds-v0", "interpreter-v6", "sdists-v11", "simple-v28", "wheels-v8"},
}
# (simple pages, downloaded wheels, built wheels) buckets per version.
BUCKETS: dict[str, tuple[str, str, str]] = {
    "0.4.30": ("simple-v13", "wheels-v2", "sdists-v5"),
    "0.9.21": ("simple-v18", "wheels-v5", "sdists-v9"),
    "0.13.10": ("simple-v28", "wheels-v8", "sdists-v11"),
}
# uv <= 0.9 links wheels-vN / sdists-vN entries to archive-v0 with absolute paths, uv 0.13 with relative ones.
ABSOLUTE_LINKS = {"0.4.30": True, "0.9.21": True, "0.13.10": False}
# What `uv cache clean` leaves of the cache folder: uv 0.13 keeps its root .lock, older uvs remove the folder.
AFTER_CLEAN: dict[str, set[str] | None] = {"0.4.30": None, "0.9.21": None, "0.13.10": {".lock"}}


@pytest.fixture(scope="module")
def uvs() -> list[OracleUv]:
    return oracle_uvs()


@pytest.fixture(params=UV_VERSIONS, ids=lambda version: f"uv-{version}")
def oracle_uv(request: pytest.FixtureRequest, uvs: list[OracleUv]) -> OracleUv:
    return next(uv for uv in uvs if uv.version == request.param)


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> list[Project]:
    """The projects every template holds (the index's distributions, written to a scratch folder)."""
    return make_projects(tmp_path_factory.mktemp("projects"))


@pytest.fixture
def uv_env(tmp_path: Path) -> dict[str, str]:
    return uv_isolated_env(tmp_path / "env")


@pytest.fixture
def template_copy(oracle_uv: OracleUv, tmp_path: Path) -> Iterator[Path]:
    """A private copy of that uv's template cache; the template is checked unchanged afterwards."""
    template = uv_template_cache(oracle_uv)
    before = tree_snapshot(template)
    yield copy_uv_cache(template, tmp_path / "cache")
    assert tree_snapshot(template) == before, "a test changed the template cache through its copy"


def _files(snapshot: dict[str, tuple[str, int]]) -> set[str]:
    return {path for path, (kind, _size) in snapshot.items() if kind != "d"}


def _links(root: Path) -> list[Path]:
    return [
        Path(directory) / name for directory, dirnames, filenames in os.walk(root) for name in dirnames + filenames if os.path.islink(Path(directory) / name)
    ]


def test_each_uv_installs_and_reports_its_version(oracle_uv: OracleUv, uv_env: dict[str, str]) -> None:
    assert oracle_uv.path == ORACLE_DIR / "uv" / oracle_uv.version / "bin" / "uv"
    assert oracle_uv.run("--version", env=uv_env).stdout.split()[:2] == ["uv", oracle_uv.version]
    assert get_uv(oracle_uv.version) == oracle_uv  # installed once, then reused


def test_a_template_has_the_buckets_of_its_version(oracle_uv: OracleUv, projects: list[Project]) -> None:
    cache = uv_template_cache(oracle_uv)
    assert {path.name for path in cache.iterdir()} == ROOT_ENTRIES[oracle_uv.version]
    simple, wheels, sdists = BUCKETS[oracle_uv.version]
    # One page per project, one downloaded wheel per published wheel, one built wheel per published sdist.
    assert sorted(path.stem for path in (cache / simple).rglob("*.rkyv")) == sorted(project.normalized for project in projects)
    assert len(list((cache / wheels).rglob("*.http"))) == sum(project.kinds[v] == "wheel" for project in projects for v in project.versions)
    built = sorted(path.name for path in (cache / sdists).rglob("*.whl"))
    assert built == sorted(wheel for project in projects for wheel in project.built_wheels())
    links = _links(cache)
    assert links and all(Path(os.readlink(link)).is_absolute() == ABSOLUTE_LINKS[oracle_uv.version] for link in links)
    assert all(link.resolve().is_relative_to(cache / "archive-v0") and link.resolve().is_dir() for link in links)


def test_a_fill_gets_every_page_and_file_once(oracle_uv: OracleUv, projects: list[Project]) -> None:
    record = template_record(uv_template_cache(oracle_uv))
    requests = sorted((method, path, status) for method, path, status in record["requests"])
    expected = [("GET", f"/simple/{project.normalized}/", 200) for project in projects]
    expected += [("GET", f"/files/{project.filenames[version]}", 200) for project in projects for version in project.versions]
    assert requests == sorted(expected)


def test_fill_from_the_session_index_builds_sdists_and_keeps_wheels(
    oracle_uv: OracleUv, package_index: PackageIndex, uv_env: dict[str, str], tmp_path: Path
) -> None:
    seen = len(package_index.requests)
    cache = tmp_path / "cache"
    fill_uv_cache(oracle_uv, cache, package_index, ["typing_tiny==0.3", "tiny-requests==2.1"], uv_env)
    mine = [r for r in package_index.requests[seen:] if r.headers.get("user-agent", "").startswith(f"uv/{oracle_uv.version}")]
    assert {(r.method, r.path, r.status) for r in mine} >= {
        ("GET", "/files/typing_tiny-0.3-py3-none-any.whl", 200),
        ("GET", "/files/tiny-requests-2.1.tar.gz", 200),
    }
    _simple, wheels, sdists = BUCKETS[oracle_uv.version]
    assert [path.name for path in (cache / sdists).rglob("*.whl")] == ["tiny_requests-2.1-py3-none-any.whl"]
    assert len(list((cache / wheels).rglob("*.http"))) == 1
    with pytest.raises(OracleError, match=r"uv .* failed"):
        fill_uv_cache(oracle_uv, tmp_path / "nobuild", package_index, ["TinyYAML==1.1"], uv_env, build_sdists=False)


def test_copy_uv_cache_repoints_absolute_links(tmp_path: Path) -> None:
    oldest = get_uv(UV_VERSIONS[0])
    template = uv_template_cache(oldest)
    copy = copy_uv_cache(template, tmp_path / "copy")
    links = _links(copy)
    assert links
    for link in links:
        assert link.resolve().is_relative_to(copy), f"{link} -> {os.readlink(link)} leaves the copy"
        assert link.resolve().is_dir()
    # A plain copy would link back into the template: the reason copy_uv_cache exists.
    assert str(template) in os.readlink(_links(template)[0])


def test_cache_dir_answers_under_the_isolated_env(oracle_uv: OracleUv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_CACHE_DIR", "/host/uv/cache")  # the host's uv settings never reach the isolated env
    env = uv_isolated_env(tmp_path)
    assert sorted(name for name in env if name.startswith("UV_")) == ["UV_PYTHON_DOWNLOADS"]
    assert oracle_uv.cache_dir(env) == str(tmp_path / "xdg-cache" / "uv")
    # Configuration is read, from tmp: a user uv.toml moves the cache; UV_CACHE_DIR beats it.
    config = tmp_path / "xdg-config" / "uv" / "uv.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'cache-dir = "{tmp_path / "from-config"}"\n', encoding="utf-8")
    assert oracle_uv.cache_dir(env) == str(tmp_path / "from-config")
    assert oracle_uv.cache_dir({**env, "UV_CACHE_DIR": str(tmp_path / "from-env")}) == str(tmp_path / "from-env")
    assert oracle_uv.cache_dir(env, "--no-config") == str(tmp_path / "xdg-cache" / "uv")


def test_isolated_env_keeps_uv_off_the_network(oracle_uv: OracleUv, tmp_path: Path) -> None:
    """A uv run that forgets --index-url would go to PyPI: the dead proxy stops it."""
    env = uv_isolated_env(tmp_path, UV_HTTP_RETRIES="0")
    target = tmp_path / "target"
    args = ["pip", "install", "--no-config", "--target", str(target), "--python", str(uv_python()), "--cache-dir", str(tmp_path / "cache"), "typing_tiny"]
    proc = oracle_uv.run(*args, env=env, check=False, timeout=120)
    assert proc.returncode != 0
    assert "Connection refused" in proc.stderr
    assert not target.exists() or {path.name for path in target.iterdir()} <= {".lock"}  # nothing installed


def test_clean_empties_a_copy(oracle_uv: OracleUv, template_copy: Path, uv_env: dict[str, str]) -> None:
    before = tree_snapshot(template_copy)
    result = oracle_uv.clean(template_copy, env=uv_env)
    left = {path.name for path in template_copy.iterdir()} if template_copy.exists() else None
    assert left == AFTER_CLEAN[oracle_uv.version]
    assert result.files_removed == len(_files(before)) - len(left or ())
    assert result.cache_found and result.location == str(template_copy) and result.size
    again = oracle_uv.clean(template_copy, env=uv_env)
    assert again.files_removed == 0
    # uv 0.13 finds its emptied cache ("No cache entries found"); older uvs find no cache at all.
    assert (again.cache_found, again.nothing_found) == ((True, True) if left else (False, False))


def test_clean_one_package_wording(oracle_uv: OracleUv, template_copy: Path, uv_env: dict[str, str]) -> None:
    before = tree_snapshot(template_copy)
    result = oracle_uv.clean(template_copy, "TinyYAML", "no-such-project", env=uv_env)
    gone = _files(before) - _files(tree_snapshot(template_copy))
    assert gone and result.files_removed == len(gone)
    assert all("tinyyaml" in path.lower() or path.startswith("archive-v0/") for path in gone)
    if oracle_uv.version == "0.4.30":  # one line per package
        assert result.per_package.keys() == {"tinyyaml"} and result.size is None
        assert result.no_entries_for == ["no-such-project"]
    else:  # one total line, nothing said about the project with no entries
        assert result.per_package == {} and result.size and result.no_entries_for == []


def test_prune_wording(oracle_uv: OracleUv, template_copy: Path, uv_env: dict[str, str], projects: list[Project]) -> None:
    # A fresh fill has nothing unreachable (given links that point into the cache itself).
    fresh = oracle_uv.prune(template_copy, env=uv_env)
    assert (fresh.files_removed, fresh.nothing_found, fresh.location) == (0, True, str(template_copy))
    # --ci keeps the wheels uv built from sdists and drops downloaded wheels and unpacked sources.
    before = tree_snapshot(template_copy)
    result = oracle_uv.prune(template_copy, ci=True, env=uv_env)
    after = tree_snapshot(template_copy)
    assert result.files_removed == len(_files(before) - _files(after)) > 0 and result.size
    _simple, wheels, sdists = BUCKETS[oracle_uv.version]
    assert not [path for path in _files(after) if path.startswith((f"{wheels}/", "archive-v0/"))]
    built = {path for path in _files(after) if path.startswith(f"{sdists}/") and path.endswith(".whl")}
    assert len(built) == sum(len(project.built_wheels()) for project in projects)
    missing = oracle_uv.prune(template_copy.parent / "no-cache-here", env=uv_env)
    assert not missing.cache_found and missing.files_removed == 0


def test_cache_size(oracle_uv: OracleUv, template_copy: Path, uv_env: dict[str, str]) -> None:
    size = oracle_uv.cache_size(template_copy, uv_env)
    if parse_version(oracle_uv.version) < CACHE_SIZE_SINCE:
        assert size is None
        return
    # Disk usage (blocks) of everything under the cache, folders included, links not followed: du -s --block-size=1.
    entries = [template_copy, *(Path(directory) / name for directory, dirnames, filenames in os.walk(template_copy) for name in dirnames + filenames)]
    assert size == sum(os.lstat(path).st_blocks * 512 for path in entries)
    assert oracle_uv.cache_size(template_copy.parent / "no-cache-here", uv_env) == 0


def test_long_lived_cache_holds_both_generations(uvs: list[OracleUv]) -> None:
    cache = long_lived_cache()
    assert template_record(cache)["uv"] == [UV_VERSIONS[0], UV_VERSIONS[-1]]
    assert {path.name for path in cache.iterdir()} == ROOT_ENTRIES[UV_VERSIONS[0]] | ROOT_ENTRIES[UV_VERSIONS[-1]]
    kinds = {Path(os.readlink(link)).is_absolute() for link in _links(cache)}
    assert kinds == {True, False}  # the old uv's absolute links beside the new uv's relative ones
    assert all(link.resolve().is_relative_to(cache / "archive-v0") for link in _links(cache))


def test_parse_removal_rejects_unknown_wording(uvs: list[OracleUv]) -> None:
    proc = subprocess.CompletedProcess(["uv", "cache", "clean"], 0, stdout="", stderr="Clearing cache at: /c\nDeleted 3 things\n")
    with pytest.raises(OracleError, match="unexpected line"):
        parse_removal(uvs[0], proc)
    ok = subprocess.CompletedProcess(["uv"], 0, stdout="", stderr="Pruning cache at: /c\nRemoved 1 file (12B)\n")
    result = parse_removal(uvs[0], ok)
    assert (result.files_removed, result.size, result.location) == (1, "12B", "/c")


def test_run_and_fill_as_another_user(oracle_uv: OracleUv, package_index: PackageIndex, shared_tmp: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not oracle_uv.runnable_by_others() or piporacle._closed_ancestor(uv_python().resolve()) is not None:
        pytest.skip(f"other users cannot reach {oracle_uv.path}: move the checkout or set FLEET_CACHE_ORACLE_DIR")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody'")
    home = shared_tmp / "nobody"
    env = uv_isolated_env(home)
    chown_tree(home, "nobody")
    assert oracle_uv.cache_dir(env, user="nobody") == str(home / "xdg-cache" / "uv")
    cache = home / "cache"
    fill_uv_cache(oracle_uv, cache, package_index, ["Simple==1.1"], env, user="nobody")
    assert {path.lstat().st_uid for path in cache.rglob("*")} == {nobody.pw_uid}
    with pytest.raises(OracleError, match="no such local user"):
        oracle_uv.run("--version", env=env, user="no-such-user-here")


def test_a_changed_template_no_longer_matches_its_fingerprint(tmp_path: Path) -> None:
    """What makes uv_template_cache rebuild a template that a test damaged through a plain copy's links."""
    copy = copy_uv_cache(uv_template_cache(get_uv(UV_VERSIONS[0])), tmp_path / "copy")
    first = uvoracle._fingerprint(copy)
    assert uvoracle._fingerprint(copy) == first
    shutil.rmtree(next((copy / "archive-v0").iterdir()))
    assert uvoracle._fingerprint(copy) != first
