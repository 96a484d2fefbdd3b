# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's command line (plugins/module_utils/_cli.py), the job the pip_cache_policy role schedules:
the same result as the pip_cache module, on a host without Ansible, and its upkeep commands (move, fix-ownership);
the launcher the role installs, which refuses to start on anything someone other than root could change."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine import REPO_ROOT, scan

from ansible_collections.fleet.cache.plugins.module_utils import _cli as cli
from ansible_collections.fleet.cache.plugins.plugin_utils import _engine_bundle as bundle
from playbooks import VENV_BIN, adhoc, disk_usage, fake_cache, local_host, local_users, playbook, trusted_folder, write_inventory

NOW = time.time()


def _tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under root with (size, uid, mode) - what a dry run must leave exactly as it was."""
    found: dict[str, tuple[int, int, int]] = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            info = os.lstat(os.path.join(directory, name))
            found[os.path.relpath(os.path.join(directory, name), root)] = (
                info.st_size if not os.path.isdir(os.path.join(directory, name)) else 0,
                info.st_uid,
                info.st_mode,
            )
    return found


def _cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = cli.main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.fixture
def two_caches(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "one" / "pip", tmp_path / "two" / "pip"
    fake_cache(first, seed=1, downloads=12, wheels=6, size=4000, now=NOW)
    shutil.copytree(first, second, symlinks=True)
    return first, second


@pytest.mark.parametrize(
    ("cli_args", "module_args"),
    [
        (["prune", "--max-size", "30000B"], {"state": "pruned", "max_size": "30000B"}),
        (["prune", "--max-age", "9d", "--ci"], {"state": "pruned", "max_age": "9d", "ci": True}),
        (["purge"], {"state": "purged"}),
    ],
    ids=["size", "age-ci", "purge"],
)
def test_cli_removes_what_the_module_removes(
    two_caches: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_args: list[str], module_args: dict[str, object]
) -> None:
    by_cli, by_module = two_caches
    code, result = _cli(*cli_args, "--cache-dir", str(by_cli), capsys=capsys)
    # The job's --min-age defaults to 0 (the role passes its own); the module's min_age to 5m: compare like with like.
    module = adhoc("fleet.cache.pip_cache", dict(module_args, cache_dir=str(by_module), limit=0, min_age="0"), tmp_path)
    assert code == 0 and result["changed"] is True and module["changed"] is True
    for key in ("files", "dirs", "entries", "bytes"):
        assert result["removed"][key] == module["removed"][key], key  # type: ignore[index]
    assert result["after"] == module["after"]
    assert sorted(_tree(by_cli)) == sorted(_tree(by_module))
    if "--max-size" in cli_args:
        assert disk_usage(by_cli)[0] <= 30000


def test_dry_run_changes_nothing_and_predicts_the_real_run(two_caches: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    cache, _other = two_caches
    before = _tree(cache)
    code, dry = _cli("prune", "--cache-dir", str(cache), "--max-size", "20000B", "--dry-run", capsys=capsys)
    assert code == 0 and _tree(cache) == before and dry["dry_run"] is True
    code, real = _cli("prune", "--cache-dir", str(cache), "--max-size", "20000B", capsys=capsys)
    assert real["removed"] == dry["removed"]
    code, again = _cli("prune", "--cache-dir", str(cache), "--max-size", "20000B", capsys=capsys)
    assert again["changed"] is False


def test_the_job_removes_through_the_modules_code(two_caches: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """One implementation: the job builds the pip_cache module's request (Windows hosts match names case-insensitively)
    and refuses the home folders the module refuses (Windows profiles, USERPROFILE), not a list of its own."""
    from ansible_collections.fleet.cache.plugins.module_utils._tasks import pip_cache as task_pip_cache

    parser = cli.build_parser()
    monkeypatch.setattr(task_pip_cache, "host_platform", lambda: "win32")
    for argv in (["prune", "--max-size", "1B"], ["purge"]):
        assert cli._request(parser.parse_args(argv)).case_insensitive is True, argv
    monkeypatch.undo()
    assert cli._request(parser.parse_args(["prune", "--max-size", "1B"])).case_insensitive is (sys.platform == "win32")
    cache, _other = two_caches
    profile = cache.parent
    before = _tree(profile)
    monkeypatch.setenv("USERPROFILE", str(profile))
    assert cli.main(["purge", "--cache-dir", str(profile)]) == 1
    assert f"refusing to delete from {str(profile)!r}" in capsys.readouterr().err
    assert _tree(profile) == before
    assert cli.main(["purge", "--cache-dir", str(cache), "--min-age", "soon"]) == 1
    assert "--min-age: " in capsys.readouterr().err and _tree(profile) == before


def test_summary_line_and_exit_codes(two_caches: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    cache, _other = two_caches
    assert cli.main(["prune", "--cache-dir", str(cache), "--max-age", "5d"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("fleet-cache prune: 1 cache(s) (") and "; removed " in line and " -> " in line and "\n" not in line
    assert cli.main(["prune", "--cache-dir", str(cache), "--max-size", "2XB"]) == 1
    assert "--max-size: expected a size" in capsys.readouterr().err
    assert cli.main(["prune", "--cache-dir", str(cache)]) == 1
    assert "give --max-age, --max-size or --ci" in capsys.readouterr().err
    assert cli.main(["purge", "--cache-dir", "/"]) == 1
    assert "refusing to delete from '/'" in capsys.readouterr().err
    assert cli.main(["prune", "--cache-dir", str(cache), "--user", "root", "--max-age", "1d"]) == 2  # usage: one or the other
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "flag", "forms"),
    [
        (["prune", "--max-size", "5"], "--max-size", ["5GB", "500MiB", "7B"]),
        (["prune", "--max-age", "30"], "--max-age", ["30d", "12h", "45s"]),
        (["prune", "--max-age", "1h30"], "--max-age", ["30d", "12h", "45s"]),
        (["prune", "--ci", "--min-age", "45"], "--min-age", ["30d", "12h", "45s"]),
        (["purge", "--min-age", "300"], "--min-age", ["30d", "12h", "45s"]),
    ],
    ids=["max-size", "max-age", "max-age-compound", "prune-min-age", "purge-min-age"],
)
def test_the_job_refuses_a_budget_without_a_unit(
    two_caches: tuple[Path, Path], capsys: pytest.CaptureFixture[str], argv: list[str], flag: str, forms: list[str]
) -> None:
    """--max-size 5 was 5 bytes and --max-age 30 was 30 seconds: the job would have emptied the cache."""
    cache, _other = two_caches
    before = _tree(cache)
    assert cli.main([*argv, "--cache-dir", str(cache)]) == 1
    err = capsys.readouterr().err
    assert f"error: {flag}: " in err and "needs a unit" in err and all(form in err for form in forms), err
    assert _tree(cache) == before
    for ok in (["prune", "--max-size", "0", "--dry-run"], ["prune", "--max-size", "7B", "--dry-run"], ["prune", "--max-age", "45s", "--dry-run"]):
        assert cli.main([*ok, "--cache-dir", str(cache)]) == 0, capsys.readouterr().err
    capsys.readouterr()


def test_environment_decides_the_current_users_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    fake_cache(home / ".cache" / "pip", seed=3, downloads=4, wheels=2, size=1000, now=NOW)
    me = pwd.getpwuid(os.geteuid()).pw_name
    code, result = _cli("purge", "--user", me, "--env", f"HOME={home}", "--env", "XDG_CACHE_HOME=", capsys=capsys)
    assert code == 0
    assert [item["cache_dir"] for item in result["caches"]] == [str(home / ".cache" / "pip")]  # type: ignore[index]
    assert scan.scan(str(home / ".cache" / "pip")).total.files == 0
    assert cli.main(["purge", "--env", "NOVALUE"]) == 1
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_the_installed_package_runs_on_a_python_without_ansible(tmp_path: Path) -> None:
    """What the role installs: the engine's archive and the job's launcher, run by a Python that has no Ansible."""
    found = subprocess.run([sys.executable, str(REPO_ROOT / "hack" / "pythons.py"), "--version", "3.9"], capture_output=True, text=True, check=False)
    python = found.stdout.strip() or shutil.which("python3") or ""
    if not python or subprocess.run([python, "-I", "-c", "import ansible"], capture_output=True, check=False).returncode == 0:
        pytest.skip("no Python without Ansible here to run the engine on its own")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "fleet_cache_engine.zip").write_bytes(bundle.engine_archive())
    launcher = tmp_path / "lib" / "fleet-cache"
    launcher.write_text(bundle.launcher_source(job=True))  # as on Windows: this Python and folder are no root's alone
    cache = tmp_path / "cache"
    fake_cache(cache, seed=5, downloads=10, wheels=5, size=3000, now=NOW)
    proc = subprocess.run([python, "-I", str(launcher), "prune", "--cache-dir", str(cache), "--max-size", "15kB"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("fleet-cache prune: 1 cache(s)") and proc.stdout.count("\n") == 1
    assert disk_usage(cache)[0] <= 15000


def test_move_merges_keeps_links_and_never_follows_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    fake_cache(old, seed=7, downloads=5, wheels=3, size=500, now=NOW)
    fake_cache(new, seed=8, downloads=2, wheels=0, size=500, now=NOW)
    duplicate = next((old / "http-v2").rglob("*.body"))
    target = new / duplicate.relative_to(old)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"already there")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep")
    (old / "wheels" / "link-to-outside").symlink_to(outside)
    (old / "notes.txt").write_text("not pip's")
    before_old, before_new = _tree(old), _tree(new)
    code, dry = _cli("move", "--from", str(old), "--to", str(new), "--dry-run", capsys=capsys)
    assert code == 0 and _tree(old) == before_old and _tree(new) == before_new
    code, moved = _cli("move", "--from", str(old), "--to", str(new), capsys=capsys)
    assert code == 0 and moved["moved"] == dry["moved"] and moved["moved"]["duplicates"] == 1  # type: ignore[index]
    assert target.read_bytes() == b"already there", "what the destination holds wins"
    assert (new / "wheels" / "link-to-outside").is_symlink() and (outside / "secret").read_text() == "keep"
    assert sorted(path.name for path in old.iterdir()) == ["notes.txt"], "pip's buckets are gone, the rest stays"
    assert disk_usage(new)[1] == 5 * 2 + 3 * 2 + 2 * 2 - 1 + 1  # every file once; the link counts as a file
    code, again = _cli("move", "--from", str(old), "--to", str(new), capsys=capsys)
    assert again["changed"] is False
    with pytest.raises(SystemExit):
        raise SystemExit(cli.main(["move", "--from", str(new), "--to", str(new / "http-v2")]))
    assert "one is inside the other" in capsys.readouterr().err


@pytest.fixture
def local_user() -> Iterator[str]:
    with local_users(1, "fleet-cache-cli-") as (_base, names):
        yield names[0]


def test_fix_ownership_gives_back_what_root_left_in_a_users_own_cache(local_user: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = pwd.getpwnam(local_user)
    home = Path(entry.pw_dir)
    cache = home / ".cache" / "pip"
    fake_cache(cache, seed=9, downloads=3, wheels=2, size=300, now=NOW)  # made by root: ~/.cache and everything in it is root's
    shared = tmp_path / "shared"
    fake_cache(shared, seed=10, downloads=1, wheels=0, size=300, now=NOW)
    before = _tree(home)
    code, dry = _cli("fix-ownership", "--user", local_user, "--dry-run", capsys=capsys)
    assert code == 0 and dry["changed"] is True and _tree(home) == before
    code, fixed = _cli("fix-ownership", "--user", local_user, capsys=capsys)
    assert fixed["entries"] == dry["entries"] == sum(1 for info in before.values() if info[1] == 0)  # ~/.cache and all below it
    assert {info[1] for info in _tree(home).values()} == {entry.pw_uid}
    code, again = _cli("fix-ownership", "--user", local_user, capsys=capsys)
    assert again["changed"] is False
    # A cache outside the home that the user does not own is shared: left alone.
    config = home / ".config" / "pip"
    config.mkdir(parents=True)
    (config / "pip.conf").write_text(f"[global]\ncache-dir = {shared}\n")
    code, skipped = _cli("fix-ownership", "--user", local_user, capsys=capsys)
    assert skipped["changed"] is False and "shared cache is left alone" in skipped["caches"][0]["skipped"]  # type: ignore[index]
    assert {info[1] for info in _tree(shared).values()} == {0}


@pytest.fixture(scope="module")
def installed_launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The launcher and the engine as the pip_cache_policy role installs them for its scheduled job (written into a
    test folder, not activated), in a folder only root can change."""
    if os.geteuid() != 0:
        pytest.skip("the role installs the scheduled job's files as root: needs root")
    tmp = tmp_path_factory.mktemp("role")
    with trusted_folder("launcher-") as trusted:
        play = tmp / "install.yml"
        play.write_text("---\n- name: Install\n  hosts: all\n  gather_facts: false\n  roles:\n    - role: fleet.cache.pip_cache_policy\n")
        (tmp / "cron").mkdir()
        role_vars = {
            "pip_cache_policy_users": "root",
            "pip_cache_policy_environment": {"HOME": str(tmp / "home"), "XDG_CACHE_HOME": ""},
            "pip_cache_policy_max_age": "3650d",
            "pip_cache_policy_schedule": True,
            "pip_cache_policy_schedule_backend": "cron",
            "pip_cache_policy_schedule_activate": False,
            "_pip_cache_policy_engine_dir": str(trusted / "engine"),
            "_pip_cache_policy_cron_dir": str(tmp / "cron"),
            "_pip_cache_policy_log": str(tmp / "prune.log"),
        }
        run = playbook(play, write_inventory(tmp / "inventory", {"hosts": {"host": local_host()}}), tmp, extra_vars=role_vars)
        assert run.returncode == 0, run.explain()
        yield trusted / "engine" / "fleet-cache"


