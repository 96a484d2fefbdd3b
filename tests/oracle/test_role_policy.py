"""The fleet.cache.pip_cache_policy role on this host, with real local users whose caches real pip filled.

Every state runs three times - check mode, real, real: check mode changes nothing on disk (the trees are read back
before and after), the first real run changes the host, the second changes nothing. What each state leaves is read
back with real pip run as each user. The scheduled job is checked by its tool (cron entry, systemd-analyze, plist)
and its command, run by hand, prunes the cache to the budget."""

from __future__ import annotations

import json
import os
import plistlib
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine import REPO_ROOT
from piporacle import OraclePip, PackageIndex, fill_cache, isolated_env

from playbooks import VENV_BIN, Run, ansible_env, disk_usage, fake_cache, local_host, playbook, write_inventory

SNAPSHOT = r"""
import json, os, sys
out, roots = sys.argv[1], sys.argv[2:]
tree = {}
for root in roots:
    for directory, dirnames, filenames in os.walk(root):
        for name in [directory] + [os.path.join(directory, n) for n in dirnames + filenames]:
            info = os.lstat(name)
            tree[name] = [info.st_mode, info.st_uid, info.st_gid, 0 if os.path.isdir(name) else info.st_size,
                          0 if os.path.isdir(name) else info.st_mtime_ns]
with open(out, "w") as handle:
    json.dump(tree, handle, sort_keys=True, indent=0)
"""

THREE_RUNS = """---
- name: Read the trees before check mode
  hosts: check
  gather_facts: false
  tasks:
    - name: Snapshot
      ansible.builtin.command:
        argv: {before}
      changed_when: false
      check_mode: false

- name: The role in check mode
  hosts: check
  gather_facts: false
  check_mode: true
  roles:
    - role: fleet.cache.pip_cache_policy

- name: Read the trees after check mode
  hosts: check
  gather_facts: false
  tasks:
    - name: Snapshot
      ansible.builtin.command:
        argv: {after}
      changed_when: false
      check_mode: false

- name: The role, first run
  hosts: first
  gather_facts: false
  roles:
    - role: fleet.cache.pip_cache_policy

- name: The role, second run
  hosts: second
  gather_facts: false
  roles:
    - role: fleet.cache.pip_cache_policy
"""


def _user_env(name: str) -> dict[str, str]:
    home = pwd.getpwnam(name).pw_dir
    return {"HOME": home, "USER": name, "LOGNAME": name, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


@pytest.fixture(scope="module")
def engine_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the role installs the engine, shared by the tests of this file (the first installs, the others find it)."""
    return tmp_path_factory.mktemp("engine")


@pytest.fixture
def world(newest_pip: OraclePip, engine_dir: Path) -> Iterator[dict[str, Any]]:
    """Two local users in a folder every user can reach, and places for the engine, cron and the log."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd to create local users")
    if not newest_pip.runnable_by_others():
        pytest.skip(f"other users cannot run {newest_pip.python} (set FLEET_CACHE_ORACLE_DIR to a folder they can traverse)")
    base = Path(tempfile.mkdtemp(prefix="fleet-cache-role-"))
    base.chmod(0o755)
    names = [f"fc{uuid.uuid4().hex[:8]}" for _number in range(2)]
    try:
        for name in names:
            subprocess.run(["useradd", "--create-home", "--home-dir", str(base / name), "--shell", "/bin/sh", name], check=True, capture_output=True)
        for folder in ("cron.d", "work"):
            (base / folder).mkdir(mode=0o700)
        yield {"base": base, "users": names, "shared": base / "shared-cache", "engine": engine_dir, "cron": base / "cron.d", "log": base / "prune.log"}
    finally:
        for name in names:
            subprocess.run(["userdel", name], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _three_runs(world: dict[str, Any], tmp: Path, role_vars: dict[str, Any], label: str) -> tuple[Run, dict[str, Any], dict[str, Any]]:
    """check, first, second; returns the run and the trees read before and after check mode."""
    users = world["users"]
    roots = [pwd.getpwnam(name).pw_dir for name in users] + [str(world["shared"]), str(world["engine"]), str(world["cron"])]
    script = tmp / "snapshot.py"
    script.write_text(SNAPSHOT)
    before, after = tmp / f"{label}-before.json", tmp / f"{label}-after.json"
    argv = [str(VENV_BIN / "python"), str(script)]
    play = tmp / f"{label}.yml"
    play.write_text(THREE_RUNS.format(before=json.dumps([*argv, str(before), *roots]), after=json.dumps([*argv, str(after), *roots])))
    inventory = write_inventory(tmp / "inventory", {"runs": {name: local_host() for name in ("check", "first", "second")}})
    overrides = {
        "_pip_cache_policy_engine_dir": str(world["engine"]),
        "_pip_cache_policy_cron_dir": str(world["cron"]),
        "_pip_cache_policy_log": str(world["log"]),
    }
    run = playbook(play, inventory, tmp, extra_vars={**role_vars, **overrides})
    assert run.returncode == 0, run.explain()
    return run, json.loads(before.read_text()), json.loads(after.read_text())


def _assert_three_runs(run: Run, before: dict[str, Any], after: dict[str, Any]) -> None:
    changed_paths = sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))
    assert not changed_paths, f"check mode changed the disk: {changed_paths[:20]}"
    assert run.changed("check") > 0, "check mode predicts the changes"
    assert run.changed("first") > 0, run.explain()
    assert run.changed("second") == 0, "the second run changes nothing\n" + run.explain()


