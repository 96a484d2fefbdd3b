# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""user=all: one account whose configuration or cache cannot be handled gets a failed entry, listed in
failed_users, and the other accounts are reported and acted on. The accounts are fakes with homes in tmp_path and
this process's uid (no identity switch), so the host's accounts play no part."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import CacheError
from ansible_collections.fleet.cache.plugins.module_utils._pip import targets as pip_targets
from ansible_collections.fleet.cache.plugins.module_utils._pip.targets import Account
from ansible_collections.fleet.cache.plugins.module_utils._tasks import pip_cache as task_pip_cache
from ansible_collections.fleet.cache.plugins.module_utils._tasks import pip_cache_info as task_pip_cache_info
from ansible_collections.fleet.cache.plugins.modules import pip_cache
from ansible_collections.fleet.cache.tests.unit.plugins.conftest import K1, STANDARD_TREE, TINY

SECRET = "Qx7-secret-hash"
UNPARSABLE = f"root:$6${SECRET}:19000:0:99999:7:::\n"

# A small cache: one HTTP entry, one wheel and a file that is not pip's, as the standard tree has them.
CACHE = {path: STANDARD_TREE[path] for path in [*K1, *TINY, "notes.txt"]}


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def files_left(root):
    return sorted(os.path.relpath(os.path.join(folder, name), root) for folder, _dirs, names in os.walk(root) for name in names)


class Users:
    """Fake accounts, each with a home in tmp_path, a cache in its own folder and a pip.conf of our choosing."""

    def __init__(self, base, build_tree, monkeypatch):
        self.base = base
        self.build_tree = build_tree
        self.listed = []
        monkeypatch.setattr(pip_targets, "accounts", self.accounts)

    def add(self, name, *, config):
        """config: 'good' (cache-dir = the user's cache), 'bad' (an unparsable file), or a cache-dir value."""
        home = os.path.join(self.base, name)
        cache = self.build_tree(os.path.join(home, "cache"), CACHE)
        conf = os.path.join(home, ".config", "pip", "pip.conf")
        if config == "good":
            write(conf, f"[global]\ncache-dir = {cache}\n")
        elif config == "bad":
            write(conf, UNPARSABLE)
            self.build_tree(os.path.join(home, ".cache", "pip"), CACHE)  # its default cache: must stay untouched
        else:
            write(conf, f"[global]\ncache-dir = {config}\n")
        self.listed.append(Account(name, os.geteuid(), os.getegid(), home, False))
        return home, cache, conf

    def accounts(self, user):
        assert user == "all"
        return list(self.listed)


@pytest.fixture
def users(tmp_path, build_tree, monkeypatch):
    return Users(os.path.realpath(str(tmp_path)), build_tree, monkeypatch)


def entries(result, key):
    found = {}
    for item in result["caches"]:
        for name in item["users"] if key == "users" else [item["user"]]:
            found[name] = item
    return found


def assert_quiet(result):
    """Nothing of the unparsable file's text anywhere in the result (messages, warnings, entries)."""
    assert SECRET not in json.dumps(result)


def assert_parse_failure(item, conf):
    assert item["failed"] is True
    assert "no [section] header before the first setting (line 1)" in item["error"]
    assert conf in item["error"]


@pytest.mark.parametrize("order", [("bad", "good"), ("good", "bad")], ids=["bad-first", "good-first"])
def test_info_isolates_an_unparsable_config(run_module, users, order):
    made = {kind: users.add(f"{kind}user", config=kind) for kind in order}
    code, result = run_module.info({"user": "all"})
    assert code == 0
    assert result["failed_users"] == ["baduser"]
    found = entries(result, "user")
    assert sorted(found) == ["baduser", "gooduser"]
    assert [item["user"] for item in result["caches"]] == [f"{kind}user" for kind in order]
    assert_parse_failure(found["baduser"], made["bad"][2])
    assert found["baduser"]["cache_dir"] is None
    good = found["gooduser"]
    assert "failed" not in good
    assert (good["cache_dir"], good["source"], good["exists"]) == (made["good"][1], "config", True)
    assert good["total"]["files"] == len(CACHE)
    assert "baduser" in json.dumps(result.get("warnings", []))
    assert_quiet(result)


