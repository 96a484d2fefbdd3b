# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action plugins over real Windows connection plugins (winrm, psrp, ssh with powershell or cmd).

The host is FakeWindowsHost (conftest.py): what the plugins send is decoded as PowerShell and carried out,
the engine run here by the Python the script picks. Every result is compared with the module's own,
run in this process on an identical cache (the POSIX path), so the Windows transport returns the module's
result shape; options are checked on the controller before anything is sent.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import zipfile

import pytest
from ansible.errors import AnsibleActionFail

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 renders every string

    def trust_as_template(value):
        return value


from ansible_collections.fleet.cache.plugins.plugin_utils import _engine_action

from .conftest import WINDOWS_TEMP, attach, connection_for, make_action, spread, strip_volatile, warnings_of


def read_exactly(path):
    with open(path, newline="") as handle:
        return handle.read()


def tree_shape(fingerprint):
    """A tree's fingerprint without the folders' times (a folder a run emptied has the time of that run)."""
    return {rel: info[:2] if info[0] == "dir" else info for rel, info in fingerprint.items()}


def rebuild(build_tree, root, files):
    shutil.rmtree(root, ignore_errors=True)
    return build_tree(root, files)


def files_sent(host):
    """Every file left in the fake host's temporary folder (none: the action removes its folder)."""
    found = []
    for directory, _dirs, files in os.walk(host.local(WINDOWS_TEMP)):
        found.extend(os.path.join(directory, name) for name in files)
    return found


INFO_CASES = [
    {},
    {"pattern": "foo_bar"},
    {"pattern": "FOO_BAR"},
    {"name": ["Foo.Bar<2"], "downloads": True},
    {"wheels": False, "limit": 1},
]


@pytest.mark.parametrize("args, pair", spread(INFO_CASES))
def test_info_over_windows_equals_the_module(windows_host, module_result, cache, args, pair):
    windows_connection = attach(pair, windows_host)
    expected = module_result("pip_cache_info", dict(args, cache_dir=cache))
    result = make_action("pip_cache_info", dict(args, cache_dir=cache), windows_connection).run(task_vars={})
    assert strip_volatile(result) == strip_volatile(expected)
    assert warnings_of(result) == warnings_of(expected)
    assert result["changed"] is False
    assert files_sent(windows_host) == []
    (script,) = [script for script in windows_host.scripts if "fleet_cache_launcher.py" in script]
    assert "-ExecutionPolicy" not in script  # the script itself; the command line around it carries the flags


def small_uv_cache(root):
    """A uv cache in uv 0.13's layout: a wheel linked to its archive, an archive nothing points to, uv 0.9's wheels
    bucket, the markers."""
    for rel, data in {
        "CACHEDIR.TAG": b"Signature: 8a477f597d28d172789f06886806bc55",
        ".lock": b"",
        "wheels-v8/pypi/foo/1.0-py3-none-any.http": b"h" * 300,
        "archive-v0/FOOfooFOOfoo0001/foo/__init__.py": b"x" * 700,
        "archive-v0/ORPHANorphan0001/bar/__init__.py": b"y" * 900,
        "wheels-v5/pypi/old/1.0-py3-none-any.http": b"o" * 200,
    }.items():
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "wb") as handle:
            handle.write(data)
    os.symlink("../../../archive-v0/FOOfooFOOfoo0001", os.path.join(root, "wheels-v8/pypi/foo/1.0-py3-none-any"))
    return root


UV_INFO_CASES = [{}, {"uv_version": "0.9.21"}, {"limit": 0}, {"environment": {"UV_NO_CACHE": "1"}}]


