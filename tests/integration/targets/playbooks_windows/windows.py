# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stand-in Windows host for runme.sh, and the checks of what the role and the playbooks did to it.

No Windows host runs here, so one is stood in for (tests/unit/plugins/windows_fakes/, copied into test collections):
the connection plugins ``fleet_test.windows.winrm`` (the real ``powershell`` shell plugin, as WinRM has) and
``fleet_test.windows.ssh`` (``ansible_shell_type: powershell``) carry out every -EncodedCommand in a folder standing
for the host's drives and log it; ``ansible.windows.win_*`` are action plugins that log their arguments and do what
the module does to that folder (a Scheduled Task is a JSON file); ``fleet_test.windows.facts`` gives Windows facts.

    windows.py build WORK FAKES      WORK/collections (the stand-ins, their plugins copied from FAKES), WORK/commands.json
                                     (py and python.exe are this Python), the plays, and one host folder a scenario:
                                     WORK/role (inventory.yml, policy.json, a cache over the budget), WORK/refused,
                                     WORK/report (over SSH with PowerShell, a cache of its own)
    windows.py checked WORK OUT      the check-mode run: every call made as it would be, nothing changed
    windows.py old-engine WORK       an engine of an earlier release on the host: its files one by one and a MANIFEST
    windows.py real WORK OUT         the real run: the engine installed, the cache pruned, the Scheduled Task registered
    windows.py job WORK              the cache grows again; the Scheduled Task's command, run by hand, prunes it
    windows.py again WORK OUT        the run from a play with become: nothing changes, become reaches nothing
    windows.py refused WORK OUT      a module with become failed, saying why, and nothing reached the host
    windows.py report WORK OUT       fleet.cache.report over SSH with PowerShell: no become, the engine run by py -3

WORK is the scenario's folder (WORK/role, ...) for all but build; OUT is the saved output of ansible-playbook. Each
check reads the host's call log and removes it. The engine's expected bytes come from the fleet.cache collection on
ANSIBLE_COLLECTIONS_PATH, the one under test. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ENGINE_DIR = "C:\\ProgramData\\fleet-cache"
LAUNCHER = ENGINE_DIR + "\\fleet-cache.py"
ARCHIVE = ENGINE_DIR + "\\fleet_cache_engine.zip"
PACKAGE = ENGINE_DIR + "\\fleet_cache_engine"  # the engine's files, copied one by one by earlier releases
HOST_TEMP = ("C", "Users", "ansible", "AppData", "Local", "Temp")
TASK_NAME = "fleet.cache pip cache prune"
BUDGET = 60000
RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)", re.M)
CONNECTION_DOC = """DOCUMENTATION = '''
name: {name}
short_description: A stand-in Windows host for the collection's tests ({name})
description: [Decodes the PowerShell command lines a Windows connection sends and carries them out in a local folder.]
author: fleet.cache developers (@fleet-cache)
'''
"""
PLAYS = {
    "facts.yml": """---
- name: Facts of the stand-in Windows host, as setup gathers them there
  hosts: windows
  gather_facts: false
  become: false
  tasks:
    - name: Gather
      fleet_test.windows.facts:
""",
    "role-with-become.yml": """---
- name: The role in a play that uses become for its POSIX hosts
  hosts: windows
  gather_facts: false
  become: true
  roles:
    - role: fleet.cache.pip_cache_policy
""",
    "module-with-become.yml": """---
- name: A module with become on Windows
  hosts: windows
  gather_facts: false
  become: true
  tasks:
    - name: Read the cache
      fleet.cache.pip_cache_info:
""",
}


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"windows.py: {message}")


def expect(got: Any, wanted: Any, what: str) -> None:
    check(got == wanted, f"{what}: got {got!r}, expected {wanted!r}")


