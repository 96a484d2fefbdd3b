# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The resolver against real pip on Linux: which directory, and whether the cache is disabled.

Each case writes configuration files and variables into an isolated environment, asks real pip
(``pip cache dir`` for the [cache] view, pip's own option parser for [install]) and compares.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from engine import errors, host, resolve
from piporacle import OraclePip, isolated_env

# pip's own parser, for a command whose view no pip command prints (what `pip install` would use).
PIP_VIEW = textwrap.dedent(
    """
    import json, sys
    from pip._internal.commands import create_command
    from pip._internal.utils.misc import normalize_path
    from pip._internal.utils.filesystem import check_path_owner
    command = create_command(sys.argv[1])
    try:
        options, _ = command.parse_args([])
    except SystemExit as exit:
        print(json.dumps({"error": int(exit.code or 0)}))
        raise SystemExit(0)
    cache_dir = options.cache_dir
    if cache_dir:
        cache_dir = normalize_path(cache_dir)
        if not check_path_owner(cache_dir):
            cache_dir = None
    print(json.dumps({"cache_dir": cache_dir or None}))
    """
)


@dataclass
class Case:
    name: str
    files: dict[str, str] = field(default_factory=dict)  # scope -> text (global, global2, user, legacy, site, envfile)
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    pip_config_file: str | None = None  # "envfile", "missing" or "devnull"


CASES = [
    Case("default"),
    Case("xdg-cache-unset", unset=("XDG_CACHE_HOME",)),
    Case("xdg-cache-blank", env={"XDG_CACHE_HOME": "   "}),
    Case("xdg-cache-relative", env={"XDG_CACHE_HOME": "rel/cache"}),
    Case("pip-cache-dir-env", env={"PIP_CACHE_DIR": "{tmp}/from-env"}),
    Case("pip-cache-dir-env-empty", env={"PIP_CACHE_DIR": ""}),
    Case("user-file-tilde", files={"user": "[global]\ncache-dir = ~/from-user\n"}),
    Case("user-beats-global", files={"global": "[global]\ncache-dir = {tmp}/g\n", "user": "[global]\ncache-dir = {tmp}/u\n"}),
    Case("env-beats-user-file", files={"user": "[global]\ncache-dir = {tmp}/u\n"}, env={"PIP_CACHE_DIR": "{tmp}/e"}),
    Case("install-section-only", files={"user": "[install]\ncache-dir = {tmp}/inst\n"}),
    Case("cache-section-beats-global", files={"user": "[global]\ncache-dir = {tmp}/g\n[cache]\ncache-dir = {tmp}/c\n"}),
    Case("global-section-after-command-file", files={"global": "[cache]\ncache-dir = {tmp}/c\n", "user": "[global]\ncache-dir = {tmp}/g\n"}),
    Case("no-cache-dir-true", files={"global": "[global]\nno-cache-dir = true\n"}, env={"PIP_CACHE_DIR": "{tmp}/e"}),
    Case("no-cache-dir-false", files={"user": "[global]\nno-cache-dir = false\n"}),
    Case("no-cache-dir-zero", files={"user": "[global]\nno-cache-dir = 0\n"}),
    Case("no-cache-dir-empty", files={"user": "[global]\nno-cache-dir =\n"}),
    Case("no-cache-dir-empty-overrides-lower", files={"global": "[global]\nno-cache-dir = yes\n", "user": "[global]\nno-cache-dir =\n"}),
    Case("no-cache-dir-invalid", files={"user": "[global]\nno-cache-dir = maybe\n"}),
    Case("no-cache-dir-install-only", files={"user": "[install]\nno-cache-dir = yes\n"}),
    Case("no-cache-dir-underscores", files={"user": "[global]\nno_cache_dir = on\n"}),
    Case("env-no-cache-dir", env={"PIP_NO_CACHE_DIR": "1"}),
    Case("env-no-cache-dir-empty", env={"PIP_NO_CACHE_DIR": ""}),
    Case("env-no-cache-dir-invalid", env={"PIP_NO_CACHE_DIR": "maybe"}),
    Case("config-file-env", files={"envfile": "[global]\ncache-dir = {tmp}/envfile\n", "user": "[global]\ncache-dir = {tmp}/u\n"}, pip_config_file="envfile"),
    Case(
        "config-file-env-skips-user",
        files={"envfile": "[install]\ncache-dir = {tmp}/x\n", "user": "[global]\ncache-dir = {tmp}/u\n"},
        pip_config_file="envfile",
    ),
    Case("config-file-missing", files={"user": "[global]\ncache-dir = {tmp}/u\n"}, pip_config_file="missing"),
    Case("config-file-devnull", files={"user": "[global]\ncache-dir = {tmp}/u\n"}, env={"PIP_CACHE_DIR": "{tmp}/e"}, pip_config_file="devnull"),
    Case("legacy-and-new-user", files={"legacy": "[global]\ncache-dir = {tmp}/legacy\n", "user": "[global]\ncache-dir = {tmp}/new\n"}),
    Case("legacy-only", files={"legacy": "[global]\ncache-dir = {tmp}/legacy\n"}),
    Case("xdg-config-home-unset", files={"dotconfig": "[global]\ncache-dir = {tmp}/dotconfig\n"}, unset=("XDG_CONFIG_HOME",)),
    Case(
        "xdg-config-dirs-two",
        files={"global": "[global]\ncache-dir = {tmp}/g1\n", "global2": "[global]\ncache-dir = {tmp}/g2\n"},
        env={"XDG_CONFIG_DIRS": "{tmp}/xdg-config-dirs:{tmp}/xdg2"},
    ),
    Case("xdg-config-dirs-relative-entry", files={"global": "[global]\ncache-dir = {tmp}/g1\n"}, env={"XDG_CONFIG_DIRS": "relative:{tmp}/xdg-config-dirs"}),
    Case("relative-value", files={"user": "[global]\ncache-dir = relative/cache\n"}),
    Case("inline-comment-is-literal", files={"user": "[global]\ncache-dir = {tmp}/a  # comment\n"}),
    Case("dollar-not-expanded", files={"user": "[global]\ncache-dir = {tmp}/$HOME/x\n"}),
    Case("section-case-sensitive", files={"user": "[Global]\ncache-dir = {tmp}/ignored\n"}),
    Case("site-file", files={"site": "[global]\ncache-dir = {tmp}/site\n"}),
    Case("site-beats-user", files={"site": "[global]\ncache-dir = {tmp}/site\n", "user": "[global]\ncache-dir = {tmp}/u\n"}),
    Case("key-spelled-with-dashes", files={"user": "[global]\n--cache-dir = {tmp}/dashes\n"}),
]


def _write_case(case: Case, tmp: Path, pip: OraclePip) -> tuple[dict[str, str], list[Path]]:
    env = isolated_env(tmp)
    home = Path(env["HOME"])
    places = {
        "global": Path(env["XDG_CONFIG_DIRS"]) / "pip" / "pip.conf",
        "global2": tmp / "xdg2" / "pip" / "pip.conf",
        "user": Path(env["XDG_CONFIG_HOME"]) / "pip" / "pip.conf",
        "dotconfig": home / ".config" / "pip" / "pip.conf",
        "legacy": home / ".pip" / "pip.conf",
        "site": pip.venv / "pip.conf",
        "envfile": tmp / "env-pip.conf",
    }
    written: list[Path] = []
    for scope, text in case.files.items():
        path = places[scope]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("{tmp}", str(tmp)))
        written.append(path)
    for key in case.unset:
        env.pop(key, None)
    env.update({key: value.replace("{tmp}", str(tmp)) for key, value in case.env.items()})
    if case.pip_config_file == "envfile":
        env["PIP_CONFIG_FILE"] = str(places["envfile"])
    elif case.pip_config_file == "missing":
        env["PIP_CONFIG_FILE"] = str(tmp / "no-such.conf")
    elif case.pip_config_file == "devnull":
        env["PIP_CONFIG_FILE"] = os.devnull
    return env, written


