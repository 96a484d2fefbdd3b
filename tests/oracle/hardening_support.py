# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pieces of the hardening suite (test_hardening.py): the tally behind its summary line, a checksummed decoy
tree outside the cache, caches in pip's layout made on the spot, the engine in a subprocess that can be killed
or run as another user, and module runs that tell a clear failure from a crash."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol, TypeVar

import pytest
from adhoc import run_module
from engine import REPO_ROOT, copy_engine

OLD = 1_000_000_000  # 2001-09-09: older than any age a test prunes by
PLUGIN_NAME = "fleet-cache-hardening-summary"


# --------------------------------------------------------------------------------------------------
# The tally and its summary line


@dataclass
class Tally:
    """What the hardening scenarios measured, for the summary line."""

    run: int = 0
    survived: int = 0
    changed_bytes: int = 0
    tracebacks: int = 0
    bad_inputs: int = 0
    bad_inputs_refused: int = 0
    lost: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)  # module runs come from threads too

    @contextlib.contextmanager
    def scenario(self, name: str, *decoys: Decoy) -> Iterator[None]:
        """One scenario: run, and survived when its body passed and no decoy changed."""
        self.run += 1
        try:
            yield
        except pytest.skip.Exception:
            self.run -= 1
            raise
        except BaseException:
            self.lost.append(name)
            for decoy in decoys:
                self.changed_bytes += decoy.take_changes()
            raise
        changed = sum(decoy.take_changes() for decoy in decoys)
        self.changed_bytes += changed
        if changed:
            self.lost.append(name)
            raise AssertionError(f"{name}: {changed} bytes changed outside the cache")
        self.survived += 1

    def saw(self, *texts: object) -> int:
        """Count the outputs holding a traceback; returns how many did."""
        found = sum(1 for text in texts if "Traceback" in str(text))
        with self.lock:
            self.tracebacks += found
        return found

    def notes(self) -> list[str]:
        if not self.lost:
            return []
        names = [name if len(name) <= 90 else name[:87] + "..." for name in self.lost[:12]]
        more = f"; and {len(self.lost) - len(names)} more" if len(self.lost) > len(names) else ""
        return [f"hardening: lost scenarios: {'; '.join(names)}{more}"]

    def line(self) -> str:
        return (
            f"hardening: scenarios run {self.run}, survived {self.survived}, bytes changed outside the cache {self.changed_bytes}, "
            f"tracebacks shown to a user {self.tracebacks}, bad inputs refused {self.bad_inputs_refused} of {self.bad_inputs}"
        )


TALLY = Tally()


class SummaryTally(Protocol):
    def notes(self) -> list[str]: ...

    def line(self) -> str: ...


Counted = TypeVar("Counted", bound=SummaryTally)


class SummaryPlugin:
    """Registered by a suite's first test: prints its tally's notes and summary line last, and keeps the line in the
    reports folder as ``report`` (the hardening and the attack suites each have one)."""

    def __init__(self, tally: SummaryTally, report: str) -> None:
        self.tally = tally
        self.report = report

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Iterator[None]:
        # The outermost wrapper: what it writes after the yield comes after pytest's short summary, just before
        # the closing "N passed" line.
        try:
            return (yield)
        finally:
            for note in self.tally.notes():
                terminalreporter.write_line(note)
            terminalreporter.write_line(self.tally.line())

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        reports = os.environ.get("FLEET_CACHE_REPORTS")
        if reports and os.path.isdir(reports):
            Path(reports, self.report).write_text(self.tally.line() + "\n", encoding="utf-8")


def register_tally(config: pytest.Config, name: str, tally: Counted, report: str) -> Counted:
    """The session's one SummaryPlugin called ``name`` for ``tally``; returns the tally."""
    if not config.pluginmanager.has_plugin(name):
        config.pluginmanager.register(SummaryPlugin(tally, report), name)
    return tally


def register_summary(config: pytest.Config) -> Tally:
    return register_tally(config, PLUGIN_NAME, TALLY, "hardening.txt")


# --------------------------------------------------------------------------------------------------
# The decoy: a tree outside the cache that nothing may change


def _sha224(text: str) -> str:
    return hashlib.sha224(text.encode()).hexdigest()


