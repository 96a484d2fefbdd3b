# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real local users whose caches real pip filled, reported by the module; and pip installing
from what a prune left, with the index server stopped."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest
from adhoc import run_module as _ansible
from engine import http, remove, scan
from piporacle import OraclePip, PackageIndex, fill_cache, isolated_env, pip_cache_dir, pip_cache_info


def _user_env(name: str) -> dict[str, str]:
    home = pwd.getpwnam(name).pw_dir
    return {"HOME": home, "USER": name, "LOGNAME": name, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def test_users_by_name_and_all_match_pip_run_as_them(two_users: list[str], newest_pip: OraclePip, package_index: PackageIndex, tmp_path: Path) -> None:
    plain, configured = two_users
    configured_home = Path(pwd.getpwnam(configured).pw_dir)
    config = configured_home / ".config" / "pip" / "pip.conf"
    config.parent.mkdir(parents=True)
    config.write_text("[global]\ncache-dir = ~/custom-cache\n")
    subprocess.run(["chown", "-R", f"{configured}:", str(configured_home / ".config")], check=True)
    expected: dict[str, tuple[str, object]] = {}
    for name, requirements in ((plain, ["TinyYAML==1.0", "Simple==1.1"]), (configured, ["tiny-requests==2.0"])):
        env = _user_env(name)
        directory = pip_cache_dir(newest_pip, env, user=name)
        fill_cache(newest_pip, Path(directory), package_index, requirements, env=env, user=name)
        expected[name] = (directory, pip_cache_info(newest_pip, env, user=name))
    assert expected[plain][0] == str(Path(pwd.getpwnam(plain).pw_dir) / ".cache" / "pip")
    assert expected[configured][0] == str(configured_home / "custom-cache")

    by_name = {name: _ansible("fleet.cache.pip_cache_info", f"user={name} python={newest_pip.python}", tmp_path) for name in two_users}
    every = _ansible("fleet.cache.pip_cache_info", f"user=all python={newest_pip.python}", tmp_path)
    reported = {item["user"]: item for item in every["caches"]}  # type: ignore[index,union-attr]
    for name in two_users:
        directory, info = expected[name]
        for result in (by_name[name]["caches"][0], reported[name]):  # type: ignore[index]
            assert result["cache_dir"] == directory
            lines = result["pip_cache_info_lines"]
            assert lines == info.raw.strip().splitlines(), name
            assert result["pip_cache_info"]["wheels_count"] == info.wheels_count > 0  # type: ignore[index]
    assert reported[configured]["source"] == "config"
    assert reported[configured]["resolution"]["setting"]["origin"] == str(config)  # type: ignore[index]
    assert reported[plain]["source"] == "default"

    purged = _ansible("fleet.cache.pip_cache", f"user={configured} state=purged min_age=0", tmp_path)  # pip filled it just now
    assert purged["changed"] is True, purged
    after = pip_cache_info(newest_pip, _user_env(configured), user=configured)
    assert (after.http_files, after.wheels_count) == (0, 0)
    untouched = pip_cache_info(newest_pip, _user_env(plain), user=plain)
    assert untouched.raw == expected[plain][1].raw, "purging one user's cache leaves the other's alone"


def _files(index: PackageIndex) -> list[tuple[str, str, str, str]]:
    base = index.url.replace("/simple/", "/files/")
    return [
        (project.normalized, version, project.kinds[version], base + project.filenames[version]) for project in index.projects for version in project.versions
    ]


@pytest.fixture(scope="module")
def filled_cache(newest_pip: OraclePip, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str, str, str]], str]:
    """A cache the newest pip filled with every file of a loopback index that is stopped afterwards."""
    tmp = tmp_path_factory.mktemp("filled")
    cache = tmp / "cache"
    with PackageIndex(tmp / "dist") as index:
        files = _files(index)
        host = index.host
        fill_cache(
            newest_pip,
            cache,
            index,
            [project.requirement(version) for project in index.projects for version in project.versions],
            env=isolated_env(tmp / "env"),
        )
    return cache, files, host


@pytest.mark.parametrize("prune", ["size", "age", "ci"])
def test_pip_installs_from_what_prune_left(
    newest_pip: OraclePip, filled_cache: tuple[Path, list[tuple[str, str, str, str]], str], tmp_path: Path, prune: str
) -> None:
    template, files, host = filled_cache
    cache = tmp_path / "cache"
    shutil.copytree(template, cache, symlinks=True)
    env = isolated_env(tmp_path / "env")
    # The index server is stopped from here on: only the cache can answer.
    before = scan.scan(str(cache))
    if prune == "size":
        request = remove.Request(mode="pruned", max_size=before.total.bytes // 2)
    elif prune == "age":
        wheels = sorted(p for p in (cache / "http-v2").rglob("*.body"))
        old = wheels[: len(wheels) // 2]
        for body in old:
            for path in (body, body.with_suffix("")):
                os.utime(path, (1_600_000_000, 1_600_000_000))
        request = remove.Request(mode="pruned", max_age=30 * 86400)
    else:
        request = remove.Request(mode="pruned", ci=True)
    outcome = remove.remove(str(cache), request, dry_run=False)
    assert outcome.entries > 0
    if prune == "size":
        assert scan.scan(str(cache)).total.bytes <= before.total.bytes // 2
    left, _count, _cut, _unknown = http.list_downloads(str(cache))
    remaining = {(item["normalized_name"], item["version"]) for item in left if item["kind"] in ("wheel", "sdist")}
    installed, refused = 0, 0
    for name, version, _kind, url in files:
        proc = newest_pip.run(
            "install", "--no-deps", "--no-index", "--retries", "0", "--timeout", "5", "--cache-dir", str(cache), "--trusted-host", host,
            "--target", str(tmp_path / f"t-{name}-{version}"), url, env=env, timeout=120,
        )  # fmt: skip
        if (name, version) in remaining:
            assert proc.returncode == 0, f"{name} {version} is still cached, pip must install it: {proc.stderr[-600:]}"
            installed += 1
        else:
            assert proc.returncode != 0, f"{name} {version} was pruned, yet pip installed it with the index down"
            refused += 1
    if prune == "ci":
        assert installed == 0 and not any((cache / "http-v2").rglob("*")) if (cache / "http-v2").exists() else installed == 0
        assert scan.scan(str(cache)).buckets["wheels"].files > 0, "CI mode keeps locally built wheels"
    else:
        assert installed > 0 and refused > 0, "the prune kept some downloads and removed others"


def test_short_module_name_with_the_readme_setting(newest_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    """README: `library` pointing at the collection's modules lets `ansible all -m pip_cache_info` work."""
    cache = tmp_path / "cache"
    shutil.copytree(template_caches[newest_pip.version], cache, symlinks=True)
    library = "{collections}/ansible_collections/fleet/cache/plugins/modules"
    info = _ansible("pip_cache_info", f"cache_dir={cache}", tmp_path, ANSIBLE_LIBRARY=library)
    pips = pip_cache_info(newest_pip, isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(cache)))
    assert info["caches"][0]["pip_cache_info_lines"] == pips.raw.strip().splitlines()  # type: ignore[index]
    purged = _ansible("pip_cache", f"cache_dir={cache} state=purged min_age=0", tmp_path, ANSIBLE_LIBRARY=library)
    assert purged["changed"] is True
    assert scan.scan(str(cache)).pip_wheel_count == 0
