# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pip_config against real pip: after every write, pip itself reads back what the module reported."""

from __future__ import annotations

import pwd
from pathlib import Path

import pytest
from adhoc import run_module
from piporacle import OraclePip, isolated_env

ORIGINAL = (
    "# team settings, keep\r\n[global]\r\nindex-url = https://example.invalid/simple\r\ntimeout = 60\r\n\r\n[install]\r\n; no deps here\r\nno_deps = yes\r\n"
)


def _config(pip: OraclePip, env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = pip.run("config", *args, env=env)
    return proc.returncode, proc.stdout.strip()


def _module(tmp: Path, env: dict[str, str], args: str, check: bool = False) -> dict[str, object]:
    extra = {key: env[key] for key in ("HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "XDG_CACHE_HOME", "XDG_DATA_DIRS")}
    return run_module("fleet.cache.pip_config", args, tmp, check=check, diff=True, **extra)


def test_four_runs_and_pip_reads_back(oracle_pip: OraclePip, oracle_pips: list[OraclePip], tmp_path: Path) -> None:
    """Every pip version reads back each write; the four-run protocol runs once, with the newest pip (same module runs)."""
    four_runs = oracle_pip.key == max(pip.key for pip in oracle_pips)
    env = isolated_env(tmp_path / "env")
    user_file = Path(env["XDG_CONFIG_HOME"]) / "pip" / "pip.conf"
    user_file.parent.mkdir(parents=True)
    user_file.write_bytes(ORIGINAL.encode())
    steps = [
        ("name=global.no-cache-dir value=yes", "global.no-cache-dir", "true", None),
        ("name=global.cache-dir value=" + str(tmp_path / "moved"), "global.cache-dir", str(tmp_path / "moved"), None),
        ("name=global.no-cache-dir value=false", "global.no-cache-dir", None, str(tmp_path / "moved")),
        ("name=install.cache-dir value=~/install-cache", "install.cache-dir", "~/install-cache", str(tmp_path / "moved")),
    ]
    for args, key, expected, cache_dir in steps:
        before = user_file.read_bytes()
        if four_runs:
            first = _module(tmp_path, env, args, check=True)
            assert user_file.read_bytes() == before, "check mode changes nothing on disk"
            second = _module(tmp_path, env, args)
            third = _module(tmp_path, env, args, check=True)
            fourth = _module(tmp_path, env, args)
            assert [first["changed"], second["changed"], third["changed"], fourth["changed"]] == [True, True, False, False], args
            assert first["diff_text"] == second["diff_text"] and "+++ after: " + str(user_file) in str(first["diff_text"])
            assert (first["value"], first["cache_dir"]) == (second["value"], second["cache_dir"]), "check mode reports what pip will read"
        else:
            second = _module(tmp_path, env, args)
            assert second["changed"] is True
        assert second["file"] == str(user_file)
        code, printed = _config(oracle_pip, env, "get", key)
        if expected is None:
            assert code != 0 and second["value"] is None
        else:
            assert (code, printed) == (0, expected) and second["value"] == expected
        listed = _config(oracle_pip, env, "list")[1].splitlines()
        assert (f"{key}='{expected}'" in listed) == (expected is not None)
        proc = oracle_pip.run("cache", "dir", env=env)
        if cache_dir is None:
            assert proc.returncode == 1 and second["disabled"] is True and second["cache_dir"] is None
        else:
            assert proc.stdout.strip() == second["cache_dir"] == cache_dir
    text = user_file.read_bytes().decode()
    assert "\r\n" in text and "\n" not in text.replace("\r\n", ""), "the file keeps its line endings"
    for line in ORIGINAL.splitlines():
        assert line in text.splitlines(), f"{line!r} survived"
    # Taking both keys out again gives the original bytes back.
    for args in ("name=global.cache-dir state=absent", "name=install.cache-dir state=absent"):
        assert _module(tmp_path, env, args)["changed"] is True
    assert user_file.read_bytes() == ORIGINAL.encode()


def test_global_scope_with_an_explicit_file_pip_reads(newest_pip: OraclePip, tmp_path: Path) -> None:
    """The global scope's own files are system files (/etc/pip.conf here): tests write a global file pip reads through
    XDG_CONFIG_DIRS, named with path, and never the host's. Which file each scope picks is a unit test per platform."""
    env = isolated_env(tmp_path / "env")
    global_file = Path(env["XDG_CONFIG_DIRS"]) / "pip" / "pip.conf"
    global_file.parent.mkdir(parents=True)
    global_file.write_text("[global]\ntimeout = 30\n")
    etc = Path("/etc/pip.conf")
    etc_before = etc.read_bytes() if etc.exists() else None
    result = _module(tmp_path, env, f"name=global.cache-dir value={tmp_path / 'g'} path={global_file}")
    assert result["changed"] is True and result["files"] == [str(global_file)]
    assert global_file.read_text() == f"[global]\ntimeout = 30\ncache-dir = {tmp_path / 'g'}\n"
    assert newest_pip.run("config", "--global", "get", "global.cache-dir", env=env).stdout.strip() == str(tmp_path / "g")
    assert newest_pip.run("cache", "dir", env=env).stdout.strip() == result["cache_dir"] == str(tmp_path / "g")
    assert (etc.read_bytes() if etc.exists() else None) == etc_before, "the host's own global file is untouched"


def test_environment_override_is_reported(newest_pip: OraclePip, tmp_path: Path) -> None:
    env = isolated_env(tmp_path / "env")
    result = run_module(
        "fleet.cache.pip_config",
        f"name=global.cache-dir value={tmp_path / 'written'}",
        tmp_path,
        HOME=env["HOME"],
        XDG_CONFIG_HOME=env["XDG_CONFIG_HOME"],
        XDG_CONFIG_DIRS=env["XDG_CONFIG_DIRS"],
        PIP_CACHE_DIR=str(tmp_path / "from-env"),
    )
    assert "the environment variable PIP_CACHE_DIR overrides cache-dir" in str(result["stderr_text"]), result
    assert result["cache_dir"] == str(tmp_path / "from-env")
    env["PIP_CACHE_DIR"] = str(tmp_path / "from-env")
    assert newest_pip.run("cache", "dir", env=env).stdout.strip() == result["cache_dir"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        ("name=global.cache-dir value=false", "value"),
        ("name=global.no-cache-dir value=maybe", "value"),
        ("name=cache-dir value=/x", "name"),
        ("name=global.cache-dir value='$HOME/x'", "value"),
        ("name=global.cache-dir", "value"),
    ],
)
def test_values_pip_would_misread_are_refused(tmp_path: Path, args: str, option: str) -> None:
    env = isolated_env(tmp_path / "env")
    result = _module(tmp_path, env, args)
    assert (result.get("failed") is True and str(result["msg"]).startswith(option)) or option in str(result["msg"])
    assert not (Path(env["XDG_CONFIG_HOME"]) / "pip" / "pip.conf").exists()


def test_user_scope_for_another_user_is_theirs_and_pip_run_as_them_reads_it(two_users: list[str], newest_pip: OraclePip, tmp_path: Path) -> None:
    name = two_users[0]
    entry = pwd.getpwnam(name)
    user_env = {"HOME": entry.pw_dir, "USER": name, "LOGNAME": name, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    result = run_module("fleet.cache.pip_config", f"name=global.no-cache-dir value=on user={name}", tmp_path)
    written = Path(entry.pw_dir) / ".config" / "pip" / "pip.conf"
    assert result["changed"] is True and result["files"] == [str(written)]
    owners = {path.stat().st_uid for path in (written, written.parent, written.parent.parent)}
    assert owners == {entry.pw_uid}, "a new user file, and every folder made for it (~/.config too), belongs to the user"
    assert newest_pip.run("config", "get", "global.no-cache-dir", env=user_env, user=name).stdout.strip() == "true" == result["value"]
    proc = newest_pip.run("cache", "dir", env=user_env, user=name)
    assert proc.returncode == 1 and "cache is disabled" in proc.stderr and result["disabled"] is True
    again = run_module("fleet.cache.pip_config", f"name=global.no-cache-dir state=absent user={name} backup=true", tmp_path)
    assert again["changed"] is True and len(again["backup_files"]) == 1  # type: ignore[arg-type]
    assert Path(str(again["backup_files"][0])).read_text() == "[global]\nno-cache-dir = true\n"  # type: ignore[index]
    assert newest_pip.run("cache", "dir", env=user_env, user=name).stdout.strip() == again["cache_dir"] == str(Path(entry.pw_dir) / ".cache" / "pip")