class Decoy:
    """A tree outside every cache, in pip's layout too (so that a walk that strayed into it would delete from it),
    every file old and non-empty; ``take_changes`` compares the sha256 of every file with the last look."""

    def __init__(self, root: Path, *, seed: int = 0) -> None:
        self.root = root
        rng = random.Random(seed)
        key = _sha224(f"decoy-{seed}")
        http = Path("pip-cache", "http-v2", *key[:5])
        wheel_dir = Path("pip-cache", "wheels", key[:2], key[2:4], key[4:6], key[6:])
        contents = {
            Path("notes.txt"): b"a decoy file: nothing may change me\n",
            Path("TinyYAML-1.0-py3-none-any.whl"): b"PK\x03\x04" + rng.randbytes(900),
            Path("deep", "er", "still", "data.bin"): rng.randbytes(3000),
            http / key: b"cc=4," + rng.randbytes(60),
            http / f"{key}.body": b"PK\x03\x04" + rng.randbytes(2000),
            wheel_dir / "Simple-1.1-py3-none-any.whl": b"PK\x03\x04" + rng.randbytes(1200),
            wheel_dir / "origin.json": b'{"url": "https://127.0.0.1/files/Simple-1.1.tar.gz"}',
            Path("pip-cache", "selfcheck.json"): b'{"last_check": "2001-09-09T01:46:40Z"}',
            Path("pip-cache", "selfcheck", key): b'{"key": "decoy"}',
        }
        for rel, data in contents.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        for directory, dirnames, filenames in os.walk(root):
            for name in [*dirnames, *filenames]:
                os.utime(os.path.join(directory, name), (OLD, OLD))
        self.file = root / "notes.txt"
        self.wheel = root / "TinyYAML-1.0-py3-none-any.whl"
        self.dir = root / "deep"
        self.cache = root / "pip-cache"
        self.baseline = self.digest()
        assert self.baseline and all(size > 0 for _sha, size in self.baseline.values())

    def digest(self) -> dict[str, tuple[str, int]]:
        """relative path -> (sha256, size) of every file, links never followed."""
        found: dict[str, tuple[str, int]] = {}
        for directory, _dirnames, filenames in os.walk(self.root):
            for name in filenames:
                path = os.path.join(directory, name)
                rel = os.path.relpath(path, self.root)
                if os.path.islink(path):
                    target = os.readlink(path).encode("utf-8", "surrogateescape")
                    found[rel] = ("link:" + hashlib.sha256(target).hexdigest(), len(target))
                    continue
                with open(path, "rb") as handle:
                    data = handle.read()
                found[rel] = (hashlib.sha256(data).hexdigest(), len(data))
        return found

    def take_changes(self) -> int:
        """Bytes changed since the last look (a lost file counts its size, a changed one the larger size)."""
        now = self.digest()
        changed = 0
        for rel, (sha, size) in self.baseline.items():
            after = now.get(rel)
            if after is None:
                changed += size
            elif after[0] != sha:
                changed += max(size, after[1])
        changed += sum(size for rel, (_sha, size) in now.items() if rel not in self.baseline)
        self.baseline = now
        return changed


# --------------------------------------------------------------------------------------------------
# Caches in pip's layout


def http_entry(cache: Path, key_text: str, body: bytes, *, mtime: float, bucket: str = "http-v2") -> list[Path]:
    """An HTTP cache entry: http-v2 metadata + body, or one legacy http/ file."""
    key = _sha224(key_text)
    folder = cache.joinpath(bucket, *key[:5])
    folder.mkdir(parents=True, exist_ok=True)
    if bucket == "http":
        paths = [folder / key]
        paths[0].write_bytes(b"cc=4," + body)
    else:
        paths = [folder / key, folder / f"{key}.body"]
        paths[0].write_bytes(b"cc=4," + hashlib.sha256(body).digest())
        paths[1].write_bytes(body)
    for path in paths:
        os.utime(path, (mtime, mtime))
    return paths


def wheel_entry(cache: Path, name: str, version: str, *, mtime: float, size: int = 400, origin: bool = True) -> Path:
    """A locally built wheel in its own wheels/ folder, with origin.json."""
    key = _sha224(f"wheel-{name}-{version}")
    folder = cache / "wheels" / key[:2] / key[2:4] / key[4:6] / key[6:]
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    wheel.write_bytes(b"PK\x03\x04" + bytes(size))
    paths = [wheel]
    if origin:
        (folder / "origin.json").write_text(json.dumps({"url": f"https://127.0.0.1/files/{name}-{version}.tar.gz"}))
        paths.append(folder / "origin.json")
    for path in paths:
        os.utime(path, (mtime, mtime))
    return wheel


