# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pieces of the attack suite (test_attacks.py): real local accounts, the victims an attack must not reach (with
their owner, mode and SHA-256 before and after every round), the attacker as a separate process running with the
attacking account's uid, gid and groups and timed on root's progress with inotify, the tally behind the summary line,
and the collection run with ``ansible`` / ``ansible-playbook`` as users run it.

Nothing here needs another account of the host: every account is made with ``useradd`` by the suite and removed with
``userdel -r`` after it.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import itertools
import json
import os
import pwd
import select
import shlex
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from adhoc import run_module
from hardening_support import OLD, http_entry, register_tally, synthetic_cache, wheel_entry

from playbooks import Run, ansible_env, collections_path, local_host, playbook, write_inventory

PLUGIN_NAME = "fleet-cache-attacks-summary"
SKELETON = frozenset({".bashrc", ".profile", ".bash_logout"})  # what useradd copies into a new home: left alone

# inotify(7)
IN_ATTRIB = 0x4
IN_OPEN = 0x20
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_ONLYDIR = 0x01000000
IN_DONTFOLLOW = 0x02000000


# --------------------------------------------------------------------------------------------------
# Accounts


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: Path


def make_account(prefix: str, homes: Path) -> Account:
    """A new local account with its home in ``homes`` (useradd); the name is ``prefix`` and 8 random hex digits."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--create-home", "--home-dir", str(homes / name), "--shell", "/bin/sh", name], check=True, capture_output=True)
    entry = pwd.getpwnam(name)
    return Account(name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))


def remove_account(account: Account) -> None:
    subprocess.run(["userdel", "-r", account.name], check=False, capture_output=True)


def chown_tree(path: Path, uid: int, gid: int, *, top: bool = True) -> None:
    """lchown everything under ``path`` (and ``path`` itself when ``top``), never following a link."""
    if top:
        os.lchown(path, uid, gid)
    for directory, dirnames, filenames in os.walk(path):
        for name in [*dirnames, *filenames]:
            os.lchown(os.path.join(directory, name), uid, gid)


def backdate(path: Path, stamp: float = OLD) -> None:
    for directory, dirnames, filenames in os.walk(path):
        for name in [*dirnames, *filenames]:
            os.utime(os.path.join(directory, name), (stamp, stamp), follow_symlinks=False)
    os.utime(path, (stamp, stamp), follow_symlinks=False)


def remove_entry(path: Path) -> None:
    """Remove a file, a link (never followed) or a folder tree."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


# --------------------------------------------------------------------------------------------------
# The victims


Entry = tuple[Any, ...]


class Victims:
    """Files and folders the attacker does not own: every path's kind, owner, mode and SHA-256 (links: their target),
    read without following a link."""

    def __init__(self, roots: list[Path], *, exclude: tuple[Path, ...] = (), base: Optional[Path] = None) -> None:
        self.roots = roots
        self.exclude = tuple(str(path) for path in exclude)
        self.base = base

    def _excluded(self, path: str) -> bool:
        return any(path == item or path.startswith(item + os.sep) for item in self.exclude)

    def snapshot(self) -> dict[str, Entry]:
        state: dict[str, Entry] = {}
        for root in self.roots:
            stack = [str(root)]
            while stack:
                path = stack.pop()
                if self._excluded(path):
                    continue
                try:
                    info = os.lstat(path)
                except FileNotFoundError:
                    state[path] = ("missing",)
                    continue
                owner = (info.st_uid, info.st_gid)
                mode = stat.S_IMODE(info.st_mode)
                if stat.S_ISDIR(info.st_mode):
                    state[path] = ("folder", owner, mode)
                    stack.extend(os.path.join(path, name) for name in os.listdir(path))
                elif stat.S_ISLNK(info.st_mode):
                    state[path] = ("link", owner, os.readlink(path))
                elif stat.S_ISREG(info.st_mode):
                    with open(path, "rb") as handle:
                        state[path] = ("file", owner, mode, hashlib.sha256(handle.read()).hexdigest())
                else:
                    state[path] = ("special", owner, mode, stat.S_IFMT(info.st_mode))
        return state

    def _name(self, path: str) -> str:
        return os.path.relpath(path, self.base) if self.base else path

    def changes(self, before: dict[str, Entry], after: dict[str, Entry], *, under: Optional[Path] = None) -> list[str]:
        """What changed (``under`` a folder only, when given), worded for a person."""
        found = []
        prefix = str(under) if under else None
        for path in sorted(set(before) | set(after)):
            if prefix and not (path == prefix or path.startswith(prefix + os.sep)):
                continue
            old, new = before.get(path, ("missing",)), after.get(path, ("missing",))
            if old == new:
                continue
            name = self._name(path)
            if old[0] == "missing":
                found.append(f"{name} appeared")
            elif new[0] == "missing":
                found.append(f"{name} was removed")
            elif old[0] != new[0]:
                found.append(f"{name} became a {new[0]} (was a {old[0]})")
            else:
                what = []
                if old[1] != new[1]:
                    what.append(f"owner {old[1][0]}:{old[1][1]} -> {new[1][0]}:{new[1][1]}")
                if old[0] in ("folder", "file", "special") and old[2] != new[2]:
                    what.append(f"mode {old[2]:04o} -> {new[2]:04o}")
                if old[0] == "file" and old[3] != new[3]:
                    what.append("content changed")
                if old[0] == "link" and old[2] != new[2]:
                    what.append(f"link target {old[2]} -> {new[2]}")
                found.append(f"{name}: {', '.join(what)}")
        return found


