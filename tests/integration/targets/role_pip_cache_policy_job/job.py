# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The scheduled job's launcher as the pip_cache_policy role installs it, for runme.sh: the role's variables, and the
checks of what the launcher does when it starts, read back from disk.

    job.py vars WORK PYTHON       the role's variables (JSON) to install the job's launcher and engine into
                                  WORK/trusted/engine, the job written into WORK/cron and not activated
    job.py refusals WORK PYTHON   the launcher refuses to start on what others could change (each case its line)
    job.py pth WORK PYTHON        a .pth file others could write never runs in the job

PYTHON is the interpreter the role was given; the job is run as cron, systemd or launchd start it, with -I -S -B.
Each check prints "ok: WHAT" or "FAILED: WHAT: why"; the command exits 1 when any failed. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

NOW = time.time()
NOBODY = 65534


class CheckFailed(Exception):
    """One check's failure, with what was found."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def fake_cache(root: Path, *, seed: int, downloads: int, wheels: int, size: int) -> None:
    """A cache in pip's layout: ``downloads`` http-v2 entries (metadata + body) and ``wheels`` built wheels
    (wheel + origin.json), sizes around ``size`` bytes, one entry a day older than the previous."""
    rng = random.Random(seed)
    entries = [("download", number) for number in range(downloads)] + [("wheel", number) for number in range(wheels)]
    for kind, number in entries:
        digest = hashlib.sha224(f"{seed}-{kind}-{number}".encode()).hexdigest()
        if kind == "download":
            folder = root.joinpath("http-v2", *digest[:5])
            paths = {folder / f"{digest}.body": rng.randbytes(rng.randint(size // 2, size * 3 // 2)), folder / digest: b"cc=4," + rng.randbytes(40)}
            age = number * 2 + 1
        else:
            folder = root / "wheels" / digest[:2] / digest[2:4] / digest[4:6] / digest[6:]
            paths = {folder / f"proj{number}-1.{seed}-py3-none-any.whl": rng.randbytes(rng.randint(size // 2, size * 3 // 2))}
            paths[folder / "origin.json"] = b'{"url": "https://example.invalid/x"}'
            age = number * 2 + 2
        folder.mkdir(parents=True, exist_ok=True)
        for path, content in paths.items():
            path.write_bytes(content)
            stamp = NOW - age * 86400
            os.utime(path, (stamp, stamp))


def files_in(path: Path) -> int:
    return sum(len(filenames) for _directory, _dirnames, filenames in os.walk(path))


def tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under root with (size, uid, mode): what a refused job must leave exactly as it was."""
    found: dict[str, tuple[int, int, int]] = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(directory, name)
            info = os.lstat(full)
            found[os.path.relpath(full, root)] = (0 if os.path.isdir(full) else info.st_size, info.st_uid, info.st_mode)
    return found