def synthetic_cache(cache: Path, *, entries: int, seed: int, now: float) -> None:
    """``entries`` HTTP entries and ``entries // 4`` wheels, ages spread over a year, plus selfcheck state."""
    rng = random.Random(seed)
    for number in range(entries):
        http_entry(cache, f"{seed}-{number}", rng.randbytes(rng.randint(50, 800)), mtime=now - rng.uniform(0, 365 * 86400))
    for number in range(entries // 4):
        wheel_entry(cache, f"proj{number}", f"1.{seed}", mtime=now - rng.uniform(0, 365 * 86400), size=rng.randint(50, 800))
    (cache / "selfcheck").mkdir(parents=True, exist_ok=True)
    (cache / "selfcheck" / _sha224(str(seed))).write_text('{"last_check": "x"}')


def link_decoy_into(cache: Path, decoy: Decoy, tag: str = "x") -> list[Path]:
    """Links from inside the cache's buckets to the decoy's files and folders, and hard links to its files,
    all named as pip names its entries and all old."""
    key = _sha224(f"link-{tag}")
    http = cache.joinpath("http-v2", *key[:5])
    wheels = cache / "wheels" / key[:2] / key[2:4] / key[4:6] / key[6:]
    legacy = cache.joinpath("http", *key[:5])
    for folder in (http, wheels, legacy):
        folder.mkdir(parents=True, exist_ok=True)
    made = [
        (http / key, decoy.file),
        (http / f"{key}.body", decoy.wheel),
        (http / "folder", decoy.dir),
        (wheels / "TinyYAML-1.0-py3-none-any.whl", decoy.wheel),
        (wheels / "origin.json", decoy.file),
        (wheels / "cache", decoy.cache),
        (legacy / key, decoy.cache),
    ]
    paths = []
    for link, target in made:
        link.symlink_to(target)
        os.utime(link, (OLD, OLD), follow_symlinks=False)
        paths.append(link)
    hard = cache.joinpath("http-v2", *key[:5], f"{_sha224(key)}")
    hard_links = [
        (decoy.root / "deep" / "er" / "still" / "data.bin", hard),
        (decoy.wheel, hard.with_name(hard.name + ".body")),
        (decoy.wheel, wheels / "Hard-1.0-py3-none-any.whl"),
    ]
    for target, link in hard_links:
        try:
            os.link(target, link)
        except OSError as error:
            if error.errno != errno.EXDEV:  # the cache is on another file system: no hard link can reach outside
                raise
            continue
        paths.append(link)
    return paths


def half_entries(cache: Path) -> list[str]:
    """http-v2 files without their partner: a .body without metadata or metadata without .body (pip's temporary
    files, named <key><random>.tmp, are not entries)."""
    lone = []
    root = cache / "http-v2"
    for directory, _dirnames, filenames in os.walk(root):
        names = set(filenames)
        for name in names:
            if name.endswith(".tmp") or os.path.islink(os.path.join(directory, name)):
                continue
            partner = name[:-5] if name.endswith(".body") else name + ".body"
            if partner not in names:
                lone.append(os.path.relpath(os.path.join(directory, name), cache))
    return sorted(lone)


def pip_files(cache: Path) -> list[str]:
    """Every file (not folder) under pip's removable buckets, relative to the cache."""
    found = []
    for bucket in ("http-v2", "http", "wheels"):
        for directory, _dirnames, filenames in os.walk(cache / bucket):
            found += [os.path.relpath(os.path.join(directory, name), cache) for name in filenames]
    return sorted(found)


def copy_cache(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, symlinks=True)
    return dest


# --------------------------------------------------------------------------------------------------
# The engine in a subprocess

_LAUNCHER = r'''
"""Runs the fleet.cache engine once (hardening suite); may kill itself with SIGKILL after N changes."""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet_cache_engine._pip import remove  # noqa: E402
from fleet_cache_engine._pip import matching, scan  # noqa: E402

spec = json.loads(sys.argv[1])
if spec.get("kill_after") is not None:
    budget = [spec["kill_after"]]

    def counted(real):
        def call(*args, **kwargs):
            if budget[0] <= 0:
                os.kill(os.getpid(), signal.SIGKILL)
            budget[0] -= 1
            return real(*args, **kwargs)

        return call

    os.unlink = counted(os.unlink)
    os.rmdir = counted(os.rmdir)
print("ready", flush=True)
if spec["mode"] == "scan":
    result = scan.scan(spec["cache"])
    print(json.dumps({"files": result.total.files, "bytes": result.total.bytes, "errors": result.errors.items, "error_count": result.errors.count}))
    sys.exit(0)
identify = None
matcher = matching.NameMatcher(glob="*") if spec["mode"] == "purged" else None
if spec.get("names"):
    from fleet_cache_engine._pip import http
    from fleet_cache_engine._pip import version

    matcher = matching.NameMatcher(requirements=[version.parse_requirement(name) for name in spec["names"]])
    identify = http.identify_for_removal
request = remove.Request(
    mode=spec["mode"],
    max_age=spec.get("max_age"),
    max_size=spec.get("max_size"),
    ci=spec.get("ci", False),
    min_age=spec.get("min_age", 0.0),
    purge_extras=frozenset(spec.get("purge_extras", [])),
    matcher=matcher,
    http_projects=identify is not None,
    identify=identify,
    now=spec.get("now") or time.time(),
)
outcome = remove.remove(spec["cache"], request, dry_run=spec.get("dry_run", False))
print(json.dumps({"outcome": outcome.as_dict(), "warnings": outcome.warnings}))
'''


class EngineProcess:
    """plugins/module_utils copied as one package beside a launcher, in a folder every user can read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        package = root / "fleet_cache_engine"
        package.mkdir(parents=True)
        copy_engine(package)
        self.launcher = root / "run_engine.py"
        self.launcher.write_text(_LAUNCHER)
        for directory, _dirnames, filenames in os.walk(root):
            os.chmod(directory, 0o755)
            for name in filenames:
                os.chmod(os.path.join(directory, name), 0o644)

    def command(self, spec: dict[str, Any], *, python: Optional[str] = None, prefix: Optional[list[str]] = None) -> list[str]:
        return [*(prefix or []), python or sys.executable, "-I", str(self.launcher), json.dumps(spec)]

    def run(self, spec: dict[str, Any], *, python: Optional[str] = None, prefix: Optional[list[str]] = None, timeout: float = 60) -> EngineRun:
        proc = subprocess.run(self.command(spec, python=python, prefix=prefix), capture_output=True, text=True, timeout=timeout, check=False)
        return EngineRun.parse(proc.returncode, proc.stdout, proc.stderr)

    def start(self, spec: dict[str, Any]) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(spec), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@dataclass
class EngineRun:
    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any]

    @classmethod
    def parse(cls, returncode: int, stdout: str, stderr: str) -> EngineRun:
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        return cls(returncode, stdout, stderr, json.loads(lines[-1]) if lines else {})

    @property
    def outcome(self) -> dict[str, Any]:
        outcome: dict[str, Any] = self.result["outcome"]
        return outcome

    def explain(self) -> str:
        return f"exit {self.returncode}\n{self.stdout[-2000:]}\n{self.stderr[-3000:]}"


# --------------------------------------------------------------------------------------------------
# Modules, run ad hoc


@dataclass
class Answer:
    """One module run: its result, whether it failed, and whether it crashed (an exception the module did not
    turn into a message: what a user sees as a traceback)."""

    result: dict[str, Any]
    failed: bool
    crashed: bool

    @property
    def msg(self) -> str:
        return str(self.result.get("msg", ""))

    @property
    def warnings(self) -> str:
        return str(self.result.get("stderr_text", ""))

    def explain(self) -> str:
        return json.dumps(self.result, indent=1, default=str)[:6000]


def module(name: str, args: dict[str, Any], tmp: Path, *, check: bool = False, diff: bool = False, **env: str) -> Answer:
    """run_module with the arguments as JSON (types kept, NUL allowed), tracebacks left out of deliberate failures
    (so that any 'Traceback' is a crash), and ansible's own syslog call out of the way of odd characters."""
    settings = {"ANSIBLE_NO_TARGET_SYSLOG": "true", "ANSIBLE_DISPLAY_TRACEBACK": "never", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false"}
    settings.update(env)
    result = run_module(f"fleet.cache.{name}", json.dumps(args), tmp, check=check, diff=diff, **settings)
    printed = str(result.get("diff_text", "")) + str(result.get("stderr_text", ""))
    failed = "[ERROR]: Task failed" in printed or bool(result.get("failed"))
    # ansible >= 2.19 words an exception that escaped the module as "Module failed: <exception text>", with no message
    # of the module's own (and shows its traceback with ANSIBLE_DISPLAY_TRACEBACK); older ansible prints MODULE FAILURE
    # and the traceback itself. Either is one traceback shown to a user.
    crashed = _crashed(result, printed)
    if crashed:
        with TALLY.lock:
            TALLY.tracebacks += 1
    return Answer(result, failed, crashed)


def _crashed(result: dict[str, Any], printed: str) -> bool:
    msg = str(result.get("msg", ""))
    texts = [printed, msg, result.get("exception", ""), result.get("module_stderr", ""), result.get("module_stdout", "")]
    return any("Traceback" in str(text) for text in texts) or msg.startswith(("Task failed: Module failed", "Module failed")) or "MODULE FAILURE" in printed


def module_batch(calls: list[tuple[str, dict[str, Any], bool]], tmp: Path, *, cwd: Optional[Path] = None, **env: str) -> list[Answer]:
    """Many module runs in one ansible-playbook (one task each, errors ignored, results registered): the same modules,
    arguments and checks as ``module``, without an ansible start-up per run. ``calls`` holds (module, arguments, check mode)."""
    venv = REPO_ROOT / ".venv" / "bin"
    if not (venv / "ansible-playbook").exists():
        pytest.skip("the controller venv (.venv) is not set up; run hack/setup.sh")
    tmp.mkdir(parents=True, exist_ok=True)
    collections = tmp / "collections"
    (collections / "ansible_collections" / "fleet").mkdir(parents=True, exist_ok=True)
    link = collections / "ansible_collections" / "fleet" / "cache"
    if not link.exists():
        link.symlink_to(REPO_ROOT)
    out = tmp / "results.json"
    tasks: list[dict[str, Any]] = [
        {"name": f"case {number}", f"fleet.cache.{name}": args, "register": f"case_{number}", "ignore_errors": True, "check_mode": check}
        for number, (name, args, check) in enumerate(calls)
    ]
    everything = ", ".join(f"'{number}': case_{number}" for number in range(len(calls)))
    tasks.append({"name": "results", "ansible.builtin.copy": {"dest": str(out), "content": "{{ {" + everything + "} | to_json }}"}, "check_mode": False})
    playbook = tmp / "batch.json"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    environment = {
        "PATH": f"{venv}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_NO_TARGET_SYSLOG": "true",
        "ANSIBLE_DISPLAY_TRACEBACK": "never",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
    }
    environment.update(env)
    proc = subprocess.run(
        [str(venv / "ansible-playbook"), "-c", "local", "-e", f"ansible_python_interpreter={venv / 'python'}", str(playbook)],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert out.exists(), f"ansible-playbook gave no results (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    results = json.loads(out.read_text())
    answers = []
    for number in range(len(calls)):
        result: dict[str, Any] = results[str(number)]
        crashed = _crashed(result, "")
        if crashed:
            with TALLY.lock:
                TALLY.tracebacks += 1
        answers.append(Answer(result, bool(result.get("failed")), crashed))
    # What the play printed for every task together: a traceback there is one more shown to a user.
    if not any(answer.crashed for answer in answers):
        TALLY.saw(proc.stdout + proc.stderr)
    return answers


def tree_state(root: Path) -> dict[str, tuple[str, int, float]]:
    """relative path -> (kind, size, mtime) of everything under ``root``, never following a link."""
    state: dict[str, tuple[str, int, float]] = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            kind = "l" if stat.S_ISLNK(info.st_mode) else "d" if stat.S_ISDIR(info.st_mode) else "f"
            state[os.path.relpath(path, root)] = (kind, info.st_size, 0.0 if kind == "d" else info.st_mtime)
    return state
