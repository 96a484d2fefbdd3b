# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run every test stage of the collection, keep going after failures, and count the results.

Called by hack/run-tests.sh (`make test`) with the controller venv's python, after hack/setup.sh --test.
Stages, in order (each one's full output goes to .build/reports/STAGE.log):

  copy         the files git sees -> .build/ansible_collections/fleet/cache (ansible-test needs that path)
  sanity       ansible-test sanity, every test; missing programs/interpreters are reported as skipped
  units        ansible-test units --venv on each target Python (3.9 .. newest supported) found here; the
               controller's tests (action, lookup, plugin_utils) on the newest one only
  integration  ansible-test integration --local (the venv's python) on tests/integration/targets/*
  oracle       pytest tests/oracle (the differential tests against real pip), run from the checkout, a process per file
  lint         ruff check, ruff format --check, mypy (plugins/), ansible-lint (roles/, playbooks/)

After copy, two lanes run side by side (most of the run is one busy process at a time; the machine has two cores):
one runs the oracle's test files, longest first, one pytest process each; the other runs sanity, units, integration
and lint one after the other, then takes the oracle files that are left. They share nothing they write: the
ansible-test stages work in the copy's tests/output, the oracle tests from the checkout in temporary folders, each
stage (and oracle file) has its own log. Each progress line on the console starts with the time since the lanes
started and the stage's name; a stage's block (its notes, its counts) is printed when it ends, the summary table
last, in the order above.

The last line printed is "N passed, N failed, N skipped"; the exit status is 1 when anything failed.
Environment knobs: V=1 prints every stage's full output; STAGES="sanity units" runs only those; JOBS=1 runs one
stage at a time, in the order above; INTEGRATION_ARGS / SANITY_ARGS / UNITS_ARGS / PYTEST_ARGS add arguments to
those commands. Standard library only (it runs before anything else is known to work).
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Callable, Optional

HACK = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HACK)
sys.path.insert(0, HACK)

import pythons  # noqa: E402  (hack/pythons.py)
import tree  # noqa: E402  (hack/tree.py)

BUILD = os.path.join(ROOT, ".build")
COPY = os.path.join(BUILD, "ansible_collections", "fleet", "cache")
REPORTS = os.path.join(BUILD, "reports")
PYTHON_LINKS = os.path.join(BUILD, "pythons")
INSTALLED = os.path.join(BUILD, "collections")
VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
VERBOSE = os.environ.get("V", "") not in ("", "0")
PLAIN = bool(os.environ.get("CI")) or not sys.stdout.isatty()
LINT_PATHS = ("plugins", "tests", "hack", "bench")
ORDER = ("copy", "sanity", "units", "integration", "oracle", "lint")
ALONE = ("oracle",)  # the lane of its own; the other stages share the second lane (they share the copy's tests/output)

# Lines of pip chatter that say nothing about the tests (the host's pip config makes a lot of it).
NOISE = re.compile(
    r"is neither a file nor a directory|^\s*(Collecting|Downloading|Processing|Requirement already|Using cached|Looking in|"
    r"Attempting uninstall|Found existing|Uninstalling|Successfully uninstalled|Obtaining|Installing collected|━)|eta 0:00|"
    r"^\s*$|pip is looking at multiple versions"
)


@dataclass
class Result:
    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    cpu: Optional[float] = None  # CPU seconds of the stage's commands, when not those of its thread (the oracle's files)
    notes: list[str] = field(default_factory=list)

    def add(self, other: tuple[int, int, int]) -> None:
        self.passed += other[0]
        self.failed += other[1]
        self.skipped += other[2]


CONSOLE = threading.Lock()
STARTED = [time.monotonic()]  # when the lanes started (set again by main)
_LANE = threading.local()  # .stage: the stage this thread runs; .cpu: CPU seconds of the commands it ran
# What must not run at the same time as what (stages and oracle files, either way round), and why.
APART = {
    ("integration", "test_attacks.py"): "the attacks make local accounts with hostile pip configurations and caches, and the "
    "pip_cache_info target asserts on every account of the host (user=all)",
}
BUSY = threading.Condition()  # guards ACTIVE and the oracle queue
ACTIVE: set[str] = set()  # the stages and oracle files running now


def clashes(name: str) -> list[str]:
    """What runs now that must not run beside ``name`` (call with BUSY held)."""
    return sorted({other for pair in APART if name in pair for other in pair if other != name} & ACTIVE)


def say(text: str = "") -> None:
    with CONSOLE:
        print(text, flush=True)


def stage_name() -> str:
    return getattr(_LANE, "stage", "")


def progress(text: str) -> None:
    """One line of a running stage's progress: the time since the lanes started, the stage's name, the text."""
    elapsed = int(time.monotonic() - STARTED[0])
    say(f"   {elapsed // 60:02d}:{elapsed % 60:02d} {stage_name()}: {text}")


def rel(path: str) -> str:
    return os.path.relpath(path, ROOT)


def run(
    cmd: list[str],
    log: str,
    cwd: str = ROOT,
    env: Optional[dict[str, str]] = None,
    append: bool = False,
    show: Optional[Callable[[str], Optional[str]]] = None,
) -> int:
    """Run cmd with its output in log (and on the console with V=1, each line after the stage's name); return its
    exit status. ``show`` picks the lines shown as progress in any case (a long stage's sign of life): it returns
    the text to show for a line, or None. The log's last line for the command gives its time and CPU time (the
    processes it waited for included), and the CPU time adds up in this thread's _LANE.cpu."""
    with open(log, "a" if append else "w", encoding="utf-8", errors="replace") as out:
        out.write(f"$ cd {shlex.quote(rel(cwd) or '.')} && {shlex.join(cmd)}\n")
        out.flush()
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            out.write(line)
            shown = show(line) if show else None
            if VERBOSE and not NOISE.search(line):
                say(f"    {stage_name()}| {line.rstrip()}")
            elif shown:
                out.flush()
                progress(shown)
        _pid, status, usage = os.wait4(proc.pid, 0)  # wait() with the CPU time it used
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime
        _LANE.cpu = getattr(_LANE, "cpu", 0.0) + cpu
        out.write(f"$ exit {proc.returncode} after {time.monotonic() - started:.0f}s, {cpu:.0f}s CPU\n")
        return proc.returncode


def log_size(log: str) -> int:
    return os.path.getsize(log) if os.path.exists(log) else 0


def show_tail(result: Result, log: str, start: int = 0, lines: int = 120) -> None:
    """Add the end of a stage's log (from byte offset start), without pip's chatter, to its notes."""
    if VERBOSE or not os.path.exists(log):
        return
    with open(log, "rb") as handle:
        handle.seek(start)
        text = handle.read().decode("utf-8", "replace")
    kept = [line for line in text.splitlines() if not NOISE.search(line)]
    if len(kept) > lines:
        result.notes.append(f"  | ... ({len(kept) - lines} earlier lines in {rel(log)})")
    result.notes.extend("  | " + line for line in kept[-lines:])


def junit_counts(paths: list[str], failures: Optional[list[str]] = None, skips: Optional[list[str]] = None) -> tuple[int, int, int]:
    """Count test cases in JUnit XML files: (passed, failed, skipped); errors count as failed."""
    passed = failed = skipped = 0
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as exc:
            failed += 1
            if failures is not None:
                failures.append(f"{rel(path)}: unreadable JUnit XML ({exc})")
            continue
        for case in root.iter("testcase"):
            name = ".".join(part for part in (case.get("classname"), case.get("name")) if part)
            bad = case.find("failure")
            if bad is None:
                bad = case.find("error")
            if bad is not None:
                failed += 1
                if failures is not None:
                    message = (bad.get("message") or "").strip()
                    body = (bad.text or "").strip()
                    failures.append(f"{name}: {message}\n{body}".rstrip())
            elif case.find("skipped") is not None:
                skipped += 1
                if skips is not None:
                    node = case.find("skipped")
                    reason = ((node.get("message") if node is not None else "") or (node.text if node is not None else "") or "").strip()
                    skips.append(f"{name}: {reason}")
            else:
                passed += 1
    return passed, failed, skipped


def fresh_output(*kinds: str) -> None:
    for kind in kinds:
        shutil.rmtree(os.path.join(COPY, "tests", "output", kind), ignore_errors=True)


def has_files(directory: str, pattern: str) -> bool:
    return bool(glob.glob(os.path.join(ROOT, directory, "**", pattern), recursive=True))


# --- environment ---------------------------------------------------------------------------------


def link_pythons() -> dict[str, str]:
    """A directory of pythonX.Y -> real interpreter links, first on PATH (pyenv shims exit 127)."""
    found = {f"{major}.{minor}": path for (major, minor), path in pythons.interpreters().items()}
    shutil.rmtree(PYTHON_LINKS, ignore_errors=True)
    os.makedirs(PYTHON_LINKS)
    for version, path in found.items():
        os.symlink(path, os.path.join(PYTHON_LINKS, f"python{version}"))
    return found


def supported_versions() -> list[str]:
    """Every Python version the installed ansible-test supports as a target (3.9 .. 3.14 for 2.21)."""
    from ansible_test._internal import constants  # type: ignore[import-not-found]

    return list(constants.SUPPORTED_PYTHON_VERSIONS)


def offline_get_pip(versions: list[str]) -> list[str]:
    """Put hack/get_pip.py where ansible-test caches get-pip.py, for each pip version it wants, when missing."""
    import types

    from ansible_test._internal.python_requirements import get_venv_packages  # type: ignore[import-not-found]

    written = []
    for pip_version in sorted({get_venv_packages(types.SimpleNamespace(version=v))["pip"] for v in versions}):
        target = os.path.expanduser(f"~/.ansible/test/cache/get_pip_{pip_version.replace('.', '_')}.py")
        if not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(os.path.join(HACK, "get_pip.py"), target)
            written.append(target)
    return written


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([PYTHON_LINKS, VENV_BIN, env.get("PATH", "")])
    env.pop("PYTHONPATH", None)
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    env.pop("ANSIBLE_COLLECTIONS_PATHS", None)
    env.pop("VIRTUAL_ENV", None)
    env["HYPOTHESIS_STORAGE_DIRECTORY"] = os.path.join(BUILD, "hypothesis")
    env["FLEET_CACHE_ROOT"] = ROOT
    env["FLEET_CACHE_PYTHON"] = sys.executable
    env["FLEET_CACHE_COLLECTIONS_PATH"] = INSTALLED
    env["FLEET_CACHE_REPORTS"] = REPORTS
    if PLAIN:
        env.update(NO_COLOR="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")
    return env


COLOR = ["--color", "no" if PLAIN else "yes"]


# --- stages --------------------------------------------------------------------------------------


def stage_copy(result: Result, env: dict[str, str]) -> None:
    changed = tree.sync(COPY)
    count = len(tree.list_files())
    result.notes.append(f"{count} files in {rel(COPY)} ({changed} changed)")


def stage_sanity(result: Result, env: dict[str, str]) -> None:
    log = os.path.join(REPORTS, "sanity.log")
    fresh_output("junit", "bot", "data")
    cmd = ["ansible-test", "sanity", "--junit", *COLOR, *shlex.split(os.environ.get("SANITY_ARGS", ""))]
    status = run(cmd, log, cwd=COPY, env=env)
    # A test skipped for a missing program says so on the console, not in its JUnit file.
    missing: dict[str, str] = {}
    current = ""
    with open(log, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            started = re.match(r'Running sanity test "([^"]+)"', line)
            if started:
                current = started.group(1)
            program = re.search(r'Required program "([^"]+)" not found', line)
            if program and current:
                missing[current] = f'program "{program.group(1)}" not found'
    failures: list[str] = []
    skips: list[str] = []
    files = sorted(glob.glob(os.path.join(COPY, "tests", "output", "junit", "ansible-test-sanity-*.xml")))
    result.add(junit_counts(files, failures, skips))
    applicable = 0
    for skip in skips:
        name, reason = skip.split(": ", 1) if ": " in skip else (skip, "")
        test = name.split(".", 1)[-1]
        if test in missing:
            reason = missing[test]
        if reason == "No tests applicable.":
            applicable += 1
            continue
        result.notes.append(f"skipped {test}: {reason}")
    if applicable:
        result.notes.append(f"skipped {applicable} test(s) with no files to check yet")
    for failure in failures:
        result.notes.append("FAILED " + failure.split(".", 1)[-1])
    if status != 0 and not failures:
        result.failed += 1
        result.notes.append(f"ansible-test sanity exited {status} without a failed test; see {rel(log)}")
        show_tail(result, log)


def stage_units(result: Result, env: dict[str, str], available: dict[str, str], supported: list[str]) -> None:
    if not has_files("tests/unit", "test_*.py") and not has_files("tests/unit", "*_test.py"):
        result.notes.append("no unit tests yet (tests/unit/**/test_*.py)")
        return
    log = os.path.join(REPORTS, "units.log")
    open(log, "w").close()
    fresh_output("junit")
    versions = [v for v in supported if v in available]
    missing = [v for v in supported if v not in available]
    if missing:
        result.notes.append("no interpreter here for Python " + ", ".join(missing))
    # The controller's tests (action, lookup and plugin_utils plugins) run once, on the newest Python here: ansible-test
    # would run them on each controller Python (3.12 and later). The sanity stage compiles and imports them on every one.
    controller_on = max(versions, key=lambda v: tuple(int(part) for part in v.split(".")), default="")
    host_targets = [os.path.join("tests", "unit", "plugins", name, "") for name in ("module_utils", "modules")]  # "/": a folder
    host_targets = [target for target in host_targets if os.path.isdir(os.path.join(COPY, target))]
    for version in versions:
        before = set(glob.glob(os.path.join(COPY, "tests", "output", "junit", "*.xml")))
        offset = log_size(log)
        started = time.monotonic()
        cmd = ["ansible-test", "units", "--venv", "--python", version, *COLOR, *shlex.split(os.environ.get("UNITS_ARGS", ""))]
        if version != controller_on and host_targets:
            cmd += host_targets
        status = run(cmd, log, cwd=COPY, env=env, append=True)
        files = sorted(set(glob.glob(os.path.join(COPY, "tests", "output", "junit", f"python{version}-*-units.xml"))) - before)
        failures: list[str] = []
        counts = junit_counts(files, failures)
        result.add(counts)
        summary = f"Python {version}: {counts[0]} passed, {counts[1]} failed, {counts[2]} skipped"
        if status != 0 and not failures:
            result.failed += 1
            summary += f" (ansible-test exited {status}; see {rel(log)})"
        result.notes.append(summary)
        progress(f"{summary} ({time.monotonic() - started:.0f}s)")
        for failure in failures[:20]:
            result.notes.append("FAILED " + failure.splitlines()[0])
        if status != 0:
            show_tail(result, log, offset, 80)


def integration_targets() -> list[str]:
    """Targets ansible-test can run directly: not those marked hidden (setup targets used through needs/target/)."""
    base = os.path.join(ROOT, "tests", "integration", "targets")
    if not os.path.isdir(base):
        return []
    found = []
    for name in sorted(os.listdir(base)):
        if not os.path.isdir(os.path.join(base, name)):
            continue
        aliases_path = os.path.join(base, name, "aliases")
        aliases: list[str] = []
        if os.path.exists(aliases_path):
            with open(aliases_path, encoding="utf-8") as handle:
                aliases = handle.read().split()
        if "hidden" not in aliases:
            found.append(name)
    return found


def stage_integration(result: Result, env: dict[str, str]) -> None:
    targets = integration_targets()
    if not targets:
        result.notes.append("no integration targets yet (tests/integration/targets/*)")
        return
    log = os.path.join(REPORTS, "integration.log")
    fresh_output("junit", "data")
    cmd = ["ansible-test", "integration", "--local", "--continue-on-error", *COLOR, *shlex.split(os.environ.get("INTEGRATION_ARGS", ""))]

    def target_started(line: str) -> Optional[str]:
        started = re.match(r"Running (\S+) integration test (role|script)", line)
        return f"target {started.group(1)}" if started else None

    status = run(cmd, log, cwd=COPY, env=env, show=target_started)
    ran: list[str] = []
    failed: list[str] = []
    with open(log, encoding="utf-8", errors="replace") as handle:
        lines = handle.read().splitlines()
    for index, line in enumerate(lines):
        started = re.match(r"Running (\S+) integration test (role|script)", line)
        if started and started.group(1) not in ran:
            ran.append(started.group(1))
        if re.match(r"FATAL: The \d+ integration test\(s\) listed below .* failed", line):
            for name in lines[index + 1 :]:
                if not re.fullmatch(r"[\w.-]+", name.strip()):
                    break
                failed.append(name.strip())
    result.passed += len([name for name in ran if name not in failed])
    result.failed += len(failed)
    result.skipped += len([name for name in targets if name not in ran])
    for name in failed:
        result.notes.append(f"FAILED target {name}")
    explained: set[str] = set()
    for line in lines:
        excluded = re.match(r'WARNING: Excluding (?:target )?tests marked "([^"]+)" which require ([^:]+): (.+)$', line)
        if excluded:
            names = [name.strip() for name in excluded.group(3).split(",")]
            note = f"skipped (marked {excluded.group(1)}, needs {excluded.group(2)}): {', '.join(names)}"
            if note not in result.notes:
                result.notes.append(note)
            explained.update(names)
    not_run = [name for name in targets if name not in ran and name not in explained]
    if not_run:
        result.notes.append("skipped (not selected by ansible-test here): " + ", ".join(not_run))
    if status != 0 and not failed:
        result.failed += 1
        result.notes.append(f"ansible-test integration exited {status}; see {rel(log)}")
    if status != 0:
        show_tail(result, log)


ORACLE = os.path.join(ROOT, "tests", "oracle")
ORACLE_REPORTS = os.path.join(REPORTS, "oracle")
# Seconds each oracle file took on an idle 2-core machine (2026-12-07): the longest start first, so that the lane
# that joins last finds short files left. A file not listed counts as ORACLE_UNKNOWN; only the order depends on this.
ORACLE_SECONDS = {
    "test_hardening.py": 153,
    "test_role_policy.py": 139,
    "test_attacks.py": 107,
    "test_pip_config.py": 73,
    "test_docs.py": 62,
    "test_role_fleet.py": 57,
    "test_users_and_prune.py": 45,
    "test_bench_smoke.py": 42,
    "test_info_parity.py": 35,
    "test_oracle.py": 30,
    "test_resolve_parity.py": 25,
    "test_remove_parity.py": 24,
    "test_role_cli.py": 21,
    "test_role_windows.py": 18,
    "test_inputs.py": 16,
    "test_windows_transport.py": 9,
    "test_role_report_filter.py": 1,
}
ORACLE_UNKNOWN = 30


def pytest_cmd(targets: list[str], xml: str) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", *targets, f"--junitxml={xml}", "-o", "junit_family=xunit2", "-p", "no:cacheprovider"]
    cmd += ["--color=no"] if PLAIN else []
    return cmd + shlex.split(os.environ.get("PYTEST_ARGS", ""))


def oracle_env(env: dict[str, str]) -> dict[str, str]:
    return dict(env, ANSIBLE_COLLECTIONS_PATH=INSTALLED)


def names_paths(args: list[str]) -> bool:
    """Whether pytest arguments name tests to run (a path or a node id), rather than only options."""
    return any(not arg.startswith("-") and ("::" in arg or os.path.exists(os.path.join(ROOT, arg))) for arg in args)


@dataclass
class OracleFile:
    path: str  # relative to ROOT
    status: int = -1
    counts: tuple[int, int, int] = (0, 0, 0)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu: float = 0.0

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def stem(self) -> str:
        return os.path.splitext(os.path.basename(self.path))[0]

    @property
    def log(self) -> str:
        return os.path.join(ORACLE_REPORTS, self.stem + ".log")

    @property
    def xml(self) -> str:
        return os.path.join(ORACLE_REPORTS, self.stem + ".xml")


class OracleQueue:
    """The oracle's test files, one pytest process each, longest first; the oracle lane works through them and the
    other lane helps once its own stages are done. Each file is a session of its own: nothing a file's tests do
    depends on another file having run (the session fixtures build what they need, or find it built, under a lock)."""

    def __init__(self, env: dict[str, str]) -> None:
        names = sorted(name for name in os.listdir(ORACLE) if name.startswith("test_") and name.endswith(".py")) if os.path.isdir(ORACLE) else []
        # Files that must not run beside a stage of the other lane first (done before that stage comes, as a rule),
        # then the longest first.
        apart = {name for pair in APART for name in pair}
        names.sort(key=lambda name: (name not in apart, -ORACLE_SECONDS.get(name, ORACLE_UNKNOWN)))
        self.files = [OracleFile(os.path.join("tests", "oracle", name)) for name in names]
        self.pending = list(self.files)
        self.env = oracle_env(env)
        self.running = 0
        self.finished = 0

    def take(self) -> Optional[OracleFile]:
        """The next file nothing running clashes with (waiting while every pending file clashes), or None: no file left."""
        with BUSY:
            while self.pending:
                for item in self.pending:
                    if not clashes(item.name):
                        self.pending.remove(item)
                        self.running += 1
                        ACTIVE.add(item.name)
                        return item
                BUSY.wait(5.0)
            return None

    def work(self) -> None:
        """Run files until none is left (in this thread)."""
        while True:
            item = self.take()
            if item is None:
                return
            try:
                self.run_file(item)
            finally:
                with BUSY:
                    ACTIVE.discard(item.name)
                    self.running -= 1
                    self.finished += 1
                    number = self.finished
                    BUSY.notify_all()
            passed, failed, skipped = item.counts
            figures = f"{passed} passed, {failed} failed, {skipped} skipped ({item.seconds:.0f}s, {item.cpu:.0f}s CPU)"
            progress(f"[{number}/{len(self.files)}] {item.path}: {figures}")

    def run_file(self, item: OracleFile) -> None:
        started = time.monotonic()
        for stale in (item.log, item.xml):
            if os.path.exists(stale):
                os.unlink(stale)
        cpu = getattr(_LANE, "cpu", 0.0)
        try:
            item.status = run(pytest_cmd([item.path], item.xml), item.log, env=self.env)
            if os.path.exists(item.xml):
                item.counts = junit_counts([item.xml], item.failures)
        except Exception as exc:  # one file's trouble must not stop the others
            item.status = -2
            item.failures.append(f"{item.path}: not run: {type(exc).__name__}: {exc}")
        item.seconds = time.monotonic() - started
        item.cpu = getattr(_LANE, "cpu", 0.0) - cpu

    def wait(self) -> None:
        with BUSY:
            while self.pending or self.running:
                BUSY.wait(5.0)


def merge_oracle_reports(files: list[OracleFile], log: str, xml: str) -> None:
    """oracle.log and oracle.xml as one pytest run would write them: the files' logs one after the other, their suites
    under one <testsuites>."""
    with open(log, "w", encoding="utf-8", errors="replace") as out:
        for item in files:
            if os.path.exists(item.log):
                with open(item.log, encoding="utf-8", errors="replace") as handle:
                    out.write(handle.read())
                out.write("\n")
    merged = ET.Element("testsuites")
    for item in files:
        try:
            root = ET.parse(item.xml).getroot()
        except (ET.ParseError, OSError):
            continue
        merged.extend(root.iter("testsuite") if root.tag != "testsuite" else [root])
    ET.ElementTree(merged).write(xml, encoding="utf-8", xml_declaration=True)


def stage_oracle(result: Result, env: dict[str, str], queue: Optional[OracleQueue] = None) -> None:
    if not os.path.isdir(ORACLE):
        result.notes.append("no oracle tests yet (tests/oracle/)")
        return
    log = os.path.join(REPORTS, "oracle.log")
    xml = os.path.join(REPORTS, "oracle.xml")
    if os.path.exists(xml):
        os.unlink(xml)
    if queue is None:
        oracle_single(result, env, log, xml)
        return
    os.makedirs(ORACLE_REPORTS, exist_ok=True)
    queue.work()
    queue.wait()  # for the files the other lane took
    merge_oracle_reports(queue.files, log, xml)
    result.cpu = sum(item.cpu for item in queue.files)
    failures: list[str] = []
    for item in queue.files:
        result.add(item.counts)
        failures.extend(item.failures)
        if item.status not in (0, 5) and not item.failures:
            result.failed += 1
            result.notes.append(f"pytest exited {item.status} on {item.path}; see {rel(item.log)}")
            show_tail(result, item.log, 0, 60)
    for failure in failures[:20]:
        result.notes.append("FAILED " + failure.splitlines()[0])
    if queue.files and all(item.status == 5 for item in queue.files):
        result.notes.append("pytest collected no tests")


def oracle_single(result: Result, env: dict[str, str], log: str, xml: str) -> None:
    """One pytest process for tests/oracle (one stage at a time, or PYTEST_ARGS naming what to run)."""
    # hack.pytest_progress: one line per test file as it finishes (python -m puts the checkout on sys.path).
    args = shlex.split(os.environ.get("PYTEST_ARGS", ""))
    cmd = [*pytest_cmd([] if names_paths(args) else ["tests/oracle"], xml), "-p", "hack.pytest_progress"]
    mark = "progress: "  # hack.pytest_progress writes its lines on lines of their own

    def file_done(line: str) -> Optional[str]:
        return line[len(mark) :].rstrip() if line.startswith(mark) else None

    status = run(cmd, log, env=oracle_env(env), show=file_done)
    failures: list[str] = []
    if os.path.exists(xml):
        result.add(junit_counts([xml], failures))
    for failure in failures[:20]:
        result.notes.append("FAILED " + failure.splitlines()[0])
    if status == 5:
        result.notes.append("pytest collected no tests")
    elif status != 0 and not failures:
        result.failed += 1
        result.notes.append(f"pytest exited {status}; see {rel(log)}")
    if status not in (0, 5):
        show_tail(result, log, 0, 60)


def lint_check(
    result: Result,
    name: str,
    cmd: list[str],
    log: str,
    env: dict[str, str],
    cwd: str = ROOT,
    rewrite: Optional[Callable[[str], str]] = None,
) -> None:
    """One lint tool is one check: passed when it exits 0; its complaints become the stage's notes."""
    with open(log, encoding="utf-8", errors="replace") as handle:
        start = len(handle.read())
    status = run(cmd, log, cwd=cwd, env=env, append=True)
    if status == 0:
        result.passed += 1
        result.notes.append(f"{name}: ok")
        return
    result.failed += 1
    result.notes.append(f"FAILED {name} (exit {status})")
    with open(log, encoding="utf-8", errors="replace") as handle:
        output = handle.read()[start:].split("\n", 1)[-1]
    lines = [rewrite(line) if rewrite else line for line in output.splitlines() if line.strip()]
    result.notes.extend("  " + line for line in lines[:60])
    if len(lines) > 60:
        result.notes.append(f"  ... ({len(lines) - 60} more lines in {rel(log)})")


def stage_lint(result: Result, env: dict[str, str]) -> None:
    log = os.path.join(REPORTS, "lint.log")
    open(log, "w").close()
    paths = [path for path in LINT_PATHS if has_files(path, "*.py")]
    if paths:
        lint_check(result, "ruff check " + " ".join(paths), ["ruff", "check", "--no-cache", "--output-format", "concise", *paths], log, env)
        lint_check(
            result, "ruff format --check " + " ".join(paths), ["ruff", "format", "--check", "--no-cache", "--output-format", "concise", *paths], log, env
        )
    else:
        result.notes.append("ruff: no Python files yet")
    if has_files("plugins", "*.py"):
        # mypy runs on the copy, where imports of ansible_collections.fleet.cache.* resolve.
        prefix = os.path.join("ansible_collections", "fleet", "cache") + os.sep
        cmd = ["mypy", "--config-file", os.path.join(ROOT, "pyproject.toml"), "--cache-dir", os.path.join(BUILD, "mypy_cache"), prefix + "plugins"]
        lint_check(result, "mypy plugins", cmd, log, env, cwd=BUILD, rewrite=lambda line: line.replace(prefix, ""))
    else:
        result.notes.append("mypy: no Python files in plugins/ yet")
    lint_paths = [path for path in ("roles", "playbooks") if has_files(path, "*.yml") or has_files(path, "*.yaml")]
    if lint_paths:
        lint_env = dict(env, ANSIBLE_COLLECTIONS_PATH=INSTALLED, ANSIBLE_HOME=os.path.join(BUILD, "ansible-home"))
        cmd = ["ansible-lint", "--offline", "--nocolor" if PLAIN else "--force-color", *lint_paths]
        lint_check(result, "ansible-lint " + " ".join(lint_paths), cmd, log, lint_env)
    else:
        result.notes.append("ansible-lint: no roles/ or playbooks/ yet")


# --- main ----------------------------------------------------------------------------------------


def run_stage(name: str, function: Callable[[Result, dict[str, str]], None], env: dict[str, str], side_by_side: bool) -> Result:
    """Run one stage in this thread; print its block (header, notes, counts) when it ends, or, one stage at a time,
    its header first as before."""
    _LANE.stage = name
    result = Result(name)
    with BUSY:
        if clashes(name):
            progress(f"waits for {', '.join(clashes(name))} to end (see APART in hack/run_tests.py)")
        while clashes(name):
            BUSY.wait(5.0)
        ACTIVE.add(name)
    if side_by_side:
        progress("started")
    else:
        say(f"== {name}")
    started = time.monotonic()
    cpu = getattr(_LANE, "cpu", 0.0)
    try:
        function(result, env)
    except Exception as exc:  # a broken stage must not stop the others
        result.failed += 1
        result.notes.append(f"FAILED: stage crashed: {type(exc).__name__}: {exc}")
    finally:
        with BUSY:
            ACTIVE.discard(name)
            BUSY.notify_all()
    result.seconds = time.monotonic() - started
    if result.cpu is None:
        result.cpu = getattr(_LANE, "cpu", 0.0) - cpu
    block = [f"== {name}"] if side_by_side else []
    block += ["   " + note.replace("\n", "\n     ") for note in result.notes]
    figures = f"{result.passed} passed, {result.failed} failed, {result.skipped} skipped"
    block.append(f"   -> {figures} ({result.seconds:.0f}s, {result.cpu:.0f}s CPU)")
    say("\n".join(block))
    return result


def jobs() -> int:
    """How many stages run at once: JOBS, else 2 where there are two cores or more."""
    value = os.environ.get("JOBS", "")
    if value.strip():
        try:
            return max(1, int(value))
        except ValueError:
            say(f"JOBS={value!r} is not a number; running one stage at a time")
            return 1
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def main() -> int:
    os.makedirs(REPORTS, exist_ok=True)
    wanted = os.environ.get("STAGES", " ".join(ORDER)).split()
    available = link_pythons()
    supported = supported_versions()
    env = base_env()
    for path in offline_get_pip(supported):
        say(f"wrote an offline pip bootstrap script for ansible-test: {path}")
    rest = [name for name in ORDER if name in wanted and name != "copy"]
    lanes = [[name for name in rest if name in ALONE], [name for name in rest if name not in ALONE]] if jobs() > 1 else [rest]
    lanes = [lane for lane in lanes if lane]
    side_by_side = len(lanes) > 1
    # Side by side, the oracle runs file by file, and the other lane takes files too once its stages are done.
    split = side_by_side and "oracle" in rest and not names_paths(shlex.split(os.environ.get("PYTEST_ARGS", "")))
    queue = OracleQueue(env) if split else None
    functions: dict[str, Callable[[Result, dict[str, str]], None]] = {
        "copy": stage_copy,
        "sanity": stage_sanity,
        "units": lambda result, env: stage_units(result, env, available, supported),
        "integration": stage_integration,
        "oracle": lambda result, env: stage_oracle(result, env, queue),
        "lint": stage_lint,
    }
    results: dict[str, Result] = {}
    if "copy" in wanted:
        results["copy"] = run_stage("copy", functions["copy"], env, side_by_side=False)
    elif not os.path.isdir(COPY):
        stage_copy(Result("copy"), env)
    if side_by_side:
        helping = "; then it takes oracle files too" if queue else ""
        say(f"== {' + '.join(', '.join(lane) for lane in lanes)}: side by side{helping} (JOBS=1 runs one stage at a time)")

    def run_lane(lane: list[str]) -> None:
        for name in lane:
            results[name] = run_stage(name, functions[name], env, side_by_side)
        if queue is not None and "oracle" not in lane:
            _LANE.stage = "oracle"
            queue.work()

    STARTED[0] = time.monotonic()
    threads = [threading.Thread(target=run_lane, args=(lane,), name="lane-" + "-".join(lane)) for lane in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(1.0)  # a timeout keeps Ctrl-C working
    ordered = [results[name] for name in ORDER if name in results]
    say("")
    say("== summary")
    for result in ordered:
        state = "FAILED" if result.failed else "ok"
        say(f"   {result.name:<12} {result.passed:>5} passed {result.failed:>4} failed {result.skipped:>4} skipped {result.seconds:>6.0f}s  {state}")
    passed = sum(result.passed for result in ordered)
    failed = sum(result.failed for result in ordered)
    skipped = sum(result.skipped for result in ordered)
    say(f"   logs: {rel(REPORTS)}/")
    say(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