@pytest.mark.parametrize("args, pair", spread(UV_INFO_CASES))
def test_uv_info_over_windows_equals_the_module(windows_host, module_result, tmp_path, args, pair):
    windows_connection = attach(pair, windows_host)
    cache = small_uv_cache(os.path.realpath(str(tmp_path)) + "/uv-cache")
    expected = module_result("uv_cache_info", dict(args, cache_dir=cache))
    assert not expected.get("failed"), expected
    result = make_action("uv_cache_info", dict(args, cache_dir=cache), windows_connection).run(task_vars={})
    assert strip_volatile(result) == strip_volatile(expected)
    assert warnings_of(result) == warnings_of(expected)
    assert result["changed"] is False and len(result["caches"]) == 1
    if not args:
        assert result["caches"][0]["unreferenced_archives"]["items"][0]["name"] == "ORPHANorphan0001"
    assert files_sent(windows_host) == []


PIP_CACHE_CASES = [
    {"state": "purged"},
    {"state": "purged", "purge_extras": ["selfcheck"]},
    {"state": "absent", "name": ["Foo.Bar"]},
    {"state": "absent", "match": "glob", "name": ["tiny", "foo_bar-1"]},
    {"state": "pruned", "max_age": "30d"},
    {"state": "pruned", "max_size": "10kB"},
    {"state": "pruned", "ci": True},
]


@pytest.mark.parametrize("args, pair", spread(PIP_CACHE_CASES))
def test_pip_cache_check_real_check_real_over_windows_equals_the_module(
    windows_host, module_result, build_tree, standard_tree, tree_fingerprint, tmp_path, args, pair
):
    """Four runs each way (check, real, check, real) on identical trees: the same results and the same tree left."""
    windows_connection = attach(pair, windows_host)
    root = os.path.realpath(str(tmp_path)) + "/cache"
    args = dict(args, cache_dir=root)
    rebuild(build_tree, root, standard_tree)
    expected = [module_result("pip_cache", args, check_mode=check, diff=True) for check in (True, False, True, False)]
    left_by_module = tree_shape(tree_fingerprint(root))
    rebuild(build_tree, root, standard_tree)
    before = tree_fingerprint(root)
    results = []
    for check in (True, False, True, False):
        results.append(make_action("pip_cache", args, windows_connection, check_mode=check, diff=True).run(task_vars={}))
        if check and len(results) == 1:
            assert tree_fingerprint(root) == before, "check mode changed the cache"
    assert [strip_volatile(result) for result in results] == [strip_volatile(result) for result in expected]
    assert [result["changed"] for result in results] == [True, True, False, False]
    assert "diff" in results[0] and results[0]["diff"] == results[1]["diff"]
    assert tree_shape(tree_fingerprint(root)) == left_by_module


def test_pip_config_over_windows_equals_the_module(windows_connection, module_result, tmp_path):
    folder = tmp_path / "conf"
    folder.mkdir()
    path = str(folder / "pip.ini")
    original = "# kept\r\n[global]\r\ntimeout = 60\r\n"
    steps = [
        {"name": "global.no-cache-dir", "value": "true", "path": path},
        {"name": "global.cache-dir", "value": str(tmp_path / "elsewhere"), "path": path},
        {"name": "global.no-cache-dir", "state": "absent", "path": path},
    ]
    expected = []
    with open(path, "w", newline="") as handle:
        handle.write(original)
    for args in steps:
        for check in (True, False):
            expected.append(module_result("pip_config", args, check_mode=check, diff=True))
    expected_text = read_exactly(path)
    with open(path, "w", newline="") as handle:
        handle.write(original)
    results = []
    for args in steps:
        for check in (True, False):
            results.append(make_action("pip_config", args, windows_connection, check_mode=check, diff=True).run(task_vars={}))
    assert [strip_volatile(result) for result in results] == [strip_volatile(result) for result in expected]
    assert read_exactly(path) == expected_text
    assert [result["changed"] for result in results] == [True, True, True, True, True, True]
    assert results[0]["diff"][0]["after"].startswith("# kept\r\n[global]\r\n")


