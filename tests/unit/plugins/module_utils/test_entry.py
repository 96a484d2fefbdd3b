# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's one entry point: run() calling the tasks with params and a warning callback, and main() as the Windows
launcher calls it."""

from __future__ import annotations

import ast
import errno
import inspect
import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.fleet.cache.plugins.module_utils import _entry as engine_entry
from ansible_collections.fleet.cache.plugins.module_utils._entry import MODULES, main, module_spec, printable, run
from ansible_collections.fleet.cache.plugins.module_utils._pip.targets import run_program
from ansible_collections.fleet.cache.plugins.module_utils._tasks.pip_config import _backup, backup_name

MODULE_UTILS = os.path.dirname(os.path.abspath(engine_entry.__file__))


pytestmark = pytest.mark.usefixtures("no_pip_config")


def params_for(module, **values):
    """Validated-looking params: every option of the module's spec with its default, as AnsibleModule fills them."""
    params = {name: option.get("default") for name, option in module_spec(module)["argument_spec"].items()}
    params.update(values)
    return params


def test_the_tasks_take_params_and_a_warning_callback_not_a_module():
    used = set()
    tasks = [os.path.join("_tasks", name) for name in os.listdir(os.path.join(MODULE_UTILS, "_tasks")) if name.endswith(".py") and name != "__init__.py"]
    assert len(tasks) == len(MODULES), tasks
    for name in [*tasks, os.path.join("_pip", "targets.py"), os.path.join("_uv", "targets.py"), "_cli.py"]:
        with open(os.path.join(MODULE_UTILS, name)) as handle:
            tree = ast.parse(handle.read())
        used.update(node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "module")
        used.update(node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id in ("module", "EngineModule", "_Options", "_Printable"))
    assert used == set(), "no AnsibleModule, nor a stand-in for one, reaches the engine"
    for task in (engine_entry.task_of(name) for name in MODULES):
        parameters = inspect.signature(task).parameters
        assert list(parameters) == ["params", "warn", "check_mode", "diff"], task
        assert parameters["check_mode"].kind is parameters["diff"].kind is inspect.Parameter.KEYWORD_ONLY


# What a module's run imports of the engine beyond its own task: nothing of another module's task.
OTHERS_ONLY = {
    "pip_cache_info": ["_tasks.pip_cache", "_tasks.pip_config", "_pip.remove", "_pip.config_edit"],
    "pip_cache": ["_tasks.pip_cache_info", "_tasks.pip_config", "_pip.config_edit"],
    "pip_config": ["_tasks.pip_cache", "_tasks.pip_cache_info", "_pip.remove", "_pip.scan"],
    # A uv module loads nothing of pip's, and a pip module nothing of uv's.
    "uv_cache_info": ["_tasks.uv_cache", "_uv.remove", "_pip.targets", "_pip.scan", "_pip.resolve"],
    "uv_cache": ["_tasks.uv_cache_info", "_pip.targets", "_pip.scan", "_pip.resolve"],
}
for pip_module in ("pip_cache_info", "pip_cache", "pip_config"):
    OTHERS_ONLY[pip_module] += ["_uv.targets", "_uv.scan", "_uv.resolve", "_uv.remove"]


@pytest.mark.parametrize("module_name", MODULES)
def test_a_module_imports_only_its_own_task(module_name):
    """A module file imports its task (so that Ansible ships those files with it) and the entry point imports no other
    task: each module run compiles and loads only what it uses. (-B: no __pycache__ written beside the modules.)"""
    code = (
        f"import sys\nfrom ansible_collections.fleet.cache.plugins.modules import {module_name}\n"
        "from ansible_collections.fleet.cache.plugins.module_utils import _entry\n"
        f"_entry.module_spec({module_name!r})\n"
        "prefix = 'ansible_collections.fleet.cache.plugins.module_utils.'\n"
        "print('\\n'.join(sorted(name[len(prefix):] for name in sys.modules if name.startswith(prefix))))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-B", "-c", code], capture_output=True, text=True, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    loaded = set(proc.stdout.split())
    assert f"_tasks.{module_name}" in loaded and "_entry" in loaded, loaded
    assert not loaded & set(OTHERS_ONLY[module_name]), sorted(loaded & set(OTHERS_ONLY[module_name]))


