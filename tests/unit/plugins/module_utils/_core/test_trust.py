# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The scheduled job's trust check (trust): what root may run, and the role's comparison of the installed
engine with its own copy."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import trust

pytestmark = pytest.mark.skipif(os.name != "posix", reason="owners and mode bits are POSIX's")

ME = os.geteuid() if os.name == "posix" else 0
OWNERS = frozenset({0, ME})


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder whose ancestors count as root's with mode 0755, whatever the host's temporary folders are like."""
    folder = tmp_path.resolve() / "base"
    folder.mkdir()
    folder.chmod(0o755)
    ancestors = {str(parent) for parent in folder.parents}
    real_lstat = os.lstat

    def lstat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        info = real_lstat(path, *args, **kwargs)
        if os.fspath(path) in ancestors:
            fields = list(info)
            fields[stat.ST_MODE], fields[stat.ST_UID] = stat.S_IFDIR | 0o755, 0
            return os.stat_result(fields)
        return info

    monkeypatch.setattr(trust.os, "lstat", lstat)
    return folder


def _file(path: Path, mode: int = 0o755, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def _folder(path: Path, mode: int) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    return path


def _refused(path: Path | str, **kwargs: Any) -> trust.UntrustedPath:
    with pytest.raises(trust.UntrustedPath) as caught:
        trust.check_interpreter(str(path), owners=kwargs.pop("owners", OWNERS))
    return caught.value


def test_a_path_only_root_can_change_passes(base: Path) -> None:
    python = _file(base / "usr" / "bin" / "python3")
    assert trust.check_interpreter(str(python), owners=OWNERS) == str(python)
    assert trust.check_interpreter(str(base / "usr" / "bin" / ".." / "bin" / "python3"), owners=OWNERS) == str(python)


def test_a_venv_link_is_followed_and_both_sides_pass(base: Path) -> None:
    real = _file(base / "opt" / "python3.12" / "bin" / "python3.12")
    venv = base / "srv" / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("../../../opt/python3.12/bin/python3.12")
    _file(venv / "pyvenv.cfg", 0o644, "home = /opt/python3.12/bin\n")
    assert trust.check_interpreter(str(venv / "bin" / "python"), owners=OWNERS) == str(real)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [(0o775, "is writable by its group"), (0o757, "is writable by others"), (0o777, "is writable by its group and others")],
)
def test_a_folder_others_can_write_fails_naming_it(base: Path, mode: int, reason: str) -> None:
    shared = _folder(base / "shared", mode)
    python = _file(shared / "bin" / "python3")
    error = _refused(python)
    assert error.path == str(shared) and error.reason == reason
    assert str(error) == f"{shared} {reason}"


def test_an_interpreter_others_can_write_fails(base: Path) -> None:
    python = _file(base / "bin" / "python3", 0o775)
    error = _refused(python)
    assert error.path == str(python) and error.reason == "is writable by its group"


def test_an_interpreter_a_user_owns_fails(base: Path) -> None:
    python = _file(base / "home" / "bin" / "python3")
    if ME == 0:
        os.chown(python, 65534, 65534)
        owners = OWNERS
    else:
        owners = frozenset({0})  # this test's own files then count as another user's
    error = _refused(python, owners=owners)
    assert error.path == str(python)
    assert error.reason.startswith(f"is owned by {trust._account(python.stat().st_uid)}") and error.reason.endswith(", not by root")
    assert f"uid {python.stat().st_uid}" in error.reason


def test_a_link_whose_target_folder_a_user_can_write_fails(base: Path) -> None:
    target_folder = _folder(base / "home" / "alice" / "venv-real", 0o777)
    _file(target_folder / "python3")
    (base / "bin").mkdir()
    (base / "bin" / "python3").symlink_to(target_folder / "python3")
    error = _refused(base / "bin" / "python3")
    assert error.path == str(target_folder) and error.reason == "is writable by its group and others"


def test_a_writable_pyvenv_cfg_fails(base: Path) -> None:
    python = _file(base / "venv" / "bin" / "python")
    config = _file(base / "venv" / "pyvenv.cfg", 0o666, "home = /somewhere\n")
    error = _refused(python)
    assert error.path == str(config) and error.reason == "is writable by its group and others"


def test_a_sticky_folder_of_roots_passes_but_not_another_owners_entry_in_it(base: Path) -> None:
    # Sticky and writable by all (as /tmp): others may add entries, not rename or remove root's.
    sticky = _folder(base / "sticky", 0o1777)
    python = _file(sticky / "python3")
    assert trust.resolve_trusted(str(python), owners=frozenset({0})) == str(python)
    theirs = _folder(sticky / "theirs", 0o755)
    os.chown(theirs, 65534, 65534)
    error = _refused(_file(theirs / "python3"))
    assert error.path == str(theirs) and error.reason.startswith("is owned by ")


def test_a_writable_folder_that_is_not_sticky_fails(base: Path) -> None:
    shared = _folder(base / "shared", 0o777)
    error = _refused(_file(shared / "python3"))
    assert error.path == str(shared) and error.reason == "is writable by its group and others"


def test_what_is_not_an_absolute_existing_regular_file_fails(base: Path) -> None:
    assert _refused("python3").reason == "is not an absolute path"
    assert str(_refused("")) == "'' is not an absolute path"
    missing = base / "bin" / "python3"
    error = _refused(missing)
    assert error.path == str(base / "bin") and error.reason == "does not exist"
    folder = _folder(base / "bin", 0o755)
    assert _refused(folder).reason == "is not a regular file"
    (base / "loop-a").symlink_to(base / "loop-b")
    (base / "loop-b").symlink_to(base / "loop-a")
    assert _refused(base / "loop-a").reason == "leads through too many symbolic links"


ARCHIVE = b"PK\x05\x06" + bytes(18)  # an empty zip: the check reads bytes, it imports nothing


def _engine(base: Path) -> tuple[Path, Path]:
    """A launcher and the engine's archive beside it, as the role installs them."""
    folder = _folder(base / "lib" / "fleet-cache", 0o755)
    launcher = _file(folder / "fleet-cache", 0o644, "# the launcher\n")
    archive = folder / trust.ENGINE_ARCHIVE
    archive.write_bytes(ARCHIVE)
    archive.chmod(0o644)
    return launcher, archive