def _pip(pip: OraclePip, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    return pip.run(*args, env=_user_env(user), user=user)


def _uids(root: Path) -> set[int]:
    return {path.lstat().st_uid for path in [root, *root.rglob("*")]}


def _file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cron_entry(cron_dir: Path) -> tuple[str, list[str], str]:
    """The job of the role's cron file: (schedule, the command's argv, the whole command line)."""
    text = (cron_dir / "fleet-cache-prune").read_text()
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#") and not re.match(r"^[A-Z_]+=", line)]
    assert "SHELL=/bin/sh" in text.splitlines() and _file_mode(cron_dir / "fleet-cache-prune") == 0o644
    assert len(lines) == 1, text
    fields = lines[0].split(None, 1)
    if fields[0].startswith("@"):
        when, rest = fields[0], fields[1]
    else:
        parts = lines[0].split(None, 5)
        when, rest = " ".join(parts[:5]), parts[5]
    user, command = rest.split(None, 1)
    assert user == "root"
    assert "%" not in command.replace("\\%", ""), "an unescaped % ends a cron command"
    job = command.split(" >> ", 1)[0]
    return when, shlex.split(job), command


def test_systemd_timer_and_launchd_job(tmp_path: Path, engine_dir: Path) -> None:
    """Where systemd or launchd does not run here, the role writes their files (activate=false) for the tools to check."""
    home = tmp_path / "home"
    cache = home / ".cache" / "pip"
    fake_cache(cache, seed=11, downloads=8, wheels=4, size=4000, now=time.time())
    budget = 20_000
    hosts = {
        "sd": local_host(pip_cache_policy_schedule_backend="systemd", pip_cache_policy_schedule_when="3:07"),
        "ld": local_host(pip_cache_policy_schedule_backend="launchd", pip_cache_policy_schedule_when="weekly"),
    }
    inventory = write_inventory(tmp_path / "inventory", {"schedulers": hosts})
    play = tmp_path / "schedule.yml"
    play.write_text("---\n- name: Schedule\n  hosts: all\n  gather_facts: false\n  roles:\n    - role: fleet.cache.pip_cache_policy\n")
    for folder in ("systemd", "launchd"):
        (tmp_path / folder).mkdir()
    role_vars = {
        "pip_cache_policy_users": "root",
        "pip_cache_policy_environment": {"HOME": str(home), "XDG_CACHE_HOME": ""},
        "pip_cache_policy_max_size": str(budget),
        "pip_cache_policy_min_age": "0",
        "pip_cache_policy_schedule": True,
        "pip_cache_policy_schedule_activate": False,
        "_pip_cache_policy_systemd_dir": str(tmp_path / "systemd"),
        "_pip_cache_policy_launchd_dir": str(tmp_path / "launchd"),
        "_pip_cache_policy_engine_dir": str(engine_dir),
        "_pip_cache_policy_cron_dir": str(tmp_path / "cron"),
        "_pip_cache_policy_log": str(tmp_path / "prune.log"),
    }
    run = playbook(play, inventory, tmp_path, extra_vars=role_vars)
    assert run.returncode == 0, run.explain()
    assert disk_usage(cache)[0] <= budget, "the role pruned"

    service, timer = tmp_path / "systemd" / "fleet-cache-prune.service", tmp_path / "systemd" / "fleet-cache-prune.timer"
    assert "OnCalendar=*-*-* 03:07:00" in timer.read_text()
    exec_start = next(line for line in service.read_text().splitlines() if line.startswith("ExecStart="))
    if shutil.which("systemd-analyze"):
        verified = subprocess.run(["systemd-analyze", "verify", str(service), str(timer)], capture_output=True, text=True, check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    fake_cache(cache, seed=12, downloads=8, wheels=0, size=4000, now=time.time() - 60)
    assert disk_usage(cache)[0] > budget
    by_hand = subprocess.run(shlex.split(exec_start.split("=", 1)[1]), capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})
    assert by_hand.returncode == 0 and by_hand.stdout.startswith("fleet-cache prune: 1 cache(s) (root)"), by_hand.stdout + by_hand.stderr
    assert disk_usage(cache)[0] <= budget

    with (tmp_path / "launchd" / "io.github.fleet-cache.pip-cache-prune.plist").open("rb") as handle:
        job = plistlib.load(handle)
    assert job["Label"] == "io.github.fleet-cache.pip-cache-prune"
    assert job["StartCalendarInterval"] == {"Weekday": 0, "Hour": 0, "Minute": 0}
    assert isinstance(job["Nice"], int) and job["LowPriorityIO"] is True
    arguments = job["ProgramArguments"]
    assert arguments[3:] == ["prune", "--user=root", f"--max-size={budget}", "--min-age=0", f"--env=HOME={home}", "--env=XDG_CACHE_HOME="]
    if shutil.which("plutil"):
        assert subprocess.run(["plutil", "-lint", str(tmp_path / "launchd" / "io.github.fleet-cache.pip-cache-prune.plist")], check=False).returncode == 0
    fake_cache(cache, seed=13, downloads=8, wheels=0, size=4000, now=time.time() - 60)
    by_hand = subprocess.run(arguments, capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})
    assert by_hand.returncode == 0, by_hand.stderr
    assert disk_usage(cache)[0] <= budget

    # schedule=false takes the files away again.
    run = playbook(play, inventory, tmp_path, extra_vars=dict(role_vars, pip_cache_policy_schedule=False))
    assert run.returncode == 0, run.explain()
    assert not service.exists() and not timer.exists() and not list((tmp_path / "launchd").iterdir())


