# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inputs that did what nobody meant, each through the module's main() as Ansible runs it: budgets without a unit,
~ in cache_dir for another user, user=all without root, a pip_config file pip cannot parse, a NUL or a list in an
option. The accounts are fakes with homes in tmp_path (the host's accounts play no part)."""

from __future__ import annotations

import os
import syslog

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import accounts as core_accounts
from ansible_collections.fleet.cache.plugins.module_utils._core import privilege as core_privilege
from ansible_collections.fleet.cache.plugins.module_utils._entry import module_spec, run
from ansible_collections.fleet.cache.plugins.module_utils._pip import targets as pip_targets
from ansible_collections.fleet.cache.plugins.module_utils._pip.targets import Account
from ansible_collections.fleet.cache.plugins.module_utils._tasks import pip_config as task_pip_config
from ansible_collections.fleet.cache.plugins.modules import pip_cache, pip_cache_info, pip_config

# --- max_size, max_age, min_age: a number needs its unit ---------------------------------------------


@pytest.mark.parametrize(
    "args, option, forms",
    [
        ({"state": "pruned", "max_size": "5"}, "max_size", ["5GB", "500MiB", "7B"]),
        ({"state": "pruned", "max_size": 5}, "max_size", ["5GB", "500MiB", "7B"]),
        ({"state": "pruned", "max_size": "1048576"}, "max_size", ["5GB", "500MiB", "7B"]),
        ({"state": "pruned", "max_age": "30"}, "max_age", ["30d", "12h", "45s"]),
        ({"state": "pruned", "max_age": 30}, "max_age", ["30d", "12h", "45s"]),
        ({"state": "pruned", "max_age": "1h30"}, "max_age", ["30d", "12h", "45s"]),
        ({"state": "purged", "min_age": "45"}, "min_age", ["30d", "12h", "45s"]),
    ],
    ids=["size-text", "size-int", "size-bytes", "age-text", "age-int", "age-compound", "min-age"],
)
def test_a_budget_without_a_unit_is_refused(run_module, cache, tree_fingerprint, args, option, forms):
    """max_size=5 and max_age=30 were 5 bytes and 30 seconds: a check run predicted emptying the cache."""
    before = tree_fingerprint(cache)
    code, result = run_module(pip_cache, dict(args, cache_dir=cache, _ansible_check_mode=True))
    assert code == 1 and result["option"] == option, result
    assert result["msg"].startswith(f"{option}: ") and "needs a unit" in result["msg"], result["msg"]
    assert all(form in result["msg"] for form in forms), result["msg"]
    assert tree_fingerprint(cache) == before


@pytest.mark.parametrize(
    "args, same",
    [
        ({"state": "pruned", "max_size": "0"}, {"state": "pruned", "max_size": "0GB"}),
        ({"state": "pruned", "max_size": 0}, {"state": "pruned", "max_size": "0B"}),
        ({"state": "pruned", "max_size": "7B"}, {"state": "pruned", "max_size": "0.007kB"}),
        ({"state": "pruned", "max_size": "9000b"}, {"state": "pruned", "max_size": "9kB"}),
        ({"state": "pruned", "max_age": "0"}, {"state": "pruned", "max_age": "0s"}),
        ({"state": "pruned", "max_age": "45s"}, {"state": "pruned", "max_age": "0.75m"}),
        ({"state": "pruned", "max_age": "864000s"}, {"state": "pruned", "max_age": "10d"}),
        ({"state": "purged", "min_age": "0"}, {"state": "purged", "min_age": "0m"}),
    ],
    ids=["size-0", "size-int-0", "7B", "9000b", "age-0", "45s", "864000s", "min-age-0"],
)
def test_zero_needs_no_unit_and_b_and_s_are_bytes_and_seconds(run_module, cache, args, same):
    results = []
    for given in (args, same):
        code, result = run_module(pip_cache, dict({"min_age": "0"}, **given, cache_dir=cache, _ansible_check_mode=True))
        assert code == 0, result
        results.append(result["removed"])
    assert results[0] == results[1]


# --- cache_dir with ~ for another user -----------------------------------------------------------


class FakeAccounts:
    """Accounts with homes in tmp_path; ``uid`` other than this process's stands for a user this process is not."""

    def __init__(self, base, monkeypatch):
        self.base = base
        self.listed = []
        monkeypatch.setattr(pip_targets, "accounts", self.accounts)
        monkeypatch.setattr(task_pip_config, "accounts", self.accounts)

    def add(self, name, *, uid=None, current=False):
        home = os.path.join(self.base, name)
        os.makedirs(os.path.join(home, ".cache", "pip", "wheels"), exist_ok=True)
        self.listed.append(Account(name, os.geteuid() if uid is None else uid, os.getegid(), home, current))
        return home

    def accounts(self, user):
        if user == "all":
            return list(self.listed)
        found = [account for account in self.listed if (account.current if user is None else account.name == user)]
        assert found, user
        return found


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return FakeAccounts(os.path.realpath(str(tmp_path)), monkeypatch)


@pytest.mark.parametrize("written", ["~/.cache/pip", "$HOME/.cache/pip", "${HOME}/.cache/pip"])
def test_tilde_and_home_in_cache_dir_are_the_users_own(run_module, fakes, monkeypatch, written):
    """cache_dir=~/.cache/pip user=NAME meant root's ~ (and then NAME's cache "disabled, after sudo pip"): it is NAME's."""
    monkeypatch.setenv("HOME", fakes.add("runner", current=True))
    alice = fakes.add("alice")
    bob = fakes.add("bob")
    code, result = run_module.info({"user": "alice", "cache_dir": written})
    assert code == 0, result
    assert (result["cache_dir"], result["source"], result["disabled"]) == (os.path.join(alice, ".cache", "pip"), "option", False)
    code, result = run_module.info({"user": "all", "cache_dir": written})
    assert code == 0, result
    assert {item["user"]: item["cache_dir"] for item in result["caches"]} == {
        "runner": os.path.join(fakes.base, "runner", ".cache", "pip"),
        "alice": os.path.join(alice, ".cache", "pip"),
        "bob": os.path.join(bob, ".cache", "pip"),
    }


def test_tilde_in_cache_dir_follows_the_task_environment(run_module, fakes, tmp_path):
    fakes.add("alice")
    elsewhere = os.path.realpath(str(tmp_path / "elsewhere"))
    code, result = run_module.info({"user": "alice", "cache_dir": "~/c", "environment": {"HOME": elsewhere}})
    assert code == 0 and result["cache_dir"] == os.path.join(elsewhere, "c"), result


# --- user=all without root -------------------------------------------------------------------------


@pytest.fixture
def not_root(monkeypatch):
    """This process as a user who is not root: no identity switch, and another uid's files are not its own."""
    monkeypatch.setattr(core_privilege, "is_root", lambda: False)
    monkeypatch.setattr(core_accounts, "is_root", lambda: False)


def test_user_all_without_root_reports_the_own_cache_and_says_the_others_need_root(run_module, fakes, monkeypatch, not_root):
    """Run without root, user=all reported root's cache as disabled with "sudo pip" advice."""
    home = fakes.add("runner", current=True)
    monkeypatch.setenv("HOME", home)
    fakes.add("root", uid=os.geteuid() + 4241)  # root, as seen from a process that is not
    fakes.add("other", uid=os.geteuid() + 4242)
    code, result = run_module.info({"user": "all"})
    assert code == 0, result
    found = {item["user"]: item for item in result["caches"]}
    assert "failed" not in found["runner"] and found["runner"]["cache_dir"] == os.path.join(home, ".cache", "pip") and found["runner"]["exists"]
    for name in ("root", "other"):
        assert found[name]["failed"] is True and found[name]["error"].startswith(f"needs root: {name}'s pip configuration"), found[name]
        assert "sudo pip" not in str(found[name])
    assert result["failed_users"] == ["root", "other"]
    code, result = run_module(pip_cache, {"user": "all", "state": "purged", "_ansible_check_mode": True})
    assert code == 0 and result["failed_users"] == ["root", "other"], result
    assert [item["users"] for item in result["caches"] if not item.get("failed")] == [["runner"]]


def test_another_user_without_root_is_refused_naming_user(run_module, fakes, monkeypatch, not_root):
    monkeypatch.setenv("HOME", fakes.add("runner", current=True))
    fakes.add("other", uid=os.geteuid() + 4242)
    for module, args in ((pip_cache_info, {}), (pip_cache, {"state": "purged"}), (pip_config, {"name": "global.timeout", "value": "5"})):
        code, result = run_module(module, dict(args, user="other"))
        assert code == 1 and result["option"] == "user" and result["msg"].startswith("user: needs root: other's"), result


def test_pip_config_for_all_without_root_writes_the_own_file_only(run_module, fakes, monkeypatch, not_root):
    home = fakes.add("runner", current=True)
    monkeypatch.setenv("HOME", home)
    other = fakes.add("other", uid=os.geteuid() + 4242)
    code, result = run_module(pip_config, {"user": "all", "name": "global.timeout", "value": "5"})
    assert code == 0 and result["failed_users"] == ["other"], result
    assert result["files"] == [os.path.join(home, ".config", "pip", "pip.conf")]
    assert not os.path.exists(os.path.join(other, ".config", "pip", "pip.conf"))


# --- pip_config: a file pip does not read, a file pip cannot parse ------------------------------------


def test_pip_config_says_plainly_that_pip_does_not_read_the_file(tmp_path, monkeypatch):
    """It said "pip reads global.no-cache-dir = None from None, which has more weight". (The engine's own run(): its
    warnings do not depend on what earlier tests in this process did to Ansible's warning list.)"""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    conf = str(tmp_path / "x.conf")
    params = {name: option.get("default") for name, option in module_spec("pip_config")["argument_spec"].items()}
    result = run("pip_config", dict(params, path=conf, name="global.no-cache-dir", value="true"))
    assert "failed" not in result, result
    warnings = " ".join(result["warnings"])
    assert f"pip does not read {conf}: the files it reads for this user are " in warnings and "/dev/null" in warnings, warnings
    assert "None" not in warnings


def test_pip_config_failure_names_the_file_it_cannot_parse(run_module, tmp_path):
    conf = tmp_path / "x.conf"
    conf.write_text("timeout = 5\n")
    code, result = run_module(pip_config, {"path": str(conf), "name": "global.timeout", "value": "9"})
    assert code == 1 and result["failed_path"] == str(conf), result
    assert "no [section] header before the first setting (line 1)" in result["msg"] and str(conf) in result["msg"]
    assert conf.read_text() == "timeout = 5\n"


# --- a NUL or a list where one text is expected ----------------------------------------------------


@pytest.fixture
def logged(monkeypatch):
    """What AnsibleModule sends to syslog, with syslog's own refusal of a NUL character."""
    messages = []

    def send(*args):
        message = args[-1]
        if "\x00" in message:
            raise ValueError("embedded null character")
        messages.append(message)

    monkeypatch.setattr(syslog, "syslog", send)
    return messages


@pytest.mark.parametrize(
    "module, args, option",
    [
        (pip_cache_info, {"cache_dir": "/tmp/a\x00b"}, "cache_dir"),
        (pip_cache, {"state": "purged", "cache_dir": "/tmp/a\x00b"}, "cache_dir"),
        (pip_config, {"name": "global.timeout", "value": "5\x00"}, "value"),
    ],
    ids=["info-cache_dir", "cache-cache_dir", "config-value"],
)
def test_nul_is_refused_naming_the_option_where_ansible_logs_to_syslog(run_module, logged, tmp_path, module, args, option):
    """Ansible's own "Failed to log to syslog (embedded null character)" came first; the invocation is still logged."""
    if "path" not in args and module is pip_config:
        args = dict(args, path=str(tmp_path / "pip.conf"))
    code, result = run_module(module, args)
    assert code == 1 and result["option"] == option and result["msg"] == f"{option}: the value must not contain a NUL character", result
    assert any("\\x00" in message for message in logged), logged
    assert not (tmp_path / "pip.conf").exists()


@pytest.mark.parametrize(
    "module, args, option",
    [
        (pip_cache_info, {"cache_dir": ["a"]}, "cache_dir"),
        (pip_cache, {"state": "purged", "cache_dir": ["a"]}, "cache_dir"),
        (pip_cache_info, {"cache_dir": {"a": 1}}, "cache_dir"),
        (pip_cache_info, {"user": ["root"]}, "user"),
        (pip_config, {"name": "global.timeout", "value": ["5"]}, "value"),
    ],
    ids=["info-list", "cache-list", "mapping", "user", "config-value"],
)
def test_a_list_for_one_path_or_text_is_refused(run_module, tmp_path, module, args, option):
    """cache_dir=["a"] was taken as the path "['a']"."""
    if module is pip_config:
        args = dict(args, path=str(tmp_path / "pip.conf"))
    code, result = run_module(module, args)
    assert code == 1 and result["option"] == option and result["msg"].startswith(f"{option}: expected "), result
    assert not (tmp_path / "pip.conf").exists()
