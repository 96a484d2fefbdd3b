# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pip_cache's engine against real pip: remove and purge leave the same tree, file by file."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from engine import http, matching, names, remove, scan, units, version
from piporacle import PROJECT_SPECS, OraclePip, RemoveResult, isolated_env, pip_cache_purge, pip_cache_remove, tree_snapshot

from playbooks import adhoc

PATTERNS = ["TinyYAML", "tinyyaml", "tiny_requests", "tiny-requests", "zope*", "*-1.1*", "Simple-1.1", "nomatch", "*"]


def _two_copies(template: Path, tmp_path: Path) -> tuple[Path, Path]:
    theirs, ours = tmp_path / "pip", tmp_path / "ours"
    shutil.copytree(template, theirs, symlinks=True)
    shutil.copytree(template, ours, symlinks=True)
    return Path(os.path.realpath(theirs)), Path(os.path.realpath(ours))


def _cleanup_only(path: str, kind: str) -> bool:
    """What pip >= 26.0 removes beyond the matching files: emptied folders, their leftovers, selfcheck.json."""
    if path == "selfcheck.json":
        return True
    bucket = path.split("/", 1)[0]
    if bucket in ("http", "http-v2"):
        return kind == "d"
    if bucket == "wheels":
        return kind == "d" or not path.endswith(".whl")
    return False


def _compare(pip: OraclePip, theirs: Path, ours: Path) -> None:
    pip_tree, our_tree = tree_snapshot(theirs), tree_snapshot(ours)
    if pip.key >= (26, 0):
        assert our_tree == pip_tree
        return
    # Older pips remove the same files and leave their emptied folders: ours is pip's tree less the clean-up.
    assert set(our_tree) <= set(pip_tree)
    extra = {path: kind for path, (kind, _size) in pip_tree.items() if path not in our_tree}
    assert all(_cleanup_only(path, kind) for path, kind in extra.items()), extra


def _assert_pips_figures(said: RemoveResult, done: remove.Outcome, ours: Path, before: dict[str, tuple[str, int]]) -> None:
    """pip's "Files removed" (and its size, pip >= 25.0) are the outcome's files and bytes; the files that went only
    with their folder (a wheel folder's origin.json, the legacy selfcheck.json) are counted apart."""
    assert done.files == said.files_removed, (said.stdout, done.as_dict())
    if said.size_removed is not None:
        assert said.size_removed == units.pip_format_size(done.bytes), (said.stdout, done.as_dict())
    after = tree_snapshot(ours)
    removed = [path for path, (kind, _size) in before.items() if kind != "d" and path not in after]
    extra = [path for path in removed if path == "selfcheck.json" or (path.startswith("wheels/") and not path.endswith(".whl"))]
    assert (done.extra_files, done.extra_bytes) == (len(extra), sum(before[path][1] for path in extra))
    assert done.files + done.extra_files == len(removed)
    # Every entry that went is named, each at a path that was there and is gone.
    named = [Path(item["path"]).relative_to(ours).as_posix() for item in done.gone.items()]
    assert not done.gone.truncated and len(named) == done.entries
    assert all(path in before and path not in after for path in named), named
    if said.dirs_removed is not None:
        assert done.dirs == said.dirs_removed, (said.stdout, done.as_dict())


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda value: f"pattern={value}")
def test_remove_glob_matches_pip(oracle_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path, pattern: str) -> None:
    theirs, ours = _two_copies(template_caches[oracle_pip.version], tmp_path)
    untouched = tree_snapshot(ours)
    result = pip_cache_remove(oracle_pip, isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(theirs)), pattern)
    request = remove.Request(mode="absent", matcher=matching.NameMatcher(glob=pattern), http_all=pattern == "*")
    predicted = remove.remove(str(ours), request, dry_run=True)
    assert tree_snapshot(ours) == untouched, "a dry run changes nothing on disk"
    done = remove.remove(str(ours), request, dry_run=False)
    _compare(oracle_pip, theirs, ours)
    assert predicted.as_dict() == done.as_dict()
    _assert_pips_figures(result, done, ours, untouched)
    whl_removed = [item["path"] for item in done.as_dict()["largest"] if item["path"].endswith(".whl")]
    if pattern in ("nomatch", "tinyyaml", "tiny-requests"):
        assert result.warning_no_match and not whl_removed
    else:
        assert whl_removed, "the pattern selects at least one wheel in this cache"


def test_purge_matches_pip(oracle_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    theirs, ours = _two_copies(template_caches[oracle_pip.version], tmp_path)
    (ours / "selfcheck.json").write_text("{}")
    (theirs / "selfcheck.json").write_text("{}")
    untouched = tree_snapshot(ours)
    result = pip_cache_purge(oracle_pip, isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(theirs)))
    request = remove.Request(mode="purged")
    predicted = remove.remove(str(ours), request, dry_run=True)
    done = remove.remove(str(ours), request, dry_run=False)
    assert predicted.as_dict() == done.as_dict()
    _compare(oracle_pip, theirs, ours)
    _assert_pips_figures(result, done, ours, untouched)
    assert not (ours / "wheels").exists() or not any(path.endswith(".whl") for path in tree_snapshot(ours / "wheels"))
    again = remove.remove(str(ours), request, dry_run=False)
    assert (again.files, again.dirs) == (0, 0), "a second purge finds nothing"