def test_what_is_sent_and_run(windows_connection, windows_host, cache):
    """The engine zip holds plugins/module_utils with its packages as one package; the arguments are the validated options."""
    sent = {}
    real_put = windows_host.put_file

    def put_file(in_path, out_path):
        with open(in_path, "rb") as handle:
            sent[out_path.rsplit("\\", 1)[-1]] = handle.read()
        real_put(in_path, out_path)

    windows_connection.put_file = put_file
    result = make_action("pip_cache_info", {"cache_dir": cache, "limit": "5"}, windows_connection, check_mode=True, diff=True).run(task_vars={})
    assert not result.get("failed"), result
    assert sorted(sent) == ["fleet_cache_args.json", "fleet_cache_engine.zip", "fleet_cache_launcher.py"]
    with zipfile.ZipFile(__import__("io").BytesIO(sent["fleet_cache_engine.zip"])) as archive:
        names = sorted(archive.namelist())
    engine = _engine_action.engine_files()
    assert names == sorted(["fleet_cache_engine/__init__.py", *(f"fleet_cache_engine/{name}" for name in engine)])
    assert {"_entry.py", "_core/__init__.py", "_core/windows.py", "_pip/__init__.py", "_pip/resolve.py", "_core/walk.py"} <= set(engine)
    assert {"_tasks/__init__.py", "_tasks/pip_cache_info.py", "_tasks/pip_cache.py", "_tasks/pip_config.py"} <= set(engine)
    request = json.loads(sent["fleet_cache_args.json"])
    assert request["module"] == "pip_cache_info"
    assert (request["check_mode"], request["diff"]) == (True, True)
    assert request["params"]["limit"] == 5  # converted on the controller, with the defaults filled in
    assert request["params"]["wheels"] is True
    assert _engine_action.engine_archive() == sent["fleet_cache_engine.zip"]  # same files, same bytes
    argv = windows_host.python_runs[-1][0]
    assert argv[:3] == ["py", "-3", "-I"]
    assert argv[3].endswith("\\fleet_cache_launcher.py") and argv[4].endswith("\\fleet_cache_args.json")
    assert argv[3].startswith(WINDOWS_TEMP + "\\ansible-tmp-")


BAD_OPTIONS = [
    ("pip_cache_info", {"bogus": 1}, "bogus"),
    ("pip_cache_info", {"pattern": "a", "name": ["b"]}, "mutually exclusive"),
    ("pip_cache_info", {"limit": "many"}, "limit"),
    ("pip_cache", {}, "state"),
    ("pip_cache", {"state": "absent"}, "name"),
    ("pip_cache", {"state": "gone"}, "state"),
    ("pip_cache", {"state": "purged", "purge_extras": ["all"]}, "purge_extras"),
    ("pip_config", {"name": "global.no-cache-dir"}, "value"),
    ("pip_config", {"name": "global.x", "value": "1", "scope": "machine"}, "scope"),
    ("uv_cache_info", {"limit": "many"}, "limit"),
    ("uv_cache_info", {"bogus": 1}, "bogus"),
]


@pytest.mark.parametrize("case, pair", spread(BAD_OPTIONS))
def test_bad_options_fail_on_the_controller_before_anything_is_sent(windows_host, case, pair):
    module, args, fragment = case
    windows_connection = attach(pair, windows_host)
    with pytest.raises(AnsibleActionFail) as failed:
        make_action(module, args, windows_connection).run(task_vars={})
    assert fragment in str(failed.value)
    assert windows_host.scripts == []