def test_role_states_on_real_users(world: dict[str, Any], newest_pip: OraclePip, package_index: PackageIndex, tmp_path: Path) -> None:
    first_user, second_user = world["users"]
    first_home, second_home = Path(pwd.getpwnam(first_user).pw_dir), Path(pwd.getpwnam(second_user).pw_dir)
    shared: Path = world["shared"]

    # The first user filled their cache with pip; the second has one that `sudo pip` left, owned by root.
    fill_cache(newest_pip, first_home / ".cache" / "pip", package_index, ["TinyYAML==1.0", "Simple==1.1"], env=_user_env(first_user), user=first_user)
    stage = world["base"] / "work" / "sudo-pip"
    fill_cache(newest_pip, stage, package_index, ["tiny-requests==2.0", "zope.tiny==1.0"], env=isolated_env(tmp_path / "root-env"))
    (second_home / ".cache").mkdir(mode=0o755)
    stage.rename(second_home / ".cache" / "pip")
    refused = _pip(newest_pip, second_user, "cache", "dir")
    assert refused.returncode != 0 and "disabled" in refused.stderr, "pip disables a cache root owns"
    sizes = [disk_usage(home / ".cache" / "pip")[0] for home in (first_home, second_home)]
    budget = int(sum(sizes) * 0.6)

    # limited: give back, relocate to one shared folder (moving what is there), prune to the budget, schedule.
    limited = {
        "pip_cache_policy_users": [first_user, second_user],
        "pip_cache_policy_state": "limited",
        "pip_cache_policy_max_size": str(budget),
        "pip_cache_policy_min_age": "0",
        "pip_cache_policy_config_scope": "user",
        "pip_cache_policy_fix_ownership": True,
        "pip_cache_policy_cache_dir": str(shared),
        "pip_cache_policy_cache_dir_move": True,
        "pip_cache_policy_schedule": True,
    }
    _assert_three_runs(*_three_runs(world, tmp_path, limited, "limited"))
    info = shared.lstat()
    assert stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o1777, "a shared cache: root's, sticky, as /tmp"
    for user in world["users"]:
        assert _pip(newest_pip, user, "cache", "dir").stdout.strip() == str(shared)
    cached = second_home / ".cache"
    root_owned = [str(path) for path in [cached, *cached.rglob("*")] if path.lstat().st_uid == 0]
    assert not root_owned, f"what root left is the user's again: {root_owned}"
    assert pwd.getpwnam(second_user).pw_uid in _uids(shared), "moved files keep their owner"
    for home in (first_home, second_home):
        assert not [path for path in (home / ".cache" / "pip").rglob("*") if path.is_file()], "today's content moved"
    used = disk_usage(shared)[0]
    assert 0 < used <= budget
    when, job, _line = _cron_entry(world["cron"])
    assert when == "@daily"
    assert job[1:3] == ["-I", str(world["engine"] / "fleet-cache")] and Path(job[0]).exists()
    assert job[3:] == ["prune", f"--user={first_user}", f"--user={second_user}", f"--max-size={budget}", "--min-age=0"]

    # The scheduled command, run by hand, prunes back to the budget once the cache grows again.
    fake_cache(shared, seed=2, downloads=6, wheels=0, size=max(budget // 4, 1000), now=time.time() - 3600)
    assert disk_usage(shared)[0] > budget
    _when, _job, line = _cron_entry(world["cron"])
    by_hand = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})
    assert by_hand.returncode == 0, by_hand.stderr
    assert disk_usage(shared)[0] <= budget
    assert re.search(r"^fleet-cache prune: 1 cache\(s\) \(.*\); removed [1-9]", world["log"].read_text(), re.M)

    # purged: every cache emptied, the scheduled job removed.
    purged = {"pip_cache_policy_users": [first_user, second_user], "pip_cache_policy_state": "purged", "pip_cache_policy_min_age": "0"}
    _assert_three_runs(*_three_runs(world, tmp_path, purged, "purged"))
    listed = _pip(newest_pip, first_user, "cache", "info").stdout
    assert "Number of HTTP files: 0" in listed and "Number of locally built wheels: 0" in listed, listed
    assert not (world["cron"] / "fleet-cache-prune").exists(), "schedule=false removes the job"

    # disabled: purged, then no-cache-dir in each user's configuration; pip itself refuses to use a cache.
    fill_cache(newest_pip, shared, package_index, ["typing_tiny==0.1"], env=_user_env(first_user), user=first_user)
    assert disk_usage(shared)[1] > 0
    disabled = {"pip_cache_policy_users": [first_user, second_user], "pip_cache_policy_state": "disabled", "pip_cache_policy_min_age": "0",
                "pip_cache_policy_config_scope": "user"}  # fmt: skip
    _assert_three_runs(*_three_runs(world, tmp_path, disabled, "disabled"))
    assert not list(shared.rglob("*.whl")) and not (shared / "http-v2").exists()
    for user in world["users"]:
        refused = _pip(newest_pip, user, "cache", "dir")
        assert refused.returncode != 0 and "cache is disabled" in refused.stderr, refused.stderr

    # enabled: what disabled set is gone; pip uses the shared cache again.
    enabled = dict(disabled, pip_cache_policy_state="enabled")
    _assert_three_runs(*_three_runs(world, tmp_path, enabled, "enabled"))
    for user in world["users"]:
        assert _pip(newest_pip, user, "cache", "dir").stdout.strip() == str(shared)