def _pip_answer(pip: OraclePip, env: dict[str, str], cwd: Path, command: str) -> dict[str, object]:
    out = subprocess.run([str(pip.python), "-c", PIP_VIEW, command], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _ours(env: dict[str, str], cwd: Path, pip: OraclePip, command: str) -> dict[str, object]:
    ctx = host.HostContext(platform="linux", environ=env, uid=os.geteuid(), gids=tuple(os.getgroups()), sys_prefix=str(pip.venv), cwd=str(cwd), live=True)
    try:
        return {"cache_dir": resolve.resolve(ctx, command=command).cache_dir}
    except errors.ConfigError:
        return {"error": 2}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_resolution_matches_pip(case: Case, newest_pip: OraclePip, tmp_path: Path) -> None:
    env, written = _write_case(case, tmp_path, newest_pip)
    cwd = tmp_path / "work"
    cwd.mkdir()
    try:
        for command in ("cache", "install"):
            assert _ours(env, cwd, newest_pip, command) == _pip_answer(newest_pip, env, cwd, command), command
        # And the real command line agrees for the [cache] view.
        proc = newest_pip.run("cache", "dir", env=env, cwd=cwd)
        ours = _ours(env, cwd, newest_pip, "cache")
        if "error" in ours:
            assert proc.returncode == 2
        elif ours["cache_dir"] is None:
            assert proc.returncode == 1 and "cache is disabled" in proc.stderr
        else:
            assert proc.returncode == 0 and proc.stdout.strip() == ours["cache_dir"]
    finally:
        for path in written:
            if newest_pip.venv in path.parents:
                path.unlink()


def test_ownership_check_disables_cache_like_pip(newest_pip: OraclePip, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a folder owned by another user")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    os.chown(foreign, 65534, 65534)
    env = isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(foreign / "cache"))
    cwd = tmp_path
    pip_view = _pip_answer(newest_pip, env, cwd, "cache")
    ctx = host.HostContext(platform="linux", environ=env, uid=0, sys_prefix=str(newest_pip.venv), cwd=str(cwd), live=True)
    ours = resolve.resolve(ctx)
    assert pip_view == {"cache_dir": None}
    assert ours.cache_dir is None and ours.disabled and ours.owner_ok is False
    assert "not owned" in (ours.disabled_reason or "")