def summarize(items: list[str], limit: int = 6) -> str:
    shown = "; ".join(items[:limit])
    return shown + (f"; and {len(items) - limit} more" if len(items) > limit else "")


def files_holding(marker: str, roots: list[Path], *, limit: int = 1 << 20) -> list[str]:
    """Regular files under ``roots`` (links never followed, at most ``limit`` bytes read of each) holding ``marker``."""
    needle = marker.encode()
    found = []
    for root in roots:
        if not root.exists() or root.is_symlink():
            continue
        paths = [root] if root.is_file() else [Path(directory, name) for directory, _dirnames, filenames in os.walk(root) for name in filenames]
        for path in paths:
            try:
                if not stat.S_ISREG(path.lstat().st_mode):
                    continue
                with path.open("rb") as handle:
                    if needle in handle.read(limit):
                        found.append(str(path))
            except OSError:
                continue
    return found


# --------------------------------------------------------------------------------------------------
# The tally and its summary line


@dataclass
class Part:
    """One attack of a round, and the folders where what it would change lies (None: anywhere in the victims)."""

    label: str
    under: Optional[Path] = None


@dataclass
class Round:
    """What one round of attacks showed: the outputs and files to look for the secret in."""

    name: str
    texts: dict[str, str] = field(default_factory=dict)
    roots: list[Path] = field(default_factory=list)

    def output(self, label: str, text: object) -> None:
        """A text a user is shown (or that lands in a file): the secret must not be in it."""
        self.texts[label] = self.texts.get(label, "") + (text if isinstance(text, str) else json.dumps(text, default=str))

    def files(self, *roots: Path) -> None:
        """Files (reports, logs) the secret must not be in."""
        self.roots.extend(roots)


@dataclass
class AttackTally:
    tried: int = 0
    changed: int = 0
    quoted: int = 0
    fired: int = 0
    races: int = 0

    @contextlib.contextmanager
    def round(
        self, lab: Lab, name: str, findings: list[str], *, parts: Optional[list[Part]] = None, exclude: tuple[Path, ...] = (), extra: tuple[Path, ...] = ()
    ) -> Iterator[Round]:
        """One round: the victims are read before and after; a change is a finding (and the victims are made again), so
        is the secret's marker in any output, file handed to the round, or file in the attacker's home."""
        attacks = parts or [Part(name)]
        victims = lab.victims(exclude=exclude, extra=extra)
        before = victims.snapshot()
        current = Round(name)
        self.tried += len(attacks)
        try:
            yield current
        except pytest.skip.Exception:
            self.tried -= len(attacks)
            raise
        finally:
            after = victims.snapshot()
            everything = victims.changes(before, after)
            if everything:
                placed: set[str] = set()
                for part in attacks:
                    mine = victims.changes(before, after, under=part.under) if part.under else everything
                    placed.update(mine)
                    if mine:
                        self.changed += 1
                        label = f" [{part.label}]" if parts else ""
                        findings.append(f"{name}{label}: changed outside {lab.attacker.name}'s own files: {summarize(mine)}")
                rest = [item for item in everything if item not in placed]
                if rest:
                    self.changed += 1
                    findings.append(f"{name}: changed outside {lab.attacker.name}'s own files: {summarize(rest)}")
                lab.build_victims()
            leaks = [label for label, text in current.texts.items() if lab.marker in text]
            leaks += [f"the file {path}" for path in files_holding(lab.marker, [*current.roots, lab.attacker.home])]
            if leaks:
                self.quoted += 1
                findings.append(f"{name}: the secret ({lab.secret}) is quoted in {summarize(leaks)}")

    def notes(self) -> list[str]:
        return [f"attacks: races in which the attacker acted on root's progress: {self.fired} of {self.races}"] if self.races else []

    def line(self) -> str:
        return f"attacks: tried {self.tried}, changed anything outside the attacker's own files {self.changed}, secrets quoted {self.quoted}"


