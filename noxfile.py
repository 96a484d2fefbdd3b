# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's test sessions (nox). `nox -l` lists them; `make test` runs `nox -s test`, which runs all of them.

From antsibull-nox (configured in antsibull-nox.toml, each in a nox virtualenv of its own, tools pinned in
requirements/): docs-check, build-import-check, ansible-lint, molecule (the role's scenario in extensions/molecule/).

The collection's own sessions run with the tools of .venv (pinned in requirements/, installed by hack/setup.sh --test,
which each of them runs first unless `nox -s test` did):

  lint                       ruff check, ruff format --check, mypy on plugins/ (as Python 3.9 code)
  ansible-test-sanity        ansible-test sanity --venv, every test
  ansible-test-units-X.Y     ansible-test units --venv --python X.Y (tag "units": nox -t units); the controller's
                             tests (action, lookup, plugin_utils) on the newest Python here only
  ansible-test-integration   ansible-test integration --local on tests/integration/targets
  oracle                     pytest tests/oracle: the differential tests against real pip (and uv), a process per
                             file, ORACLE_JOBS (2) at a time, longest first; `nox -s oracle -- ARGS` runs pytest ARGS
  bench                      bench/run.py (make bench); not part of `test`
  test                       every session above but bench and build-import-check, in two lanes side by side (the
                             oracle in one, the rest in the other; the oracle's second worker starts when the other
                             lane is done), then the counts: the last line is "N passed, N failed, N skipped"

ansible-test runs in .build/ansible_collections/fleet/cache (a copy of the files git sees: it needs that path) with
HOME set to the folder FLEET_CACHE_TEST_HOME names (default: $XDG_CACHE_HOME/fleet.cache/ansible-test-home), so that
its virtualenvs, keys and downloads stay out of ~/.ansible/test. pip's user configuration is still read from the real
home (XDG_CONFIG_HOME). Every session writes its results as JUnit XML under .build/reports/junit/SESSION/; `test`
counts those (a session without JUnit counts as one test) and writes each lane's output to .build/reports/LANE.log.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Optional

import antsibull_nox
import nox

ROOT = Path(__file__).resolve().parent
HACK = ROOT / "hack"
sys.path.insert(0, str(HACK))

import pythons  # noqa: E402  (hack/pythons.py: real interpreters, not pyenv's shims)
import tree  # noqa: E402  (hack/tree.py: the files git sees)

BUILD = ROOT / ".build"
COPY = BUILD / "ansible_collections" / "fleet" / "cache"
REPORTS = BUILD / "reports"
JUNIT = REPORTS / "junit"
PYTHON_LINKS = BUILD / "pythons"
INSTALLED = BUILD / "collections"
VENV_BIN = ROOT / ".venv" / "bin"
ORACLE = ROOT / "tests" / "oracle"
SETUP_DONE = "FLEET_CACHE_SETUP_DONE"  # set by `test` for its lanes: hack/setup.sh --test ran once for all of them
LANE_FREE = "FLEET_CACHE_LANE_FREE"  # set by `test` for the oracle: a file that exists once the other lane is done

# The Pythons ansible-core 2.21's ansible-test supports as targets; one units session each (skipped where absent).
UNIT_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
# The pip version ansible-test 2.21 bootstraps into its virtualenvs from get-pip.py (downloaded from
# ci-files.testing.ansible.com, which is not reachable from every test machine): hack/get_pip.py stands in for it.
ANSIBLE_TEST_PIP = "25.2"
LINT_PATHS = ("plugins", "tests", "hack", "bench", "extensions", "noxfile.py")