def test_run_reports_a_cache(cache):
    result = run("pip_cache_info", params_for("pip_cache_info", cache_dir=cache))
    assert result["changed"] is False and "failed" not in result
    assert result["caches"][0]["pip_cache_info"]["wheels_count"] == 3 and result["totals"]["wheels_bytes"] > 0


def test_check_mode_and_diff_reach_the_task(cache, tree_fingerprint):
    before = tree_fingerprint(cache)
    result = run("pip_cache", params_for("pip_cache", state="purged", cache_dir=cache), check_mode=True, diff=True)
    assert result["changed"] is True and "diff" in result
    assert tree_fingerprint(cache) == before
    assert "diff" not in run("pip_cache", params_for("pip_cache", state="purged", cache_dir=cache), check_mode=True)


def test_failures_come_back_as_results(cache):
    # The task's own refusal:
    result = run("pip_cache", params_for("pip_cache", state="pruned", cache_dir=cache))
    assert result == {"failed": True, "msg": "state=pruned needs max_age, max_size or ci=true", "option": "state"}
    # An engine error, naming option and path:
    result = run("pip_cache", params_for("pip_cache", state="purged", cache_dir="/"))
    assert result["failed"] is True and result["option"] == "cache_dir" and result["failed_path"] == "/"
    assert result["msg"].startswith("cache_dir: refusing to delete from '/'")


def test_warnings_are_collected(tmp_path):
    config = tmp_path / "pip.conf"
    config.write_text(f"[install]\ncache-dir = {tmp_path / 'other'}\n")
    result = run("pip_cache_info", params_for("pip_cache_info", environment={"PIP_CONFIG_FILE": str(config)}))
    assert result["warnings"] and "'pip install' uses" in result["warnings"][0]


def test_unknown_module_is_refused():
    with pytest.raises(ValueError):
        module_spec("pip_everything")


def write_request(tmp_path, **request):
    path = tmp_path / "args.json"
    path.write_text(json.dumps(request))
    return str(path)


def test_main_prints_one_json_line_and_exits_with_the_outcome(tmp_path, capsys, cache):
    code = main([write_request(tmp_path, module="pip_cache_info", params=params_for("pip_cache_info", cache_dir=cache), check_mode=True, diff=False)])
    out = capsys.readouterr().out
    assert code == 0 and out.count("\n") == 1
    assert json.loads(out)["caches"][0]["cache_dir"] == cache
    code = main([write_request(tmp_path, module="pip_cache", params=params_for("pip_cache", state="pruned", cache_dir=cache))])
    assert code == 1 and json.loads(capsys.readouterr().out)["option"] == "state"


def test_main_output_is_ascii_whatever_the_paths(tmp_path, capsys, build_tree):
    root = os.path.realpath(build_tree(str(tmp_path / "caf\u00e9 \u4e2d"), {"wheels/aa/bb/cc/dd/x-1.0-py3-none-any.whl": (5, 1)}))
    assert main([write_request(tmp_path, module="pip_cache_info", params=params_for("pip_cache_info", cache_dir=root))]) == 0
    out = capsys.readouterr().out
    assert out.isascii()
    assert json.loads(out)["caches"][0]["cache_dir"] == root


def test_main_expands_path_options_on_the_host(tmp_path, capsys, monkeypatch):
    (tmp_path / "home" / "c").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CACHE_LEAF", "c")
    main([write_request(tmp_path, module="pip_cache_info", params=params_for("pip_cache_info", cache_dir="~/$CACHE_LEAF"))])
    assert json.loads(capsys.readouterr().out)["caches"][0]["cache_dir"] == os.path.realpath(str(tmp_path / "home" / "c"))


@pytest.mark.parametrize(
    "argv, fragment",
    [([], "usage"), (["/nonexistent/args.json"], "FileNotFoundError"), (None, "unknown module 'pip_everything'")],
)
def test_main_never_ends_in_a_bare_traceback(tmp_path, capsys, argv, fragment):
    if argv is None:
        argv = [write_request(tmp_path, module="pip_everything", params={})]
    assert main(argv) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True and fragment in result["msg"] and "Traceback" in result["exception"]


def test_backup_names():
    now = time.mktime((2026, 11, 23, 10, 0, 0, 0, 0, -1))
    assert backup_name("/etc/pip.conf", pid=42, now=now, windows=False) == "/etc/pip.conf.42.2026-11-23@10:00:00~"
    assert backup_name("C:\\ProgramData\\pip\\pip.ini", pid=42, now=now, windows=True) == "C:\\ProgramData\\pip\\pip.ini.42.2026-11-23@10-00-00~"