def _job(python: str | Path, launcher: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """The scheduled job's command line, as cron, systemd or launchd start it."""
    argv = [str(python), "-I", "-S", "-B", str(launcher), "prune", "--cache-dir", str(cache), "--max-size", "1B"]
    return subprocess.run(argv, capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})


def test_the_job_refuses_to_start_on_what_others_could_change(installed_launcher: Path, tmp_path: Path) -> None:
    """Each time it starts, the launcher checks the interpreter (link and target), itself and the engine's archive:
    anything a user could change, an archive that is not the one installed (edited or swapped, even by root), and an
    engine folder replaced by a link, and it refuses, names the path and why, exits 1 and touches no cache."""
    python = os.path.realpath(VENV_BIN / "python")
    folder = installed_launcher.parent
    archive = folder / "fleet_cache_engine.zip"
    installed = archive.read_bytes()
    digest = hashlib.sha256(installed).hexdigest()
    cache = tmp_path / "cache"
    fake_cache(cache, seed=61, downloads=4, wheels=2, size=1000, now=NOW)
    before = _tree(cache)

    def refused(proc: subprocess.CompletedProcess[str], *lines: str) -> None:
        assert proc.returncode == 1 and proc.stdout == "", proc.stdout + proc.stderr
        assert proc.stderr.splitlines() == [f"fleet-cache: refusing to run: {line}" for line in lines]
        assert _tree(cache) == before

    archive.chmod(0o664)
    try:
        refused(_job(python, installed_launcher, cache), f"the engine {archive} is writable by its group")
    finally:
        archive.chmod(0o644)
    try:
        with archive.open("ab") as handle:
            handle.write(b"# edited on the host\n")
        edited = hashlib.sha256(archive.read_bytes()).hexdigest()
        refused(
            _job(python, installed_launcher, cache),
            f"the engine {archive} is not the engine the role installed (SHA-256 {edited}, the launcher expects {digest})",
        )
        # Swapped for another engine (root's, 0644, a valid package whose _cli would prune with no check at all).
        swapped = folder / "swapped.zip"
        with zipfile.ZipFile(swapped, "w") as other:
            other.writestr("fleet_cache_engine/__init__.py", "")
            other.writestr("fleet_cache_engine/_cli.py", "def main(argv=None):\n    raise SystemExit('the swapped engine ran')\n")
        swapped.chmod(0o644)
        swapped.replace(archive)
        proc = _job(python, installed_launcher, cache)
        assert proc.returncode == 1 and "swapped engine ran" not in proc.stderr, proc.stderr
        assert proc.stderr.startswith(f"fleet-cache: refusing to run: the engine {archive} is not the engine the role installed (SHA-256 "), proc.stderr
        assert _tree(cache) == before
    finally:
        archive.write_bytes(installed)
        archive.chmod(0o644)
    # The engine's folder replaced by a link to a copy of itself that root owns: the job runs what the role installed only.
    real = folder.with_name(folder.name + "-real")
    folder.rename(real)
    try:
        folder.symlink_to(real)
        refused(
            _job(python, installed_launcher, cache),
            f"the engine {archive}: {folder} is a symbolic link (the role installs the engine's folder and archive themselves)",
        )
    finally:
        folder.unlink(missing_ok=True)
        real.rename(folder)
    with trusted_folder("interpreter-") as trusted:
        shared = trusted / "shared"
        shared.mkdir()
        shared.chmod(0o777)
        (shared / "python3").symlink_to(python)
        refused(_job(shared / "python3", installed_launcher, cache), f"the interpreter {shared / 'python3'}: {shared} is writable by its group and others")
        (trusted / "bin").mkdir()
        (trusted / "bin" / "python3").symlink_to(shared / "python3")
        linked = trusted / "bin" / "python3"
        refused(_job(linked, installed_launcher, cache), f"the interpreter {linked}: {shared} is writable by its group and others")
        owned = trusted / "owned-by-nobody"
        owned.symlink_to(python)
        os.lchown(owned, 65534, 65534)
        proc = _job(owned, installed_launcher, cache)
        assert proc.returncode == 1 and proc.stderr.startswith(f"fleet-cache: refusing to run: the interpreter {owned} is owned by "), proc.stderr
        assert "(uid 65534), not by root" in proc.stderr and _tree(cache) == before
    # A copy in a folder another account owns (below the sticky /tmp, which alone would be no fault).
    holder = tmp_path / "theirs"
    holder.mkdir()
    copied = holder / "copied"
    shutil.copytree(installed_launcher.parent, copied)
    os.chown(holder, 65534, 65534)
    proc = _job(python, copied / "fleet-cache", cache)
    assert proc.returncode == 1 and [line.split(": ")[2] for line in proc.stderr.splitlines()] == [
        f"the launcher {copied / 'fleet-cache'}",
        f"the engine {copied / 'fleet_cache_engine.zip'}",
    ], proc.stderr
    assert _tree(cache) == before

    ran = _job(python, installed_launcher, cache)
    assert ran.returncode == 0 and ran.stdout.startswith("fleet-cache prune: 1 cache(s)"), ran.stdout + ran.stderr
    assert disk_usage(cache)[1] == 0, "with nothing untrusted it runs, and prunes"


def test_a_pth_file_others_could_write_never_runs_in_the_job(installed_launcher: Path, tmp_path: Path) -> None:
    """A venv whose site-packages any user can write: a .pth file there runs with -I alone, never with the job's
    -I -S (and the job, its interpreter and engine being root's, runs)."""
    marker = tmp_path / "pth-ran"
    cache = tmp_path / "cache"
    fake_cache(cache, seed=62, downloads=2, wheels=1, size=1000, now=NOW)
    with trusted_folder("venv-") as trusted:
        venv = trusted / "venv"
        subprocess.run([os.path.realpath(VENV_BIN / "python"), "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
        site = next(venv.glob("lib/python3*/site-packages"))
        site.chmod(0o777)
        (site / "zz-anyone.pth").write_text(f"import os; open({str(marker)!r}, 'w').close()\n")
        subprocess.run([str(venv / "bin" / "python"), "-I", "-c", "pass"], check=True)
        assert marker.exists(), "the .pth file runs when site is imported (the test can fail)"
        marker.unlink()
        proc = _job(venv / "bin" / "python", installed_launcher, cache)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert not marker.exists(), "the job ran a .pth file"
        assert disk_usage(cache)[1] == 0
