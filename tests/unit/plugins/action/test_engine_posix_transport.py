# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Windows transport run for real where it can run: a real ``local`` connection with the ``sh`` shell.

With ``fleet_cache_transport: engine`` the action plugin takes the Windows path on this host: it makes a
temporary folder with the connection, puts the engine zip, the launcher and the arguments there, runs
them with the host's Python through /bin/sh and removes the folder. Without the variable the same plugin
runs the module as Ansible runs any Python module (AnsiballZ). Both must return the same result.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys

import pytest

from .conftest import connection_for, make_action, strip_volatile, warnings_of


@pytest.fixture
def posix(tmp_path, no_pip_config):
    """A local connection whose temporary folders go under tmp_path; the module's interpreter is this Python, with
    no pip configuration of the host's."""
    remote_tmp = tmp_path / "remote-tmp"
    remote_tmp.mkdir()
    connection = connection_for("local", "sh")
    connection._shell.set_options(direct={"remote_tmp": str(remote_tmp)})
    return connection, remote_tmp


def read(path):
    with open(path) as handle:
        return handle.read()


def both_ways(posix, module, args, **task_options):
    """(the module's result, the engine transport's result), each through the action plugin and the real connection."""
    connection, remote_tmp = posix
    task_vars = {"ansible_python_interpreter": sys.executable}
    results = []
    for transport in ("auto", "engine"):
        action = make_action(module, args, connection, **task_options)
        results.append(action.run(task_vars=dict(task_vars, fleet_cache_transport=transport)))
        assert os.listdir(remote_tmp) == [], "the temporary folder was left behind"
    return results


def test_info_both_transports_equal(posix, cache):
    module_way, engine_way = both_ways(posix, "pip_cache_info", {"cache_dir": cache, "downloads": True})
    assert not module_way.get("failed"), module_way
    assert strip_volatile(engine_way) == strip_volatile(module_way)
    assert engine_way["caches"][0]["pip_cache_info"]["wheels_count"] == 3 and engine_way["totals"]["caches"] == 1


def test_pip_cache_both_transports_equal(posix, tmp_path, build_tree, standard_tree):
    trees = []
    for name in ("module", "engine"):
        root = os.path.realpath(str(tmp_path)) + "/caches/" + name
        build_tree(root, standard_tree)
        trees.append(root)
    connection = posix[0]
    results = {}
    for root, transport in zip(trees, ("auto", "engine")):
        runs = []
        for check in (True, False, True, False):
            action = make_action("pip_cache", {"state": "pruned", "max_size": "10kB", "cache_dir": root}, connection, check_mode=check, diff=True)
            result = action.run(task_vars={"ansible_python_interpreter": sys.executable, "fleet_cache_transport": transport})
            runs.append(strip_volatile(result))
        results[transport] = runs
    assert [run["changed"] for run in results["engine"]] == [True, True, False, False]
    # The paths differ by the tree's folder name only.
    assert str(results["engine"]).replace("/caches/engine", "/caches/X") == str(results["auto"]).replace("/caches/module", "/caches/X")
    assert sorted(os.listdir(trees[0])) == sorted(os.listdir(trees[1]))


def test_pip_config_both_transports_equal(posix, tmp_path):
    outputs = []
    for name in ("module", "engine"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "pip.conf").write_text("[global]\ntimeout = 60\n")
        outputs.append(str(folder / "pip.conf"))
    connection = posix[0]
    results = []
    for path, transport in zip(outputs, ("auto", "engine")):
        action = make_action("pip_config", {"name": "global.no-cache-dir", "value": "yes", "path": path, "backup": True}, connection, diff=True)
        result = action.run(task_vars={"ansible_python_interpreter": sys.executable, "fleet_cache_transport": transport})
        results.append(result)
    module_way, engine_way = results
    assert engine_way["changed"] is True and module_way["changed"] is True
    assert [read(path) for path in outputs] == ["[global]\ntimeout = 60\nno-cache-dir = true\n"] * 2
    assert len(glob.glob(outputs[1] + ".*~")) == 1  # the backup copy
    for result in results:
        result.pop("backup_files")
    assert str(strip_volatile(engine_way)).replace("/engine/", "/X/") == str(strip_volatile(module_way)).replace("/module/", "/X/")


def test_warnings_and_failures_are_the_modules(posix, tmp_path, cache):
    disabled = tmp_path / "pip.conf"
    disabled.write_text("[global]\nno-cache-dir = maybe\n")
    args = {"environment": {"PIP_CONFIG_FILE": str(disabled)}}
    module_way, engine_way = both_ways(posix, "pip_cache_info", args)
    # The file and the key are named; the file's value is not quoted (no message quotes a configuration file).
    assert module_way["failed"] is True and "no-cache-dir" in module_way["msg"] and str(disabled) in module_way["msg"]
    assert "maybe" not in module_way["msg"]
    assert strip_volatile(engine_way) == strip_volatile(module_way)
    elsewhere = tmp_path / "install.conf"
    elsewhere.write_text(f"[install]\ncache-dir = {tmp_path / 'install-cache'}\n")
    module_way, engine_way = both_ways(posix, "pip_cache_info", {"cache_dir": None, "environment": {"PIP_CONFIG_FILE": str(elsewhere)}})
    assert warnings_of(engine_way) == warnings_of(module_way) != []


def test_check_mode_and_diff_pass_through(posix, tmp_path, build_tree, standard_tree, tree_fingerprint):
    root = os.path.realpath(build_tree(str(tmp_path / "cache"), standard_tree))
    before = tree_fingerprint(root)
    module_way, engine_way = both_ways(posix, "pip_cache", {"state": "purged", "cache_dir": root}, check_mode=True, diff=True)
    assert tree_fingerprint(root) == before
    assert engine_way["changed"] is True and engine_way["diff"] == module_way["diff"]
    module_way, engine_way = both_ways(posix, "pip_cache", {"state": "purged", "cache_dir": root}, check_mode=True)
    assert "diff" not in engine_way and "diff" not in module_way
    shutil.rmtree(root)