def test_backup_copies_only_what_exists_outside_check_mode(tmp_path):
    path = tmp_path / "pip.conf"
    values = dict(CONFIG, path=str(path), backup=True)
    result = run("pip_config", params_for("pip_config", **values))
    assert result["changed"] is True and "backup_files" not in result, result
    path.write_text("[global]\n")
    changed_values = dict(values)
    changed_values["value"] = "/srv/other"
    result = run("pip_config", params_for("pip_config", **changed_values), check_mode=True)
    assert result["changed"] is True and "backup_files" not in result and path.read_text() == "[global]\n", result
    for own in (False, True):
        copy = _backup(str(path), own=own)
        assert copy.startswith(str(path) + f".{os.getpid()}.")
        with open(copy) as handle:
            assert handle.read() == "[global]\n"
    result = run("pip_config", params_for("pip_config", **values))
    assert len(result["backup_files"]) == 1 and result["backup_files"][0].startswith(str(path) + f".{os.getpid()}."), result


def test_run_program_reports_a_missing_program():
    rc, out, err = run_program(["/nonexistent/python", "-c", "pass"])
    assert rc == 127 and out == "" and err


def test_every_module_has_a_spec():
    for module in MODULES:
        spec = module_spec(module)
        shared = {"cache_dir", "user", "environment", "python_interpreter"}
        tool = {"python", "command"} if module.startswith("pip_") else {"project", "uv", "uv_version"}
        assert shared | tool <= set(spec["argument_spec"]), module


# --- bad input and odd names (hardening) ------------------------------------------------------------

CONFIG = {"name": "global.cache-dir", "value": "/srv/pip"}


@pytest.mark.parametrize(
    "module, values, option",
    [
        ("pip_cache_info", {"cache_dir": "/tmp/a\x00b"}, "cache_dir"),
        ("pip_cache", {"state": "purged", "cache_dir": "/tmp/a\x00b"}, "cache_dir"),
        ("pip_cache", {"state": "purged", "user": "a\x00b"}, "user"),
        ("pip_cache_info", {"environment": {"PIP_CACHE_DIR": "/x\x00"}}, "environment"),
        ("pip_cache_info", {"environment": {"PIP_\x00": "/x"}}, "environment"),
        ("pip_cache_info", {"python": "/usr/bin/py\x00thon"}, "python"),
        ("pip_cache", {"state": "absent", "name": ["ok", "x\x00y"]}, "name"),
        ("pip_config", dict(CONFIG, path="/tmp/x\x00/pip.conf"), "path"),
        ("pip_config", dict(CONFIG, scope="site", venv="/tmp/v\x00"), "venv"),
        ("pip_config", dict(CONFIG, name="global.a\x00b"), "name"),
    ],
)
def test_nul_characters_are_refused_naming_the_option(module, values, option):
    result = run(module, params_for(module, **values))
    assert result["failed"] is True and result["option"] == option, result
    assert result["msg"].startswith(f"{option}: ") and "NUL" in result["msg"]


@pytest.mark.parametrize("kind", ["missing", "not executable", "folder", "not on PATH"])
def test_python_that_is_no_interpreter_is_named(tmp_path, kind):
    python = {"missing": tmp_path / "nowhere" / "python3", "not executable": tmp_path / "notes", "folder": tmp_path}.get(kind, "no-such-python-fleet")
    (tmp_path / "notes").write_text("not a program")
    (tmp_path / "notes").chmod(0o644)
    for module, values in (("pip_cache_info", {}), ("pip_cache", {"state": "purged"}), ("pip_config", CONFIG)):
        result = run(module, params_for(module, python=str(python), **values))
        assert result["failed"] is True and result["option"] == "python" and str(python) in result["msg"], result


def test_python_that_is_an_interpreter_is_asked(tmp_path):
    result = run("pip_cache_info", params_for("pip_cache_info", python=sys.executable, cache_dir=str(tmp_path)))
    assert "failed" not in result, result


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system")])
def test_pip_config_write_failure_is_a_message_and_the_file_stays(tmp_path, monkeypatch, code, words):
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\ntimeout = 5\n")

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "replace", refuse)
    result = run("pip_config", params_for("pip_config", path=str(conf), **CONFIG))
    monkeypatch.undo()
    assert result["failed"] is True and result["option"] == "path" and result["failed_path"] == str(conf), result
    assert words in result["msg"] and str(conf) in result["msg"]
    assert conf.read_text() == "[global]\ntimeout = 5\n"
    assert [path.name for path in tmp_path.iterdir()] == ["pip.conf"], "no temporary file is left behind"