def test_info_isolates_a_scan_failure(run_module, users, monkeypatch):
    _home, broken_cache, _conf = users.add("brokenuser", config="good")
    _home, good_cache, _conf = users.add("gooduser", config="good")
    real_scan = task_pip_cache_info.scan

    def scan(directory, **kwargs):
        if directory == broken_cache:
            raise CacheError("cannot scan this cache", path=directory)
        return real_scan(directory, **kwargs)

    monkeypatch.setattr(task_pip_cache_info, "scan", scan)
    code, result = run_module.info({"user": "all"})
    assert code == 0
    assert result["failed_users"] == ["brokenuser"]
    found = entries(result, "user")
    assert found["brokenuser"]["failed"] is True
    assert "cannot scan this cache" in found["brokenuser"]["error"]
    assert (found["gooduser"]["cache_dir"], found["gooduser"]["total"]["files"]) == (good_cache, len(CACHE))


def test_info_fails_when_every_user_failed(run_module, users):
    users.add("baduser", config="bad")
    users.add("worseuser", config="bad")
    code, result = run_module.info({"user": "all"})
    assert code == 1
    assert result["msg"].startswith("user: no user's cache could be read")
    assert result["failed_users"] == ["baduser", "worseuser"]
    assert_quiet(result)


@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "real"])
def test_cache_isolates_an_unparsable_config(run_module, users, tree_fingerprint, check_mode):
    bad_home, _bad_cache, bad_conf = users.add("baduser", config="bad")
    _good_home, good_cache, _conf = users.add("gooduser", config="good")
    before_bad = tree_fingerprint(bad_home)
    before_good = tree_fingerprint(good_cache)
    code, result = run_module(pip_cache, {"user": "all", "state": "purged", "_ansible_check_mode": check_mode})
    assert code == 0
    assert result["changed"] is True
    assert result["failed_users"] == ["baduser"]
    found = entries(result, "users")
    assert_parse_failure(found["baduser"], bad_conf)
    assert found["baduser"]["cache_dir"] is None
    good = found["gooduser"]
    assert "failed" not in good
    assert good["cache_dir"] == good_cache
    assert good["removed"]["files"] + good["removed"]["extra_files"] == len(CACHE) - 1  # everything but notes.txt
    assert tree_fingerprint(bad_home) == before_bad  # neither its default cache nor anything else touched
    if check_mode:
        assert tree_fingerprint(good_cache) == before_good
    else:
        assert files_left(good_cache) == ["notes.txt"]
    assert_quiet(result)


def test_cache_isolates_a_refused_cache_dir(run_module, users, tree_fingerprint, monkeypatch):
    """A user whose pip.conf points the cache at a home folder: refused for that user (in the work run as them),
    named by the setting that chose it; the others are purged."""
    refused_home = os.path.join(users.base, "refuseduser")
    _home, _cache, refused_conf = users.add("refuseduser", config=refused_home)
    _home, good_cache, _conf = users.add("gooduser", config="good")
    monkeypatch.setattr(task_pip_cache, "homes", lambda: [refused_home])  # as if it were in the passwd database
    before = tree_fingerprint(refused_home)
    code, result = run_module(pip_cache, {"user": "all", "state": "purged"})
    assert code == 0
    assert result["failed_users"] == ["refuseduser"]
    found = entries(result, "users")
    refused = found["refuseduser"]
    assert (refused["failed"], refused["cache_dir"]) == (True, refused_home)
    assert f"refusing to delete from {refused_home!r}: it is a home folder" in refused["error"]
    assert f"cache-dir in [global] of {refused_conf}" in refused["error"]
    assert tree_fingerprint(refused_home) == before
    assert found["gooduser"]["removed"]["files"] + found["gooduser"]["removed"]["extra_files"] == len(CACHE) - 1
    assert files_left(good_cache) == ["notes.txt"]


def test_cache_fails_when_every_user_failed(run_module, users, tree_fingerprint):
    bad_home, _cache, _conf = users.add("baduser", config="bad")
    worse_home, _cache, _conf = users.add("worseuser", config="bad")
    before = (tree_fingerprint(bad_home), tree_fingerprint(worse_home))
    code, result = run_module(pip_cache, {"user": "all", "state": "purged"})
    assert (tree_fingerprint(bad_home), tree_fingerprint(worse_home)) == before
    assert_quiet(result)
    assert code == 1
