# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Windows transport against real pip, on this host: ``fleet_cache_transport=engine``.

The action plugins send Windows hosts the engine (a zip of plugins/module_utils with its packages) and a launcher,
and run them with the host's Python. Here the same code path runs over the local connection, by the real
ansible CLI, against caches real pip filled: its results must be the module's, and pip's own.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from adhoc import run_module
from piporacle import OraclePip, isolated_env, pip_cache_info, pip_cache_list, pip_cache_purge, pip_cache_remove, tree_snapshot

ENGINE = {"fleet_cache_transport": "engine"}
VOLATILE = ("diff_text", "stderr_text", "invocation")


def _copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return Path(os.path.realpath(dest))


def _same(result: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in result.items() if key not in VOLATILE}


def test_info_and_list_are_the_modules_and_pips(newest_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    cache = _copy(template_caches[newest_pip.version], tmp_path / "cache")
    env = isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(cache))
    args = f"cache_dir={cache} downloads=true limit=10000"
    module_way = run_module("fleet.cache.pip_cache_info", args, tmp_path)
    engine_way = run_module("fleet.cache.pip_cache_info", args, tmp_path, extra_vars=ENGINE)
    assert _same(engine_way) == _same(module_way)
    entry = engine_way["caches"][0]  # type: ignore[index]
    assert entry["pip_cache_info_lines"] == pip_cache_info(newest_pip, env).raw.strip().splitlines()
    wheels = entry["wheels"]
    assert isinstance(wheels, list) and wheels
    assert sorted(item["path"] for item in wheels) == pip_cache_list(newest_pip, env, None, "abspath")


def test_purge_leaves_pips_tree(newest_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    theirs = _copy(template_caches[newest_pip.version], tmp_path / "pip")
    ours = _copy(template_caches[newest_pip.version], tmp_path / "ours")
    before = tree_snapshot(ours)
    pip_cache_purge(newest_pip, isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(theirs)))
    checked = run_module("fleet.cache.pip_cache", f"cache_dir={ours} state=purged min_age=0", tmp_path, check=True, diff=True, extra_vars=ENGINE)
    assert checked["changed"] is True and tree_snapshot(ours) == before
    assert "--- before" in str(checked["diff_text"])
    done = run_module("fleet.cache.pip_cache", f"cache_dir={ours} state=purged min_age=0", tmp_path, extra_vars=ENGINE)
    assert done["changed"] is True and done["removed"] == checked["removed"]
    assert tree_snapshot(ours) == tree_snapshot(theirs)
    again = run_module("fleet.cache.pip_cache", f"cache_dir={ours} state=purged min_age=0", tmp_path, extra_vars=ENGINE)
    assert again["changed"] is False


def test_remove_by_pattern_leaves_pips_tree(newest_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    theirs = _copy(template_caches[newest_pip.version], tmp_path / "pip")
    ours = _copy(template_caches[newest_pip.version], tmp_path / "ours")
    pip_cache_remove(newest_pip, isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(theirs)), "TinyYAML")
    done = run_module("fleet.cache.pip_cache", f"cache_dir={ours} state=absent match=glob name=TinyYAML min_age=0", tmp_path, extra_vars=ENGINE)
    assert done["changed"] is True
    assert tree_snapshot(ours) == tree_snapshot(theirs)


def test_pip_config_written_by_the_engine_is_read_by_pip(newest_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "pip.conf"
    elsewhere = tmp_path / "elsewhere"
    done = run_module("fleet.cache.pip_config", f"name=global.cache-dir value={elsewhere} path={config}", tmp_path, extra_vars=ENGINE)
    assert done["changed"] is True
    env = isolated_env(tmp_path / "env", PIP_CONFIG_FILE=str(config))
    env.pop("PIP_CACHE_DIR", None)
    info = pip_cache_info(newest_pip, env)
    assert info.wheels_location == str(elsewhere / "wheels")
