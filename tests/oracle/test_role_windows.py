# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pip_cache_policy role and the collection's playbooks against a host that Ansible takes for Windows.

No Windows host runs here, so one is stood in for (tests/unit/plugins/windows_fakes/, copied into test collections):

- the connection plugins ``fleet_test.windows.winrm`` (the real ``powershell`` shell plugin, as WinRM has) and
  ``fleet_test.windows.ssh`` (``ansible_shell_type: powershell``, as SSH to Windows has) decode every
  -EncodedCommand the shell plugin builds and carry it out in a folder standing for the host's drives; the
  Python the engine's script names runs here. So the fleet.cache modules take their Windows path for real.
- ``ansible.windows.win_*``, which the role's Windows tasks use and which cannot run here, are stand-in action
  plugins that log their arguments and do what the module does to that folder; a Scheduled Task is a JSON file.
- ``fleet_test.windows.facts`` gives the host the facts setup gathers on Windows Server.

The role runs three times (check mode, real, real again) from the collection's own enforce playbook and from a
play with ``become: true``: check mode changes nothing; the real run installs the engine, prunes the cache to the
budget through the Windows transport and registers the Scheduled Task whose command, run by hand, prunes again;
the third run changes nothing. Nothing on the Windows branch runs with become.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from engine import copy_engine

from ansible_collections.fleet.cache.plugins.plugin_utils import _engine_bundle as bundle
from playbooks import VENV_BIN, Run, ansible_env, collections_path, disk_usage, fake_cache, playbook, write_inventory

FAKES = Path(__file__).resolve().parents[1] / "unit" / "plugins" / "windows_fakes"  # shared with the unit tests
ENGINE_DIR = "C:\\ProgramData\\fleet-cache"
LAUNCHER = ENGINE_DIR + "\\fleet-cache.py"
ARCHIVE = ENGINE_DIR + "\\fleet_cache_engine.zip"
PACKAGE = ENGINE_DIR + "\\fleet_cache_engine"  # the engine's files, copied one by one by earlier releases
TASK_NAME = "fleet.cache pip cache prune"
BUDGET = 60000
CONNECTION_DOC = """DOCUMENTATION = '''
name: {name}
short_description: A stand-in Windows host for the collection's tests ({name})
description: [Decodes the PowerShell command lines a Windows connection sends and carries them out in a local folder.]
author: fleet.cache developers (@fleet-cache)
'''
"""
FACTS_PLAY = """---
- name: Facts of the stand-in Windows host, as setup gathers them there
  hosts: windows
  gather_facts: false
  become: false
  tasks:
    - name: Gather
      fleet_test.windows.facts:
"""
ROLE_WITH_BECOME = """---
- name: The role in a play that uses become for its POSIX hosts
  hosts: windows
  gather_facts: false
  become: true
  roles:
    - role: fleet.cache.pip_cache_policy
"""


def stand_in_collections(tmp: Path) -> Path:
    """The collections path: fleet.cache (this checkout), fleet_test.windows and ansible.windows (the stand-ins)."""
    root = collections_path(tmp)
    test = root / "ansible_collections" / "fleet_test" / "windows" / "plugins"
    for folder in ("plugin_utils", "connection", "action"):
        (test / folder).mkdir(parents=True)
    for name in ("fake_connection.py", "fake_modules.py"):
        shutil.copy(FAKES / name, test / "plugin_utils" / name)
    utils = "ansible_collections.fleet_test.windows.plugins.plugin_utils"
    for name, cls in (("winrm", "Connection"), ("ssh", "SshConnection")):
        (test / "connection" / f"{name}.py").write_text(CONNECTION_DOC.format(name=name) + f"from {utils}.fake_connection import {cls} as Connection  # noqa\n")
    (test / "action" / "facts.py").write_text(f"from {utils}.fake_modules import Facts as ActionModule  # noqa\n")
    windows = root / "ansible_collections" / "ansible" / "windows" / "plugins" / "action"
    windows.mkdir(parents=True)
    for name in ("win_stat", "win_file", "win_copy", "win_command", "win_powershell"):
        cls = "".join(part.capitalize() for part in name.split("_")).replace("Powershell", "PowerShell")
        (windows / f"{name}.py").write_text(f"from {utils}.fake_modules import {cls} as ActionModule  # noqa\n")
    return root