TALLY = AttackTally()


def register_summary(config: pytest.Config) -> AttackTally:
    return register_tally(config, PLUGIN_NAME, TALLY, "attacks.txt")


# --------------------------------------------------------------------------------------------------
# The lab: the accounts, the victims and the attacker's files


def root_only_folder(prefix: str) -> Path:
    """A new folder (0755, root's) on a path only root can change (the role refuses to install its engine or to run an
    interpreter below a folder others can write, such as /tmp): for the engine, the job's files and root's venv."""
    for parent in ("/var/lib", "/srv", "/opt", "/root"):
        chain = [Path(parent), *Path(parent).parents]
        try:
            safe = all(item.stat().st_uid == 0 and not item.stat().st_mode & 0o022 for item in chain)
        except OSError:
            continue
        if safe:
            folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
            folder.chmod(0o755)
            return folder
    pytest.skip("no folder here that only root can change (/var/lib, /srv, /opt, /root) for the role's engine")


class Lab:
    """A private folder (reachable by the accounts) holding their homes and the victims, and a folder of root's on a
    path only root can change for what the role installs. The victims:

    - ``vault`` (mode 0700, root's): ``shadow`` (0600, its first line the marker ``FLEETCACHE-SECRET-<random>``), ``pip``
      (a root-only folder in pip's layout: http/, http-v2/, wheels/x/y.whl, selfcheck.json), ``etc`` (an /etc-like
      folder with a pip.conf);
    - ``reach/shadow``: a root-only file in a folder everyone can traverse (what a hard link could reach);
    - ``shared/pip``: root's, readable by everyone, in pip's layout;
    - the victim's home: a cache in pip's layout (with one wheel of a project only they have) and pip-shaped folders
      at the top of the home.
    """

    def __init__(self, base: Path, root_place: Path, attacker: Account, victim: Account) -> None:
        token = uuid.uuid4().hex[:12]
        self.base = base
        self.root_place = root_place  # the role's engines, cron files, logs and units, and root's venv
        self.counter = itertools.count()
        self.attacker = attacker
        self.victim = victim
        self.marker = f"FLEETCACHE-SECRET-{token}"
        self.vault = base / "vault"
        self.secret = self.vault / "shadow"
        self.rootpip = self.vault / "pip"
        self.etc = self.vault / "etc"
        self.reach = base / "reach"
        self.reachable_secret = self.reach / "shadow"
        self.shared = base / "shared"
        self.sharedpip = self.shared / "pip"
        self.victim_cache = victim.home / ".cache" / "pip"
        self.victim_project = f"fcatkv{token[:8]}"
        self.victim_wheel = self.victim_cache / "wheels" / "zz" / "zz" / "zz" / token / f"{self.victim_project}-1.0-py3-none-any.whl"

    def places(self, name: str) -> Path:
        """A new folder for one role run's engine, cron file, log and units, on a path only root can change."""
        folder = self.root_place / f"{name}-{next(self.counter)}"
        folder.mkdir(mode=0o755)
        return folder

    # The victims

    def build_victims(self) -> None:
        """(Re)make every victim, the same each time."""
        for path in (self.vault, self.reach, self.shared):
            remove_entry(path)
        self.vault.mkdir(mode=0o700)
        self.secret.write_text(f"{self.marker}\nroot:$6$fcatk$Y2F0Y2ggbWUgaWYgeW91IGNhbg:19700:0:99999:7:::\n")
        self.secret.chmod(0o600)
        synthetic_cache(self.rootpip, entries=100, seed=151, now=OLD + 86400 * 30)
        for number in range(20):
            http_entry(self.rootpip, f"legacy-{number}", bytes(200 + number), mtime=OLD, bucket="http")
        (self.rootpip / "selfcheck.json").write_text('{"last_check": "2001-09-09T01:46:40Z"}')
        backdate(self.rootpip)
        self.etc.mkdir(mode=0o755)
        (self.etc / "pip.conf").write_text("[global]\ntimeout = 60\n")
        (self.etc / "hosts").write_text("127.0.0.1 localhost\n")
        self.reach.mkdir(mode=0o755)
        self.reachable_secret.write_text(f"{self.marker}\n")
        self.reachable_secret.chmod(0o600)
        self.shared.mkdir(mode=0o755)
        synthetic_cache(self.sharedpip, entries=30, seed=152, now=OLD + 86400 * 30)
        for directory, _dirnames, filenames in os.walk(self.sharedpip):
            os.chmod(directory, 0o755)
            for name in filenames:
                os.chmod(os.path.join(directory, name), 0o644)
        backdate(self.sharedpip)
        home = self.victim.home
        for name in (".cache", ".config", "http", "wheels", "selfcheck.json"):
            remove_entry(home / name)
        (home / ".cache").mkdir(mode=0o700)
        synthetic_cache(self.victim_cache, entries=40, seed=153, now=OLD + 86400 * 30)
        self.victim_wheel.parent.mkdir(parents=True)
        self.victim_wheel.write_bytes(b"PK\x03\x04" + bytes(300))
        for number in range(5):  # pip-shaped folders at the top of the home: what a purge of the home would take
            http_entry(home, f"home-{number}", bytes(100 + number), mtime=OLD, bucket="http")
        wheel_entry(home, "homedecoy", "1.0", mtime=OLD)
        (home / "selfcheck.json").write_text("{}")
        backdate(home / ".cache")
        for name in ("http", "wheels", "selfcheck.json"):
            backdate(home / name)
        chown_tree(home, self.victim.uid, self.victim.gid)
        home.chmod(0o755)

    def victims(self, *, exclude: tuple[Path, ...] = (), extra: tuple[Path, ...] = ()) -> Victims:
        return Victims([self.vault, self.reach, self.shared, self.victim.home, *extra], exclude=exclude, base=self.base)

    def victim_figures(self) -> tuple[int, int]:
        """(HTTP files, wheels) in the victim's cache, as `pip cache info` counts them."""
        http_files = sum(len(files) for bucket in ("http", "http-v2") for _d, _s, files in os.walk(self.victim_cache / bucket))
        wheels = sum(1 for _d, _s, files in os.walk(self.victim_cache / "wheels") for name in files if name.endswith(".whl"))
        return http_files, wheels

    # The attacker's files

    def reset_attacker(self) -> None:
        """The attacker's home as useradd made it."""
        home = self.attacker.home
        for entry in list(home.iterdir()):
            if entry.name not in SKELETON:
                remove_entry(entry)
        os.chown(home, self.attacker.uid, self.attacker.gid)
        home.chmod(0o755)

    def attacker_cache(self, *, content_owner: str = "attacker", mirror: bool = True, entries: int = 0) -> Path:
        """~/.cache/pip of the attacker: the names of root's pip folder (``mirror``: what a walker resolves again by
        path then lands on root's files) and/or ``entries`` entries of its own. The cache folder is the attacker's; what
        is in it is theirs, or root's (``content_owner='root'``: what ``sudo pip`` leaves)."""
        home = self.attacker.home
        dot_cache = home / ".cache"
        dot_cache.mkdir(mode=0o700, exist_ok=True)
        os.chown(dot_cache, self.attacker.uid, self.attacker.gid)
        cache = dot_cache / "pip"
        if mirror:
            shutil.copytree(self.rootpip, cache, symlinks=True)
        if entries:
            synthetic_cache(cache, entries=entries, seed=154, now=OLD + 86400 * 30)
        backdate(cache)
        owner = (0, 0) if content_owner == "root" else (self.attacker.uid, self.attacker.gid)
        chown_tree(cache, *owner, top=False)
        os.chown(cache, self.attacker.uid, self.attacker.gid)
        return cache