def test_errors_of_the_engine_come_back_as_the_modules(psrp_connection, module_result, cache):
    for module, args in [
        ("pip_cache", {"state": "pruned", "max_size": "2XB", "cache_dir": cache}),
        ("pip_cache", {"state": "purged", "cache_dir": "/"}),
        ("pip_cache_info", {"limit": -1, "cache_dir": cache}),
        # A list where a path goes: validation makes ["a"] the text "['a']"; refused as on POSIX hosts, naming the option.
        ("pip_cache_info", {"cache_dir": [cache]}),
        ("pip_cache", {"state": "purged", "cache_dir": {"a": cache}}),
        ("uv_cache_info", {"limit": -1, "cache_dir": cache}),
        ("uv_cache_info", {"uv_version": "abc", "cache_dir": cache}),
        ("uv_cache_info", {"cache_dir": [cache]}),
    ]:
        expected = module_result(module, args)
        result = make_action(module, args, psrp_connection).run(task_vars={})
        assert result["failed"] is True
        assert strip_volatile(result) == strip_volatile(expected)


def test_path_options_are_expanded_on_the_host_not_on_the_controller(psrp_connection, windows_host, monkeypatch, tmp_path):
    sent = {}
    real_put = windows_host.put_file

    def put_file(in_path, out_path):
        if out_path.endswith(".json"):
            with open(in_path) as handle:
                sent.update(json.load(handle))
        real_put(in_path, out_path)

    psrp_connection.put_file = put_file
    home = tmp_path / "host-home"
    (home / "c").mkdir(parents=True)
    windows_host.environ["HOME"] = str(home)
    result = make_action("pip_cache_info", {"cache_dir": "~/c"}, psrp_connection).run(task_vars={})
    assert sent["params"]["cache_dir"] == "~/c"  # sent as written
    assert result["caches"][0]["cache_dir"] == os.path.realpath(str(home / "c"))  # the host's home


def test_task_environment_reaches_the_engine(windows_connection, windows_host, cache):
    result = make_action("pip_cache_info", {}, windows_connection, environment=[{"PIP_CACHE_DIR": cache, "ODD": "it's \u2019quoted\u2019 $x `y`"}]).run(
        task_vars={}
    )
    assert (result["caches"][0]["source"], result["caches"][0]["cache_dir"]) == ("env", cache)
    assert windows_host.python_runs[-1][1] == {"PIP_CACHE_DIR": cache, "ODD": "it's \u2019quoted\u2019 $x `y`"}


def test_module_environment_option_reaches_the_engine(psrp_connection, cache):
    result = make_action("pip_cache_info", {"environment": {"PIP_CACHE_DIR": cache}}, psrp_connection).run(task_vars={})
    assert (result["caches"][0]["source"], result["caches"][0]["cache_dir"]) == ("env", cache)


def test_become_and_async_are_refused_on_windows(windows_connection, windows_host, cache):
    with pytest.raises(AnsibleActionFail, match="async"):
        make_action("pip_cache_info", {"cache_dir": cache}, windows_connection, async_val=30).run(task_vars={})
    windows_connection.become = object()
    with pytest.raises(AnsibleActionFail, match="become"):
        make_action("pip_cache_info", {"cache_dir": cache}, windows_connection).run(task_vars={})
    assert windows_host.scripts == []


# --- which Python -----------------------------------------------------------------------------------


def run_info(connection, cache, task_vars=None, **extra):
    return make_action("pip_cache_info", dict(extra, cache_dir=cache), connection).run(task_vars=task_vars or {})


def test_py_launcher_first_then_python(windows_connection, windows_host, cache):
    assert run_info(windows_connection, cache)["caches"][0]["cache_dir"] == cache
    assert windows_host.python_runs[-1][0][:2] == ["py", "-3"]
    del windows_host.commands["py"]
    assert run_info(windows_connection, cache)["caches"][0]["cache_dir"] == cache
    assert windows_host.python_runs[-1][0][0] == "python"


def test_no_python_is_a_clear_failure(psrp_connection, windows_host, cache):
    windows_host.commands.clear()
    result = run_info(psrp_connection, cache)
    assert result["failed"] is True and result["rc"] == 127
    assert result["msg"] == "fleet.cache: no Python found on this host (tried py -3, python); install Python 3.9+ or set python_interpreter"