@pytest.mark.parametrize("operation", ["remove TinyYAML", "purge"])
def test_module_reports_pips_figures(newest_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path, operation: str) -> None:
    """The module's removed.files and removed.bytes are pip's "Files removed" and its size; the origin.json files that
    went with their wheel's folder are in removed.extra_files (pip 26 removes them too, uncounted)."""
    theirs, ours = _two_copies(template_caches[newest_pip.version], tmp_path)
    before = tree_snapshot(ours)
    env = isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(theirs))
    if operation == "purge":
        said, args = pip_cache_purge(newest_pip, env), {"state": "purged"}
    else:
        said, args = pip_cache_remove(newest_pip, env, "TinyYAML"), {"state": "absent", "match": "glob", "name": ["TinyYAML"]}
    result = adhoc("fleet.cache.pip_cache", dict(args, cache_dir=str(ours), min_age="0", limit=1000), tmp_path)
    removed = result["removed"]
    _compare(newest_pip, theirs, ours)
    assert said.files_removed > 0 and result["changed"] is True
    assert removed["files"] == said.files_removed, (said.stdout, removed)
    if said.size_removed is not None:
        assert said.size_removed == units.pip_format_size(removed["bytes"]), (said.stdout, removed)
    wheels = [item for item in removed["largest"] if item["kind"] == "built wheel"]
    origins = [str(Path(item["path"]).parent / "origin.json") for item in wheels]
    origins = [path for path in origins if Path(path).relative_to(ours).as_posix() in before]
    assert origins, "the template's wheel folders hold an origin.json"
    assert removed["extra_files"] == len(origins)
    assert removed["extra_bytes"] == sum(before[Path(path).relative_to(ours).as_posix()][1] for path in origins)
    # What went, named from the entries' content as pip filled them: every HTTP entry is a download or an index page
    # of a project the index served (none left unnamed), every wheel one pip built; largest first; all counted.
    assert len(removed["largest"]) == removed["entries"] and not removed["largest_truncated"], removed
    served = {names.normalize_name(name) for name in PROJECT_SPECS} | {"pip"}  # pip's self check reads /simple/pip/
    for item in removed["largest"]:
        assert item["kind"] in ("download", "index page", "built wheel"), item
        assert names.normalize_name(item["project"]) in served and (item["version"] is not None) == (item["kind"] != "index page"), item
        rel = Path(item["path"]).relative_to(ours).as_posix()
        parts = [rel, rel + ".body"] if rel.startswith("http-v2/") else [rel]
        assert item["bytes"] == sum(before[part][1] for part in parts), item
    assert [item["bytes"] for item in removed["largest"]] == sorted((item["bytes"] for item in removed["largest"]), reverse=True)
    if operation == "purge":
        assert {item["kind"] for item in removed["largest"]} == {"download", "index page", "built wheel"}


def _tiny_requests(cache: Path) -> tuple[set[tuple[str, str, str | None]], set[str]]:
    """tiny-requests in the cache: its HTTP entries as (path, kind, version) (an index page has no version), and the
    versions of its built wheels."""
    items, _count, truncated, _unknown = http.list_downloads(str(cache))
    assert not truncated
    downloads = {(item["path"], item["kind"], item["version"]) for item in items if item["normalized_name"] == "tiny-requests"}
    listed = scan.scan(str(cache), list_matcher=matching.NameMatcher(glob="tiny_requests"), list_limit=100).wheels
    assert listed is not None
    return downloads, {item.filename.split("-")[1] for item in listed.items()}


def _other_projects(cache: Path) -> set[tuple[str, str, str | None]]:
    return {(item["path"], item["kind"], item["version"]) for item in http.list_downloads(str(cache))[0] if item["normalized_name"] != "tiny-requests"}


