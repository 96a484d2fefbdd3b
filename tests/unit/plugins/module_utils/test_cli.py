# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's command line (plugins/module_utils/_cli.py), the job the pip_cache_policy role schedules: the same
result as the pip_cache module, on a Python without Ansible, and its upkeep commands (move, fix-ownership).

The launcher the role installs, which refuses to start on anything someone other than root could change, is tested by
the integration target role_pip_cache_policy_job."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.fleet.cache.plugins.module_utils import _cli as cli
from ansible_collections.fleet.cache.plugins.module_utils._pip.scan import scan
from ansible_collections.fleet.cache.plugins.module_utils._tasks import pip_cache as task_pip_cache
from ansible_collections.fleet.cache.plugins.modules import pip_cache
from ansible_collections.fleet.cache.plugins.plugin_utils import _engine_bundle as bundle
from ansible_collections.fleet.cache.tests.unit.plugins.conftest import patch_module_args

NOW = time.time()

# The host's pip configuration (a cache-dir in /etc/pip.conf, PIP_* variables) kept out of every test here.
pytestmark = pytest.mark.usefixtures("no_pip_config")


def fake_cache(root: Path, *, seed: int, downloads: int, wheels: int, size: int) -> None:
    """A cache in pip's layout: ``downloads`` http-v2 entries (metadata + body) and ``wheels`` built wheels
    (wheel + origin.json), sizes around ``size`` bytes, one entry a day older than the previous."""
    rng = random.Random(seed)
    for number in range(downloads):
        digest = hashlib.sha224(f"{seed}-download-{number}".encode()).hexdigest()
        folder = root.joinpath("http-v2", *digest[:5])
        folder.mkdir(parents=True, exist_ok=True)
        body = folder / f"{digest}.body"
        body.write_bytes(rng.randbytes(rng.randint(size // 2, size * 3 // 2)))
        (folder / digest).write_bytes(b"cc=4," + rng.randbytes(40))
        for path in (body, folder / digest):
            stamp = NOW - (number * 2 + 1) * 86400
            os.utime(path, (stamp, stamp))
    for number in range(wheels):
        digest = hashlib.sha224(f"{seed}-wheel-{number}".encode()).hexdigest()
        folder = root / "wheels" / digest[:2] / digest[2:4] / digest[4:6] / digest[6:]
        folder.mkdir(parents=True, exist_ok=True)
        wheel = folder / f"proj{number}-1.{seed}-py3-none-any.whl"
        wheel.write_bytes(rng.randbytes(rng.randint(size // 2, size * 3 // 2)))
        (folder / "origin.json").write_text('{"url": "https://example.invalid/x"}')
        for path in (wheel, folder / "origin.json"):
            stamp = NOW - (number * 2 + 2) * 86400
            os.utime(path, (stamp, stamp))


def disk_usage(path: Path) -> tuple[int, int]:
    """(bytes, files) under ``path`` as pip and the engine count them: st_size of files, a link to a file as 0 bytes."""
    total = files = 0
    for directory, _dirnames, filenames in os.walk(path):
        for name in filenames:
            full = os.path.join(directory, name)
            files += 1
            total += 0 if os.path.islink(full) else os.lstat(full).st_size
    return total, files


def tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under root with (size, uid, mode) - what a dry run must leave exactly as it was."""
    found: dict[str, tuple[int, int, int]] = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(directory, name)
            info = os.lstat(full)
            found[os.path.relpath(full, root)] = (0 if os.path.isdir(full) else info.st_size, info.st_uid, info.st_mode)
    return found


def run_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    """_cli.main(ARGS --json) -> (exit code, the result it printed)."""
    capsys.readouterr()
    code = cli.main([*args, "--json"])
    captured = capsys.readouterr()
    assert captured.out.startswith("{"), f"{args}: exit {code}, no result printed; stderr: {captured.err}"
    return code, json.loads(captured.out)


def run_pip_cache(args: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The pip_cache module's main() in this process, as Ansible runs it -> the result it printed (it must succeed)."""
    capsys.readouterr()
    with patch_module_args(args), pytest.raises(SystemExit) as stopped:
        pip_cache.main()
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip().startswith("{")]
    assert lines, f"the module printed no JSON result: {out!r}"
    result: dict[str, Any] = json.loads(lines[-1])
    assert (stopped.value.code or 0) == 0 and not result.get("failed"), result
    return result


@pytest.fixture
def two_caches(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "one" / "pip", tmp_path / "two" / "pip"
    fake_cache(first, seed=1, downloads=12, wheels=6, size=4000)
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
    two_caches: tuple[Path, Path], capsys: pytest.CaptureFixture[str], cli_args: list[str], module_args: dict[str, Any]
) -> None:
    by_cli, by_module = two_caches
    before = disk_usage(by_cli)
    code, result = run_cli(*cli_args, "--cache-dir", str(by_cli), capsys=capsys)
    # The job's --min-age defaults to 0 (the role passes its own); the module's min_age to 5m: compare like with like.
    module = run_pip_cache(dict(module_args, cache_dir=str(by_module), limit=0, min_age="0"), capsys)
    assert code == 0 and result["changed"] is True and module["changed"] is True
    for key in ("files", "dirs", "entries", "bytes"):
        assert result["removed"][key] == module["removed"][key], key
    assert result["removed"]["files"] > 0 and disk_usage(by_cli)[1] < before[1], "the job removed nothing"
    assert result["after"] == module["after"]
    assert sorted(tree(by_cli)) == sorted(tree(by_module))
    if "--max-size" in cli_args:
        assert disk_usage(by_cli)[0] <= 30000


def test_dry_run_changes_nothing_and_predicts_the_real_run(two_caches: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    cache, _other = two_caches
    before = tree(cache)
    code, dry = run_cli("prune", "--cache-dir", str(cache), "--max-size", "20000B", "--dry-run", capsys=capsys)
    assert code == 0 and dry["dry_run"] is True, dry
    assert tree(cache) == before, "the dry run changed the cache"
    code, real = run_cli("prune", "--cache-dir", str(cache), "--max-size", "20000B", capsys=capsys)
    assert code == 0 and real["removed"] == dry["removed"] and real["removed"]["files"] > 0
    assert tree(cache) != before and disk_usage(cache)[0] <= 20000
    code, again = run_cli("prune", "--cache-dir", str(cache), "--max-size", "20000B", capsys=capsys)
    assert code == 0 and again["changed"] is False


def test_the_job_removes_through_the_modules_code(two_caches: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """One implementation: the job builds the pip_cache module's request (Windows hosts match names case-insensitively)
    and refuses the home folders the module refuses (Windows profiles, USERPROFILE), not a list of its own."""
    parser = cli.build_parser()
    monkeypatch.setattr(task_pip_cache, "host_platform", lambda: "win32")
    for argv in (["prune", "--max-size", "1B"], ["purge"]):
        assert cli._request(parser.parse_args(argv)).case_insensitive is True, argv
    monkeypatch.undo()
    assert cli._request(parser.parse_args(["prune", "--max-size", "1B"])).case_insensitive is (sys.platform == "win32")
    cache, _other = two_caches
    profile = cache.parent
    before = tree(profile)
    monkeypatch.setenv("USERPROFILE", str(profile))
    capsys.readouterr()
    assert cli.main(["purge", "--cache-dir", str(profile)]) == 1
    assert f"refusing to delete from {str(profile)!r}" in capsys.readouterr().err
    assert tree(profile) == before
    assert cli.main(["purge", "--cache-dir", str(cache), "--min-age", "soon"]) == 1
    assert "--min-age: " in capsys.readouterr().err and tree(profile) == before


def test_summary_line_and_exit_codes(two_caches: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    cache, _other = two_caches
    capsys.readouterr()
    assert cli.main(["prune", "--cache-dir", str(cache), "--max-age", "5d"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("fleet-cache prune: 1 cache(s) (") and "; removed " in line and " -> " in line and "\n" not in line, line
    assert cli.main(["prune", "--cache-dir", str(cache), "--max-size", "2XB"]) == 1
    assert "--max-size: expected a size" in capsys.readouterr().err
    assert cli.main(["prune", "--cache-dir", str(cache)]) == 1
    assert "give --max-age, --max-size or --ci" in capsys.readouterr().err
    assert cli.main(["purge", "--cache-dir", "/"]) == 1
    assert "refusing to delete from '/'" in capsys.readouterr().err
    assert cli.main(["prune", "--cache-dir", str(cache), "--user", "root", "--max-age", "1d"]) == 2  # usage: one or the other
    assert "not allowed with argument" in capsys.readouterr().err


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
    before = tree(cache)
    capsys.readouterr()
    assert cli.main([*argv, "--cache-dir", str(cache)]) == 1
    err = capsys.readouterr().err
    assert f"error: {flag}: " in err and "needs a unit" in err and all(form in err for form in forms), err
    assert tree(cache) == before
    for ok in (["prune", "--max-size", "0", "--dry-run"], ["prune", "--max-size", "7B", "--dry-run"], ["prune", "--max-age", "45s", "--dry-run"]):
        assert cli.main([*ok, "--cache-dir", str(cache)]) == 0, capsys.readouterr().err
    assert tree(cache) == before


def test_environment_decides_the_current_users_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    fake_cache(home / ".cache" / "pip", seed=3, downloads=4, wheels=2, size=1000)
    assert scan(str(home / ".cache" / "pip")).total.files == 12
    me = pwd.getpwuid(os.geteuid()).pw_name
    code, result = run_cli("purge", "--user", me, "--env", f"HOME={home}", "--env", "XDG_CACHE_HOME=", capsys=capsys)
    assert code == 0
    assert [item["cache_dir"] for item in result["caches"]] == [str(home / ".cache" / "pip")]
    assert scan(str(home / ".cache" / "pip")).total.files == 0
    assert cli.main(["purge", "--env", "NOVALUE"]) == 1
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_the_installed_package_runs_on_a_python_without_ansible(tmp_path: Path) -> None:
    """What the role installs: the engine's archive and the job's launcher, run by a Python that has no Ansible (this
    interpreter with -I -S, as the job starts it: no site-packages, so no Ansible, and no collection on the path)."""
    python = [sys.executable, "-I", "-S"]
    if subprocess.run([*python, "-c", "import ansible"], capture_output=True, check=False).returncode == 0:
        pytest.skip(f"{sys.executable} imports Ansible even with -I -S: no Python without Ansible to run the engine on its own")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "fleet_cache_engine.zip").write_bytes(bundle.engine_archive())
    launcher = tmp_path / "lib" / "fleet-cache"
    launcher.write_text(bundle.launcher_source(job=True))  # as on Windows: this Python and folder are no root's alone
    cache = tmp_path / "cache"
    fake_cache(cache, seed=5, downloads=10, wheels=5, size=3000)
    assert disk_usage(cache)[0] > 15000
    proc = subprocess.run([*python, str(launcher), "prune", "--cache-dir", str(cache), "--max-size", "15kB"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("fleet-cache prune: 1 cache(s)") and proc.stdout.count("\n") == 1, proc.stdout
    assert disk_usage(cache)[0] <= 15000


def test_move_merges_keeps_links_and_never_follows_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    fake_cache(old, seed=7, downloads=5, wheels=3, size=500)
    fake_cache(new, seed=8, downloads=2, wheels=0, size=500)
    duplicate = next((old / "http-v2").rglob("*.body"))
    target = new / duplicate.relative_to(old)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"already there")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep")
    (old / "wheels" / "link-to-outside").symlink_to(outside)
    (old / "notes.txt").write_text("not pip's")
    before_old, before_new = tree(old), tree(new)
    code, dry = run_cli("move", "--from", str(old), "--to", str(new), "--dry-run", capsys=capsys)
    assert code == 0, dry
    assert (tree(old), tree(new)) == (before_old, before_new), "the dry run moved something"
    code, moved = run_cli("move", "--from", str(old), "--to", str(new), capsys=capsys)
    assert code == 0 and moved["moved"] == dry["moved"] and moved["moved"]["duplicates"] == 1
    assert target.read_bytes() == b"already there", "what the destination holds wins"
    assert (new / "wheels" / "link-to-outside").is_symlink() and (outside / "secret").read_text() == "keep"
    assert sorted(path.name for path in old.iterdir()) == ["notes.txt"], "pip's buckets are gone, the rest stays"
    assert disk_usage(new)[1] == 5 * 2 + 3 * 2 + 2 * 2 - 1 + 1  # every file once; the link counts as a file
    code, again = run_cli("move", "--from", str(old), "--to", str(new), capsys=capsys)
    assert code == 0 and again["changed"] is False
    inside = tree(new)
    assert cli.main(["move", "--from", str(new), "--to", str(new / "http-v2")]) == 1
    assert "one is inside the other" in capsys.readouterr().err and tree(new) == inside
    assert cli.main(["move", "--from", str(new), "--to", "/"]) == 1
    assert "--to: refusing to move a cache into /: " in capsys.readouterr().err and tree(new) == inside


@pytest.fixture
def local_user() -> Iterator[str]:
    """A new local account, its home in a new folder every user can traverse; removed afterwards."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd to create a local user")
    base = tempfile.mkdtemp(prefix="fleet-cache-cli-")
    os.chmod(base, 0o755)
    name = f"fc{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run(["useradd", "--create-home", "--home-dir", os.path.join(base, name), "--shell", "/bin/sh", name], check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_fix_ownership_gives_back_what_root_left_in_a_users_own_cache(local_user: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = pwd.getpwnam(local_user)
    home = Path(entry.pw_dir)
    cache = home / ".cache" / "pip"
    fake_cache(cache, seed=9, downloads=3, wheels=2, size=300)  # made by root: ~/.cache and everything in it is root's
    shared = tmp_path / "shared"
    fake_cache(shared, seed=10, downloads=1, wheels=0, size=300)
    before = tree(home)
    roots = sum(1 for info in before.values() if info[1] == 0)
    assert roots > 10, "the test's cache is root's"
    code, dry = run_cli("fix-ownership", "--user", local_user, "--dry-run", capsys=capsys)
    assert code == 0 and dry["changed"] is True, dry
    assert tree(home) == before, "the dry run gave something back"
    code, fixed = run_cli("fix-ownership", "--user", local_user, capsys=capsys)
    assert code == 0 and fixed["entries"] == dry["entries"] == roots  # ~/.cache and all below it
    assert {info[1] for info in tree(home).values()} == {entry.pw_uid}
    code, again = run_cli("fix-ownership", "--user", local_user, capsys=capsys)
    assert code == 0 and again["changed"] is False
    # A cache outside the home that the user does not own is shared: left alone.
    config = home / ".config" / "pip"
    config.mkdir(parents=True)
    (config / "pip.conf").write_text(f"[global]\ncache-dir = {shared}\n")
    code, skipped = run_cli("fix-ownership", "--user", local_user, capsys=capsys)
    assert skipped["changed"] is False and "shared cache is left alone" in skipped["caches"][0]["skipped"], skipped
    assert {info[1] for info in tree(shared).values()} == {0}