def test_the_job_runs_only_what_root_alone_can_change(base: Path) -> None:
    launcher, archive = _engine(base)
    python = _file(base / "usr" / "bin" / "python3")
    stdlib = _folder(base / "usr" / "lib" / "python3", 0o755)

    def problems() -> list[str]:
        return trust.job_problems(str(launcher), digest=hashlib.sha256(ARCHIVE).hexdigest(), python=str(python), stdlib=str(stdlib), owners=OWNERS)

    assert problems() == []
    archive.chmod(0o666)
    assert problems() == [f"the engine {archive} is writable by its group and others"]
    archive.chmod(0o664)
    assert problems() == [f"the engine {archive} is writable by its group"]
    archive.chmod(0o644)
    launcher.chmod(0o646)
    stdlib.chmod(0o775)
    python.chmod(0o757)
    assert problems() == [
        f"the interpreter {python} is writable by others",
        f"the standard library {stdlib} is writable by its group",
        f"the launcher {launcher} is writable by others",
    ]


def _job_engine_problems(launcher: Path, digest: str) -> list[str]:
    python = _file(launcher.parents[2] / "usr" / "bin" / "python3")
    stdlib = _folder(launcher.parents[2] / "usr" / "lib" / "python3", 0o755)
    return trust.job_problems(str(launcher), digest=digest, python=str(python), stdlib=str(stdlib), owners=OWNERS)


def test_the_job_refuses_an_archive_edited_or_swapped_after_install(base: Path) -> None:
    """The launcher records the archive's SHA-256 at install time: other content, even root's, is not the engine."""
    launcher, archive = _engine(base)
    digest = hashlib.sha256(ARCHIVE).hexdigest()
    assert _job_engine_problems(launcher, digest) == []
    with archive.open("ab") as handle:
        handle.write(b"# edited\n")
    edited = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert _job_engine_problems(launcher, digest) == [
        f"the engine {archive} is not the engine the role installed (SHA-256 {edited}, the launcher expects {digest})"
    ]
    swapped = archive.with_name("swapped.zip")
    swapped.write_bytes(b"PK\x05\x06" + bytes(17) + b"\x01")
    swapped.chmod(0o644)
    swapped.replace(archive)
    (problem,) = _job_engine_problems(launcher, digest)
    assert problem.startswith(f"the engine {archive} is not the engine the role installed (SHA-256 ") and problem.endswith(f"expects {digest})")
    archive.unlink()
    assert _job_engine_problems(launcher, digest) == [f"the engine {archive} does not exist"]