def windows_host(tmp: Path) -> tuple[Path, Path, dict[str, str]]:
    """The stand-in Windows host under ``tmp``: (its root folder, its call log, the environment of an Ansible run
    that reaches it)."""
    root = tmp / "windows"
    (root / "C").mkdir(parents=True)
    log = tmp / "calls.jsonl"
    # The host's Pythons: the py launcher and python.exe (the role's default for its scheduled job) run the venv's.
    commands = {"py": str(VENV_BIN / "python"), "python.exe": str(VENV_BIN / "python")}
    env = ansible_env(tmp, FLEET_FAKE_WINDOWS_ROOT=str(root), FLEET_FAKE_WINDOWS_LOG=str(log), FLEET_FAKE_WINDOWS_COMMANDS=json.dumps(commands))
    env["ANSIBLE_COLLECTIONS_PATH"] = str(stand_in_collections(tmp))
    return root, log, env


def read_log(log: Path) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    log.unlink(missing_ok=True)
    return entries


def module_calls(entries: list[dict[str, Any]], module: str) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry["kind"] == "module" and entry["module"] == f"ansible.windows.{module}"]


def host_file(root: Path, path: str) -> Path:
    return root / path[0] / Path(*path[3:].split("\\"))


def windows_split(arguments: str) -> list[str]:
    """A command line's arguments as a Windows program reads them (the role quotes with "..." those holding a space)."""
    return [word[1:-1] if word.startswith('"') else word for word in re.findall(r'"[^"]*"|\S+', arguments)]


def run_ok(run: Run, host: str) -> None:
    assert run.returncode == 0 and run.recap[host]["failed"] == 0 and run.recap[host]["unreachable"] == 0, run.explain()


