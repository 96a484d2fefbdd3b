# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet.cache.pip_cache_policy role on this host, with real local users whose caches real pip filled.

Every state runs three times - check mode, real, real: check mode changes nothing on disk (the trees are read back
before and after), the first real run changes the host, the second changes nothing. What each state leaves is read
back with real pip run as each user. The scheduled job is checked by its tool (cron entry, systemd-analyze, plist)
and its command, run by hand, prunes the cache to the budget."""

from __future__ import annotations

import hashlib
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
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine import REPO_ROOT, copy_engine
from piporacle import OraclePip, PackageIndex, fill_cache, isolated_env

from ansible_collections.fleet.cache.plugins.plugin_utils import _engine_bundle as bundle
from playbooks import VENV_BIN, Run, ansible_env, disk_usage, fake_cache, local_host, local_users, playbook, trusted_folder, write_inventory

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
def engine_dir() -> Iterator[Path]:
    """Where the role installs the engine, shared by the tests of this file (the first installs, the others find it)."""
    with trusted_folder("engine-") as folder:
        yield folder / "fleet-cache"


@pytest.fixture
def world(newest_pip: OraclePip, engine_dir: Path) -> Iterator[dict[str, Any]]:
    """Two local users in a folder every user can reach, and places for the engine, cron and the log."""
    if not newest_pip.runnable_by_others():
        pytest.skip(f"other users cannot run {newest_pip.python} (set FLEET_CACHE_ORACLE_DIR to a folder they can traverse)")
    with local_users(2, "fleet-cache-role-") as (base, names):
        for folder in ("cron.d", "work"):
            (base / folder).mkdir(mode=0o700)
        yield {"base": base, "users": names, "shared": base / "shared-cache", "engine": engine_dir, "cron": base / "cron.d", "log": base / "prune.log"}


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
    user, field = rest.split(None, 1)
    assert user == "root"
    command = cron_command(field)
    assert command.startswith("umask 077; "), "the log the job's output is appended to is created for root alone"
    job = command[len("umask 077; ") :].split(" >> ", 1)[0]
    return when, shlex.split(job), command


def cron_command(field: str) -> str:
    """The command cron hands to the shell for a crontab line's command field (do_command.c of vixie cron and
    cronie): a backslash before % is dropped, any other backslash stays, and an unescaped % ends the command (the
    rest would go to its standard input), which the role never means."""
    out: list[str] = []
    escaped = False
    for char in field:
        if escaped:
            escaped = False
            if char == "%":
                out[-1] = "%"
            else:
                out.append(char)
            continue
        assert char != "%", f"an unescaped % ends the cron command: {field!r}"
        escaped = char == "\\"
        out.append(char)
    return "".join(out)


def test_cron_command_reads_what_cron_reads() -> None:
    assert cron_command("echo '100\\%' a\\b") == "echo '100%' a\\b"
    for bad in ("echo 100%", "echo 100\\\\%"):
        with pytest.raises(AssertionError):
            cron_command(bad)


_SYSTEMD_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "s": " ", "\\": "\\", '"': '"', "'": "'"}


def systemd_exec_argv(value: str) -> list[str]:
    """The words of an ExecStart= value as systemd reads them (systemd.syntax(7) "Quoting", systemd.service(5)
    "Command lines"): a quote opens only at the start of a word and closes only at its end, C escapes are
    unescaped, then specifiers (%%) are resolved at load time and, in the arguments, variables ($$) at start time;
    the program's path takes no variable and may hold no quote, backslash or control character. Strict: any
    specifier or variable other than an escaped % or $ fails, since the role writes none."""
    words: list[str] = []
    index = 0
    while True:
        while index < len(value) and value[index] in " \t":
            index += 1
        if index >= len(value):
            break
        quote = value[index] if value[index] in "\"'" else ""
        index += 1 if quote else 0
        word: list[str] = []
        while True:
            assert index < len(value) or not quote, f"an unterminated quote in {value!r}"
            if index >= len(value) or (not quote and value[index] in " \t"):
                break
            char = value[index]
            if quote and char == quote:
                index += 1
                assert index >= len(value) or value[index] in " \t", f"a closing quote inside a word in {value!r}"
                break
            assert quote or char not in "\"'", f"a quote inside a word in {value!r}"
            if char == "\\":
                following = value[index + 1]
                if following == "x":
                    word.append(chr(int(value[index + 2 : index + 4], 16)))
                    index += 4
                    continue
                assert following in _SYSTEMD_ESCAPES, f"an escape systemd does not know: \\{following}"
                word.append(_SYSTEMD_ESCAPES[following])
                index += 2
                continue
            word.append(char)
            index += 1
        words.append("".join(word))
    result = []
    for number, word in enumerate(words):
        assert re.fullmatch(r"([^%]|%%)*", word), f"systemd would expand a specifier in {word!r}"
        word = word.replace("%%", "%")
        if number == 0:
            assert not re.search(r"[\"'\\\x00-\x1f\x7f]", word), f"systemd refuses the program {word!r}"
            result.append(word)
            continue
        assert re.fullmatch(r"([^$]|\$\$)*", word), f"systemd would substitute a variable in {word!r}"
        result.append(word.replace("$$", "$"))
    return result


def test_systemd_exec_argv_reads_what_systemd_reads() -> None:
    """The test's own reading of ExecStart=, on the examples of systemd's manual and on what it refuses."""
    assert systemd_exec_argv("/bin/echo \"two two\" 'a b' x\\sy") == ["/bin/echo", "two two", "a b", "x y"]
    assert systemd_exec_argv('"/a %%u $b" "100%%" "$$HOME" "q\\"\\\\"') == ["/a %u $b", "100%", "$HOME", 'q"\\']
    for bad in ('"/a %u"', "/bin/echo $HOME", '/bin/echo a"b c"', '"/bin/echo', '"/a\\\\b"'):
        with pytest.raises(AssertionError):
            systemd_exec_argv(bad)


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
        "pip_cache_policy_max_size": f"{budget}B",
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
    assert "StandardOutput=journal" in service.read_text().splitlines(), "the job's output is not written to a file others may read"
    if shutil.which("systemd-analyze"):
        verified = subprocess.run(["systemd-analyze", "verify", str(service), str(timer)], capture_output=True, text=True, check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    fake_cache(cache, seed=12, downloads=8, wheels=0, size=4000, now=time.time() - 60)
    assert disk_usage(cache)[0] > budget
    by_hand = subprocess.run(systemd_exec_argv(exec_start.split("=", 1)[1]), capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})
    assert by_hand.returncode == 0 and by_hand.stdout.startswith("fleet-cache prune: 1 cache(s) (root)"), by_hand.stdout + by_hand.stderr
    assert disk_usage(cache)[0] <= budget

    with (tmp_path / "launchd" / "io.github.fleet-cache.pip-cache-prune.plist").open("rb") as handle:
        job = plistlib.load(handle)
    assert job["Label"] == "io.github.fleet-cache.pip-cache-prune"
    assert job["StartCalendarInterval"] == {"Weekday": 0, "Hour": 0, "Minute": 0}
    assert isinstance(job["Nice"], int) and job["LowPriorityIO"] is True
    arguments = job["ProgramArguments"]
    assert arguments[1:5] == ["-I", "-S", "-B", str(engine_dir / "fleet-cache")] and job["Umask"] == 0o077
    assert arguments[5:] == ["prune", "--user=root", f"--max-size={budget}B", "--min-age=0", f"--env=HOME={home}", "--env=XDG_CACHE_HOME="]
    if shutil.which("plutil"):
        assert subprocess.run(["plutil", "-lint", str(tmp_path / "launchd" / "io.github.fleet-cache.pip-cache-prune.plist")], check=False).returncode == 0
    fake_cache(cache, seed=13, downloads=8, wheels=0, size=4000, now=time.time() - 60)
    by_hand = subprocess.run(arguments, capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})
    assert by_hand.returncode == 0, by_hand.stderr
    assert disk_usage(cache)[0] <= budget
    log = (tmp_path / "prune.log").stat()
    assert (log.st_uid, stat.S_IMODE(log.st_mode)) == (0, 0o600), "the log launchd appends to is made root's alone beforehand"

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
        "pip_cache_policy_max_size": f"{budget}B",
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
    assert job[1:5] == ["-I", "-S", "-B", str(world["engine"] / "fleet-cache")] and Path(job[0]).exists()
    assert job[5:] == ["prune", f"--user={first_user}", f"--user={second_user}", f"--max-size={budget}B", "--min-age=0"]

    # The scheduled command, run by hand, prunes back to the budget once the cache grows again. The files are root's
    # (fake_cache runs as root): a shared cache that only root can reach is cleaned by root itself, by descriptor.
    fake_cache(shared, seed=2, downloads=6, wheels=0, size=max(budget // 4, 1000), now=time.time() - 3600)
    assert disk_usage(shared)[0] > budget
    _when, _job, line = _cron_entry(world["cron"])
    by_hand = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})
    assert by_hand.returncode == 0, by_hand.stderr + world["log"].read_text()
    assert disk_usage(shared)[0] <= budget
    assert re.search(r"^fleet-cache prune: 1 cache\(s\) \(.*\); removed [1-9]", world["log"].read_text(), re.M)
    info = world["log"].stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600), "the job's log is root's alone"

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


SCHEDULE_PLAY = "---\n- name: Schedule\n  hosts: all\n  gather_facts: false\n  roles:\n    - role: fleet.cache.pip_cache_policy\n"


def _scheduled_role(tmp_path: Path, engine: Path, home: Path, **extra: Any) -> tuple[Path, dict[str, Any]]:
    """A play with the role and the variables of a daily prune of root's cache (in ``home``), its cron file, unit
    files and log in ``tmp_path``, its engine in ``engine``."""
    play = tmp_path / "schedule.yml"
    play.write_text(SCHEDULE_PLAY)
    for folder in ("cron", "systemd"):
        (tmp_path / folder).mkdir(exist_ok=True)
    role_vars = {
        "pip_cache_policy_users": "root",
        "pip_cache_policy_environment": {"HOME": str(home), "XDG_CACHE_HOME": ""},
        "pip_cache_policy_max_size": "20000B",
        "pip_cache_policy_min_age": "0",
        "pip_cache_policy_schedule": True,
        "pip_cache_policy_schedule_backend": "cron",
        "pip_cache_policy_schedule_activate": False,
        "_pip_cache_policy_engine_dir": str(engine),
        "_pip_cache_policy_cron_dir": str(tmp_path / "cron"),
        "_pip_cache_policy_systemd_dir": str(tmp_path / "systemd"),
        "_pip_cache_policy_log": str(tmp_path / "prune.log"),
        **extra,
    }
    return play, role_vars


def _installed(engine: Path) -> dict[str, tuple[int, int, str]]:
    """Every entry under the engine's folder: (uid, mode, SHA-256 of a file's content)."""
    found = {}
    for path in sorted(engine.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(info.st_mode) else ""
        found[str(path.relative_to(engine))] = (info.st_uid, info.st_mode, digest)
    return found


def test_the_installed_engine_is_verified_file_by_file(tmp_path: Path, engine_dir: Path) -> None:
    """The engine's archive edited on the host, the launcher made writable by others, and a .py file and a folder
    (as the per-file engine of earlier releases was) added beside them: check mode reports the change and leaves them
    so; the next run writes the role's files again, removes the extra ones and reports changed; the run after that
    changes nothing."""
    home = tmp_path / "home"
    fake_cache(home / ".cache" / "pip", seed=41, downloads=3, wheels=1, size=1000, now=time.time())
    play, role_vars = _scheduled_role(tmp_path, engine_dir, home)
    inventory = write_inventory(tmp_path / "inventory", {"hosts": {"host": local_host()}})
    run = playbook(play, inventory, tmp_path, extra_vars=role_vars)
    assert run.returncode == 0, run.explain()
    archive = engine_dir / "fleet_cache_engine.zip"
    assert archive.read_bytes() == bundle.engine_archive(), "the archive the Windows transport sends, byte for byte"
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (engine_dir / "fleet-cache").read_text() == bundle.launcher_source(job=True, check=True, digest=digest)
    assert sorted(path.name for path in engine_dir.iterdir()) == ["fleet-cache", "fleet_cache_engine.zip"]
    assert {(uid, stat.S_IMODE(mode)) for uid, mode, _digest in _installed(engine_dir).values()} == {(0, 0o644)}
    assert (engine_dir.stat().st_uid, stat.S_IMODE(engine_dir.stat().st_mode)) == (0, 0o755)
    good = _installed(engine_dir)
    again = playbook(play, inventory, tmp_path, extra_vars=role_vars)
    assert again.returncode == 0 and again.changed("host") == 0, again.explain()

    with archive.open("ab") as handle:
        handle.write(b"TAMPERED = True\n")
    (engine_dir / "fleet-cache").chmod(0o666)
    (engine_dir / "sitecustomize.py").write_text("print('not the role's')\n")
    (engine_dir / "fleet_cache_engine" / "_core").mkdir(parents=True)
    (engine_dir / "fleet_cache_engine" / "_core" / "trust.py").write_text("print('not the role's either')\n")
    tampered = _installed(engine_dir)
    check = playbook(play, inventory, tmp_path, extra_vars=role_vars, args=("--check",))
    assert check.returncode == 0 and check.changed("host") > 0, check.explain()
    assert _installed(engine_dir) == tampered, "check mode changed the engine's folder"
    for name in ("fleet_cache_engine.zip", "fleet-cache", "sitecustomize.py", "fleet_cache_engine"):
        assert f"(item={name})" in check.stdout, name

    restored = playbook(play, inventory, tmp_path, extra_vars=role_vars)
    assert restored.returncode == 0 and restored.changed("host") > 0, restored.explain()
    assert _installed(engine_dir) == good, "the engine's folder holds the role's files again, and nothing else"
    last = playbook(play, inventory, tmp_path, extra_vars=role_vars)
    assert last.returncode == 0 and last.changed("host") == 0, last.explain()


def test_an_upgrade_replaces_the_copied_engine_with_the_archive(tmp_path: Path) -> None:
    """An engine folder as earlier releases left it (the engine's files copied one by one into fleet_cache_engine/,
    with a MANIFEST, and a launcher that imports them): the role removes the copies, installs the archive and the
    new launcher, and says changed; the job then runs; the run after that changes nothing."""
    home = tmp_path / "home"
    fake_cache(home / ".cache" / "pip", seed=42, downloads=3, wheels=1, size=1000, now=time.time())
    with trusted_folder("upgrade-") as trusted:
        engine = trusted / "fleet-cache"
        package = engine / "fleet_cache_engine"
        package.mkdir(parents=True)
        copy_engine(package)
        (package / "MANIFEST").write_text("0123  _cli.py\n")
        (engine / "fleet-cache").write_text("import os, sys\nsys.path.insert(0, os.path.dirname(__file__))\nfrom fleet_cache_engine._cli import main\n")
        for path in [engine, *engine.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        play, role_vars = _scheduled_role(tmp_path, engine, home)
        inventory = write_inventory(tmp_path / "inventory", {"hosts": {"host": local_host()}})
        run = playbook(play, inventory, tmp_path, extra_vars=role_vars)
        assert run.returncode == 0 and run.changed("host") > 0, run.explain()
        assert sorted(path.name for path in engine.iterdir()) == ["fleet-cache", "fleet_cache_engine.zip"], "the copied engine and its MANIFEST are gone"
        assert (engine / "fleet_cache_engine.zip").read_bytes() == bundle.engine_archive()
        job = subprocess.run(
            [os.path.realpath(VENV_BIN / "python"), "-I", "-S", "-B", str(engine / "fleet-cache"), "--help"], capture_output=True, text=True, check=False
        )
        assert job.returncode == 0 and "prune" in job.stdout, job.stdout + job.stderr
        again = playbook(play, inventory, tmp_path, extra_vars=role_vars)
        assert again.returncode == 0 and again.changed("host") == 0, again.explain()
        assert sorted(path.name for path in engine.iterdir()) == ["fleet-cache", "fleet_cache_engine.zip"]


def test_the_role_refuses_an_interpreter_others_could_change(tmp_path: Path) -> None:
    """The job's interpreter from pip_cache_policy_python or from ansible_python_interpreter, in a folder a user can
    write, or a link to an interpreter there: the role fails naming the variable, the path and why, and installs
    and schedules nothing."""
    real_python = os.path.realpath(VENV_BIN / "python")
    with trusted_folder("interpreters-") as trusted:
        shared = trusted / "shared"
        shared.mkdir(mode=0o755)
        shared.chmod(0o777)
        (shared / "python3").symlink_to(real_python)
        linked = trusted / "bin"
        linked.mkdir(mode=0o755)
        (linked / "python3").symlink_to(shared / "python3")
        home = tmp_path / "home"
        engine = trusted / "engine"
        play, role_vars = _scheduled_role(tmp_path, engine, home)
        hosts = {
            "in-shared": local_host(pip_cache_policy_python=str(shared / "python3")),
            "link-to-shared": local_host(pip_cache_policy_python=str(linked / "python3")),
            "ansible-interpreter": local_host(ansible_python_interpreter=str(shared / "python3")),
            "under-tmp": local_host(pip_cache_policy_python=str(tmp_path / "theirs" / "python3")),
        }
        # Under the sticky /tmp, a folder another account owns (a sticky folder of root's alone is no fault).
        (tmp_path / "theirs").mkdir()
        (tmp_path / "theirs" / "python3").symlink_to(real_python)
        os.chown(tmp_path / "theirs", 65534, 65534)
        inventory = write_inventory(tmp_path / "inventory", {"hosts": hosts})
        env = ansible_env(tmp_path, ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_CALLBACK_FORMAT_PRETTY="false")
        run = playbook(play, inventory, tmp_path, extra_vars=role_vars, env=env)
        assert run.returncode == 2 and {host: counts["failed"] for host, counts in run.recap.items()} == dict.fromkeys(hosts, 1), run.explain()
        messages = {host: json.loads(result)["msg"] for host, result in re.findall(r"^fatal: \[([^\]]+)\]: FAILED! => (\{.*\})$", run.stdout, re.M)}
        assert set(messages) == set(hosts), run.explain()
        writable = f"but {shared} is writable by its group and others; "
        assert messages["in-shared"].startswith(f"pip_cache_policy_python: the scheduled job would run {shared / 'python3'} as root, {writable}")
        assert messages["link-to-shared"].startswith(f"pip_cache_policy_python: the scheduled job would run {linked / 'python3'} as root, {writable}")
        assert messages["ansible-interpreter"].startswith(f"ansible_python_interpreter: the scheduled job would run {shared / 'python3'} as root, {writable}")
        assert messages["under-tmp"].startswith(
            f"pip_cache_policy_python: the scheduled job would run {tmp_path / 'theirs' / 'python3'} as root, but {tmp_path / 'theirs'} is owned by "
        )
        assert not engine.exists() and not list((tmp_path / "cron").iterdir()), "nothing installed, nothing scheduled"


def test_systemd_units_escape_specifiers_and_variables(tmp_path: Path, engine_dir: Path) -> None:
    """An interpreter whose path holds %u, $HOME and a space, and a cache whose path also holds quotes and a
    backslash: the unit's ExecStart, read as systemd reads it, gives back every path as the role was given it;
    systemd-analyze verify finds the interpreter (an unescaped %u would have become root), and the command, run as
    read, prunes that cache. An interpreter path systemd cannot take (a quote) fails the role before anything."""
    weird = '%u $HOME it\'s "q" \\x'
    with trusted_folder("percent-") as trusted:
        interpreter = trusted / "py %u $HOME x" / "python3"
        interpreter.parent.mkdir(mode=0o755)
        interpreter.symlink_to(os.path.realpath(VENV_BIN / "python"))
        cache = tmp_path / f"cache {weird}"
        fake_cache(cache, seed=51, downloads=8, wheels=4, size=4000, now=time.time())
        play, role_vars = _scheduled_role(
            tmp_path,
            engine_dir,
            tmp_path / "home",
            pip_cache_policy_schedule_backend="systemd",
            pip_cache_policy_python=str(interpreter),
            pip_cache_policy_environment={"PIP_CACHE_DIR": str(cache)},
        )
        inventory = write_inventory(tmp_path / "inventory", {"hosts": {"host": local_host()}})
        run = playbook(play, inventory, tmp_path, extra_vars=role_vars)
        assert run.returncode == 0, run.explain()
        assert disk_usage(cache)[0] <= 20000, "the role pruned the cache at that path"
        service = tmp_path / "systemd" / "fleet-cache-prune.service"
        exec_start = next(line for line in service.read_text().splitlines() if line.startswith("ExecStart="))
        argv = systemd_exec_argv(exec_start.split("=", 1)[1])
        launcher = str(engine_dir / "fleet-cache")
        assert argv == [
            str(interpreter),
            "-I",
            "-S",
            "-B",
            launcher,
            "prune",
            "--user=root",
            "--max-size=20000B",
            "--min-age=0",
            f"--env=PIP_CACHE_DIR={cache}",
        ]
        fake_cache(cache, seed=52, downloads=8, wheels=0, size=4000, now=time.time() - 60)
        assert disk_usage(cache)[0] > 20000
        by_hand = subprocess.run(argv, capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})
        assert by_hand.returncode == 0 and by_hand.stdout.startswith("fleet-cache prune: 1 cache(s) (root)"), by_hand.stdout + by_hand.stderr
        assert disk_usage(cache)[0] <= 20000

        # The same job in a cron file: cron and then the shell give back the same command line.
        cron_run = playbook(play, inventory, tmp_path, extra_vars=dict(role_vars, pip_cache_policy_schedule_backend="cron"))
        assert cron_run.returncode == 0, cron_run.explain()
        _when, cron_argv, cron_line = _cron_entry(tmp_path / "cron")
        assert cron_argv == argv
        fake_cache(cache, seed=53, downloads=8, wheels=0, size=4000, now=time.time() - 60)
        by_cron = subprocess.run(["/bin/sh", "-c", cron_line], capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})
        assert by_cron.returncode == 0 and disk_usage(cache)[0] <= 20000, by_cron.stderr + (tmp_path / "prune.log").read_text()

        # An interpreter path systemd cannot take: refused before anything changes, naming the variable.
        quoted = trusted / "it's" / "python3"
        quoted.parent.mkdir(mode=0o755)
        quoted.symlink_to(os.path.realpath(VENV_BIN / "python"))
        unit = service.read_text()
        refused_run = playbook(play, inventory, tmp_path, extra_vars=dict(role_vars, pip_cache_policy_python=str(quoted)))
        message = f"pip_cache_policy_python: systemd refuses to start a program whose path holds a quote, a backslash or a control character ({quoted})"
        assert refused_run.returncode == 2 and message in refused_run.stdout, refused_run.explain()
        assert service.read_text() == unit

        if not shutil.which("systemd-analyze"):
            pytest.skip("systemd-analyze is not installed here: ExecStart was checked with this test's reading of systemd's quoting only")
        verified = subprocess.run(["systemd-analyze", "verify", str(service)], capture_output=True, text=True, check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        # The check has teeth: the same unit with % left as it is names another program (%u is root here).
        unescaped = tmp_path / "unescaped" / "fleet-cache-prune.service"
        unescaped.parent.mkdir()
        unescaped.write_text(service.read_text().replace(exec_start, exec_start.replace("%%", "%")))
        refused = subprocess.run(["systemd-analyze", "verify", str(unescaped)], capture_output=True, text=True, check=False)
        assert refused.returncode != 0 and f"{trusted}/py root " in refused.stdout + refused.stderr, refused.stdout + refused.stderr


def test_every_task_file_passes_a_syntax_check_windows_included(tmp_path: Path) -> None:
    """The Windows tasks use ansible.windows, not installed here: stand-in modules let ansible-playbook resolve and check them."""
    stubs = tmp_path / "collections" / "ansible_collections" / "ansible" / "windows" / "plugins" / "modules"
    stubs.mkdir(parents=True)
    for name in ("win_command", "win_copy", "win_file", "win_powershell", "win_stat"):
        (stubs / f"{name}.py").write_text("#!/usr/bin/python\n# A stand-in so that ansible-playbook --syntax-check resolves the name.\n")
    tasks = sorted(path.stem for path in (REPO_ROOT / "roles" / "pip_cache_policy" / "tasks").glob("*.yml"))
    expected = {"engine", "engine_files_posix", "engine_files_windows", "relocate_windows", "schedule_windows"}
    assert expected | {"schedule_systemd", "schedule_cron", "schedule_launchd"} <= set(tasks)
    assert "engine_windows" not in tasks, "one engine-install flow for POSIX and Windows hosts (engine.yml)"
    # Module names are written out, never templated: ansible-lint checks each and the controller loads only what it runs.
    task_text = "".join(path.read_text() for path in (REPO_ROOT / "roles" / "pip_cache_policy" / "tasks").glob("*.yml"))
    assert 'action: "{{' not in task_text and "_module_prefix" not in task_text
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