def test_pip_config_in_a_folder_that_cannot_be_made(tmp_path):
    (tmp_path / "a-file").write_text("x")
    target = tmp_path / "a-file" / "conf" / "pip.conf"
    result = run("pip_config", params_for("pip_config", path=str(target), **CONFIG))
    assert result["failed"] is True and result["option"] == "path" and "Not a directory" in result["msg"], result
    assert (tmp_path / "a-file").read_text() == "x"


def test_printable_keeps_utf8_and_escapes_other_bytes():
    assert printable("caf\u00e9 \u4e2d") == "caf\u00e9 \u4e2d"
    assert printable("caf\udce9") == "caf\\xe9"  # b"caf\xe9" read with surrogateescape
    assert printable({"k\udcff": ["\ud800", 1, None]}) == {"k\\xff": ["\\xed\\xa0\\x80", 1, None]}


@pytest.mark.skipif(sys.getfilesystemencoding().lower() not in ("utf-8", "utf8"), reason="needs a UTF-8 file system encoding")
def test_names_that_are_not_utf8_are_removed_and_reported_printably(tmp_path):
    cache = os.path.join(os.fsencode(tmp_path), b"cache")
    wheel = os.path.join(cache, b"wheels/ab/cd/ef/\xff01/caf\xe9-1.0-py3-none-any.whl")
    os.makedirs(os.path.dirname(wheel))
    with open(wheel, "wb") as handle:
        handle.write(b"PK\x03\x04")
    for module, values in (("pip_cache_info", {"downloads": True}), ("pip_cache", {"state": "purged", "min_age": "0"})):  # written just now
        result = run(module, params_for(module, cache_dir=os.fsdecode(cache), **values), diff=True)
        assert "failed" not in result, result
        json.dumps(result, ensure_ascii=False).encode("utf-8")  # no surrogate left: Ansible takes the result
    assert not os.path.exists(wheel), "the file is removed by its real name"
    printable_cache = os.fsdecode(cache).replace("\udcff", "\\xff")
    assert [item["path"] for item in result["removed"]["largest"]] == [printable_cache + "/wheels/ab/cd/ef/\\xff01/caf\\xe9-1.0-py3-none-any.whl"]
    assert "caf\\xe9" in result["diff"]["before"] and result["removed"]["largest"][0]["project"] == "caf\\xe9"


def test_warnings_are_printable_too(monkeypatch):
    def task(params, warn, *, check_mode=False, diff=False):
        warn("caf\udce9")
        return {"changed": False}

    monkeypatch.setattr(engine_entry, "task_of", lambda _name: task)
    assert run("pip_cache_info", {})["warnings"] == ["caf\\xe9"]
    warned: list[str] = []
    assert run("pip_cache_info", {}, warn=warned.append) == {"changed": False}
    assert warned == ["caf\\xe9"]


def test_info_on_a_home_folder_reads_only_pips_folders(tmp_path, monkeypatch, build_tree):
    home = os.path.realpath(build_tree(str(tmp_path / "home"), {"wheels/aa/bb/cc/dd/x-1.0-py3-none-any.whl": (10, 1), "Documents/big.bin": (5000, 1)}))
    monkeypatch.setenv("HOME", home)
    result = run("pip_cache_info", params_for("pip_cache_info", cache_dir=home))
    assert "failed" not in result, result
    entry = result["caches"][0]
    assert entry["buckets"]["wheels"]["files"] == 1 and entry["other"]["bytes"] == 0 and entry["other"]["dirs"] == 0
    assert any("a home folder" in warning and "nothing else in it is walked" in warning for warning in result["warnings"]), result["warnings"]


def test_pip_config_writes_nothing_when_pip_would_refuse_its_configuration(tmp_path):
    conf = tmp_path / "pip.conf"
    result = run("pip_config", params_for("pip_config", path=str(conf), environment={"PIP_NO_CACHE_DIR": "maybe"}, **CONFIG))
    assert result["failed"] is True and "PIP_NO_CACHE_DIR" in result["msg"], result
    assert not conf.exists(), "a refused run writes no file"