def test_role_and_enforce_playbook_on_a_windows_host(tmp_path: Path) -> None:
    root, log, env = windows_host(tmp_path)
    cache = tmp_path / "cache"
    fake_cache(cache, seed=1, downloads=10, wheels=4, size=10000, now=time.time())
    before = disk_usage(cache)
    assert before[0] > BUDGET * 2
    (tmp_path / "facts.yml").write_text(FACTS_PLAY)
    (tmp_path / "become.yml").write_text(ROLE_WITH_BECOME)
    # No ansible_python_interpreter: the modules find the py launcher, as on a fresh Windows host with Python.
    inventory = write_inventory(tmp_path / "inventory", {"windows": {"winhost": {"ansible_connection": "fleet_test.windows.winrm"}}})
    policy = {
        "pip_cache_policy_state": "limited",
        "pip_cache_policy_max_size": f"{BUDGET}B",
        "pip_cache_policy_min_age": "0",
        "pip_cache_policy_schedule": True,
        "pip_cache_policy_schedule_when": "03:30",
        "pip_cache_policy_environment": {"PIP_CACHE_DIR": str(cache)},
    }
    expected_arguments = f"-I {LAUNCHER} prune --max-size={BUDGET}B --min-age=0 --env=PIP_CACHE_DIR={cache}"

    # 1. Check mode: every call made as it would be, nothing changed.
    run = playbook(tmp_path / "facts.yml", inventory, tmp_path, extra_vars=policy, args=("fleet.cache.enforce", "--check"), env=env)
    run_ok(run, "winhost")
    calls = read_log(log)
    assert disk_usage(cache) == before
    assert not (root / "C" / "ProgramData").exists() and not (root / "ScheduledTasks").exists()
    assert [entry for entry in calls if entry["become"]] == [], "become reached the Windows host"
    modules = [entry for entry in calls if entry["kind"] == "module"]
    assert modules and all(entry["check_mode"] for entry in modules)
    assert [call["args"]["path"] for call in module_calls(calls, "win_stat")] == [LAUNCHER]
    assert [(call["args"]["path"], call["args"]["state"]) for call in module_calls(calls, "win_file")] == [(PACKAGE, "absent"), (ENGINE_DIR, "directory")]
    copied = {call["args"]["dest"]: call["args"] for call in module_calls(calls, "win_copy")}
    assert set(copied) == {ARCHIVE, LAUNCHER}
    source = Path(copied[ARCHIVE]["src"])  # the archive the modules send for each task, read back on the host below
    assert source.name == f"fleet_cache_engine-{bundle.archive_sha256()[:16]}.zip" and source.parent.name.startswith("ansible-local-")
    assert not source.exists(), "written into Ansible's temporary folder on the controller, removed when it exits"
    assert "content" not in copied[ARCHIVE] and "src" not in copied[LAUNCHER]
    assert copied[LAUNCHER]["content"] == bundle.launcher_source(job=True), "the one launcher source, as the job's, without the POSIX trust check"
    assert "from fleet_cache_engine._cli import main" in copied[LAUNCHER]["content"]
    (probe,) = module_calls(calls, "win_command")
    assert probe["args"]["argv"] == ["python.exe", "-I", LAUNCHER, "--help"]
    (task,) = module_calls(calls, "win_powershell")
    assert task["args"]["parameters"] == {"Name": TASK_NAME, "Present": True, "Execute": "python.exe", "Arguments": expected_arguments, "When": "03:30"}
    engine = [entry for entry in calls if entry["kind"] == "engine"]
    assert len(engine) == 1 and engine[0]["argv"][:3] == ["py", "-3", "-I"] and engine[0]["tried"] == ["py"], engine
    request = engine[0]["request"]
    assert request["module"] == "pip_cache" and request["check_mode"] is True
    params = request["params"]
    assert (params["state"], params["max_size"], params["min_age"], params["user"]) == ("pruned", f"{BUDGET}B", "0", None)
    assert params["environment"] == {"PIP_CACHE_DIR": str(cache)}

    # 2. For real, from the collection's enforce playbook (its become default leaves Windows hosts alone), over the
    # engine an earlier release installed: its files copied one by one and a MANIFEST, which the role removes.
    package = host_file(root, PACKAGE)
    package.mkdir(parents=True)
    copy_engine(package)
    (package / "MANIFEST").write_text("0123  _cli.py\n")
    run = playbook(tmp_path / "facts.yml", inventory, tmp_path, extra_vars=policy, args=("fleet.cache.enforce",), env=env)
    run_ok(run, "winhost")
    assert run.changed("winhost") > 0
    calls = read_log(log)
    assert [entry for entry in calls if entry["become"]] == []
    assert not package.exists(), "the engine's files of earlier releases and their MANIFEST are removed"
    assert sorted(path.name for path in host_file(root, ENGINE_DIR).iterdir()) == ["fleet-cache.py", "fleet_cache_engine.zip"]
    assert host_file(root, ARCHIVE).read_bytes() == bundle.engine_archive()
    assert host_file(root, LAUNCHER).read_text() == bundle.launcher_source(job=True)
    installed = {path: host_file(root, path).stat().st_mtime_ns for path in (ARCHIVE, LAUNCHER)}
    (probe,) = module_calls(calls, "win_command")
    assert probe["args"]["argv"] == ["python.exe", "-I", LAUNCHER, "--help"] and not probe["check_mode"]
    scheduled = json.loads((root / "ScheduledTasks" / f"{TASK_NAME}.json").read_text())
    assert scheduled["Execute"] == "python.exe" and scheduled["Arguments"] == expected_arguments and scheduled["When"] == "03:30"
    # The prune went through the Windows transport: a temporary folder, the three files, the engine run by py -3.
    kinds = [entry["kind"] for entry in calls if entry["kind"] != "module"]
    (engine,) = [entry for entry in calls if entry["kind"] == "engine"]
    assert engine["request"]["check_mode"] is False and engine["rc"] == 0
    assert kinds == ["mkdtemp", "put_file", "put_file", "put_file", "engine", "remove"]
    sent = [entry["path"].rsplit("\\", 1)[1] for entry in calls if entry["kind"] == "put_file"]
    assert sent == ["fleet_cache_engine.zip", "fleet_cache_launcher.py", "fleet_cache_args.json"]
    assert not any(Path(root, "C", "Users", "ansible", "AppData", "Local", "Temp").iterdir())
    pruned = disk_usage(cache)
    assert 0 < pruned[0] <= BUDGET < before[0]

    # The Scheduled Task's command, run as Windows would run it, keeps the budget after the cache grows again.
    fake_cache(cache, seed=2, downloads=10, wheels=4, size=10000, now=time.time())
    assert disk_usage(cache)[0] > BUDGET
    argv = [scheduled["Execute"], *windows_split(scheduled["Arguments"])]
    mapped = [str(VENV_BIN / "python"), *[str(host_file(root, arg)) if arg[1:3] == ":\\" else arg for arg in argv[1:]]]
    proc = subprocess.run(mapped, capture_output=True, text=True, check=False, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 0 < disk_usage(cache)[0] <= BUDGET

    # 3. Again, from a play with become: true - the role leaves become off on Windows, and nothing changes.
    run = playbook(tmp_path / "facts.yml", inventory, tmp_path, extra_vars=policy, args=(str(tmp_path / "become.yml"),), env=env)
    run_ok(run, "winhost")
    assert run.changed("winhost") == 0, run.explain()
    calls = read_log(log)
    assert calls and [entry for entry in calls if entry["become"]] == []
    assert len(module_calls(calls, "win_powershell")) == 1
    assert sorted(call["args"]["dest"] for call in module_calls(calls, "win_copy")) == sorted([ARCHIVE, LAUNCHER])
    assert {path: host_file(root, path).stat().st_mtime_ns for path in (ARCHIVE, LAUNCHER)} == installed, "the engine was written again"
    assert [(call["args"]["path"], call["args"]["state"]) for call in module_calls(calls, "win_file")] == [(PACKAGE, "absent"), (ENGINE_DIR, "directory")]


def test_become_on_windows_is_refused_by_the_modules(tmp_path: Path) -> None:
    """What the role and the playbooks avoid: a fleet.cache module with become on a Windows host fails, and says why."""
    _root, log, env = windows_host(tmp_path)
    inventory = write_inventory(tmp_path / "inventory", {"windows": {"winhost": {"ansible_connection": "fleet_test.windows.winrm"}}})
    play = tmp_path / "become.yml"
    play.write_text(
        "---\n- name: A module with become on Windows\n  hosts: windows\n  gather_facts: false\n  become: true\n  tasks:\n"
        "    - name: Read the cache\n      fleet.cache.pip_cache_info:\n"
    )
    run = playbook(play, inventory, tmp_path, env=env)
    assert run.returncode == 2 and run.recap["winhost"]["failed"] == 1, run.explain()
    assert "cannot use become" in run.stdout
    assert read_log(log) == [], "nothing may reach the host"


def test_report_playbook_over_ssh_with_powershell(tmp_path: Path) -> None:
    """fleet.cache.report against SSH with a PowerShell shell: no become, the fleet-wide POSIX interpreter passed over."""
    _root, log, env = windows_host(tmp_path)
    cache = tmp_path / "cache"
    fake_cache(cache, seed=3, downloads=5, wheels=3, size=5000, now=time.time())
    host = {
        "ansible_connection": "fleet_test.windows.ssh",
        "ansible_shell_type": "powershell",
        "ansible_python_interpreter": "/usr/bin/python3",
        "pip_cache_environment": {"PIP_CACHE_DIR": str(cache)},
        # The connecting user only (user=all would read every account of the machine running the test).
        "pip_cache_user": pwd.getpwuid(os.getuid()).pw_name,
    }
    inventory = write_inventory(tmp_path / "inventory", {"windows": {"sshwin": host}})
    report = tmp_path / "report"
    run = playbook("fleet.cache.report", inventory, tmp_path, extra_vars={"pip_cache_report_dir": str(report)}, env=env)
    run_ok(run, "sshwin")
    calls = read_log(log)
    engine = [entry for entry in calls if entry["kind"] == "engine"]
    assert len(engine) == 1 and not engine[0]["become"] and engine[0]["argv"][:2] == ["py", "-3"], calls
    data = json.loads((report / "report.json").read_text())
    assert str(cache) in json.dumps(data) and disk_usage(cache)[0] > 0