def test_the_job_refuses_an_archive_or_engine_folder_that_is_a_link(base: Path) -> None:
    """A link to the right bytes in a folder root owns is still refused: the role installs the folder and the archive
    themselves, so a link there is not the role's."""
    launcher, archive = _engine(base)
    digest = hashlib.sha256(ARCHIVE).hexdigest()
    elsewhere = _folder(base / "elsewhere", 0o755)
    archive.replace(elsewhere / trust.ENGINE_ARCHIVE)
    archive.symlink_to(elsewhere / trust.ENGINE_ARCHIVE)
    assert _job_engine_problems(launcher, digest) == [f"the engine {archive} is a symbolic link (the role installs the engine's folder and archive themselves)"]
    archive.unlink()
    (elsewhere / trust.ENGINE_ARCHIVE).replace(archive)
    folder = launcher.parent
    moved = folder.with_name("fleet-cache-real")
    folder.rename(moved)
    folder.symlink_to(moved)
    assert _job_engine_problems(launcher, digest) == [
        f"the engine {archive}: {folder} is a symbolic link (the role installs the engine's folder and archive themselves)"
    ]


def test_the_job_refuses_an_archive_in_a_folder_others_can_write(base: Path) -> None:
    launcher, archive = _engine(base)
    launcher.parent.chmod(0o775)
    problems = _job_engine_problems(launcher, hashlib.sha256(ARCHIVE).hexdigest())
    assert problems == [
        f"the launcher {launcher}: {launcher.parent} is writable by its group",
        f"the engine {archive}: {launcher.parent} is writable by its group",
    ]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_engine_plan_restores_what_differs_and_removes_the_rest(base: Path) -> None:
    engine = base / "lib" / "fleet-cache"
    expected = {
        "fleet-cache": _sha("# the launcher\n"),
        "fleet_cache_engine/__init__.py": _sha(""),
        "fleet_cache_engine/_cache_cli.py": _sha("# _cache_cli.py\n"),
        "fleet_cache_engine/_cache_new.py": _sha("# new\n"),
    }
    fresh = trust.engine_plan(str(engine), expected, owner=ME)
    assert fresh == {"remove": [], "folders": [".", "fleet_cache_engine"], "write": sorted(expected), "present": [], "problems": []}

    # engine_plan knows nothing of what the folder holds: nested folders of files (as the per-file engine was) too.
    folder = _folder(base / "lib" / "fleet-cache", 0o755)
    _file(folder / "fleet-cache", 0o644, "# the launcher\n")
    package = _folder(folder / trust.ENGINE_PACKAGE, 0o755)
    for name in ("__init__.py", "_cache_cli.py"):
        _file(package / name, 0o644, f"# {name}\n")
    (package / "__init__.py").write_text("")
    _file(package / "_cache_cli.py", 0o644, "# _cache_cli.py, edited on the host\n")
    _file(package / "_cache_extra.py", 0o644, "import os\n")
    _folder(package / "__pycache__", 0o755)
    (engine / "fleet-cache").chmod(0o664)
    (engine / "stray.py").symlink_to(package / "__init__.py")
    plan = trust.engine_plan(str(engine), expected, owner=ME)
    assert plan == {
        "remove": ["stray.py", "fleet_cache_engine/__pycache__", "fleet_cache_engine/_cache_extra.py"],
        "folders": [],
        "write": ["fleet-cache", "fleet_cache_engine/_cache_cli.py", "fleet_cache_engine/_cache_new.py"],
        "present": ["fleet_cache_engine/__init__.py"],
        "problems": [],
    }
    package.chmod(0o775)
    assert trust.engine_plan(str(engine), expected, owner=ME)["folders"] == ["fleet_cache_engine"]
    other_owner = trust.engine_plan(str(engine), expected, owner=ME + 1)
    assert other_owner["folders"] == [".", "fleet_cache_engine"] and other_owner["present"] == [], "another owner is a difference"


