# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Attacks by a real unprivileged local account on root running the collection (issue 15; the rules are in
docs/docsite/rst/guide_security.rst, "Security model: root acting for users").

The attacking account (``fcatk<random>``) and a victim account (``fcatv<random>``) are made with ``useradd`` for this
file's tests and removed with ``userdel -r`` after them. The attacker is a separate process holding the account's uid, gid
and groups; for races it watches its own folders with inotify and acts on root's first visible step (a deletion, a
rename, an owner change, a file opened or created), swapping a folder, the cache root or a temporary file for a link.
Root runs the modules with ``ansible localhost -m fleet.cache.NAME`` and the role and the report with
``ansible-playbook``, from the installed collection (FLEET_CACHE_COLLECTIONS_PATH); the runs are root already (this
host has no sudo, so there is no -b). Before and after every round, the owner, mode and SHA-256 of every victim (root's
vault: a shadow-like secret whose first line is ``FLEETCACHE-SECRET-<random>``, a root-only folder in pip's layout and
an /etc-like folder; a root-only file anyone can reach; a world-readable folder in pip's layout; the victim's home) are
compared; any difference is an attack that succeeded. The secret's marker must be in no output, result, warning,
report, log, nor in any file of the attacker's home.

The session's report ends with (hardening_support.SummaryPlugin; also in $FLEET_CACHE_REPORTS/attacks.txt):

    attacks: tried N, changed anything outside the attacker's own files 0, secrets quoted 0

Each test fails when one of its rounds changed a victim or quoted the secret, naming what changed; a race that never
fired (root showed no step the attacker could time on) fails too, since it tested nothing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest
from attack_support import (
    IN_ATTRIB,
    IN_DELETE,
    IN_MOVED_FROM,
    Attacker,
    AttackTally,
    Lab,
    Outcome,
    Part,
    Race,
    chown_tree,
    collections_for,
    engine_prefix,
    entry_for,
    host_failures,
    make_account,
    module,
    mount,
    register_summary,
    remove_account,
    remove_entry,
    replace_what_root_creates,
    role_host,
    root_only_folder,
    run_job,
    run_playbook,
    run_role,
    strings_in,
    swap_when_root_acts,
    swap_when_root_opens,
    umount,
)

from playbooks import local_host

ROUNDS = 3


# --------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def tally(request: pytest.FixtureRequest) -> AttackTally:
    return register_summary(request.config)


@pytest.fixture(scope="module")
def lab(tally: AttackTally) -> Iterator[Lab]:
    """The accounts and victims, for this file's tests only: the accounts are gone before other files' tests run."""
    if os.geteuid() != 0:
        pytest.skip("the attacks need root: they create local accounts and run the collection as root against them")
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("the attacks need useradd and userdel to create the attacking and the victim accounts")
    if not sys.platform.startswith("linux"):
        pytest.skip("the attacker times its races with inotify (Linux)")
    root_place = root_only_folder("fcatk-")
    base = Path(tempfile.mkdtemp(prefix="fcatk-"))
    base.chmod(0o755)
    (base / "home").mkdir(mode=0o755)
    made = []
    try:
        made.append(make_account("fcatk", base / "home"))
        made.append(make_account("fcatv", base / "home"))
        place = Lab(base, root_place, made[0], made[1])
        place.build_victims()
        yield place
    finally:
        for account in made:
            remove_account(account)
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(root_place, ignore_errors=True)


@pytest.fixture
def attacker(lab: Lab) -> Iterator[Attacker]:
    lab.reset_attacker()
    yield Attacker(lab.attacker)
    lab.reset_attacker()


@dataclass
class Scheduled:
    """The engine and the scheduled job the role installed for these tests (users: all, a budget nobody exceeds)."""

    engine: Path
    cron_file: Path
    log: Path
    prefix: list[str]  # the interpreter, its flags and the launcher, as the job runs them