# Seconds each oracle file took in `nox -s test` from a fresh clone on a 2-core machine (2026-12-07, beside the other
# lane): the longest start first. Only the order depends on this; a file not listed counts as ORACLE_UNKNOWN.
ORACLE_SECONDS = {
    "test_hardening.py": 265,
    "test_role_policy.py": 177,
    "test_attacks.py": 131,
    "test_pip_config.py": 84,
    "test_docs.py": 60,
    "test_users_and_prune.py": 45,
    "test_info_parity.py": 39,
    "test_role_fleet.py": 35,
    "test_oracle.py": 33,
    "test_remove_parity.py": 31,
    "test_resolve_parity.py": 30,
    "test_bench_smoke.py": 25,
    "test_uv_cache_module.py": 70,
    "test_uv_resolve_parity.py": 30,
    "test_uv_lock_parity.py": 20,
    "test_uv_info_parity.py": 20,
    "test_inputs.py": 19,
    "test_uv_remove_parity.py": 17,
    "test_uv_oracle.py": 13,
    "test_uv_scan_parity.py": 12,
    "test_windows_transport.py": 10,
    "test_execution_environment.py": 3,
}
ORACLE_UNKNOWN = 30

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["test"]

antsibull_nox.load_antsibull_nox_toml()

PLAIN = bool(os.environ.get("CI")) or not sys.stdout.isatty()


# --- shared ----------------------------------------------------------------------------------------


def _setup(session: nox.Session) -> None:
    """.venv and the installed collection (hack/setup.sh --test, quick when nothing changed), and the interpreters."""
    if os.environ.get(SETUP_DONE) != "1":
        session.run("bash", str(HACK / "setup.sh"), "--test", external=True)
    _link_pythons()


