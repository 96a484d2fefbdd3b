# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inputs that did what nobody meant, run as a user runs them: the real ``ansible`` command (with Ansible's own syslog
logging on), real local accounts made for the test, and pip run as them for the expected answer."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from adhoc import run_module
from engine import copy_engine
from hardening_support import tree_state
from piporacle import OraclePip, _user_prefix, pip_cache_dir

from playbooks import fake_cache


def _user_env(name: str) -> dict[str, str]:
    home = pwd.getpwnam(name).pw_dir
    return {"HOME": home, "USER": name, "LOGNAME": name, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def _failed(result: dict[str, Any]) -> bool:
    """ansible >= 2.19 prints a failed task's result without ``failed``, after "[ERROR]: Task failed"."""
    return bool(result.get("failed")) or "[ERROR]: Task failed" in str(result.get("diff_text", "")) + str(result.get("stderr_text", ""))


def _ansible(module: str, args: dict[str, Any], tmp: Path, *, check: bool = False) -> dict[str, Any]:
    """The module ad hoc, its arguments as JSON (types kept, NUL allowed), with Ansible's logging of the invocation on."""
    return dict(run_module(f"fleet.cache.{module}", json.dumps(args), tmp, check=check))


def test_budgets_without_a_unit_are_refused_before_anything_is_predicted(tmp_path: Path) -> None:
    """`max_size=5` and `max_age=30` were 5 bytes and 30 seconds: the check run predicted emptying the cache."""
    cache = tmp_path / "cache"
    fake_cache(cache, seed=3, downloads=6, wheels=2, size=3000, now=1_600_000_000)
    before = tree_state(cache)
    for args, option, forms in [
        ("state=pruned max_size=5", "max_size", ["5GB", "500MiB"]),
        ("state=pruned max_age=30", "max_age", ["30d", "12h"]),
    ]:
        result = run_module("fleet.cache.pip_cache", f"{args} cache_dir={cache}", tmp_path, check=True)
        assert _failed(result) and result.get("option") == option, result
        assert str(result["msg"]).startswith(f"{option}: ") and all(form in str(result["msg"]) for form in forms), result["msg"]
    result = run_module("fleet.cache.pip_cache", f"state=pruned max_size=0 max_age=0 min_age=0 cache_dir={cache}", tmp_path, check=True)
    assert not _failed(result) and result["changed"] is True, result
    assert tree_state(cache) == before


@pytest.mark.parametrize(
    ("module", "args", "option"),
    [
        ("pip_cache_info", {"cache_dir": "/tmp/a\x00b"}, "cache_dir"),
        ("pip_cache", {"state": "purged", "cache_dir": "/tmp/a\x00b"}, "cache_dir"),
        ("pip_config", {"name": "global.timeout", "value": "5\x00"}, "value"),
    ],
    ids=["info-cache_dir", "cache-cache_dir", "config-value"],
)
def test_nul_is_the_documented_refusal_not_a_syslog_failure(tmp_path: Path, module: str, args: dict[str, Any], option: str) -> None:
    if module == "pip_config":
        args = dict(args, path=str(tmp_path / "pip.conf"))
    result = _ansible(module, args, tmp_path)
    assert _failed(result) and result.get("option") == option, result
    assert result["msg"] == f"{option}: the value must not contain a NUL character", result
    assert "syslog" not in json.dumps(result)
    assert not (tmp_path / "pip.conf").exists()


def test_a_list_is_no_cache_dir(tmp_path: Path) -> None:
    """`cache_dir=["a"]` was accepted as the path `['a']`."""
    result = _ansible("pip_cache", {"state": "purged", "cache_dir": ["a"]}, tmp_path)
    assert _failed(result) and result.get("option") == "cache_dir", result
    assert result["msg"] == "cache_dir: expected a path, got a list", result


def test_pip_config_names_the_file_it_cannot_parse(tmp_path: Path) -> None:
    conf = tmp_path / "x.conf"
    conf.write_text("timeout = 5\n")
    result = _ansible("pip_config", {"path": str(conf), "name": "global.timeout", "value": "9"}, tmp_path)
    assert _failed(result) and result.get("failed_path") == str(conf), result
    assert conf.read_text() == "timeout = 5\n"


def test_pip_config_says_pip_does_not_read_the_file(newest_pip: OraclePip, tmp_path: Path) -> None:
    """It warned "pip reads global.no-cache-dir = None from None, which has more weight"."""
    conf = tmp_path / "x.conf"
    result = run_module(
        "fleet.cache.pip_config",
        f"path={conf} name=global.no-cache-dir value=true python={newest_pip.python}",
        tmp_path,
        HOME=str(tmp_path / "home"),
        PIP_CONFIG_FILE=os.devnull,
    )
    assert not _failed(result) and conf.exists(), result
    printed = str(result["stderr_text"])
    assert f"pip does not read {conf}: the files it reads for this user are " in " ".join(printed.split()), printed
    assert "None" not in printed


def test_tilde_in_cache_dir_is_that_users_home_as_pip_run_as_them_sees_it(two_users: list[str], newest_pip: OraclePip, tmp_path: Path) -> None:
    """`cache_dir=~/.cache/pip user=NAME` meant root's home, then NAME's cache "disabled, after sudo pip"."""
    for name in two_users:
        expected = pip_cache_dir(newest_pip, dict(_user_env(name), PIP_CACHE_DIR="~/.cache/pip"), user=name)
        assert expected == os.path.join(pwd.getpwnam(name).pw_dir, ".cache", "pip")
        result = run_module("fleet.cache.pip_cache_info", f"user={name} cache_dir=~/.cache/pip python={newest_pip.python}", tmp_path)
        entry = result["caches"][0]  # type: ignore[index]
        assert (entry["cache_dir"], entry["source"], entry["disabled"]) == (expected, "option", False), result
    every = run_module("fleet.cache.pip_cache_info", f"user=all cache_dir=~/.cache/pip python={newest_pip.python}", tmp_path)
    found = {item["user"]: item for item in every["caches"]}  # type: ignore[union-attr]
    for name in two_users:
        assert found[name]["cache_dir"] == os.path.join(pwd.getpwnam(name).pw_dir, ".cache", "pip"), found[name]
    assert found["root"]["cache_dir"] == os.path.join(pwd.getpwnam("root").pw_dir, ".cache", "pip"), found["root"]


@pytest.fixture
def engine_for_everyone() -> Iterator[Path]:
    """The engine (plugins/module_utils) as one package beside a launcher, in a folder every user can read: what a
    user who is not root runs (the modules' own entry point, as on Windows hosts)."""
    root = Path(tempfile.mkdtemp(prefix="fleet-cache-inputs-"))
    try:
        package = root / "fleet_cache_engine"
        package.mkdir()
        copy_engine(package)
        (root / "launch.py").write_text(
            "import sys\nsys.path.insert(0, sys.argv[1])\nfrom fleet_cache_engine._entry import main\nraise SystemExit(main(sys.argv[2:]))\n"
        )
        for directory, _dirs, files in os.walk(root):
            os.chmod(directory, 0o755)
            for name in files:
                os.chmod(os.path.join(directory, name), 0o644)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_user_all_without_root_reports_its_own_cache_and_that_the_others_need_root(
    two_users: list[str], newest_pip: OraclePip, engine_for_everyone: Path
) -> None:
    """Run by a user who is not root, user=all reported root's cache as disabled with the "sudo pip" advice."""
    if not newest_pip.runnable_by_others():
        pytest.skip(f"{newest_pip.python} is not reachable by other users")
    me, other = two_users
    env = _user_env(me)
    expected = pip_cache_dir(newest_pip, env, user=me)
    fake_cache(Path(expected), seed=5, downloads=3, wheels=1, size=2000, now=1_600_000_000)
    subprocess.run(["chown", "-R", f"{me}:", str(Path(env["HOME"]) / ".cache")], check=True)
    from ansible_collections.fleet.cache.plugins.module_utils._entry import module_spec  # importable once engine is

    params = {name: option.get("default") for name, option in module_spec("pip_cache_info")["argument_spec"].items()}
    request = engine_for_everyone / "request.json"
    request.write_text(json.dumps({"module": "pip_cache_info", "params": dict(params, user="all")}))
    request.chmod(0o644)
    proc = subprocess.run(
        [*_user_prefix(me), str(newest_pip.python), "-I", str(engine_for_everyone / "launch.py"), str(engine_for_everyone), str(request)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    found = {item["user"]: item for item in result["caches"]}
    mine = found[me]
    assert "failed" not in mine and (mine["cache_dir"], mine["disabled"], mine["exists"]) == (expected, False, True), mine
    assert mine["total"]["files"] > 0
    for name in ("root", other):
        assert found[name]["failed"] is True and found[name]["error"].startswith(f"needs root: {name}'s pip configuration"), found[name]
        assert "sudo pip" not in json.dumps(found[name])
    assert {"root", other} <= set(result["failed_users"]) and me not in result["failed_users"]