@pytest.fixture(scope="module")
def scheduled(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Scheduled:
    lab.reset_attacker()
    places = lab.places("job")
    host = role_host(
        places,
        engine=lab.root_place / "engine",
        pip_cache_policy_users="all",
        pip_cache_policy_schedule=True,
    )
    run = run_role(tmp_path_factory.mktemp("scheduled"), {"scheduler": host})
    cron_file = places / "cron" / "fleet-cache-prune"
    if run.returncode != 0 or not cron_file.exists():
        pytest.fail(f"the role did not install its engine and the scheduled job (users: all):\n{run.explain()}")
    return Scheduled(lab.root_place / "engine", cron_file, places / "job.log", engine_prefix(cron_file))


# --------------------------------------------------------------------------------------------------
# Helpers


def _attacking(attacker: Attacker, plan: Any) -> contextlib.AbstractContextManager[Race]:
    return attacker.racing(plan) if plan is not None else contextlib.nullcontext(Race())


def _check_races(name: str, races: list[Race], findings: list[str]) -> None:
    for number, race in enumerate(races, 1):
        if race.error:
            findings.append(f"{name}, round {number}: the attacker's process failed:\n{race.error}")
    if races and not any(race.fired for race in races):
        findings.append(f"{name}: the attacker never acted in {len(races)} rounds (root showed no step it could time a swap on), so nothing was tested")


def _verdict(findings: list[str], races: list[Race]) -> None:
    notes = [f"  round {number}: {race.note}" for number, race in enumerate(races, 1) if race.note]
    assert not findings, "\n".join(findings) + ("\nwhat the attacker did:\n" + "\n".join(notes) if notes else "")


def _blames_cache_dir(*texts: object) -> bool:
    """True when a message or warning names cache_dir (nobody set it in these runs)."""
    return any("cache_dir" in text for value in texts for text in strings_in(value))


def _failed_entry(outcome: Outcome, user: str) -> Optional[str]:
    """Why ``user``'s entry of ``outcome`` is not a failed entry with a reason (None when it is)."""
    entry = entry_for(outcome.result, user)
    if entry is None:
        return f"no entry for {user}"
    if entry.get("failed") is not True:
        return f"{user}'s entry does not say failed"
    if not [text for key, text in entry.items() if key not in ("user", "users", "cache_dir", "home", "source") and isinstance(text, str) and text.strip()]:
        return f"{user}'s entry gives no reason"
    return None


# --------------------------------------------------------------------------------------------------
# 1. Ownership repair


@pytest.mark.parametrize("link", ["swapped folder", "hard link"])
def test_fix_ownership_gives_back_nothing_outside_the_cache(
    link: str, lab: Lab, attacker: Attacker, scheduled: Scheduled, tally: AttackTally, tmp_path: Path
) -> None:
    """Root gives the attacker back what `sudo pip` left in their cache; the attacker swaps the buckets root has not
    entered yet for links to root's own pip folder (same names) once root is at work in the first one, or plants a hard
    link to a root-only file."""
    if link == "hard link" and Path("/proc/sys/fs/protected_hardlinks").read_text().strip() != "0":
        pytest.skip("fs.protected_hardlinks=1: the kernel lets no user hard-link a file they do not own, so this attack cannot be set up here")
    findings: list[str] = []
    races: list[Race] = []
    for number in range(ROUNDS):
        lab.reset_attacker()
        cache = lab.attacker_cache(content_owner="root")
        plan = None
        if link == "hard link":
            attacker.act(functools.partial(os.link, lab.reachable_secret, cache / "selfcheck-fcatk.json"))
        else:
            plan = swap_when_root_acts(cache, lab.rootpip, mask=IN_ATTRIB, what="other-buckets")
        how = "the role, pip_cache_policy_fix_ownership" if number == 0 else "the engine's fix-ownership command"
        with tally.round(lab, f"fix ownership ({link}), round {number + 1}, {how}", findings) as current, _attacking(attacker, plan) as race:
            if number == 0:
                host = role_host(
                    lab.places("fix-ownership"),
                    engine=scheduled.engine,
                    pip_cache_policy_users=[lab.attacker.name],
                    pip_cache_policy_fix_ownership=True,
                )
                run = run_role(tmp_path / "role", {"fixer": host})
                current.output("the role's output", run.stdout + run.stderr)
            else:
                proc = subprocess.run(
                    [*scheduled.prefix, "fix-ownership", "--json", f"--user={lab.attacker.name}"], capture_output=True, text=True, timeout=120, check=False
                )
                current.output("the command's output", proc.stdout + proc.stderr)
        if plan is not None:
            races.append(race)
    _check_races(f"fix ownership ({link})", races, findings)
    _verdict(findings, races)


# --------------------------------------------------------------------------------------------------
# 2. pip_config for a user


@pytest.mark.parametrize("swap", ["temporary file", "pip.conf", "config folder"])
def test_pip_config_for_a_user_writes_only_their_files(swap: str, lab: Lab, attacker: Attacker, tally: AttackTally, tmp_path: Path) -> None:
    """``pip_config name=global.no-cache-dir value=true scope=user user=ATTACKER`` while the attacker swaps the
    temporary file root creates, their pip.conf, or their config folder for a link to the secret or to /etc-like."""
    folder = lab.attacker.home / ".config" / "pip"
    config = folder / "pip.conf"
    findings: list[str] = []
    races: list[Race] = []

    def plant() -> None:
        folder.mkdir(parents=True)
        config.write_text("[global]\n" + "# a long comment: root takes its time writing the file back\n" * 400 + "timeout = 60\n")

    for number in range(ROUNDS):
        lab.reset_attacker()
        attacker.act(plant)
        if swap == "temporary file":
            plan = replace_what_root_creates(folder, lab.secret)
        elif swap == "pip.conf":
            plan = swap_when_root_opens(config, config, lab.secret)
        else:
            plan = swap_when_root_opens(config, folder, lab.etc)
        with tally.round(lab, f"pip_config scope=user, swapped {swap}, round {number + 1}", findings) as current:
            with attacker.racing(plan) as race:
                outcome = module(
                    tmp_path, "pip_config", {"name": "global.no-cache-dir", "value": "true", "scope": "user", "user": lab.attacker.name}, diff=True
                )
            current.output("the module's result and output", outcome.text)
        races.append(race)
    _check_races(f"pip_config, swapped {swap}", races, findings)
    _verdict(findings, races)


# --------------------------------------------------------------------------------------------------
# 3 and 5. The role's relocation


def test_relocation_moves_nothing_through_a_swapped_folder(lab: Lab, attacker: Attacker, scheduled: Scheduled, tally: AttackTally, tmp_path: Path) -> None:
    """The role relocates the attacker's cache (pip_cache_policy_cache_dir, with the move); once root starts moving,
    the attacker swaps the cache root, the buckets not yet entered, or the folder being moved, for links into root's
    pip folder (same names)."""
    findings: list[str] = []
    races: list[Race] = []
    for number, what in enumerate(["cache", "other-buckets", "folder"]):
        lab.reset_attacker()
        cache = lab.attacker_cache()
        destination = lab.base / f"relocated-{number}"
        plan = swap_when_root_acts(cache, lab.rootpip, mask=IN_MOVED_FROM | IN_DELETE, what=what)
        host = role_host(
            lab.places("relocation"),
            engine=scheduled.engine,
            pip_cache_policy_users=[lab.attacker.name],
            pip_cache_policy_cache_dir=str(destination),
            pip_cache_policy_cache_dir_move=True,
            pip_cache_policy_config_scope="user",
        )
        try:
            with tally.round(lab, f"relocation, swapped {what}, round {number + 1}", findings) as current, attacker.racing(plan) as race:
                run = run_role(tmp_path / f"round{number}", {"relocator": host})
                current.output("the role's output", run.stdout + run.stderr)
        finally:
            remove_entry(destination)
        races.append(race)
    _check_races("relocation", races, findings)
    _verdict(findings, races)


@pytest.mark.parametrize("check_mode", [True, False], ids=["check mode", "real run"])
def test_relocation_refuses_unsafe_targets_before_changing_them(check_mode: bool, lab: Lab, attacker: Attacker, tally: AttackTally, tmp_path: Path) -> None:
    """pip_cache_policy_cache_dir for the attacker set to an /etc-like folder, to another user's home, or to a path
    through a link the attacker made into root's folder: refused, and nothing there changes owner or mode."""
    attacker.act(lambda: os.symlink(lab.vault, lab.attacker.home / "via"))
    targets = {"an /etc-like folder": lab.etc, "another user's home": lab.victim.home, "a path through the attacker's link": lab.rootpip}
    given = {"an /etc-like folder": lab.etc, "another user's home": lab.victim.home, "a path through the attacker's link": lab.attacker.home / "via" / "pip"}
    hosts = {
        f"target{number}": role_host(
            lab.places("target"),
            engine=lab.root_place / "engine",
            pip_cache_policy_users=[lab.attacker.name],
            pip_cache_policy_cache_dir=str(given[label]),
            pip_cache_policy_config_scope="user",
        )
        for number, label in enumerate(targets)
    }
    findings: list[str] = []
    mode = "check mode" if check_mode else "real run"
    with tally.round(lab, f"relocation target ({mode})", findings, parts=[Part(label, path) for label, path in targets.items()]) as current:
        run = run_role(tmp_path, hosts, check=check_mode)
        current.output("the role's output", run.stdout + run.stderr)
    for number, label in enumerate(targets):
        failures = host_failures(run, f"target{number}")
        if not any("pip_cache_policy_cache_dir" in line for line in failures):
            findings.append(f"relocation target ({mode}) [{label}]: the role did not refuse pip_cache_policy_cache_dir={given[label]} naming the variable")
    _verdict(findings, [])


# --------------------------------------------------------------------------------------------------
# 4. Purge and prune for a user


@pytest.mark.parametrize(
    "state,target",
    [("purged", "root's pip folder"), ("purged", "another user's home"), ("pruned", "root's pip folder")],
    ids=["purged-root-folder", "purged-other-home", "pruned-root-folder"],
)
def test_purge_and_prune_follow_no_swapped_cache(state: str, target: str, lab: Lab, attacker: Attacker, tally: AttackTally, tmp_path: Path) -> None:
    """``pip_cache state=purged|pruned user=ATTACKER``; after root's first deletion the attacker replaces ~/.cache/pip
    by a link to root's pip folder (same names) or to the victim's home (pip-shaped folders at its top)."""
    destination = lab.rootpip if target == "root's pip folder" else lab.victim.home
    args: dict[str, Any] = {"state": state, "user": lab.attacker.name}
    if state == "pruned":
        args["max_age"] = "1d"
    findings: list[str] = []
    races: list[Race] = []
    for number in range(ROUNDS):
        lab.reset_attacker()
        cache = lab.attacker_cache()
        plan = swap_when_root_acts(cache, destination, mask=IN_DELETE | IN_MOVED_FROM, what="cache")
        with tally.round(lab, f"{state}, cache swapped for {target}, round {number + 1}", findings) as current:
            with attacker.racing(plan) as race:
                outcome = module(tmp_path, "pip_cache", args)
            current.output("the module's result and output", outcome.text)
        races.append(race)
    _check_races(f"{state}, cache swapped for {target}", races, findings)
    _verdict(findings, races)


# --------------------------------------------------------------------------------------------------
# 6. A configuration file linked to a root-only file


ENTRY_POINTS = [
    "pip_cache_info user=NAME",
    "pip_cache_info user=all",
    "pip_cache --check",
    "pip_cache",
    "pip_config --diff",
    "report playbook",
    "scheduled job",
]


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_linked_config_quotes_no_secret(entry_point: str, lab: Lab, attacker: Attacker, scheduled: Scheduled, tally: AttackTally, tmp_path: Path) -> None:
    """The attacker's pip.conf is a link to the secret (as to /etc/shadow): no output, result, warning, report file or
    log quotes it, and no file of the attacker's home gets its content."""
    lab.attacker_cache(mirror=False, entries=10)

    def plant() -> None:
        folder = lab.attacker.home / ".config" / "pip"
        folder.mkdir(parents=True)
        os.symlink(lab.secret, folder / "pip.conf")

    attacker.act(plant)
    name = lab.attacker.name
    findings: list[str] = []
    with tally.round(lab, f"pip.conf linked to the secret: {entry_point}", findings) as current:
        if entry_point.startswith("pip_cache_info"):
            outcome = module(tmp_path, "pip_cache_info", {"user": "all" if entry_point.endswith("all") else name})
            current.output("the module's result and output", outcome.text)
        elif entry_point.startswith("pip_cache "):
            outcome = module(tmp_path, "pip_cache", {"state": "pruned", "max_age": "1d", "user": name}, check=True, diff=True)
            current.output("the module's result and output", outcome.text)
        elif entry_point == "pip_cache":
            outcome = module(tmp_path, "pip_cache", {"state": "pruned", "max_age": "1d", "user": name})
            current.output("the module's result and output", outcome.text)
        elif entry_point.startswith("pip_config"):
            outcome = module(tmp_path, "pip_config", {"name": "global.no-cache-dir", "value": "true", "scope": "user", "user": name}, diff=True)
            current.output("the module's result and output", outcome.text)
        elif entry_point == "report playbook":
            report = tmp_path / "report"
            run = run_playbook(
                tmp_path,
                "fleet.cache.report",
                {"localhost": local_host(pip_cache_become=False, pip_cache_user="all")},
                extra_vars={"pip_cache_report_dir": str(report)},
            )
            current.output("the playbook's output", run.stdout + run.stderr)
            current.files(report)
            if not (report / "report.json").exists():
                findings.append(f"the report playbook wrote no report (so nothing was looked at):\n{run.explain()}")
        else:
            job = run_job(scheduled.cron_file, scheduled.log)
            current.output("the job's output and log", job.log)
            current.files(scheduled.log)
            if job.log_mode is not None and job.log_mode & 0o077:
                findings.append(f"the scheduled job's log {scheduled.log} is mode {job.log_mode:04o}: other users can read it (0600 expected)")
    _verdict(findings, [])


# --------------------------------------------------------------------------------------------------
# 8. One hostile user and user=all


HOSTILE = ["cache linked to the home", "cache linked to /var/tmp", "unparsable pip.conf"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_one_hostile_user_fails_only_their_own_entry(
    hostile: str, lab: Lab, attacker: Attacker, scheduled: Scheduled, tally: AttackTally, tmp_path: Path
) -> None:
    """The attacker makes their own entry fail (``ln -s ~ ~/.cache/pip``, ``ln -s /var/tmp ~/.cache/pip``, a pip.conf
    pip cannot parse); ``user=all`` still reports and acts on the victim's cache (info, pip_cache state=absent of a
    project only the victim has, the scheduled job), the attacker's entry fails with a reason, and no message blames
    cache_dir (nobody set it) or quotes the file."""
    own_text = f"ATTACKER-TEXT-{uuid.uuid4().hex[:10]}"
    home = lab.attacker.home

    def plant() -> None:
        if hostile == "unparsable pip.conf":
            (home / ".config" / "pip").mkdir(parents=True)
            (home / ".config" / "pip" / "pip.conf").write_text(f"[global]\ntimeout = 60\n{own_text} is neither a section nor a key\n")
        else:
            (home / ".cache").mkdir(mode=0o700)
            os.symlink(home if hostile == "cache linked to the home" else "/var/tmp", home / ".cache" / "pip")

    attacker.act(plant)
    name, victim = lab.attacker.name, lab.victim.name
    http_files, wheels = lab.victim_figures()
    findings: list[str] = []
    expected: list[str] = []
    try:
        with tally.round(lab, f"user=all beside {hostile}", findings, exclude=(lab.victim_cache / "wheels" / "zz",)) as current:
            info = module(tmp_path, "pip_cache_info", {"user": "all", "wheels": False})
            absent = module(tmp_path, "pip_cache", {"state": "absent", "name": lab.victim_project, "user": "all"})
            job = run_job(scheduled.cron_file, scheduled.log)
            current.output("pip_cache_info's output", info.text)
            current.output("pip_cache's output", absent.text)
            current.output("the job's output and log", job.log)
        for label, outcome in (("pip_cache_info user=all", info), ("pip_cache state=absent user=all", absent)):
            if outcome.failed:
                expected.append(f"{label} failed for the whole host: {outcome.msg[:300]}")
            # Reading a cache that is a link to one's own home or /var/tmp (as the user) is no failure; acting on it is
            # refused, and a configuration pip cannot parse gives no cache to read or act on.
            if outcome is absent or hostile == "unparsable pip.conf":
                reason = _failed_entry(outcome, name)
                if reason:
                    expected.append(f"{label}: {reason}")
                failed_users = outcome.result.get("failed_users") or []
                if name not in failed_users:
                    expected.append(f"{label}: failed_users ({failed_users}) does not name {name}")
            if _blames_cache_dir(outcome.msg, outcome.result.get("warnings"), entry_for(outcome.result, name) or {}):
                expected.append(f"{label}: a message names cache_dir, which nobody set")
            if own_text in outcome.text:
                expected.append(f"{label}: the attacker's pip.conf is quoted")
        victim_entry = entry_for(info.result, victim) or {}
        figures = victim_entry.get("pip_cache_info") or {}
        if (figures.get("http_files"), figures.get("wheels_count")) != (http_files, wheels):
            expected.append(
                f"pip_cache_info user=all: {victim}'s cache is not reported as it is ({http_files} HTTP files, {wheels} wheels): {figures or 'no entry'}"
            )
        if lab.victim_wheel.exists() or entry_for(absent.result, victim) is None:
            expected.append(f"pip_cache state=absent user=all: {victim}'s wheel of {lab.victim_project} was not removed")
        if job.returncode != 0:
            expected.append(f"the scheduled job exited {job.returncode} (0 expected when one user was handled): {job.log[-400:]}")
        if victim not in job.log or name not in job.log:
            expected.append(f"the scheduled job's log does not name both the handled user {victim} and the failed user {name}: {job.log[-400:]}")
        if "cache_dir" in job.log or own_text in job.log:
            expected.append(f"the scheduled job's log names cache_dir or quotes the attacker's pip.conf: {job.log[-400:]}")
    finally:
        lab.build_victims()  # the victim's wheel of their own project is back for the other tests
    _verdict(findings + expected, [])


# --------------------------------------------------------------------------------------------------
# 9. Mount points inside a cache


@pytest.mark.parametrize("kind", ["tmpfs", "bind"])
def test_purge_stays_on_the_cache_file_system(kind: str, lab: Lab, attacker: Attacker, tally: AttackTally, tmp_path: Path) -> None:
    """A tmpfs holding the victim's files (mode 0777: the attacker could delete them, only the file-system rule keeps
    them) or a bind mount of root's wheels at ~/.cache/pip/wheels/x: a purge for the attacker leaves them alone."""
    cache = lab.attacker_cache(mirror=False, entries=10)
    point = cache / "wheels" / "x"
    point.mkdir(parents=True)
    os.chown(point, lab.attacker.uid, lab.attacker.gid)
    if kind == "tmpfs":
        reason = mount(["-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs", str(point)])
    else:
        reason = mount(["--bind", str(lab.rootpip / "wheels"), str(point)])
    if reason:
        pytest.skip(f"cannot mount a {kind} here: {reason}")
    findings: list[str] = []
    try:
        if kind == "tmpfs":
            folder = point / "aa" / "bb" / "cc" / "victims-own"
            folder.mkdir(parents=True)
            (folder / "victim-1.0-py3-none-any.whl").write_bytes(b"PK\x03\x04" + bytes(500))
            (folder / "origin.json").write_text("{}")
            chown_tree(point / "aa", lab.victim.uid, lab.victim.gid)
        with tally.round(lab, f"purge beside a {kind} in the cache", findings, extra=(point,) if kind == "tmpfs" else ()) as current:
            outcome = module(tmp_path, "pip_cache", {"state": "purged", "user": lab.attacker.name})
            current.output("the module's result and output", outcome.text)
    finally:
        umount(point)
    _verdict(findings, [])


# --------------------------------------------------------------------------------------------------
# 10. Buckets that are links


@pytest.mark.parametrize("bucket", ["wheels", "http-v2"])
def test_linked_buckets_are_neither_entered_nor_counted(bucket: str, lab: Lab, attacker: Attacker, tally: AttackTally, tmp_path: Path) -> None:
    """A bucket of the attacker's cache is a link (wheels to root's root-only folder, http-v2 to a world-readable one
    of root's): info, check mode and the real purge agree, count none of what it reaches, and enter it not."""
    cache = lab.attacker_cache(mirror=False, entries=12)
    target = (lab.rootpip if bucket == "wheels" else lab.sharedpip) / bucket
    attacker.act(lambda: (shutil.rmtree(cache / bucket), os.symlink(target, cache / bucket)))
    own = sum(len(files) for _directory, _dirnames, files in os.walk(cache))  # os.walk does not enter the link
    name = lab.attacker.name
    findings: list[str] = []
    with tally.round(lab, f"{bucket} is a link", findings) as current:
        info = module(tmp_path, "pip_cache_info", {"user": name})
        check = module(tmp_path, "pip_cache", {"state": "purged", "user": name}, check=True)
        real = module(tmp_path, "pip_cache", {"state": "purged", "user": name})
        for label, outcome in (("info", info), ("check mode", check), ("real run", real)):
            current.output(f"the {label}'s output", outcome.text)
    entry = entry_for(info.result, name) or {}
    counted = ((entry.get("buckets") or {}).get(bucket) or {}).get("files")
    total = (entry.get("total") or {}).get("files")
    if counted != 0 or not isinstance(total, int) or total > own:
        findings.append(f"pip_cache_info counts what the link reaches: {bucket} has {counted} files, the cache {total} (the attacker owns {own})")
    before = [(outcome.result.get("before") or {}).get("files") for outcome in (check, real)]
    if before[0] != before[1] or not isinstance(before[0], int) or before[0] > own:
        findings.append(
            f"check mode and the real purge disagree or count what the link reaches: before {before[0]} and {before[1]} files (the attacker owns {own})"
        )
    _verdict(findings, [])


# --------------------------------------------------------------------------------------------------
# 7. The scheduled job's interpreter


def test_scheduled_job_runs_no_code_of_the_user_as_root(lab: Lab, attacker: Attacker, scheduled: Scheduled, tally: AttackTally, tmp_path: Path) -> None:
    """pip_cache_policy_python in a venv the attacker owns (the role refuses it), and a root-owned venv whose
    site-packages the attacker can write: the .pth file the attacker drops there never runs as root (in the role's own
    runs of the engine, or in the job, run here as cron runs it)."""
    system_python = shutil.which("python3", path="/usr/bin:/bin")
    if system_python is None:
        pytest.skip("no /usr/bin/python3 to make the venvs from")
    venvs = {"attacker's venv": lab.attacker.home / "venv", "root's venv, attacker's site-packages": lab.places("rootvenv") / "venv"}
    markers = {label: lab.vault / f"ran-as-root-{number}" for number, label in enumerate(venvs)}
    sites = {}
    findings: list[str] = []
    try:
        for label, venv in venvs.items():
            subprocess.run([system_python, "-m", "venv", "--copies", "--without-pip", str(venv)], check=True, capture_output=True)
            sites[label] = next(venv.glob("lib/python3*/site-packages"))
        chown_tree(venvs["attacker's venv"], lab.attacker.uid, lab.attacker.gid)
        chown_tree(sites["root's venv, attacker's site-packages"], lab.attacker.uid, lab.attacker.gid)

        def plant() -> None:
            for label, site in sites.items():
                (site / "fcatk.pth").write_text(
                    f"import os; os.geteuid() == 0 and os.close(os.open({str(markers[label])!r}, os.O_CREAT | os.O_WRONLY, 0o600))\n"
                )

        attacker.act(plant)
        places = {label: lab.places("interpreter") for label in venvs}
        # root's venv shares the session's engine (the same files): only the attacker's venv needs a folder of its own
        engines = {"attacker's venv": places["attacker's venv"] / "engine", "root's venv, attacker's site-packages": scheduled.engine}
        hosts = {
            f"python{number}": role_host(
                places[label],
                engine=engines[label],
                pip_cache_policy_users=["root"],
                pip_cache_policy_environment={"HOME": str(tmp_path / "root-home")},
                pip_cache_policy_schedule=True,
                pip_cache_policy_python=str(venv / "bin" / "python"),
            )
            for number, (label, venv) in enumerate(venvs.items())
        }
        with tally.round(lab, "the job's interpreter", findings, parts=[Part(label, markers[label]) for label in venvs]) as current:
            run = run_role(tmp_path, hosts)
            current.output("the role's output", run.stdout + run.stderr)
            for label in venvs:
                cron_file = places[label] / "cron" / "fleet-cache-prune"
                if cron_file.exists():
                    job = run_job(cron_file, places[label] / "job.log")
                    current.output(f"the job's output ({label})", job.log)
            for label in venvs:
                if markers[label].exists():
                    findings.append(f"[{label}]: the .pth file the attacker dropped in {sites[label]} ran as root")
        attackers_python = venvs["attacker's venv"] / "bin" / "python"
        if not any("pip_cache_policy_python" in line for line in host_failures(run, "python0")):
            findings.append(f"[attacker's venv]: the role did not refuse pip_cache_policy_python={attackers_python} naming the variable")
        if (places["attacker's venv"] / "cron" / "fleet-cache-prune").exists():
            findings.append(f"[attacker's venv]: the role scheduled a root job run by {attackers_python}")
    finally:
        for venv in venvs.values():
            remove_entry(venv)
    _verdict(findings, [])


# --------------------------------------------------------------------------------------------------
# 11 and 12. The role's own files


@dataclass
class Upkeep:
    run: Any
    unit: Path
    timer: Path
    expected_env: str
    engine_after: dict[str, str]  # file name -> sha256 in the installed engine's folder after the role ran
    expected_engine: dict[str, str]  # the same for the collection's archive and the job's launcher


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


ENGINE_ARCHIVE = "fleet_cache_engine.zip"
_BUILT = """
import hashlib, json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.fleet.cache.plugins.plugin_utils import _engine_bundle as bundle
digest = bundle.archive_sha256()
launcher = bundle.launcher_source(job=True, check=True, digest=digest).encode("utf-8")
json.dump({bundle.ENGINE_ARCHIVE: digest, "fleet-cache": hashlib.sha256(launcher).hexdigest()}, sys.stdout)
"""


@pytest.fixture(scope="module")
def upkeep(lab: Lab, scheduled: Scheduled, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upkeep]:
    """The role once more on the installed engine, after its archive was edited and a file planted on the host, with a
    systemd timer and a value holding systemd specifiers (%u, %h). A cache_dir with % is refused before any unit is
    written (pip_config: pip expands no variables in cache-dir), so the specifiers come in through
    pip_cache_policy_environment (PIP_CACHE_DIR), which the job passes on with --env."""
    tmp = tmp_path_factory.mktemp("upkeep")
    places = lab.places("upkeep")
    edited, planted = scheduled.engine / ENGINE_ARCHIVE, scheduled.engine / "planted.py"
    original = edited.read_bytes()
    # What the installed collection (the one the role runs from) builds: the archive's and the launcher's SHA-256.
    built = subprocess.run([sys.executable, "-I", "-c", _BUILT, collections_for(tmp)], capture_output=True, text=True, check=True)
    expected = json.loads(built.stdout)
    digest = expected[ENGINE_ARCHIVE]
    cache = f"{tmp}/cache-%u-%h"
    host = role_host(
        places,
        engine=scheduled.engine,
        pip_cache_policy_users=["root"],
        pip_cache_policy_environment={"HOME": str(tmp / "root-home"), "PIP_CACHE_DIR": cache},
        pip_cache_policy_schedule=True,
        pip_cache_policy_schedule_backend="systemd",
    )
    edited.write_bytes(original + b"\n# edited on the host (test_attacks)\n")
    planted.write_text("# planted on the host (test_attacks)\n")
    try:
        run = run_role(tmp, {"upkeep": host})
        after = {path.relative_to(scheduled.engine).as_posix(): _sha256(path) for path in sorted(scheduled.engine.rglob("*")) if path.is_file()}
        yield Upkeep(
            run,
            places / "systemd" / "fleet-cache-prune.service",
            places / "systemd" / "fleet-cache-prune.timer",
            f"--env=PIP_CACHE_DIR={cache}",
            after,
            expected,
        )
    finally:
        if _sha256(edited) != digest:
            edited.write_bytes(original)
        planted.unlink(missing_ok=True)


def test_systemd_unit_escapes_specifiers(upkeep: Upkeep, lab: Lab, tally: AttackTally) -> None:
    """ExecStart passes the value as written: every % doubled, so systemd expands no specifier (%u would be root)."""
    findings: list[str] = []
    with tally.round(lab, "systemd specifiers in a value the role writes", findings):
        if not upkeep.unit.exists():
            pytest.fail(f"the role wrote no systemd unit:\n{upkeep.run.explain()}")
        exec_start = next(line.split("=", 1)[1] for line in upkeep.unit.read_text().splitlines() if line.startswith("ExecStart="))
        specifiers = re.findall(r"%[^%]", exec_start.replace("%%", ""))
        if specifiers:
            findings.append(f"ExecStart leaves systemd specifiers {specifiers} unescaped (systemd would expand them): {exec_start}")
        elif upkeep.expected_env not in exec_start.replace("%%", "%"):
            findings.append(f"ExecStart does not pass {upkeep.expected_env} once systemd has unescaped it: {exec_start}")
        if shutil.which("systemd-analyze"):
            verified = subprocess.run(["systemd-analyze", "verify", str(upkeep.unit), str(upkeep.timer)], capture_output=True, text=True, check=False)
            if verified.returncode != 0:
                findings.append(f"systemd-analyze verify: {verified.stdout + verified.stderr}")
    _verdict(findings, [])


def test_role_restores_an_edited_engine(upkeep: Upkeep, lab: Lab, tally: AttackTally) -> None:
    """The engine's archive edited on the host (as if by someone who got write access to it) and a file planted beside
    it: the next role run writes the collection's archive again, removes the other, and says changed."""
    findings: list[str] = []
    with tally.round(lab, "the engine's archive edited on the host", findings):
        changed = {name for name, digest in upkeep.expected_engine.items() if upkeep.engine_after.get(name) != digest}
        extra = set(upkeep.engine_after) - set(upkeep.expected_engine)
        if changed or extra:
            findings.append(f"the role left the installed engine as the host had it: differs {sorted(changed)}, not the collection's {sorted(extra)}")
        if "upkeep" not in upkeep.run.recap:
            findings.append(f"the role did not run:\n{upkeep.run.explain()}")
        elif upkeep.run.changed("upkeep") == 0:
            findings.append("the role reported changed=0 though it had an edited engine archive to restore")
    _verdict(findings, [])