@functools.cache
def _link_pythons() -> dict[str, str]:
    """.build/pythons: pythonX.Y -> each real interpreter found here (pyenv's shims exit 127 unless activated). Once per
    nox process: finding them runs every candidate interpreter, and a lane's sessions all ask."""
    found = {f"{major}.{minor}": path for (major, minor), path in pythons.interpreters().items()}
    PYTHON_LINKS.mkdir(parents=True, exist_ok=True)
    for version, path in found.items():
        link = PYTHON_LINKS / f"python{version}"
        if not link.is_symlink() or os.readlink(link) != path:
            tmp = link.with_name(link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(path)
            tmp.replace(link)
    return found


def _env(**extra: str) -> dict[str, str]:
    """What every command of these sessions sees: .build/pythons and .venv/bin first on PATH, no collection path of
    the user's, the checkout's paths for the oracle tests, no colour in CI."""
    env = {
        "PATH": os.pathsep.join([str(PYTHON_LINKS), str(VENV_BIN), os.environ.get("PATH", "")]),
        "PYTHONPATH": None,
        "ANSIBLE_COLLECTIONS_PATH": None,
        "ANSIBLE_COLLECTIONS_PATHS": None,
        "VIRTUAL_ENV": None,
        "HYPOTHESIS_STORAGE_DIRECTORY": str(BUILD / "hypothesis"),
        "FLEET_CACHE_ROOT": str(ROOT),
        "FLEET_CACHE_PYTHON": str(VENV_BIN / "python"),
        "FLEET_CACHE_COLLECTIONS_PATH": str(INSTALLED),
        "FLEET_CACHE_REPORTS": str(REPORTS),
    }
    if PLAIN:
        env.update(NO_COLOR="1", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")
    env.update(extra)
    return env  # type: ignore[return-value]  (None unsets a variable for nox)


def _junit_dir(session: nox.Session) -> Path:
    """This session's JUnit folder, emptied."""
    path = JUNIT / session.name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _write_junit(path: Path, suite: str, cases: list[tuple[str, Optional[str]]]) -> None:
    """A JUnit file of checks: (name, None) passed, (name, message) failed."""
    root = ET.Element("testsuite", name=suite, tests=str(len(cases)), failures=str(sum(1 for case in cases if case[1])))
    for name, bad in cases:
        case = ET.SubElement(root, "testcase", classname=suite, name=name)
        if bad:
            ET.SubElement(case, "failure", message=bad.splitlines()[0] if bad.strip() else "failed").text = bad
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _check(session: nox.Session, cmd: list[str], cwd: Path = ROOT) -> Optional[str]:
    """Run one check; None when it passes, else its output's end (also on the console)."""
    session.log(f"$ cd {os.path.relpath(cwd, ROOT)} && {shlex.join(cmd)}")
    proc = subprocess.run(cmd, cwd=cwd, env=_clean(_env()), capture_output=True, text=True, check=False)
    output = (proc.stdout + proc.stderr).strip()
    if output:
        print(output, flush=True)
    if proc.returncode == 0:
        return None
    return f"{shlex.join(cmd)} exited {proc.returncode}\n" + "\n".join(output.splitlines()[-60:])


def _clean(env: dict[str, Optional[str]]) -> dict[str, str]:
    """os.environ with env applied (None removes a variable): for subprocess, which has no such convention."""
    merged = dict(os.environ)
    for key, value in env.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


# --- lint ------------------------------------------------------------------------------------------


@nox.session(python=False, tags=["lint"])
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check and mypy (plugins/ as Python 3.9 code); make fmt fixes what ruff can."""
    _setup(session)
    tree.sync(str(COPY))
    paths = [path for path in LINT_PATHS if (ROOT / path).exists()]
    cases = [
        ("ruff check", _check(session, [str(VENV_BIN / "ruff"), "check", "--no-fix", *paths])),
        ("ruff format", _check(session, [str(VENV_BIN / "ruff"), "format", "--check", *paths])),
        # mypy on the copy: ansible_collections.fleet.cache.* imports resolve there.
        (
            "mypy",
            _check(session, [str(VENV_BIN / "mypy"), "--config-file", str(ROOT / "pyproject.toml"), "ansible_collections/fleet/cache/plugins"], cwd=BUILD),
        ),
    ]
    _write_junit(_junit_dir(session) / "lint.xml", "lint", cases)
    failed = [name for name, bad in cases if bad]
    if failed:
        session.error("failed: " + ", ".join(failed))


# --- ansible-test ----------------------------------------------------------------------------------


def _ansible_test_home() -> Path:
    """HOME for ansible-test, with hack/get_pip.py where ansible-test looks for its pip bootstrap script."""
    configured = os.environ.get("FLEET_CACHE_TEST_HOME", "")
    if configured:
        home = Path(configured)
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        home = Path(cache) / "fleet.cache" / "ansible-test-home"
    script = home / ".ansible" / "test" / "cache" / f"get_pip_{ANSIBLE_TEST_PIP.replace('.', '_')}.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    source = (HACK / "get_pip.py").read_bytes()
    if not script.exists() or script.read_bytes() != source:
        script.write_bytes(source)
    return home


def _ansible_test(session: nox.Session, args: list[str], junit_glob: str) -> None:
    """ansible-test ARGS in the copy (its tests/output emptied first); its JUnit files go to the session's folder, also
    when it fails."""
    _setup(session)
    tree.sync(str(COPY))
    output = COPY / "tests" / "output"
    for kind in ("junit", "data", "bot"):
        shutil.rmtree(output / kind, ignore_errors=True)
    home = _ansible_test_home()
    real_config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    target = _junit_dir(session)
    color = ["--color", "no" if PLAIN else "yes"]
    # ansible-test --venv keeps a virtualenv per Python in tests/output/.tmp/delegation (reused while its marker file
    # is there): kept in its home, a fresh checkout does not build them again (half of a units session's time). One
    # ansible-test at a time uses them (the lock), whichever checkout it runs from.
    delegation = home / "delegation" / f"ansible-core-{_ansible_core_version()}"
    delegation.mkdir(parents=True, exist_ok=True)
    link = output / ".tmp" / "delegation"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not (link.is_symlink() and os.readlink(link) == str(delegation)):
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        link.symlink_to(delegation)
    lock = open(home / "delegation.lock", "w")  # noqa: SIM115  (held for the whole run, closed below)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with session.chdir(COPY):
            session.run(
                str(VENV_BIN / "ansible-test"),
                *args,
                *color,
                *session.posargs,
                env=_env(HOME=str(home), XDG_CONFIG_HOME=real_config),
                external=True,
            )
    finally:
        lock.close()
        for path in sorted((output / "junit").glob(junit_glob)):
            shutil.copy2(path, target / path.name)


@functools.cache
def _ansible_core_version() -> str:
    """The ansible-core version .venv holds (its ansible-test's virtualenvs are kept per version); once per process."""
    proc = subprocess.run([str(VENV_BIN / "python"), "-c", "import ansible.release as r; print(r.__version__)"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "unknown"


@nox.session(name="ansible-test-sanity", python=False, tags=["ansible-test", "sanity"])
def ansible_test_sanity(session: nox.Session) -> None:
    """ansible-test sanity --venv: every sanity test (a test whose program is missing here is skipped and says so)."""
    _ansible_test(session, ["sanity", "--venv", "--junit"], "ansible-test-sanity-*.xml")


def _newest_python(found: dict[str, str]) -> str:
    return max((v for v in UNIT_PYTHONS if v in found), key=lambda v: tuple(int(part) for part in v.split(".")), default="")


def _units_session(version: str) -> None:
    def units(session: nox.Session) -> None:
        found = _link_pythons()
        if version not in found:
            session.skip(f"no Python {version} interpreter here (on PATH or in pyenv's versions folder)")
        args = ["units", "--venv", "--python", version]
        if version != _newest_python(found) and not session.posargs:
            # The controller's tests (action, lookup and plugin_utils) run once, on the newest Python; the sanity
            # session compiles and imports them on every one. The trailing "/" names a folder.
            args += [f"tests/unit/plugins/{name}/" for name in ("module_utils", "modules") if (ROOT / "tests/unit/plugins" / name).is_dir()]
        _ansible_test(session, args, f"python{version}-*-units.xml")

    units.__doc__ = f"ansible-test units --venv --python {version} (the module and module_utils tests; all of them on the newest Python)"
    nox.session(name=f"ansible-test-units-{version}", python=False, tags=["ansible-test", "units"])(units)


for _version in UNIT_PYTHONS:
    _units_session(_version)


@nox.session(name="ansible-test-integration", python=False, tags=["ansible-test", "integration"])
def ansible_test_integration(session: nox.Session) -> None:
    """ansible-test integration --local: the targets run against this host with the newest Python here; as root, those
    marked destructive and needs/root too (the role's target: it acts for users as root)."""
    args = ["integration", "--local", "--continue-on-error", "--python", _newest_python(_link_pythons()) or "3.13"]
    if os.geteuid() == 0:
        args.append("--allow-destructive")
    _ansible_test(session, args, "*.xml")


# --- the oracle ------------------------------------------------------------------------------------


def _oracle_files() -> list[Path]:
    names = sorted(path.name for path in ORACLE.glob("test_*.py"))
    names.sort(key=lambda name: -ORACLE_SECONDS.get(name, ORACLE_UNKNOWN))
    return [ORACLE / name for name in names]


def _junit_counts(paths: list[Path]) -> tuple[int, int, int, list[str]]:
    """(passed, failed, skipped, first lines of the failures) over JUnit files; errors count as failed."""
    passed = failed = skipped = 0
    failures: list[str] = []
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as exc:
            failed += 1
            failures.append(f"{os.path.relpath(path, ROOT)}: unreadable JUnit XML ({exc})")
            continue
        for case in root.iter("testcase"):
            bad = case.find("failure")
            if bad is None:
                bad = case.find("error")
            if bad is not None:
                failed += 1
                name = ".".join(part for part in (case.get("classname"), case.get("name")) if part)
                message = (bad.get("message") or "").strip()
                failures.append(f"{name}: {message.splitlines()[0] if message else ''}")
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped, failures


@nox.session(python=False, tags=["oracle"])
def oracle(session: nox.Session) -> None:
    """pytest tests/oracle: the differential tests against the real tools; a pytest process per file, ORACLE_JOBS (2)
    at a time, longest first. `nox -s oracle -- ARGS` runs one pytest with ARGS instead."""
    _setup(session)
    target = _junit_dir(session)
    logs = REPORTS / "oracle"
    logs.mkdir(parents=True, exist_ok=True)
    env = _clean(_env(ANSIBLE_COLLECTIONS_PATH=str(INSTALLED)))
    base = [str(VENV_BIN / "python"), "-m", "pytest", "-o", "junit_family=xunit2", "-p", "no:cacheprovider", *(["--color=no"] if PLAIN else [])]
    if session.posargs:
        session.run(*base, f"--junitxml={target / 'oracle.xml'}", *session.posargs, env=env, external=True)
        return
    files = _oracle_files()
    pending = list(files)
    lock = threading.Lock()
    outcome: dict[str, int] = {}
    done = [0]

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                path = pending.pop(0)
            xml = target / f"{path.stem}.xml"
            started = time.monotonic()
            with open(logs / f"{path.stem}.log", "w", encoding="utf-8", errors="replace") as out:
                cmd = [*base, str(path.relative_to(ROOT)), f"--junitxml={xml}"]
                out.write(f"$ {shlex.join(cmd)}\n")
                out.flush()
                status = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False).returncode
            passed, failed, skipped, failures = _junit_counts([xml]) if xml.exists() else (0, 0, 0, [])
            with lock:
                outcome[path.name] = status
                done[0] += 1
                seconds = time.monotonic() - started
                line = f"[{done[0]}/{len(files)}] {path.relative_to(ROOT)}: {passed} passed, {failed} failed, {skipped} skipped ({seconds:.0f}s)"
                for failure in failures[:10]:
                    line += f"\n    FAILED {failure}"
                if status not in (0, 1, 5):
                    line += f"\n    pytest exited {status}; see {os.path.relpath(logs / (path.stem + '.log'), ROOT)}"
                print(f"oracle: {line}", flush=True)

    jobs = max(1, int(os.environ.get("ORACLE_JOBS", "2") or 2))
    # Under `nox -s test` the other lane keeps one core busy until its sessions are done: the workers after the first
    # start when it says so (the file LANE_FREE names), else three busy processes share two cores for most of the run.
    free = os.environ.get(LANE_FREE, "")

    def later_worker() -> None:
        while free and not os.path.exists(free):
            with lock:
                if not pending:
                    return
            time.sleep(1.0)
        worker()

    threads = [threading.Thread(target=worker if number == 0 else later_worker, name=f"oracle-{number}") for number in range(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bad = sorted(name for name, status in outcome.items() if status not in (0, 5))
    if bad:
        session.error("failed: " + ", ".join(bad) + f" (logs in {os.path.relpath(logs, ROOT)}/)")


# --- the benchmark -----------------------------------------------------------------------------------


@nox.session(python=False, default=False)
def bench(session: nox.Session) -> None:
    """bench/run.py (make bench): the engine and the modules against pip, du, rm and ansible -m ping; `-- --help`."""
    _setup(session)
    session.run(str(VENV_BIN / "python"), str(ROOT / "bench" / "run.py"), *session.posargs, env=_env(), external=True)


# --- everything ------------------------------------------------------------------------------------

# build-import-check is not in `test`: tests/oracle/test_docs.py runs galaxy-importer on the built collection more
# strictly (no warning allowed; every module's documentation and the role found).
# Units in `test`: the oldest target Python, the controller's and the newest; 3.10 and 3.11 have sessions of their own
# (nox -t units runs them all): sanity's compile test checks every version's syntax, and the suite stays in 15 minutes.
TEST_UNIT_PYTHONS = ("3.9", "3.12", "3.13", "3.14")
LANES = (
    ("oracle",),
    (
        "ansible-test-sanity",
        *(f"ansible-test-units-{version}" for version in TEST_UNIT_PYTHONS),
        "ansible-test-integration",
        "lint",
        "ansible-lint",
        "docs-check",
        "molecule",
    ),
)


@nox.session(python=False)
def test(session: nox.Session) -> None:
    """Every session but bench, in two lanes side by side (the oracle, and the rest one after the other); the last
    line is "N passed, N failed, N skipped". SESSIONS="a b" runs only those; V=1 shows every session's output."""
    _setup(session)
    (REPORTS / "counts.txt").unlink(missing_ok=True)
    wanted = os.environ.get("SESSIONS", "").split()
    defined = set(nox.registry.get())
    lanes = [[name for name in lane if name in defined and (not wanted or name in wanted)] for lane in LANES]
    lanes = [lane for lane in lanes if lane]
    shutil.rmtree(JUNIT, ignore_errors=True)
    JUNIT.mkdir(parents=True)
    started = time.monotonic()
    verbose = os.environ.get("V", "") not in ("", "0")
    console = threading.Lock()
    reports: list[Path] = []

    def say(text: str) -> None:
        elapsed = int(time.monotonic() - started)
        with console:
            print(f"   {elapsed // 60:02d}:{elapsed % 60:02d} {text}", flush=True)

    def run_lane(number: int, names: list[str]) -> None:
        report = REPORTS / f"nox-lane{number}.json"
        report.unlink(missing_ok=True)
        reports.append(report)
        cmd = [sys.executable, "-m", "nox", "--no-color", "--report", str(report), "-s", *names]
        env = dict(os.environ, **{SETUP_DONE: "1", LANE_FREE: str(free)}, PYTHONUNBUFFERED="1")
        if "oracle" not in names:
            env.setdefault("ANSIBLE_HOME", str(BUILD / "ansible-home"))  # molecule's and ansible-lint's state: not in ~/.ansible
        with open(REPORTS / f"lane{number}.log", "w", encoding="utf-8", errors="replace") as log:
            log.write(f"$ {shlex.join(cmd)}\n")
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                log.write(line + "\n")
                log.flush()
                shown = line.startswith(("nox > Running session", "nox > Session ", "oracle: ", "    FAILED", "    pytest exited"))
                if verbose or shown:
                    say(line.replace("nox > ", "", 1))
            proc.wait()
        if "oracle" not in names:
            free.touch()  # the oracle's second worker starts now

    free = REPORTS / "lane-free"
    free.unlink(missing_ok=True)
    if all("oracle" in lane for lane in lanes):
        free.touch()  # nothing else runs: every oracle worker starts at once
    session.log(f"lanes: {' | '.join(', '.join(lane) for lane in lanes)} (logs: {os.path.relpath(REPORTS, ROOT)}/lane*.log)")
    threads = [threading.Thread(target=run_lane, args=(number, lane)) for number, lane in enumerate(lanes, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(1.0)  # a timeout keeps Ctrl-C working
    totals = _count(reports)
    closing = f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped"
    (REPORTS / "counts.txt").write_text(closing + "\n")  # hack/run-tests.sh prints it last, after nox's own line
    print(closing, flush=True)
    if totals[1]:
        session.error(f"{totals[1]} failed")


def _count(reports: list[Path]) -> tuple[int, int, int]:
    """The summary: each session's JUnit counts (a session without JUnit counts as one test: its own result; a
    session that failed with no failed test in its JUnit adds one failure)."""
    rows: list[tuple[str, int, int, int, float, str]] = []
    for report in reports:
        try:
            data = json.loads(report.read_text())
        except (OSError, ValueError) as exc:
            rows.append((report.name, 0, 1, 0, 0.0, f"no nox report ({exc})"))
            continue
        for item in data.get("sessions", []):
            name, result = item["name"], item.get("result", "")
            files = sorted((JUNIT / name).glob("*.xml")) if (JUNIT / name).is_dir() else []
            if files:
                passed, failed, skipped = _junit_counts(files)[:3]
                if result == "failed" and not failed:
                    failed += 1
            else:
                passed, failed, skipped = int(result == "success"), int(result not in ("success", "skipped")), int(result == "skipped")
            note = item.get("reason") or "" if result != "success" else ""
            rows.append(
                (name, passed, failed, skipped, float(item.get("duration") or 0.0), f"{result.upper()} {note}".strip() if result != "success" else "ok")
            )
    print("\n== summary", flush=True)
    for name, passed, failed, skipped, seconds, state in rows:
        print(f"   {name:<28} {passed:>5} passed {failed:>4} failed {skipped:>4} skipped {seconds:>6.0f}s  {state}", flush=True)
    print(f"   logs: {os.path.relpath(REPORTS, ROOT)}/", flush=True)
    return sum(row[1] for row in rows), sum(row[2] for row in rows), sum(row[3] for row in rows)