def job(python: str | Path, launcher: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """The scheduled job's command line, as cron, systemd or launchd start it."""
    argv = [str(python), "-I", "-S", "-B", str(launcher), "prune", "--cache-dir", str(cache), "--max-size", "1B"]
    return subprocess.run(argv, capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}, stdout {proc.stdout!r}, stderr {proc.stderr!r}"


def role_vars(work: Path, python: str) -> dict[str, object]:
    (work / "cron").mkdir()
    (work / "trusted").mkdir(mode=0o755)
    return {
        "ansible_python_interpreter": python,
        "pip_cache_policy_users": "root",
        "pip_cache_policy_environment": {"HOME": str(work / "home"), "XDG_CACHE_HOME": ""},
        "pip_cache_policy_max_age": "3650d",
        "pip_cache_policy_schedule": True,
        "pip_cache_policy_schedule_backend": "cron",
        "pip_cache_policy_schedule_activate": False,
        "_pip_cache_policy_engine_dir": str(work / "trusted" / "engine"),
        "_pip_cache_policy_cron_dir": str(work / "cron"),
        "_pip_cache_policy_log": str(work / "prune.log"),
    }


class Refusals:
    """Each time it starts, the launcher checks the interpreter (link and target), itself and the engine's archive:
    anything a user could change, an archive that is not the one installed (edited or swapped, even by root), and an
    engine folder replaced by a link, and it refuses, names the path and why, exits 1 and touches no cache."""

    def __init__(self, work: Path, python: str) -> None:
        self.work = work
        self.python = os.path.realpath(python)
        self.launcher = work / "trusted" / "engine" / "fleet-cache"
        self.folder = self.launcher.parent
        self.archive = self.folder / "fleet_cache_engine.zip"
        self.installed = self.archive.read_bytes()
        self.digest = hashlib.sha256(self.installed).hexdigest()
        self.cache = work / "refusals-cache"
        self.fill()
        self.before = tree(self.cache)

    def fill(self) -> None:
        fake_cache(self.cache, seed=61, downloads=4, wheels=2, size=1000)

    def start(self, python: str | Path, launcher: Path | None = None) -> subprocess.CompletedProcess[str]:
        """The job on the full cache (made again if a check before this one let a job prune it)."""
        if tree(self.cache) != self.before:
            shutil.rmtree(self.cache)
            self.fill()
        return job(python, self.launcher if launcher is None else launcher, self.cache)

    def untouched(self) -> None:
        check(tree(self.cache) == self.before, f"the job changed the cache {self.cache}")

    def refused(self, proc: subprocess.CompletedProcess[str], *lines: str) -> None:
        check(proc.returncode == 1 and proc.stdout == "", f"expected exit 1 and no output; {output(proc)}")
        expected = [f"fleet-cache: refusing to run: {line}" for line in lines]
        check(proc.stderr.splitlines() == expected, f"expected the lines {expected}; {output(proc)}")
        self.untouched()

    def installed_by_the_role(self) -> None:
        for path in (self.launcher, self.archive):
            info = path.lstat()
            check(path.is_file() and not path.is_symlink(), f"{path} is not a file")
            check((info.st_uid, info.st_mode & 0o7777) == (0, 0o644), f"{path}: uid {info.st_uid}, mode {info.st_mode & 0o7777:o}: expected root's, 0644")
        cron = (self.work / "cron" / "fleet-cache-prune").read_text()
        check(f" -I -S -B {self.launcher} prune " in cron, f"the cron file does not start the launcher with -I -S -B: {cron!r}")

    def archive_writable_by_its_group(self) -> None:
        self.archive.chmod(0o664)
        try:
            self.refused(self.start(self.python), f"the engine {self.archive} is writable by its group")
        finally:
            self.archive.chmod(0o644)

    def archive_edited(self) -> None:
        try:
            with self.archive.open("ab") as handle:
                handle.write(b"# edited on the host\n")
            edited = hashlib.sha256(self.archive.read_bytes()).hexdigest()
            self.refused(
                self.start(self.python),
                f"the engine {self.archive} is not the engine the role installed (SHA-256 {edited}, the launcher expects {self.digest})",
            )
        finally:
            self.restore_archive()

    def archive_swapped(self) -> None:
        """Swapped for another engine (root's, 0644, a valid package whose _cli would prune with no check at all)."""
        try:
            swapped = self.folder / "swapped.zip"
            with zipfile.ZipFile(swapped, "w") as other:
                other.writestr("fleet_cache_engine/__init__.py", "")
                other.writestr("fleet_cache_engine/_cli.py", "def main(argv=None):\n    raise SystemExit('the swapped engine ran')\n")
            swapped.chmod(0o644)
            swapped.replace(self.archive)
            proc = self.start(self.python)
            check(proc.returncode == 1 and "swapped engine ran" not in proc.stderr, f"the swapped engine ran; {output(proc)}")
            start = f"fleet-cache: refusing to run: the engine {self.archive} is not the engine the role installed (SHA-256 "
            check(proc.stderr.startswith(start), f"expected a line starting {start!r}; {output(proc)}")
            self.untouched()
        finally:
            self.restore_archive()

    def restore_archive(self) -> None:
        self.archive.write_bytes(self.installed)
        self.archive.chmod(0o644)

    def engine_folder_a_link(self) -> None:
        """The engine's folder replaced by a link to a copy of itself that root owns: the job runs what the role
        installed only."""
        real = self.folder.with_name(self.folder.name + "-real")
        self.folder.rename(real)
        try:
            self.folder.symlink_to(real)
            self.refused(
                self.start(self.python),
                f"the engine {self.archive}: {self.folder} is a symbolic link (the role installs the engine's folder and archive themselves)",
            )
        finally:
            if self.folder.is_symlink():
                self.folder.unlink()
            real.rename(self.folder)

    def interpreter_in_a_folder_others_can_write(self) -> None:
        shared = self.shared_python().parent
        self.refused(self.start(shared / "python3"), f"the interpreter {shared / 'python3'}: {shared} is writable by its group and others")

    def interpreter_a_link_into_a_folder_others_can_write(self) -> None:
        shared = self.shared_python().parent
        (self.interpreters() / "bin").mkdir()
        linked = self.interpreters() / "bin" / "python3"
        linked.symlink_to(shared / "python3")
        self.refused(self.start(linked), f"the interpreter {linked}: {shared} is writable by its group and others")

    def interpreter_a_link_another_account_owns(self) -> None:
        owned = self.interpreters() / "owned-by-nobody"
        owned.symlink_to(self.python)
        os.lchown(owned, NOBODY, NOBODY)
        proc = self.start(owned)
        start = f"fleet-cache: refusing to run: the interpreter {owned} is owned by "
        check(proc.returncode == 1 and proc.stderr.startswith(start), f"expected exit 1 and a line starting {start!r}; {output(proc)}")
        check(f"(uid {NOBODY}), not by root" in proc.stderr, f"the account (uid {NOBODY}) is not named; {output(proc)}")
        self.untouched()

    def interpreters(self) -> Path:
        """A folder only root can change, for the interpreter links."""
        folder = self.work / "trusted" / "interpreters"
        folder.mkdir(mode=0o755, exist_ok=True)
        return folder

    def shared_python(self) -> Path:
        """A link to the interpreter in a folder any user can write (made once)."""
        shared = self.interpreters() / "shared"
        if not shared.is_dir():
            shared.mkdir()
            shared.chmod(0o777)
            (shared / "python3").symlink_to(self.python)
        return shared / "python3"

    def copy_in_a_folder_another_account_owns(self) -> None:
        holder = self.work / "theirs"
        holder.mkdir()
        copied = holder / "copied"
        shutil.copytree(self.folder, copied)
        os.chown(holder, NOBODY, NOBODY)
        proc = self.start(self.python, copied / "fleet-cache")
        named = [line.split(": ")[2] if line.count(": ") >= 2 else line for line in proc.stderr.splitlines()]
        expected = [f"the launcher {copied / 'fleet-cache'}", f"the engine {copied / 'fleet_cache_engine.zip'}"]
        check(proc.returncode == 1 and named == expected, f"expected exit 1 naming {expected}; {output(proc)}")
        self.untouched()

    def runs_when_nothing_is_untrusted(self) -> None:
        ran = self.start(self.python)
        check(ran.returncode == 0 and ran.stdout.startswith("fleet-cache prune: 1 cache(s)"), f"the job did not run; {output(ran)}")
        check(files_in(self.cache) == 0, f"with nothing untrusted it runs, and prunes: {files_in(self.cache)} files left in {self.cache}")

    def all(self) -> Iterator[Callable[[], None]]:
        yield self.installed_by_the_role
        yield self.archive_writable_by_its_group
        yield self.archive_edited
        yield self.archive_swapped
        yield self.engine_folder_a_link
        yield self.interpreter_in_a_folder_others_can_write
        yield self.interpreter_a_link_into_a_folder_others_can_write
        yield self.interpreter_a_link_another_account_owns
        yield self.copy_in_a_folder_another_account_owns
        yield self.runs_when_nothing_is_untrusted  # last: it empties the cache


def pth_never_runs(work: Path, python: str) -> None:
    """A venv whose site-packages any user can write: a .pth file there runs with -I alone, never with the job's
    -I -S (and the job, its interpreter and engine being root's, runs)."""
    launcher = work / "trusted" / "engine" / "fleet-cache"
    marker = work / "pth-ran"
    cache = work / "pth-cache"
    fake_cache(cache, seed=62, downloads=2, wheels=1, size=1000)
    venv = work / "trusted" / "venv"
    subprocess.run([os.path.realpath(python), "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    site.chmod(0o777)
    (site / "zz-anyone.pth").write_text(f"import os; open({str(marker)!r}, 'w').close()\n")
    subprocess.run([str(venv / "bin" / "python"), "-I", "-c", "pass"], check=True)
    check(marker.exists(), f"the .pth file in {site} did not run with -I alone: this check could not fail")
    marker.unlink()
    proc = job(venv / "bin" / "python", launcher, cache)
    check(proc.returncode == 0, f"the job refused the venv's interpreter; {output(proc)}")
    check(not marker.exists(), f"the job ran the .pth file {site / 'zz-anyone.pth'}")
    check(files_in(cache) == 0, f"the job did not prune: {files_in(cache)} files left in {cache}")


def run_checks(checks: list[Callable[[], None]]) -> int:
    failed = 0
    for one in checks:
        what = one.__name__.replace("_", " ")
        try:
            one()
        except CheckFailed as error:
            failed += 1
            print(f"FAILED: {what}: {error}")
        else:
            print(f"ok: {what}")
    print(f"job.py: {len(checks) - failed} of {len(checks)} checks passed")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        raise SystemExit(__doc__)
    command, work, python = argv[1], Path(argv[2]), argv[3]
    if command == "vars":
        print(json.dumps(role_vars(work, python)))
        return 0
    if command == "refusals":
        return run_checks(list(Refusals(work, python).all()))
    if command == "pth":

        def a_pth_file_others_could_write_never_runs_in_the_job() -> None:
            pth_never_runs(work, python)

        return run_checks([a_pth_file_others_could_write_never_runs_in_the_job])
    raise SystemExit(f"job.py: unknown command {command!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