def test_engine_plan_removes_the_per_file_engine_of_earlier_releases(base: Path) -> None:
    """An upgrade: the engine's folder holds the copied package (and, from Windows-like installs, a MANIFEST); the
    plan removes them and writes the launcher and the archive; once done, nothing is left to do."""
    engine = _folder(base / "lib" / "fleet-cache", 0o755)
    _file(engine / "fleet-cache", 0o644, "# the old launcher\n")
    package = _folder(engine / trust.ENGINE_PACKAGE, 0o755)
    for name in ("__init__.py", "_cli.py", "MANIFEST", "_core/trust.py"):
        _file(package / name, 0o644, f"# {name}\n")
    expected = {"fleet-cache": _sha("# the launcher\n"), trust.ENGINE_ARCHIVE: hashlib.sha256(ARCHIVE).hexdigest()}
    plan = trust.engine_plan(str(engine), expected, owner=ME)
    assert plan == {"remove": [trust.ENGINE_PACKAGE], "folders": [], "write": ["fleet-cache", trust.ENGINE_ARCHIVE], "present": [], "problems": []}
    shutil.rmtree(package)
    _engine(base)
    assert trust.engine_plan(str(engine), expected, owner=ME) == {
        "remove": [],
        "folders": [],
        "write": [],
        "present": ["fleet-cache", trust.ENGINE_ARCHIVE],
        "problems": [],
    }


def test_engine_plan_refuses_an_engine_folder_that_is_a_link(base: Path) -> None:
    elsewhere = _folder(base / "elsewhere", 0o755)
    (base / "engine").symlink_to(elsewhere)
    plan = trust.engine_plan(str(base / "engine"), {"fleet-cache": _sha("")})
    assert plan["problems"] == [f"the engine's folder {base / 'engine'} is not a folder (a file or a symbolic link)"]
    assert plan["write"] == plan["remove"] == plan["folders"] == []


def test_role_check_names_the_variable_the_path_and_why(base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shared = _folder(base / "home" / "alice", 0o777)
    python = _file(shared / "venv" / "bin" / "python")
    request = {"python": str(python), "python_variable": "pip_cache_policy_python", "engine_dir": str(base / "lib" / "fleet-cache"), "expected": {}}
    assert trust.role_check([json.dumps(request)]) == 0
    result = json.loads(capsys.readouterr().out)
    (problem,) = result["problems"]
    assert problem.startswith(f"pip_cache_policy_python: the scheduled job would run {python} as root, but {shared} is writable by its group and others;")
    assert result["write"] == [] and result["remove"] == [], "nothing is planned for an engine that will not be installed"

    trusted = _file(base / "usr" / "bin" / "python3")
    request = dict(request, python=str(trusted), python_variable="ansible_python_interpreter", engine_dir=str(shared / "engine"), expected={"fleet-cache": "0"})
    trust.role_check([json.dumps(request)])
    (problem,) = json.loads(capsys.readouterr().out)["problems"]
    assert problem == (
        f"the engine's folder {shared / 'engine'}: {shared} is writable by its group and others, so someone other than root could change the engine"
    )


def test_the_role_runs_the_check_from_standard_input_with_no_engine_beside_it(tmp_path: Path) -> None:
    """How the role runs it: this file's text on standard input, ``python -I -S -B -``, in an empty folder."""
    source = Path(trust.__file__).read_text(encoding="utf-8") + "\nraise SystemExit(role_check(sys.argv[1:]))\n"
    request = {"python": "/nonexistent/python3", "python_variable": "pip_cache_policy_python", "engine_dir": "/usr/local/lib/fleet-cache", "expected": {}}
    proc = subprocess.run([sys.executable, "-I", "-S", "-B", "-", json.dumps(request)], input=source, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    problems = json.loads(proc.stdout)["problems"]
    assert problems[0].startswith("pip_cache_policy_python: the scheduled job would run /nonexistent/python3 as root, but /nonexistent does not exist")
    assert list(tmp_path.iterdir()) == []