def test_contradictions_fail_before_anything_changes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    fake_cache(home / ".cache" / "pip", seed=21, downloads=3, wheels=1, size=1000, now=time.time())
    before = disk_usage(home)
    environment = {"HOME": str(home), "XDG_CACHE_HOME": ""}
    hosts = {
        "no-budget": local_host(pip_cache_policy_state="limited"),
        "bad-when": local_host(pip_cache_policy_max_age="1d", pip_cache_policy_schedule=True, pip_cache_policy_schedule_when="noon"),
        "disabled-relocated": local_host(pip_cache_policy_state="disabled", pip_cache_policy_cache_dir=str(tmp_path / "elsewhere")),
        "relative-dir": local_host(pip_cache_policy_state="purged", pip_cache_policy_cache_dir="pip-cache"),
    }
    inventory = write_inventory(tmp_path / "inventory", {"bad": hosts})
    play = tmp_path / "bad.yml"
    play.write_text("---\n- name: Bad policies\n  hosts: all\n  gather_facts: false\n  roles:\n    - role: fleet.cache.pip_cache_policy\n")
    run = playbook(play, inventory, tmp_path, extra_vars={"pip_cache_policy_users": "root", "pip_cache_policy_environment": environment})
    assert run.returncode == 2, run.explain()
    assert {host: counts["failed"] for host, counts in run.recap.items()} == dict.fromkeys(hosts, 1), run.explain()
    assert (
        all(f"fatal: [{host}]" in run.stdout or f"failed: [{host}]" in run.stdout for host in hosts)
        and "state=limited needs max_size, max_age or ci" in run.stdout
    )
    assert "(got noon)" in run.stdout
    assert disk_usage(home) == before and not (tmp_path / "elsewhere").exists()