def test_store_placeholder_is_named(psrp_connection, windows_host, cache):
    del windows_host.commands["py"]
    windows_host.store_alias = True
    result = run_info(psrp_connection, cache)
    assert result["failed"] is True and result["rc"] == 9009
    assert "Microsoft Store" in result["msg"]


@pytest.mark.parametrize(
    "task_vars, option, expected",
    [
        ({"ansible_python_interpreter": "C:\\Program Files\\Python 3.12\\python.exe"}, None, ["C:\\Program Files\\Python 3.12\\python.exe", "-I"]),
        ({"ansible_python_interpreter": "py -3.12"}, None, ["py", "-3.12", "-I"]),
        ({"ansible_python_interpreter": "/usr/bin/python3"}, None, ["py", "-3", "-I"]),  # a fleet-wide POSIX setting: passed over
        ({"ansible_python_interpreter": "auto_silent"}, None, ["py", "-3", "-I"]),
        ({"ansible_python_interpreter": "py -3.11"}, "D:\\O'Neil's tools\\python.exe", ["D:\\O'Neil's tools\\python.exe", "-I"]),
        ({"ansible_python_interpreter": trust_as_template("{{ '/usr/bin/python3' }}")}, None, ["py", "-3", "-I"]),  # templated first
    ],
)
def test_interpreter_choice(psrp_connection, windows_host, cache, task_vars, option, expected):
    for name in ("C:\\Program Files\\Python 3.12\\python.exe", "D:\\O'Neil's tools\\python.exe"):
        windows_host.commands[name] = windows_host.commands["py"]
    extra = {"python_interpreter": option} if option else {}
    result = run_info(psrp_connection, cache, task_vars, **extra)
    assert result["caches"][0]["cache_dir"] == cache, result
    assert windows_host.python_runs[-1][0][: len(expected)] == expected


def test_configured_interpreter_that_is_missing_is_a_clear_failure(psrp_connection, windows_host, cache):
    result = run_info(psrp_connection, cache, {"ansible_python_interpreter": "C:\\Python39\\python.exe"})
    assert result["failed"] is True and result["rc"] == 127
    assert "tried C:\\Python39\\python.exe" in result["msg"]


def test_delegated_host_variables_count(psrp_connection, windows_host, cache):
    windows_host.commands["E:\\py\\python.exe"] = windows_host.commands["py"]
    task_vars = {"ansible_python_interpreter": "/usr/bin/python3", "ansible_delegated_vars": {"win1": {"ansible_python_interpreter": "E:\\py\\python.exe"}}}
    action = make_action("pip_cache_info", {"cache_dir": cache}, psrp_connection, delegate_to="win1")
    assert action.run(task_vars=task_vars)["caches"][0]["cache_dir"] == cache
    assert windows_host.python_runs[-1][0][0] == "E:\\py\\python.exe"


def old_python():
    """A Python older than 3.9 on this machine, if there is one (the launcher must answer it with a result)."""
    for version in ("3.8", "3.7", "3.6"):
        # pyenv's own build first: its shim on PATH exits 127 unless that version is activated.
        candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}")))
        candidates += [found] if (found := shutil.which(f"python{version}")) else []
        for candidate in candidates:
            if subprocess.run([candidate, "-c", "import sys"], capture_output=True, check=False).returncode == 0:
                return candidate
    return None


def test_old_python_answers_with_a_result(psrp_connection, windows_host, cache):
    python = old_python()
    if python is None:
        pytest.skip("no Python older than 3.9 on this machine")
    windows_host.commands["py"] = python
    result = run_info(psrp_connection, cache)
    assert result["failed"] is True
    assert "fleet.cache needs Python 3.9 or newer on this host" in result["msg"]


def test_transport_variable_is_checked(cache):
    connection = connection_for("local", "sh")
    with pytest.raises(AnsibleActionFail, match="fleet_cache_transport"):
        make_action("pip_cache_info", {"cache_dir": cache}, connection).run(task_vars={"fleet_cache_transport": "psrp"})