@pytest.mark.parametrize(
    "requirement, versions_gone, pages_go",
    [
        ("tiny-requests<2.1", {"2.0"}, False),  # 2.1 stays cached, and pip still reads the project's pages for it
        ("tiny-requests<1", set(), False),  # matches no cached version: nothing at all goes
        ("tiny-requests>=2.0", {"2.0", "2.1"}, True),  # every cached version matched: the whole project goes
        ("tiny-requests", {"2.0", "2.1"}, True),
    ],
)
def test_index_pages_go_only_with_the_whole_project(
    oracle_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path, requirement: str, versions_gone: set[str], pages_go: bool
) -> None:
    cache = Path(os.path.realpath(shutil.copytree(template_caches[oracle_pip.version], tmp_path / "cache", symlinks=True)))
    downloads, wheels = _tiny_requests(cache)
    pages = {entry for entry in downloads if entry[1] == "index"}
    assert pages and {entry[2] for entry in downloads - pages} == wheels == {"2.0", "2.1"}, "pip cached both versions and the pages"
    others = _other_projects(cache)
    untouched = tree_snapshot(cache)
    request = remove.Request(
        mode="absent",
        matcher=matching.NameMatcher(requirements=[version.parse_requirement(requirement)]),
        http_projects=True,
        identify=http.identify_for_removal,
    )
    predicted = remove.remove(str(cache), request, dry_run=True)
    assert tree_snapshot(cache) == untouched
    done = remove.remove(str(cache), request, dry_run=False)
    assert predicted.as_dict() == done.as_dict()
    left, wheels_left = _tiny_requests(cache)
    assert {entry[2] for entry in downloads - left if entry[1] != "index"} == versions_gone
    assert wheels_left == {"2.0", "2.1"} - versions_gone
    assert not (pages & left) if pages_go else pages <= left
    assert _other_projects(cache) == others
    if not versions_gone:
        assert (done.files, done.extra_files, done.dirs, done.entries) == (0, 0, 0, 0) and tree_snapshot(cache) == untouched


def test_module_specifier_matching_nothing_is_no_change(newest_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    """A version specifier that matches no cached version leaves the project's index pages and reports no change."""
    cache = Path(os.path.realpath(shutil.copytree(template_caches[newest_pip.version], tmp_path / "cache", symlinks=True)))
    untouched = tree_snapshot(cache)
    for check in (True, False):
        result = adhoc(
            "fleet.cache.pip_cache", {"state": "absent", "name": ["tiny-requests<1"], "cache_dir": str(cache), "min_age": "0"}, tmp_path, check=check
        )
        assert result["changed"] is False, result
        assert (result["removed"]["files"], result["removed"]["extra_files"], result["removed"]["largest"]) == (0, 0, [])
    assert tree_snapshot(cache) == untouched


def _set_times(root: Path, stamp: float) -> None:
    """Every file's and folder's modification time (links' own, never their targets'), ``root``'s included."""
    for directory, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            os.utime(os.path.join(directory, name), (stamp, stamp), follow_symlinks=False)
    os.utime(root, (stamp, stamp))


def test_module_defaults_purge_an_idle_cache_as_pip_does(newest_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    """An idle cache - nothing written for an hour, its folders included - purged with the module's defaults (min_age
    5m) leaves the tree ``pip cache purge`` leaves, with pip's figures."""
    theirs, ours = _two_copies(template_caches[newest_pip.version], tmp_path)
    for cache in (theirs, ours):
        (cache / "selfcheck.json").write_text("{}")
        _set_times(cache, time.time() - 3600)
    said = pip_cache_purge(newest_pip, isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(theirs)))
    checked = adhoc("fleet.cache.pip_cache", {"state": "purged", "cache_dir": str(ours), "limit": 0}, tmp_path, check=True)
    result = adhoc("fleet.cache.pip_cache", {"state": "purged", "cache_dir": str(ours), "limit": 0}, tmp_path)
    assert said.files_removed > 0 and checked["changed"] is True and result["changed"] is True
    assert tree_snapshot(ours) == tree_snapshot(theirs)
    assert result["removed"]["files"] == said.files_removed, (said.stdout, result["removed"])
    assert checked["removed"] == result["removed"]


def test_module_defaults_spare_what_pip_writes_now(newest_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    """The same idle cache, but pip has just written a built wheel (its folder and origin.json) and an HTTP entry: the
    module's defaults purge everything else as pip does and keep those, with the folders on the way to them."""
    theirs, ours = _two_copies(template_caches[newest_pip.version], tmp_path)
    for cache in (theirs, ours):
        _set_times(cache, time.time() - 3600)
    wheel = sorted((ours / "wheels").rglob("*.whl"))[0]
    metadata = sorted(path for path in (ours / "http-v2").rglob("*") if path.is_file() and not path.name.endswith(".body"))[0]
    young = [*wheel.parent.iterdir(), metadata, metadata.with_name(metadata.name + ".body")]
    assert len(young) >= 3 and all(path.is_file() for path in young), young
    now = time.time()
    for path in [*young, wheel.parent, metadata.parent]:
        os.utime(path, (now, now))
    pip_cache_purge(newest_pip, isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(theirs)))
    before = tree_snapshot(ours)
    kept: dict[str, tuple[str, int]] = {}
    for path in young:
        relative = path.relative_to(ours)
        kept[relative.as_posix()] = before[relative.as_posix()]
        for parent in relative.parents:
            if parent != Path("."):
                kept[parent.as_posix()] = ("d", 0)
    result = adhoc("fleet.cache.pip_cache", {"state": "purged", "cache_dir": str(ours), "limit": 0}, tmp_path)
    assert result["changed"] is True
    assert all(path.exists() for path in young), "what pip wrote just now is spared by the default min_age"
    assert tree_snapshot(ours) == {**tree_snapshot(theirs), **kept}, "everything else goes as pip's purge takes it"