# --------------------------------------------------------------------------------------------------
# The attacker: a separate process with the attacking account's identity


@dataclass(frozen=True)
class Event:
    folder: str
    name: str
    mask: int


class Watcher:
    """inotify on folders the attacker can read (their own): how the attacker times a swap on root's progress."""

    def __init__(self, stop_fd: int) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self.stop_fd = stop_fd
        self.folders: dict[int, str] = {}
        self.pending: list[Event] = []

    def add(self, folder: Path, mask: int) -> None:
        watch = self.libc.inotify_add_watch(self.fd, os.fsencode(folder), mask | IN_ONLYDIR | IN_DONTFOLLOW)
        if watch < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder} failed")
        self.folders[watch] = str(folder)

    def add_tree(self, root: Path, mask: int) -> None:
        for directory, _dirnames, _filenames in os.walk(root):
            self.add(Path(directory), mask)

    def wait(self, wanted: Callable[[Event], bool], timeout: float) -> Optional[Event]:
        """The first event ``wanted`` accepts; None once the test says root is done, or after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            while self.pending:
                event = self.pending.pop(0)
                if wanted(event):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _writable, _failed = select.select([self.fd, self.stop_fd], [], [], remaining)
            if self.fd in ready:
                self._read()
            elif self.stop_fd in ready:
                return None

    def _read(self) -> None:
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return
        offset = 0
        while offset + 16 <= len(data):
            watch, mask, _cookie, length = struct.unpack_from("iIII", data, offset)
            name = data[offset + 16 : offset + 16 + length].rstrip(b"\0")
            offset += 16 + length
            folder = self.folders.get(watch)
            if folder is not None:
                self.pending.append(Event(folder, os.fsdecode(name), mask))


class AttackContext:
    """What a plan (running in the attacker's process) can do: watch, say it is ready, swap things for links."""

    def __init__(self, account: Account, ready_fd: int, stop_fd: int) -> None:
        self.account = account
        self.home = account.home
        self.ready_fd = ready_fd
        self.stop_fd = stop_fd
        self.counter = itertools.count()

    def watcher(self) -> Watcher:
        return Watcher(self.stop_fd)

    def ready(self) -> None:
        os.write(self.ready_fd, b"R")

    def swap(self, path: Path, target: Path) -> str:
        """``path`` (a file or folder of the attacker's) moved aside and replaced by a link to ``target``."""
        aside = path.with_name(f".fcatk-old-{path.name}-{next(self.counter)}")
        os.rename(path, aside)
        os.symlink(target, path)
        return f"{path} -> {target}"


Plan = Callable[[AttackContext], Optional[str]]


@dataclass
class Race:
    """What the attacker's process reported: whether it acted (fired), what it did, or how it failed."""

    fired: bool = False
    note: str = ""
    error: Optional[str] = None


class Attacker:
    """Runs code as the attacking account in a process of its own (fork, then setgroups/setgid/setuid; it checks it
    cannot become root again), as a local user with a second shell would."""

    def __init__(self, account: Account) -> None:
        self.account = account

    def _become(self) -> None:  # pragma: no cover - runs in the attacker's process
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: it ends with the test
        os.setgroups([self.account.gid])
        os.setgid(self.account.gid)
        os.setuid(self.account.uid)
        try:
            os.setuid(0)
        except PermissionError:
            pass
        else:
            raise RuntimeError("the attacking process could become root again")
        os.umask(0o022)
        os.chdir(self.account.home)
        os.environ.clear()
        os.environ.update(HOME=str(self.account.home), USER=self.account.name, LOGNAME=self.account.name, PATH="/usr/bin:/bin", LANG="C.UTF-8")

    def _start(self, body: Callable[[AttackContext], Any]) -> tuple[int, int, int, int]:
        result_r, result_w = os.pipe()
        ready_r, ready_w = os.pipe()
        stop_r, stop_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the attacker's process
            try:
                os.close(result_r)
                os.close(ready_r)
                os.close(stop_w)
                try:
                    self._become()
                    payload: dict[str, Any] = {"ok": body(AttackContext(self.account, ready_w, stop_r))}
                except BaseException:  # pylint: disable=broad-exception-caught  # handed to the test as text
                    payload = {"error": traceback.format_exc()[-4000:]}
                view = memoryview(json.dumps(payload, default=str).encode())
                while view:
                    view = view[os.write(result_w, view) :]
            finally:
                os._exit(0)
        os.close(result_w)
        os.close(ready_w)
        os.close(stop_r)
        return pid, result_r, ready_r, stop_w

    @staticmethod
    def _finish(pid: int, result_r: int, stop_w: int, timeout: float) -> dict[str, Any]:
        try:
            os.write(stop_w, b"S")
        except OSError:
            pass
        os.close(stop_w)
        chunks = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([result_r], [], [], remaining)[0]:
                    os.kill(pid, signal.SIGKILL)
                    break
                chunk = os.read(result_r, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(result_r)
            os.waitpid(pid, 0)
        try:
            payload: dict[str, Any] = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            payload = {}
        return payload or {"error": "the attacking process ended without a word"}

    def act(self, work: Callable[[], Any]) -> Any:
        """``work()`` once, as the attacker (planting a link, a file); its result."""
        pid, result_r, ready_r, stop_w = self._start(lambda _context: work())
        os.close(ready_r)
        payload = self._finish(pid, result_r, stop_w, 60)
        if "error" in payload:
            raise AssertionError(f"{self.account.name} could not set the attack up:\n{payload['error']}")
        return payload.get("ok")

    @contextlib.contextmanager
    def racing(self, plan: Plan) -> Iterator[Race]:
        """The plan runs beside the body of the with-block (root's run); it is told to stop when the block ends."""
        pid, result_r, ready_r, stop_w = self._start(plan)
        race = Race()
        try:
            ready = select.select([ready_r], [], [], 30)[0] and os.read(ready_r, 1)
        finally:
            os.close(ready_r)
        if not ready:
            payload = self._finish(pid, result_r, stop_w, 5)
            raise AssertionError(f"{self.account.name}'s process was not ready to attack:\n{payload.get('error', 'no answer in 30 s')}")
        TALLY.races += 1
        try:
            yield race
        finally:
            payload = self._finish(pid, result_r, stop_w, 30)
            race.error = payload.get("error")
            race.note = str(payload.get("ok") or "")
            race.fired = bool(payload.get("ok"))
            TALLY.fired += race.fired


def swap_when_root_acts(cache: Path, target: Path, *, mask: int, what: str) -> Plan:
    """A plan: watch the attacker's ``cache``; at root's first change of the kind ``mask`` (inside a bucket for
    ``other-buckets``), swap for links into ``target`` (the same relative paths): ``cache`` (the cache root),
    ``other-buckets`` (every top folder root has not entered yet), ``folder`` (the folder of the bucket root is at work
    in, e.g. ``http-v2/0`` while root is in ``http-v2/0/c/7/3/e``). A folder root removed meanwhile is a missed chance:
    the plan waits for root's next change."""

    def wanted(event: Event) -> bool:
        if not event.name or event.name.startswith(".fcatk"):
            return False
        return what != "other-buckets" or event.folder != str(cache)

    def swap(context: AttackContext, folder: Path) -> str:
        if what == "cache" or (what == "folder" and folder == cache):
            return context.swap(cache, target)
        parts = folder.relative_to(cache).parts
        if what == "folder":
            inner = Path(*parts[:2])
            return context.swap(cache / inner, target / inner)
        swapped = []
        for name in sorted(os.listdir(cache)):
            path = cache / name
            if name != parts[0] and not name.startswith(".fcatk") and path.is_dir() and not path.is_symlink():
                try:
                    swapped.append(context.swap(path, target / name))
                except FileNotFoundError:
                    continue
        if not swapped:
            raise FileNotFoundError(f"no bucket left to swap beside {parts[0]}")
        return ", ".join(swapped)

    def plan(context: AttackContext) -> Optional[str]:
        watcher = context.watcher()
        watcher.add_tree(cache, mask)
        context.ready()
        while True:
            event = watcher.wait(wanted, 300)
            if event is None:
                return None
            try:
                return f"swapped {swap(context, Path(event.folder))} after root changed {Path(event.folder, event.name)}"
            except FileNotFoundError:
                continue

    return plan


def replace_what_root_creates(folder: Path, target: Path) -> Plan:
    """A plan: the first file root creates in the attacker's ``folder`` (a temporary file) is replaced at once by a
    link to ``target`` (one rename of a link made beforehand)."""

    def plan(context: AttackContext) -> Optional[str]:
        link = folder / ".fcatk-link"
        os.symlink(target, link)
        watcher = context.watcher()
        watcher.add(folder, IN_CREATE | IN_MOVED_TO)
        context.ready()
        event = watcher.wait(lambda event: bool(event.name) and not event.name.startswith(".fcatk"), 300)
        if event is None:
            return None
        os.rename(link, folder / event.name)
        return f"replaced {folder / event.name}, which root had just created, by a link to {target}"

    return plan


def swap_when_root_opens(watched: Path, swapped: Path, target: Path) -> Plan:
    """A plan: when root opens the attacker's file ``watched``, ``swapped`` (that file, or a folder above it) becomes
    a link to ``target``."""

    def plan(context: AttackContext) -> Optional[str]:
        watcher = context.watcher()
        watcher.add(watched.parent, IN_OPEN)
        context.ready()
        event = watcher.wait(lambda event: event.name == watched.name, 300)
        if event is None:
            return None
        return f"swapped {context.swap(swapped, target)} when root opened {watched}"

    return plan


# --------------------------------------------------------------------------------------------------
# The collection, as users run it


def collections_for(tmp: Path) -> str:
    """The installed collection (FLEET_CACHE_COLLECTIONS_PATH, as the oracle nox session sets it), else this checkout."""
    installed = os.environ.get("FLEET_CACHE_COLLECTIONS_PATH")
    if installed and Path(installed, "ansible_collections", "fleet", "cache").is_dir():
        return installed
    return str(collections_path(tmp))


def installed_collection(tmp: Path) -> Path:
    return Path(collections_for(tmp), "ansible_collections", "fleet", "cache")


@dataclass
class Outcome:
    """One ad hoc module run: its result, everything it printed, and whether it failed."""

    result: dict[str, Any]
    text: str
    failed: bool

    @property
    def msg(self) -> str:
        return str(self.result.get("msg", ""))

    def explain(self) -> str:
        return self.text[-3000:]


def module(tmp: Path, name: str, args: dict[str, Any], *, check: bool = False, diff: bool = False) -> Outcome:
    """``ansible localhost -m fleet.cache.NAME -a ARGS`` (root; the host has no sudo, so no -b)."""
    result = run_module(
        f"fleet.cache.{name}", json.dumps(args), tmp, check=check, diff=diff, ANSIBLE_COLLECTIONS_PATH=collections_for(tmp), ANSIBLE_NO_TARGET_SYSLOG="true"
    )
    printed = str(result.get("diff_text", "")) + str(result.get("stderr_text", ""))
    text = json.dumps({key: value for key, value in result.items() if key not in ("diff_text", "stderr_text")}, default=str) + "\n" + printed
    return Outcome(result, text, bool(result.get("failed")) or "[ERROR]: Task failed" in printed)


def run_playbook(tmp: Path, target: str | Path, hosts: dict[str, dict[str, Any]], *, extra_vars: Optional[dict[str, Any]] = None) -> Run:
    """``ansible-playbook -i INVENTORY TARGET`` with ``hosts`` (name -> variables) in one group."""
    inventory = write_inventory(tmp / "inventory", {"targets": hosts})
    env = ansible_env(tmp, ANSIBLE_COLLECTIONS_PATH=collections_for(tmp), ANSIBLE_NO_TARGET_SYSLOG="true", ANSIBLE_FORKS="8")
    return playbook(target, inventory, tmp, extra_vars=extra_vars, env=env, timeout=600)


# The role's internal paths are set with -e (include_vars outranks inventory variables) from each host's own values.
ROLE_PATHS = {
    "_pip_cache_policy_engine_dir": "{{ fcatk_engine_dir }}",
    "_pip_cache_policy_cron_dir": "{{ fcatk_cron_dir }}",
    "_pip_cache_policy_log": "{{ fcatk_log }}",
    "_pip_cache_policy_systemd_dir": "{{ fcatk_systemd_dir }}",
}


def role_host(places: Path, *, engine: Path, **role_vars: Any) -> dict[str, Any]:
    """A host for the role: its engine in ``engine``, its cron file, log and systemd units in ``places``; the policy
    limited by an age nothing reaches (what the role does around it is attacked, not what it removes)."""
    for folder in ("cron", "systemd"):
        (places / folder).mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {
        "fcatk_engine_dir": str(engine),
        "fcatk_cron_dir": str(places / "cron"),
        "fcatk_log": str(places / "job.log"),
        "fcatk_systemd_dir": str(places / "systemd"),
        "pip_cache_policy_schedule_backend": "cron",
        "pip_cache_policy_schedule_activate": False,
        "pip_cache_policy_min_age": "0",
        "pip_cache_policy_state": "limited",
        "pip_cache_policy_max_age": "36500d",
    }
    settings.update(role_vars)
    return local_host(**settings)


def run_role(tmp: Path, hosts: dict[str, dict[str, Any]], *, check: bool = False) -> Run:
    """The role on every host (in parallel), in check mode or for real."""
    # Not beside tmp/collections (ansible_env's link to the checkout): a playbook's adjacent collections would win
    # over the installed collection.
    (tmp / "plays").mkdir(parents=True, exist_ok=True)
    play = tmp / "plays" / ("role-check.json" if check else "role.json")
    play.write_text(
        json.dumps([{"name": "The role", "hosts": "targets", "gather_facts": False, "check_mode": check, "roles": [{"role": "fleet.cache.pip_cache_policy"}]}])
    )
    return run_playbook(tmp, play, hosts, extra_vars=ROLE_PATHS)


def host_failures(run: Run, host: str) -> list[str]:
    """The lines in which ansible-playbook reported a failure of ``host``."""
    marks = (f"fatal: [{host}]", f"failed: [{host}]")
    return [line for line in run.stdout.splitlines() if line.startswith(marks)]


def cron_command(cron_file: Path) -> str:
    """The command of the one job in a cron.d file (after the schedule and the user)."""
    for line in cron_file.read_text().splitlines():
        if not line.strip() or line.startswith("#") or line.split("=", 1)[0].isupper():
            continue
        fields = line.split(None, 2) if line.startswith("@") else line.split(None, 6)
        return fields[-1]
    raise AssertionError(f"no job in {cron_file}:\n{cron_file.read_text()}")


def engine_prefix(cron_file: Path) -> list[str]:
    """The interpreter, its flags and the launcher the scheduled job runs (the words before its sub-command, from the
    interpreter on: a shell command such as ``umask 077;`` may come first)."""
    argv = shlex.split(cron_command(cron_file).replace("\\%", "%").split(" >> ", 1)[0])
    end = next((number for number, word in enumerate(argv) if word in ("prune", "purge")), 0)
    start = end - 1  # the launcher
    while start > 0 and argv[start - 1].startswith("-"):
        start -= 1
    if start < 1:
        raise AssertionError(f"no interpreter, launcher and prune or purge in the job {argv}")
    return argv[start - 1 : end]


@dataclass
class JobRun:
    returncode: int
    log: str  # what this run added to the log
    log_mode: Optional[int]


def run_job(cron_file: Path, log: Path) -> JobRun:
    """The job as cron runs it (sh -c with cron's PATH); what it appended to its log."""
    start = log.stat().st_size if log.exists() else 0
    proc = subprocess.run(
        ["/bin/sh", "-c", cron_command(cron_file).replace("\\%", "%")],  # cron passes an escaped % on as %
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8", "SHELL": "/bin/sh"},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    text = ""
    mode = None
    if log.exists():
        mode = stat.S_IMODE(log.stat().st_mode)
        with log.open("rb") as handle:
            handle.seek(start)
            text = handle.read().decode("utf-8", "replace")
    return JobRun(proc.returncode, text + proc.stdout + proc.stderr, mode)


def mount(args: list[str]) -> Optional[str]:
    """Runs mount; the reason it failed, or None."""
    proc = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    return None if proc.returncode == 0 else (proc.stderr.strip() or f"mount exited {proc.returncode}")


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def strings_in(value: Any) -> Iterator[str]:
    """Every string value (not key) in a result."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item)


def entry_for(result: dict[str, Any], user: str) -> Optional[dict[str, Any]]:
    """The entry of ``user`` in a result's ``caches`` (``user`` or ``users`` naming them)."""
    for item in result.get("caches") or []:
        if not isinstance(item, dict):
            continue
        names = item.get("users") or []
        listed = [name if isinstance(name, str) else name.get("user") for name in names if isinstance(name, (str, dict))]
        if item.get("user") == user or user in listed:
            return item
    return None
