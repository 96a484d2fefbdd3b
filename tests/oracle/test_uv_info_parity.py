# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""uv_cache_info run through the real ansible CLI (ad hoc, this checkout as the collection) against caches real uv
filled, each figure against real uv's own:

- for each oracle uv: ``uv_cache_dir`` == ``uv cache dir`` in the same environment (passed with the module's
  ``environment``: UV_CACHE_DIR, XDG_CACHE_HOME, a user uv.toml, a relative UV_CACHE_DIR), ``cache_size`` ==
  ``uv cache size`` (uv 0.9.8+) == ``du -sB1``, the layout of the uv given as ``uv``;
- on the long-lived cache (uv 0.4.30 then 0.13.10), the stale buckets the newest uv sees == the root entries its
  ``uv cache prune`` removes, the unreferenced archives == the archive-v0 entries it removes (on a copy);
- ``user: NAME`` and ``user: all`` as root, for a real local user whose cache real uv filled as that user: read with
  that user's privileges (its 0700 cache read; a root-only folder inside it not; links it planted to /root never
  followed), ``cache_size`` == ``uv cache size`` run as that user.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
from pathlib import Path
from typing import Any, Callable

import piporacle
import pytest
from adhoc import run_module
from piporacle import PackageIndex, parse_version, tree_snapshot
from uvoracle import (
    CACHE_SIZE_SINCE,
    UV_VERSIONS,
    OracleUv,
    copy_uv_cache,
    fill_uv_cache,
    long_lived_cache,
    oracle_uvs,
    uv_isolated_env,
    uv_python,
    uv_template_cache,
)

from playbooks import adhoc, local_users

MODULE = "fleet.cache.uv_cache_info"


@pytest.fixture(scope="module")
def uvs() -> list[OracleUv]:
    return oracle_uvs()


@pytest.fixture(params=UV_VERSIONS, ids=lambda version: f"uv-{version}")
def oracle_uv(request: pytest.FixtureRequest, uvs: list[OracleUv]) -> OracleUv:
    return next(uv for uv in uvs if uv.version == request.param)


def _du(path: Path) -> int:
    done = subprocess.run(["du", "-sB1", str(path)], capture_output=True, text=True, check=True)
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


def _only(result: dict[str, Any]) -> dict[str, Any]:
    assert not result.get("failed"), result
    assert len(result["caches"]) == 1, result
    item: dict[str, Any] = result["caches"][0]
    assert "failed" not in item, item
    return item


# Where the cache is, as each test environment sets it: (what to set, given the env and the cache's path) and where the
# filled cache goes (None: nowhere, the setting is only resolved).
Setter = Callable[[dict[str, str], Path], dict[str, str]]


def _user_file(env: dict[str, str], cache: Path) -> dict[str, str]:
    config = Path(env["XDG_CONFIG_HOME"]) / "uv" / "uv.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'cache-dir = "{cache}"\n', encoding="utf-8")
    return {}


SETTINGS: dict[str, tuple[Setter, bool]] = {
    "UV_CACHE_DIR": (lambda env, cache: {"UV_CACHE_DIR": str(cache)}, True),
    "XDG_CACHE_HOME": (lambda env, cache: {}, True),
    "user-uv.toml": (_user_file, True),
    "relative-UV_CACHE_DIR": (lambda env, cache: {"UV_CACHE_DIR": "rel-cache"}, False),
}


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_cache_dir_and_size_match_uv(oracle_uv: OracleUv, tmp_path: Path, setting: str) -> None:
    setter, filled = SETTINGS[setting]
    env = uv_isolated_env(tmp_path / "env")
    cache = Path(env["XDG_CACHE_HOME"]) / "uv" if setting == "XDG_CACHE_HOME" else tmp_path / "cache"
    if filled:
        copy_uv_cache(uv_template_cache(oracle_uv), cache)
    env.update(setter(env, cache))
    printed = oracle_uv.cache_dir(env)
    result = adhoc(MODULE, {"environment": env, "uv": str(oracle_uv.path)}, tmp_path)
    item = _only(result)
    assert item["uv_cache_dir"] == printed, (setting, item["source"])
    assert item["uv"] == {"path": str(oracle_uv.path), "version": oracle_uv.version, "source": "uv option"}
    assert item["layout"]["version"] == oracle_uv.version
    if not filled:
        assert (printed, item["exists"], item["cache_size"]) == ("rel-cache", False, 0)
        return
    assert item["cache_dir"] == printed == str(cache)
    assert (item["exists"], item["scanned"], item["errors_count"]) == (True, True, 0)
    size = oracle_uv.cache_size(cache, env)
    if parse_version(oracle_uv.version) >= CACHE_SIZE_SINCE:
        assert item["cache_size"] == size
    else:
        assert size is None  # uv 0.4.30 has no `uv cache size`: du's figure is the one
    assert item["cache_size"] == _du(cache) == result["totals"]["cache_size"]
    assert (item["total"]["files"], item["total"]["bytes"]) == _apparent(cache)
    # Everything in a template cache is the version's own: current buckets and markers, nothing stale or unknown.
    assert {entry["role"] for entry in item["entries"]} <= {"current", "marker"}
    assert item["packages"]["count"] > 0 and item["unreferenced_archives"]["count"] == 0


