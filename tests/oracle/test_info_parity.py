# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pip_cache_info's engine against real pip: `pip cache dir/info/list` on caches real pip filled."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from engine import count, host, layout, matching, resolve, scan, units
from piporacle import OraclePip, isolated_env, pip_cache_dir, pip_cache_info, pip_cache_list

from playbooks import adhoc


def _copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return Path(os.path.realpath(dest))


def _mixed_cache(template_caches: dict[str, Path], dest: Path) -> Path:
    """One cache holding both layouts: http/ from the oldest pip, http-v2/ from the newest, wheels of both."""
    versions = sorted(template_caches, key=lambda text: tuple(int(part) for part in text.split(".")))
    for version in (versions[0], versions[-1]):
        shutil.copytree(template_caches[version], dest, symlinks=True, dirs_exist_ok=True)
    return Path(os.path.realpath(dest))


def _both_ways(cache: Path, **options: object) -> list[layout.ScanResult]:
    """The scan in one process, and shared at once with two helper processes (a large cache's way)."""
    alone = scan.scan(str(cache), helpers=0, **options)
    split_after, count.SPLIT_AFTER = count.SPLIT_AFTER, 0
    try:
        shared = scan.scan(str(cache), helpers=2, **options)
    finally:
        count.SPLIT_AFTER = split_after
    assert len(shared.helper_peaks_kib) == 2, "both helpers counted a share"
    return [alone, shared]


def _assert_info_equal(pip: OraclePip, cache: Path, env: dict[str, str]) -> None:
    info = pip_cache_info(pip, env)
    for ours in _both_ways(cache):
        _assert_scan_equal(pip, info, ours, cache)


def _assert_scan_equal(pip: OraclePip, info: Any, ours: layout.ScanResult, cache: Path) -> None:
    # pip < 23.3 does not know http-v2/: it counts and sizes http/ alone.
    sees_v2 = pip.key >= (23, 3)
    http_files = ours.http_files if sees_v2 else ours.buckets["http"].files
    http_bytes = ours.http_bytes if sees_v2 else ours.buckets["http"].bytes
    assert info.http_files == http_files
    assert info.index_page_size == units.pip_format_size(http_bytes)
    assert info.wheels_size == units.pip_format_size(ours.buckets["wheels"].bytes)
    assert info.wheels_count == ours.pip_wheel_count
    assert info.wheels_location == str(cache / "wheels")
    if sees_v2:
        assert info.http_v2_location == str(cache / "http-v2")
        assert info.http_location == str(cache / "http")
    if pip.key >= (25, 0):
        # The newest wording: our seven lines are pip's lines, character for character.
        assert info.raw.strip().splitlines() == ours.pip_info_lines()


def test_info_on_own_cache(oracle_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    cache = _copy(template_caches[oracle_pip.version], tmp_path / "cache")
    env = isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(cache))
    ours = scan.scan(str(cache))
    assert ours.http_files > 0 and ours.pip_wheel_count > 0, "the template cache must hold downloads and built wheels"
    _assert_info_equal(oracle_pip, cache, env)


def test_info_on_mixed_layouts(oracle_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    if len(template_caches) < 2:
        pytest.skip("needs two oracle pips")
    cache = _mixed_cache(template_caches, tmp_path / "cache")
    assert (cache / "http").is_dir() and (cache / "http-v2").is_dir()
    _assert_info_equal(oracle_pip, cache, isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(cache)))


def test_cache_dir_matches_pip(oracle_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    cache = _copy(template_caches[oracle_pip.version], tmp_path / "cache")
    link = tmp_path / "link-to-cache"
    link.symlink_to(cache)
    env = isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(link))
    ctx = host.HostContext(platform="linux", environ=env, uid=os.geteuid(), sys_prefix=str(oracle_pip.venv), cwd=str(tmp_path), live=True)
    ours = resolve.resolve(ctx)
    assert ours.source == "env"
    assert pip_cache_dir(oracle_pip, env) == ours.cache_dir == str(cache)


