# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tasks called directly: a plain params dict and a warning callback in, a result or a typed error out."""

from __future__ import annotations

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import CacheError, InvalidValue
from ansible_collections.fleet.cache.plugins.module_utils._tasks import pip_cache, pip_cache_info, pip_config

pytestmark = pytest.mark.usefixtures("no_pip_config")


def params_of(task, **values):
    """What AnsibleModule hands the task: every option of the task's spec with its default, then the given values."""
    params = {name: option.get("default") for name, option in task.module_spec()["argument_spec"].items()}
    params.update(values)
    return params


def test_info_warns_through_the_callback(tmp_path):
    config = tmp_path / "pip.conf"
    config.write_text(f"[install]\ncache-dir = {tmp_path / 'other'}\n")
    warnings: list[str] = []
    result = pip_cache_info.report(params_of(pip_cache_info, environment={"PIP_CONFIG_FILE": str(config)}), warnings.append)
    assert result["changed"] is False and "warnings" not in result and "failed" not in result, result
    assert len(warnings) == 1 and "'pip install' uses" in warnings[0] and str(tmp_path / "other") in warnings[0], warnings


def test_info_reads_a_cache(cache):
    warnings: list[str] = []
    result = pip_cache_info.report(params_of(pip_cache_info, cache_dir=cache), warnings.append)
    assert result["caches"][0]["cache_dir"] == cache and result["caches"][0]["pip_cache_info"]["wheels_count"] == 3
    assert warnings == []


@pytest.mark.parametrize(
    "task, values, error, option, text",
    [
        (pip_cache_info, {"limit": -1}, InvalidValue, "limit", "limit: must be 0 or more"),
        (pip_cache, {"state": "purged", "limit": -1}, InvalidValue, "limit", "limit: must be 0 or more"),
        (pip_cache, {"state": "pruned"}, InvalidValue, "state", "state=pruned needs max_age, max_size or ci=true"),
        (pip_cache, {"state": "absent", "name": []}, InvalidValue, "name", "name: state=absent needs at least one project name or pattern"),
        (pip_cache, {"state": "absent", "name": ["x*"], "match": "glob", "downloads": True}, InvalidValue, "downloads", "downloads: not available with"),
        (pip_cache, {"state": "pruned", "max_size": "5"}, InvalidValue, "max_size", "max_size: "),
        (pip_config, {"name": "global.timeout", "value": None}, InvalidValue, "value", "value: state=present needs a value"),
    ],
)
def test_bad_input_is_a_typed_error_naming_its_option(cache, task, values, error, option, text):
    runner = {pip_cache_info: pip_cache_info.report, pip_cache: pip_cache.run, pip_config: pip_config.manage}[task]
    warnings: list[str] = []
    with pytest.raises(error) as raised:
        runner(params_of(task, cache_dir=cache, **values), warnings.append, check_mode=True, diff=True)
    assert raised.value.option == option and str(raised.value).startswith(text), str(raised.value)


def test_a_refused_cache_is_a_typed_error_with_option_and_path():
    with pytest.raises(CacheError) as raised:
        pip_cache.run(params_of(pip_cache, state="purged", cache_dir="/"), [].append)
    assert (raised.value.option, raised.value.path) == ("cache_dir", "/") and str(raised.value).startswith("cache_dir: refusing to delete from '/'")


def test_check_mode_and_diff_are_plain_arguments(cache, tree_fingerprint):
    before = tree_fingerprint(cache)
    params = params_of(pip_cache, state="purged", cache_dir=cache, min_age="0")
    result = pip_cache.run(params, [].append, check_mode=True, diff=True)
    assert result["changed"] is True and result["removed"]["entries"] > 0 and "diff" in result
    assert tree_fingerprint(cache) == before, "check mode changes nothing"
    assert "diff" not in pip_cache.run(params, [].append, check_mode=True)
    assert pip_cache.run(params, [].append)["changed"] is True and tree_fingerprint(cache) != before


def test_pip_config_warns_through_the_callback_and_writes_only_outside_check_mode(tmp_path):
    conf = tmp_path / "pip.conf"
    warnings: list[str] = []
    params = params_of(pip_config, path=str(conf), name="global.no-cache-dir", value="false")
    conf.write_text("[global]\nno-cache-dir = true\n")
    result = pip_config.manage(params, warnings.append, check_mode=True, diff=True)
    assert warnings and "value=false removes the key instead" in warnings[0], warnings
    assert result["changed"] is True and result["diff"][0]["before"] == "[global]\nno-cache-dir = true\n" and result["files"] == [str(conf)]
    assert conf.read_text() == "[global]\nno-cache-dir = true\n", "check mode writes nothing"
    pip_config.manage(params, [].append)
    assert "no-cache-dir" not in conf.read_text()


def test_every_user_failing_is_an_error_carrying_their_entries(monkeypatch, tmp_path):
    def unreadable(*_args, **_kwargs):
        raise CacheError("cannot read this configuration file: Permission denied", path=str(tmp_path / "pip.conf"))

    monkeypatch.setattr(pip_config, "_plan", unreadable)
    warnings: list[str] = []
    with pytest.raises(CacheError) as raised:
        pip_config.manage(params_of(pip_config, user="all", name="global.timeout", value="5"), warnings.append)
    error = raised.value
    assert error.option == "user" and str(error).startswith("user: no user's configuration could be read: cannot read this configuration file")
    assert set(error.details) == {"users", "failed_users"} and error.details["failed_users"] == [entry["user"] for entry in error.details["users"]]
    assert len(warnings) == len(error.details["users"]) and all("left alone" in warning for warning in warnings), warnings