def test_stale_buckets_and_unused_archives_are_what_prune_removes(uvs: list[OracleUv], tmp_path: Path) -> None:
    newest = uvs[-1]
    cache = copy_uv_cache(long_lived_cache(), tmp_path / "cache")
    env = uv_isolated_env(tmp_path / "env")
    snapshot = tree_snapshot(cache)
    size = newest.cache_size(cache, env)
    for check in (False, True):
        result = adhoc(MODULE, {"cache_dir": str(cache), "uv": str(newest.path)}, tmp_path, check=check)
        assert tree_snapshot(cache) == snapshot, "the module changed the cache"
    item = _only(result)
    assert item["uv"]["version"] == newest.version and item["cache_size"] == size
    stale = {entry["name"] for entry in item["entries"] if entry["role"] == "stale"}
    assert {entry["role"] for entry in item["entries"]} <= {"current", "stale", "marker"}
    unreferenced = {archive["name"] for archive in item["unreferenced_archives"]["items"]}
    assert stale and unreferenced and item["unreferenced_archives"]["count"] == len(unreferenced)
    assert result["totals"]["stale_bytes"] == sum(entry["bytes"] for entry in item["entries"] if entry["role"] == "stale")
    root_before = {path.name for path in cache.iterdir()}
    archives_before = {path.name for path in (cache / "archive-v0").iterdir()}
    newest.prune(cache, env=env)
    assert root_before - {path.name for path in cache.iterdir()} == stale
    assert archives_before - {path.name for path in (cache / "archive-v0").iterdir()} == unreferenced


def _user_env(home: Path, name: str) -> dict[str, str]:
    """What uv sees when the user runs it from a login shell (no XDG_* variable: the default cache), offline."""
    env = {key: value for key, value in uv_isolated_env(home / ".scratch-env").items() if not key.startswith("XDG_")}
    env.update({"HOME": str(home), "USER": name, "LOGNAME": name})
    return env


SECRET_SIZE = 50_000


def test_a_real_users_cache_is_read_with_that_users_privileges(uvs: list[OracleUv], package_index: PackageIndex, tmp_path: Path) -> None:
    newest = uvs[-1]
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not newest.runnable_by_others() or piporacle._closed_ancestor(uv_python().resolve()) is not None:
        pytest.skip(f"other users cannot reach {newest.path}: move the checkout or set FLEET_CACHE_ORACLE_DIR")
    with local_users(1, "fleet-cache-uv-info-") as (_base, (name,)):
        entry = pwd.getpwnam(name)
        home = Path(entry.pw_dir)
        env = _user_env(home, name)
        piporacle.chown_tree(home, name)
        directory = Path(newest.cache_dir(env, user=name))
        assert directory == home / ".cache" / "uv"
        fill_uv_cache(newest, directory, package_index, ["Simple==1.1", "TinyYAML==1.0"], env, user=name)
        assert {path.lstat().st_uid for path in directory.rglob("*")} == {entry.pw_uid}
        for folder in (home, home / ".cache", directory):
            folder.chmod(0o700)
        # Links the user plants to /root, at the cache's top and inside a bucket; a folder of root's no one else reads.
        planted = [directory / "root-link", next(directory.glob("sdists-v*/index/*")) / "evil"]
        for link in planted:
            link.symlink_to("/root")
            os.lchown(link, entry.pw_uid, entry.pw_gid)
        secret = directory / "root-only"
        secret.mkdir(mode=0o700)
        (secret / "secret.bin").write_bytes(b"s" * SECRET_SIZE)
        size_as_user = newest.cache_size(directory, env, user=name)
        assert size_as_user is not None and _du(directory) > size_as_user  # root would count the secret, the user cannot
        # Root's own default cache (the host's, perhaps large) is kept out of user=all: root's uv looks in tmp_path.
        root_xdg = str(tmp_path / "root-xdg-cache")
        by_name = _only(run_module(MODULE, f"user={name} uv={newest.path}", tmp_path, XDG_CACHE_HOME=root_xdg))
        every = run_module(MODULE, f"user=all uv={newest.path}", tmp_path, XDG_CACHE_HOME=root_xdg)
        assert not every.get("failed"), every
        listed = [item for item in every["caches"] if item["user"] == name]
        assert len(listed) == 1 and "failed" not in listed[0], listed
        for item in (by_name, listed[0]):
            assert (item["cache_dir"], item["source"], item["uid"]) == (str(directory), "default", entry.pw_uid)
            assert item["uv"] == {"path": str(newest.path), "version": newest.version, "source": "uv option"}  # run as the user
            assert (item["exists"], item["scanned"]) == (True, True)
            assert item["cache_size"] == size_as_user
            assert item["errors_count"] == 1 and item["errors"] == [{"path": str(secret), "error": "Permission denied"}]
            links = {entry_["name"]: entry_ for entry_ in item["entries"] if entry_["kind"] == "link"}
            assert links["root-link"]["files"] == 1 and links["root-link"]["bytes"] == len("/root")
            assert item["packages"]["count"] == 2
            text = json.dumps(item)
            assert "secret.bin" not in text and ".bashrc" not in text and "/root/" not in text
        # The user's own view of the cache, file by file (root's folder aside), is what was counted.
        files, size = _apparent(directory)
        assert (by_name["total"]["files"], by_name["total"]["bytes"]) == (files - 1, size - SECRET_SIZE)