PATTERNS = [None, "*", "TinyYAML", "tinyyaml", "tiny_requests", "tiny-requests", "zope*", "*-1.1*", "Simple-1.1", "nomatch", "[Tt]iny*"]


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda value: f"pattern={value}")
def test_list_matches_pip(oracle_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path, pattern: str | None) -> None:
    cache = _copy(template_caches[oracle_pip.version], tmp_path / "cache")
    env = isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(cache))
    abspath, human = pip_cache_list(oracle_pip, env, pattern, "abspath"), pip_cache_list(oracle_pip, env, pattern, "human")
    for ours in _both_ways(cache, list_matcher=matching.NameMatcher(glob=pattern or "*"), list_limit=10_000):
        assert ours.wheels is not None
        items = ours.wheels.items()
        assert sorted(item.path for item in items) == abspath
        assert sorted(f"- {item.filename} ({units.pip_format_size(item.size)})" for item in items) == human
        # In pip's order: the pip_line of each wheel, joined, is what `pip cache list` prints below "Cache contents:".
        assert [item.as_dict()["pip_line"] for item in items] == [f" {line}" for line in human]


def test_list_cap_says_it_was_cut(newest_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    cache = _copy(template_caches[newest_pip.version], tmp_path / "cache")
    full = pip_cache_list(newest_pip, isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(cache)), None, "human")
    assert len(full) >= 2
    for ours in _both_ways(cache, list_matcher=matching.NameMatcher(glob="*"), list_limit=1):
        assert ours.wheels is not None
        assert ours.wheels.count == len(full)
        assert ours.wheels.truncated
        # The first lines pip prints, not the first paths.
        assert [item.as_dict()["pip_line"] for item in ours.wheels.items()] == [f" {line}" for line in full[:1]]


@pytest.mark.parametrize("how", ["env", "default"])
def test_cache_disabled_by_ownership_says_so(newest_pip: OraclePip, tmp_path: Path, how: str) -> None:
    """pip run as root disables a cache folder another uid owns; pip_cache_info then reports source 'disabled' (as for
    PIP_NO_CACHE_DIR), the ownership check as the reason, and where the refused folder came from."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a folder another uid owns")
    xdg = tmp_path / "xdg"
    foreign = tmp_path / "foreign" if how == "env" else xdg / "pip"
    foreign.mkdir(parents=True)
    os.chown(foreign, 65534, 65534)  # a uid number: no account needs to exist for it
    settings = {"PIP_CACHE_DIR": str(foreign)} if how == "env" else {"XDG_CACHE_HOME": str(xdg)}
    env = isolated_env(tmp_path / "env", **settings)
    proc = newest_pip.run("cache", "dir", env=env)
    assert proc.returncode == 1 and "cache is disabled" in proc.stderr, proc.stderr
    ctx = host.HostContext(platform="linux", environ=env, uid=0, sys_prefix=str(newest_pip.venv), cwd=str(tmp_path), live=True)
    ours = resolve.resolve(ctx)
    assert (ours.cache_dir, ours.source, ours.configured_source, ours.configured_dir) == (None, "disabled", how, str(foreign))
    # The module's own user is root, whose configuration files are not this test's: an empty config folder instead.
    isolated = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    result = adhoc("fleet.cache.pip_cache_info", {"environment": dict(settings, **isolated), "python": str(newest_pip.python)}, tmp_path)
    first = result["caches"][0]  # type: ignore[index]
    assert (first["cache_dir"], first["source"], first["disabled"]) == (None, "disabled", True), result
    assert "not owned or is not writable" in str(result["caches"][0]["disabled_reason"])  # type: ignore[index]
    resolution = result["caches"][0]["resolution"]  # type: ignore[index]
    assert (resolution["configured_source"], resolution["configured_dir"]) == (how, str(foreign))
    # PIP_NO_CACHE_DIR reads the same way, with its own reason.
    plain = adhoc("fleet.cache.pip_cache_info", {"environment": dict(isolated, PIP_NO_CACHE_DIR="1"), "python": str(newest_pip.python)}, tmp_path)
    assert (plain["caches"][0]["source"], plain["caches"][0]["resolution"]["configured_source"]) == ("disabled", None)  # type: ignore[index]
    assert plain["about"] == [f"{plain['caches'][0]['user']}: pip's cache is disabled ({plain['caches'][0]['disabled_reason']})"]  # type: ignore[index]