def test_every_task_file_passes_a_syntax_check_windows_included(tmp_path: Path) -> None:
    """The Windows tasks use ansible.windows, not installed here: stand-in modules let ansible-playbook resolve and check them."""
    stubs = tmp_path / "collections" / "ansible_collections" / "ansible" / "windows" / "plugins" / "modules"
    stubs.mkdir(parents=True)
    for name in ("win_command", "win_copy", "win_file", "win_powershell", "win_stat"):
        (stubs / f"{name}.py").write_text("#!/usr/bin/python\n# A stand-in so that ansible-playbook --syntax-check resolves the name.\n")
    tasks = sorted(path.stem for path in (REPO_ROOT / "roles" / "pip_cache_policy" / "tasks").glob("*.yml"))
    assert {"engine_windows", "relocate_windows", "schedule_windows", "schedule_systemd", "schedule_cron", "schedule_launchd"} <= set(tasks)
    play = tmp_path / "syntax.yml"
    plays = [
        {
            "name": f"Tasks {name}",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [{"name": name, "ansible.builtin.import_role": {"name": "fleet.cache.pip_cache_policy", "tasks_from": name}}],
        }
        for name in tasks
    ]
    play.write_text(json.dumps(plays))
    env = ansible_env(tmp_path)
    collections = tmp_path / "collections" / "ansible_collections" / "fleet"
    collections.mkdir(parents=True, exist_ok=True)
    if not (collections / "cache").exists():
        (collections / "cache").symlink_to(REPO_ROOT)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(tmp_path / "collections")
    for target in [str(play), *(f"fleet.cache.{name}" for name in ("report", "purge", "enforce"))]:
        proc = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", target],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, target + "\n" + proc.stdout + proc.stderr
    assert sys.executable