def engine_bundle() -> Any:
    """plugin_utils._engine_bundle of the fleet.cache collection on ANSIBLE_COLLECTIONS_PATH (the one under test)."""
    roots = [root for root in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if root]
    found = [root for root in roots if (Path(root) / "ansible_collections" / "fleet" / "cache" / "galaxy.yml").is_file()]
    check(bool(found), f"no fleet.cache collection on ANSIBLE_COLLECTIONS_PATH={os.environ.get('ANSIBLE_COLLECTIONS_PATH')!r}")
    sys.path.insert(0, found[0])
    from ansible_collections.fleet.cache.plugins.plugin_utils import _engine_bundle  # pylint: disable=import-outside-toplevel

    where = Path(_engine_bundle.__file__).resolve()
    check(where.is_relative_to(Path(found[0]).resolve()), f"the engine bundle imported from {where}, not from {found[0]}")
    return _engine_bundle


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def fake_cache(root: Path, seed: int, downloads: int, wheels: int, size: int) -> None:
    """A cache in pip's layout: ``downloads`` http-v2 entries (metadata + body) and ``wheels`` built wheels
    (wheel + origin.json), sizes around ``size`` bytes, one entry a day older than the previous."""
    rng = random.Random(seed)
    now = time.time()
    for number in range(downloads):
        digest = hashlib.sha224(f"{seed}-download-{number}".encode()).hexdigest()
        folder = root.joinpath("http-v2", *digest[:5])
        folder.mkdir(parents=True, exist_ok=True)
        body = folder / f"{digest}.body"
        body.write_bytes(rng.randbytes(rng.randint(size // 2, size * 3 // 2)))
        (folder / digest).write_bytes(b"cc=4," + rng.randbytes(40))
        for path in (body, folder / digest):
            stamp = now - (number * 2 + 1) * 86400
            os.utime(path, (stamp, stamp))
    for number in range(wheels):
        digest = hashlib.sha224(f"{seed}-wheel-{number}".encode()).hexdigest()
        folder = root / "wheels" / digest[:2] / digest[2:4] / digest[4:6] / digest[6:]
        folder.mkdir(parents=True, exist_ok=True)
        wheel = folder / f"proj{number}-1.{seed}-py3-none-any.whl"
        wheel.write_bytes(rng.randbytes(rng.randint(size // 2, size * 3 // 2)))
        (folder / "origin.json").write_text('{"url": "https://example.invalid/x"}')
        for path in (wheel, folder / "origin.json"):
            stamp = now - (number * 2 + 2) * 86400
            os.utime(path, (stamp, stamp))


def disk_usage(path: Path) -> tuple[int, int]:
    """(bytes, files) under ``path`` as pip and the engine count them: st_size of files, a link as 0 bytes."""
    total = files = 0
    for directory, _dirnames, filenames in os.walk(path):
        for name in filenames:
            full = os.path.join(directory, name)
            files += 1
            total += 0 if os.path.islink(full) else os.lstat(full).st_size
    return total, files


def stand_in_collections(root: Path, fakes: Path) -> None:
    """fleet_test.windows (connection plugins and facts) and ansible.windows (the win_* modules) under ``root``."""
    test = root / "ansible_collections" / "fleet_test" / "windows" / "plugins"
    for folder in ("plugin_utils", "connection", "action"):
        (test / folder).mkdir(parents=True)
    for name in ("fake_connection.py", "fake_modules.py"):
        check((fakes / name).is_file(), f"no {name} in {fakes}")
        shutil.copy(fakes / name, test / "plugin_utils" / name)
    utils = "ansible_collections.fleet_test.windows.plugins.plugin_utils"
    for name, cls in (("winrm", "Connection"), ("ssh", "SshConnection")):
        (test / "connection" / f"{name}.py").write_text(CONNECTION_DOC.format(name=name) + f"from {utils}.fake_connection import {cls} as Connection  # noqa\n")
    (test / "action" / "facts.py").write_text(f"from {utils}.fake_modules import Facts as ActionModule  # noqa\n")
    windows = root / "ansible_collections" / "ansible" / "windows" / "plugins" / "action"
    windows.mkdir(parents=True)
    for name in ("win_stat", "win_file", "win_copy", "win_command", "win_powershell"):
        cls = "".join(part.capitalize() for part in name.split("_")).replace("Powershell", "PowerShell")
        (windows / f"{name}.py").write_text(f"from {utils}.fake_modules import {cls} as ActionModule  # noqa\n")


def inventory(path: Path, host: str, host_vars: dict[str, Any]) -> None:
    write_json(path, {"all": {"children": {"windows": {"hosts": {host: host_vars}}}}})


def build(work: Path, fakes: Path) -> None:
    stand_in_collections(work / "collections", fakes)
    # The host's Pythons: the py launcher and python.exe (the role's default for its scheduled job) run this one.
    write_json(work / "commands.json", {"py": sys.executable, "python.exe": sys.executable})
    for name, text in PLAYS.items():
        (work / name).write_text(text)
    for scenario in ("role", "refused", "report"):
        (work / scenario / "windows" / "C").mkdir(parents=True)
    role = work / "role"
    fake_cache(role / "cache", seed=1, downloads=10, wheels=4, size=10000)
    before = disk_usage(role / "cache")
    check(before[0] > BUDGET * 2, f"the cache holds {before[0]} B, not over twice the budget of {BUDGET} B")
    write_json(role / "state.json", {"before": before})
    # No ansible_python_interpreter: the modules find the py launcher, as on a fresh Windows host with Python.
    inventory(role / "inventory.yml", "winhost", {"ansible_connection": "fleet_test.windows.winrm"})
    inventory(work / "refused" / "inventory.yml", "winhost", {"ansible_connection": "fleet_test.windows.winrm"})
    policy = {
        "pip_cache_policy_state": "limited",
        "pip_cache_policy_max_size": f"{BUDGET}B",
        "pip_cache_policy_min_age": "0",
        "pip_cache_policy_schedule": True,
        "pip_cache_policy_schedule_when": "03:30",
        "pip_cache_policy_environment": {"PIP_CACHE_DIR": str(role / "cache")},
    }
    write_json(role / "policy.json", policy)
    report = work / "report"
    fake_cache(report / "cache", seed=3, downloads=5, wheels=3, size=5000)
    host = {
        "ansible_connection": "fleet_test.windows.ssh",
        "ansible_shell_type": "powershell",
        "ansible_python_interpreter": "/usr/bin/python3",
        "pip_cache_environment": {"PIP_CACHE_DIR": str(report / "cache")},
        # The connecting user only (user=all would read every account of the machine running the test).
        "pip_cache_user": pwd.getpwuid(os.getuid()).pw_name,
    }
    inventory(report / "inventory.yml", "sshwin", host)


def recap(out: Path, host: str) -> dict[str, int]:
    """The host's PLAY RECAP counts (the last play's) in the saved output."""
    found = {}
    for match in RECAP.finditer(out.read_text()):
        found[match.group("host")] = {key: int(match.group(key)) for key in ("ok", "changed", "unreachable", "failed")}
    check(host in found, f"no PLAY RECAP line for {host} in {out}")
    print(f"windows.py: PLAY RECAP {host}: {found[host]}")
    return found[host]


def run_ok(out: Path, host: str) -> dict[str, int]:
    counts = recap(out, host)
    check(counts["failed"] == 0 and counts["unreachable"] == 0, f"{host} failed or was unreachable: {counts}")
    return counts


def read_log(work: Path) -> list[dict[str, Any]]:
    """What reached the stand-in host since the last check (the log is removed)."""
    log = work / "calls.jsonl"
    entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    log.unlink(missing_ok=True)
    print(f"windows.py: {len(entries)} call(s) logged: " + ", ".join(entry.get("module", entry["kind"]) for entry in entries))
    return entries


def module_calls(entries: list[dict[str, Any]], module: str) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry["kind"] == "module" and entry["module"] == f"ansible.windows.{module}"]


def host_file(work: Path, path: str) -> Path:
    return work / "windows" / path[0] / Path(*path[3:].split("\\"))


def windows_split(arguments: str) -> list[str]:
    """A command line's arguments as a Windows program reads them (the role quotes with "..." those holding a space)."""
    return [word[1:-1] if word.startswith('"') else word for word in re.findall(r'"[^"]*"|\S+', arguments)]


def no_become(calls: list[dict[str, Any]]) -> None:
    became = [entry for entry in calls if entry["become"]]
    check(not became, f"become reached the Windows host: {became}")


def engine_files_state(calls: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(call["args"]["path"], call["args"]["state"]) for call in module_calls(calls, "win_file")]


def expected_arguments(work: Path) -> str:
    return f"-I {LAUNCHER} prune --max-size={BUDGET}B --min-age=0 --env=PIP_CACHE_DIR={work / 'cache'}"


def checked(work: Path, out: Path) -> None:
    bundle = engine_bundle()
    root = work / "windows"
    run_ok(out, "winhost")
    calls = read_log(work)
    before = tuple(read_json(work / "state.json")["before"])
    now = disk_usage(work / "cache")
    check(now == before, f"check mode changed the cache: {before} -> {now}")
    check(not (root / "C" / "ProgramData").exists(), "check mode made C:\\ProgramData on the host")
    check(not (root / "ScheduledTasks").exists(), "check mode registered a Scheduled Task")
    no_become(calls)
    modules = [entry for entry in calls if entry["kind"] == "module"]
    check(bool(modules), "no ansible.windows module was called")
    check(all(entry["check_mode"] for entry in modules), f"modules called without check mode: {[entry for entry in modules if not entry['check_mode']]}")
    stats = [call["args"]["path"] for call in module_calls(calls, "win_stat")]
    expect(stats, [LAUNCHER], "win_stat paths")
    files = engine_files_state(calls)
    expect(files, [(PACKAGE, "absent"), (ENGINE_DIR, "directory")], "win_file calls (path, state)")
    copied = {call["args"]["dest"]: call["args"] for call in module_calls(calls, "win_copy")}
    expect(sorted(copied), sorted([ARCHIVE, LAUNCHER]), "win_copy destinations")
    check("src" in copied[ARCHIVE] and "content" not in copied[ARCHIVE], f"the archive is not sent as a file: {sorted(copied[ARCHIVE])}")
    source = Path(copied[ARCHIVE]["src"])  # the archive the modules send for each task, read back on the host below
    expected_name = f"fleet_cache_engine-{bundle.archive_sha256()[:16]}.zip"
    expect(source.name, expected_name, "the archive sent")
    check(source.parent.name.startswith("ansible-local-"), f"the archive sent is not in Ansible's temporary folder: {source}")
    check(not source.exists(), f"{source}: written into Ansible's temporary folder on the controller, still there after it exited")
    check("src" not in copied[LAUNCHER], f"the launcher is sent as a file: {copied[LAUNCHER]}")
    content = copied[LAUNCHER].get("content")
    check(content == bundle.launcher_source(job=True), f"the launcher is not the one launcher source of the job, without the POSIX trust check:\n{content}")
    check("from fleet_cache_engine._cli import main" in content, "the launcher does not run the engine's command line")
    probes = [call["args"]["argv"] for call in module_calls(calls, "win_command")]
    expect(probes, [["python.exe", "-I", LAUNCHER, "--help"]], "win_command calls")
    tasks = [call["args"]["parameters"] for call in module_calls(calls, "win_powershell")]
    wanted = {"Name": TASK_NAME, "Present": True, "Execute": "python.exe", "Arguments": expected_arguments(work), "When": "03:30"}
    expect(tasks, [wanted], "win_powershell parameters")
    engine = [entry for entry in calls if entry["kind"] == "engine"]
    check(len(engine) == 1 and engine[0]["argv"][:3] == ["py", "-3", "-I"] and engine[0]["tried"] == ["py"], f"engine runs: {engine}")
    request = engine[0]["request"]
    check(request["module"] == "pip_cache" and request["check_mode"] is True, f"engine request: {request}")
    params = request["params"]
    got = (params["state"], params["max_size"], params["min_age"], params["user"])
    expect(got, ("pruned", f"{BUDGET}B", "0", None), "engine request's state, max_size, min_age, user")
    expect(params["environment"], {"PIP_CACHE_DIR": str(work / "cache")}, "engine request's environment")


def old_engine(work: Path) -> None:
    bundle = engine_bundle()
    package = host_file(work, PACKAGE)
    package.mkdir(parents=True)
    source = Path(bundle.engine_folder())
    for name in bundle.engine_files():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_bytes((source / name).read_bytes())
    (package / "__init__.py").write_text("")
    (package / "MANIFEST").write_text("0123  _cli.py\n")


def real(work: Path, out: Path) -> None:
    bundle = engine_bundle()
    root = work / "windows"
    counts = run_ok(out, "winhost")
    check(counts["changed"] > 0, f"the real run changed nothing: {counts}")
    calls = read_log(work)
    no_become(calls)
    check(not host_file(work, PACKAGE).exists(), f"{PACKAGE}: the engine's files of earlier releases and their MANIFEST are still there")
    installed = sorted(path.name for path in host_file(work, ENGINE_DIR).iterdir())
    expect(installed, ["fleet-cache.py", "fleet_cache_engine.zip"], f"the files in {ENGINE_DIR}")
    check(host_file(work, ARCHIVE).read_bytes() == bundle.engine_archive(), f"{ARCHIVE} is not the engine's archive")
    check(host_file(work, LAUNCHER).read_text() == bundle.launcher_source(job=True), f"{LAUNCHER} is not the job's launcher")
    state = read_json(work / "state.json")
    state["installed"] = {path: host_file(work, path).stat().st_mtime_ns for path in (ARCHIVE, LAUNCHER)}
    probes = [(call["args"]["argv"], call["check_mode"]) for call in module_calls(calls, "win_command")]
    expect(probes, [(["python.exe", "-I", LAUNCHER, "--help"], False)], "win_command calls (argv, check mode)")
    scheduled = read_json(root / "ScheduledTasks" / f"{TASK_NAME}.json")
    wanted = ("python.exe", expected_arguments(work), "03:30")
    expect((scheduled["Execute"], scheduled["Arguments"], scheduled["When"]), wanted, "the Scheduled Task's Execute, Arguments, When")
    state["scheduled"] = scheduled
    write_json(work / "state.json", state)
    # The prune went through the Windows transport: a temporary folder, the three files, the engine run by py -3.
    kinds = [entry["kind"] for entry in calls if entry["kind"] != "module"]
    expect(kinds, ["mkdtemp", "put_file", "put_file", "put_file", "engine", "remove"], "the transport's calls")
    engine = next(entry for entry in calls if entry["kind"] == "engine")
    check(engine["request"]["check_mode"] is False and engine["rc"] == 0, f"the engine's run: check_mode {engine['request']['check_mode']}, rc {engine['rc']}")
    sent = [entry["path"].rsplit("\\", 1)[1] for entry in calls if entry["kind"] == "put_file"]
    expect(sent, ["fleet_cache_engine.zip", "fleet_cache_launcher.py", "fleet_cache_args.json"], "files sent")
    left = list(work.joinpath("windows", *HOST_TEMP).iterdir())
    check(not left, f"left in the host's temporary folder: {left}")
    before = read_json(work / "state.json")["before"][0]
    pruned = disk_usage(work / "cache")[0]
    check(0 < pruned <= BUDGET < before, f"the cache went from {before} B to {pruned} B, the budget is {BUDGET} B")


def job(work: Path) -> None:
    """The Scheduled Task's command, run as Windows would run it, keeps the budget after the cache grows again."""
    cache = work / "cache"
    fake_cache(cache, seed=2, downloads=10, wheels=4, size=10000)
    grown = disk_usage(cache)[0]
    check(grown > BUDGET, f"the cache grew to {grown} B only, the budget is {BUDGET} B")
    scheduled = read_json(work / "state.json")["scheduled"]
    argv = [scheduled["Execute"], *windows_split(scheduled["Arguments"])]
    commands = read_json(work.parent / "commands.json")
    mapped = [commands[argv[0]], *[str(host_file(work, arg)) if arg[1:3] == ":\\" else arg for arg in argv[1:]]]
    print(f"windows.py: the Scheduled Task's command {argv} runs here as {mapped}")
    proc = subprocess.run(mapped, capture_output=True, text=True, check=False, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    check(proc.returncode == 0, f"the job exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    after = disk_usage(cache)[0]
    check(0 < after <= BUDGET, f"the job left {after} B in the cache, the budget is {BUDGET} B")


def again(work: Path, out: Path) -> None:
    counts = run_ok(out, "winhost")
    check(counts["changed"] == 0, f"the run again changed something: {counts}")
    calls = read_log(work)
    check(bool(calls), "nothing reached the host")
    no_become(calls)
    tasks = module_calls(calls, "win_powershell")
    check(len(tasks) == 1, f"win_powershell calls: {tasks}")
    dests = sorted(call["args"]["dest"] for call in module_calls(calls, "win_copy"))
    expect(dests, sorted([ARCHIVE, LAUNCHER]), "win_copy destinations")
    installed = read_json(work / "state.json")["installed"]
    now = {path: host_file(work, path).stat().st_mtime_ns for path in (ARCHIVE, LAUNCHER)}
    check(now == installed, f"the engine was written again: modification times {installed} -> {now}")
    files = engine_files_state(calls)
    expect(files, [(PACKAGE, "absent"), (ENGINE_DIR, "directory")], "win_file calls (path, state)")


def refused(work: Path, out: Path) -> None:
    counts = recap(out, "winhost")
    check(counts["failed"] == 1, f"the module with become did not fail once: {counts}")
    check("cannot use become" in out.read_text(), f"no 'cannot use become' in {out}")
    calls = read_log(work)
    check(calls == [], f"something reached the host: {calls}")


def report(work: Path, out: Path) -> None:
    run_ok(out, "sshwin")
    calls = read_log(work)
    engine = [entry for entry in calls if entry["kind"] == "engine"]
    check(len(engine) == 1 and not engine[0]["become"] and engine[0]["argv"][:2] == ["py", "-3"], f"engine runs: {engine}")
    data = read_json(work / "report" / "report.json")
    check(str(work / "cache") in json.dumps(data), f"the report does not name {work / 'cache'}: {data}")
    check(disk_usage(work / "cache")[0] > 0, "the report emptied the cache")


def main(argv: list[str]) -> int:
    command, work = argv[1], Path(argv[2])
    if command == "build":
        build(work, Path(argv[3]))
    elif command == "old-engine":
        old_engine(work)
    elif command == "job":
        job(work)
    elif command in ("checked", "real", "again", "refused", "report"):
        {"checked": checked, "real": real, "again": again, "refused": refused, "report": report}[command](work, Path(argv[3]))
    else:
        raise SystemExit(f"windows.py: unknown command {command!r}")
    print(f"windows.py: {command}: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
