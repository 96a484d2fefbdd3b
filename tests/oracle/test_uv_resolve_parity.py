# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The uv resolver against real uv on Linux: which cache directory, whether the cache is disabled, which runs fail.

Each case writes configuration files and variables into an isolated environment (``uv_isolated_env``), runs real
``uv cache dir`` of every oracle version in the case's working folder, and compares with ``resolve()`` for that
version on a live host with the same environment and folder: the printed path exactly; with no cache (uv prints a
temporary folder) only that it is disabled; an error when uv fails. uv's warnings about project files are checked
too (uv: "Found both ...", "Failed to parse ... during settings discovery").
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import engine  # noqa: F401  # pylint: disable=unused-import
import pytest
from uvoracle import UV_VERSIONS, OracleUv, oracle_uvs, uv_isolated_env

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import CacheError
from ansible_collections.fleet.cache.plugins.module_utils._uv.host import UvHost
from ansible_collections.fleet.cache.plugins.module_utils._uv.resolve import UvResolution, resolve

USER = "xdg-config/uv/uv.toml"
SYSTEM = "xdg-config-dirs/uv/uv.toml"
PROJECT_TOML = "[project]\nname = 'proj'\nversion = '1.0'\n"


@dataclass
class Case:
    name: str
    env: dict[str, str] = field(default_factory=dict)  # "{tmp}" stands for the case's folder
    unset: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)  # path under {tmp} -> text
    cwd: str = "home"  # under {tmp}
    fails: bool = False  # every version fails (a check of the case itself; parity is what is tested)


CASES = [
    Case("nothing"),
    Case("xdg-cache-home-absolute", env={"XDG_CACHE_HOME": "{tmp}/xc"}),
    Case("xdg-cache-home-trailing-slash", env={"XDG_CACHE_HOME": "{tmp}/xc/"}),
    Case("xdg-cache-home-blank", env={"XDG_CACHE_HOME": ""}),
    Case("xdg-cache-home-spaces", env={"XDG_CACHE_HOME": "   "}),
    Case("xdg-cache-home-relative", env={"XDG_CACHE_HOME": "rel/cache"}),
    Case("xdg-cache-home-unset", unset=("XDG_CACHE_HOME",)),
    Case("home-relative", env={"HOME": "relhome"}, unset=("XDG_CACHE_HOME",), cwd="work"),
    Case("home-empty-is-the-account-home", env={"HOME": ""}, unset=("XDG_CACHE_HOME", "XDG_CONFIG_HOME")),
    Case("home-root", env={"HOME": "/"}, unset=("XDG_CACHE_HOME", "XDG_CONFIG_HOME")),
    Case("uv-cache-dir-absolute", env={"UV_CACHE_DIR": "{tmp}/e"}),
    Case("uv-cache-dir-relative", env={"UV_CACHE_DIR": "rel"}),
    Case("uv-cache-dir-tilde", env={"UV_CACHE_DIR": "~/x"}),
    Case("uv-cache-dir-trailing-slash", env={"UV_CACHE_DIR": "{tmp}/e/"}),
    Case("uv-cache-dir-dotdot-inside", env={"UV_CACHE_DIR": "{tmp}/a/../b"}),
    Case("uv-cache-dir-parent-of-cwd", env={"UV_CACHE_DIR": ".."}),
    Case("uv-cache-dir-is-cwd", env={"UV_CACHE_DIR": "."}),
    Case("uv-cache-dir-empty", env={"UV_CACHE_DIR": ""}, fails=True),
    Case("uv-cache-dir-beats-user-file", env={"UV_CACHE_DIR": "{tmp}/e"}, files={USER: 'cache-dir = "{tmp}/u"\n'}),
    Case("no-cache-true", env={"UV_NO_CACHE": "true", "UV_CACHE_DIR": "{tmp}/e"}),
    Case("no-cache-1", env={"UV_NO_CACHE": "1"}),
    Case("no-cache-yes", env={"UV_NO_CACHE": "yes"}),
    Case("no-cache-0", env={"UV_NO_CACHE": "0"}),
    Case("no-cache-false", env={"UV_NO_CACHE": "false", "UV_CACHE_DIR": "{tmp}/e"}),
    Case("no-cache-bogus", env={"UV_NO_CACHE": "bogus"}, fails=True),
    Case("no-cache-empty", env={"UV_NO_CACHE": ""}, fails=True),
    Case("no-cache-0-but-file-true", env={"UV_NO_CACHE": "0"}, files={USER: "no-cache = true\n"}),
    Case("user-cache-dir-absolute", files={USER: 'cache-dir = "{tmp}/u"\n'}),
    Case("user-cache-dir-relative", files={USER: 'cache-dir = "rel/c"\n'}),
    Case("user-cache-dir-tilde", files={USER: 'cache-dir = "~/c"\n'}),
    Case("user-cache-dir-dollar-home", files={USER: 'cache-dir = "$HOME/c"\n'}),
    Case("user-cache-dir-empty", files={USER: 'cache-dir = ""\n'}),
    Case("user-cache-dir-not-a-string", files={USER: "cache-dir = 1\n"}, fails=True),
    Case("user-no-cache-not-a-boolean", files={USER: 'no-cache = "yes"\n'}, fails=True),
    Case("user-file-unparsable", files={USER: "cache-dir = /a\n"}, fails=True),
    Case("user-file-duplicate-key", files={USER: 'cache-dir = "/a"\ncache-dir = "/b"\n'}, fails=True),
    Case("user-file-bom-crlf", files={USER: '\ufeffcache-dir = "{tmp}/bom"\r\n'}),
    Case("user-file-toml-1-1-escape", files={USER: 'cache-dir = "{tmp}/\\x41"\n'}),
    Case("user-file-toml-1-1-inline-table", files={USER: 'pip = {\n  no-index = true,\n}\ncache-dir = "{tmp}/il"\n'}),
    Case("user-file-toml-1-1-trailing-comma", files={USER: 'pip = {no-index = true,}\ncache-dir = "{tmp}/tc"\n'}),
    Case(
        "project-toml-1-1-time-without-seconds",
        files={"proj/pyproject.toml": '[tool.other]\nt = 10:30\n[tool.uv]\ncache-dir = "{tmp}/t11"\n'},
        cwd="proj",
    ),
    Case("user-file-is-a-folder", files={USER + "/keep": ""}, fails=True),
    Case("user-file-pyproject-table", files={USER: "[tool.uv]\ncache-dir = '/x'\n"}, fails=True),
    Case("xdg-config-home-elsewhere", env={"XDG_CONFIG_HOME": "{tmp}/cfg"}, files={"cfg/uv/uv.toml": 'cache-dir = "{tmp}/cfg-value"\n'}),
    Case("xdg-config-home-relative", env={"XDG_CONFIG_HOME": "cfg"}, files={"home/.config/uv/uv.toml": 'cache-dir = "{tmp}/dotconfig"\n'}),
    Case("system-file", files={SYSTEM: 'cache-dir = "{tmp}/s"\n'}),
    Case(
        "system-two-dirs",
        env={"XDG_CONFIG_DIRS": "{tmp}/s1:{tmp}/s2"},
        files={"s2/uv/uv.toml": 'cache-dir = "{tmp}/from-s2"\n'},
    ),
    Case("system-empty-entry", env={"XDG_CONFIG_DIRS": ":{tmp}/s2"}, files={"s2/uv/uv.toml": 'cache-dir = "{tmp}/from-s2"\n'}),
    Case("system-embedded-empty-entry", env={"XDG_CONFIG_DIRS": "{tmp}/s1::{tmp}/s2"}, files={"s2/uv/uv.toml": 'cache-dir = "{tmp}/from-s2"\n'}),
    Case("system-relative-entry", env={"XDG_CONFIG_DIRS": "rel:{tmp}/s2"}, files={"home/rel/uv/uv.toml": 'cache-dir = "{tmp}/from-rel"\n'}),
    Case("system-no-system-config", env={"UV_NO_SYSTEM_CONFIG": "1"}, files={SYSTEM: 'cache-dir = "{tmp}/s"\n'}),
    Case("system-no-system-config-bogus", env={"UV_NO_SYSTEM_CONFIG": "bogus"}, files={SYSTEM: 'cache-dir = "{tmp}/s"\n'}),
    Case("user-over-system", files={USER: 'cache-dir = "{tmp}/u"\n', SYSTEM: 'cache-dir = "{tmp}/s"\n'}),
    Case("user-no-cache-system-cache-dir", files={USER: "no-cache = true\n", SYSTEM: 'cache-dir = "{tmp}/s"\n'}),
    Case(
        "uv-config-file",
        env={"UV_CONFIG_FILE": "{tmp}/other.toml"},
        files={"other.toml": 'cache-dir = "{tmp}/other"\n', USER: "no-cache = true\n", "home/uv.toml": "no-cache = true\n"},
    ),
    Case("uv-config-file-missing", env={"UV_CONFIG_FILE": "{tmp}/missing.toml"}, fails=True),
    Case("uv-config-file-empty", env={"UV_CONFIG_FILE": ""}, fails=True),
    Case("uv-no-config", env={"UV_NO_CONFIG": "1"}, files={USER: 'cache-dir = "{tmp}/u"\n', "home/uv.toml": "no-cache = true\n"}),
    Case(
        "uv-config-file-and-no-config",
        env={"UV_CONFIG_FILE": "{tmp}/other.toml", "UV_NO_CONFIG": "1"},
        files={"other.toml": 'cache-dir = "{tmp}/other"\n'},
    ),
    Case("uv-no-config-bogus", env={"UV_NO_CONFIG": "maybe"}, fails=True),
    Case("project-uv-toml", files={"proj/uv.toml": 'cache-dir = "{tmp}/p"\n', USER: 'cache-dir = "{tmp}/u"\n'}, cwd="proj"),
    Case("project-uv-toml-relative-value", files={"proj/uv.toml": 'cache-dir = "relp"\n'}, cwd="proj/sub"),
    Case("project-pyproject-tool-uv", files={"proj/pyproject.toml": PROJECT_TOML + '[tool.uv]\ncache-dir = "{tmp}/py"\n'}, cwd="proj"),
    Case(
        "project-both-adjacent",
        files={"proj/uv.toml": 'cache-dir = "{tmp}/uvtoml"\n', "proj/pyproject.toml": '[tool.uv]\ncache-dir = "{tmp}/py"\n'},
        cwd="proj",
    ),
    Case("project-both-adjacent-empty-table", files={"proj/uv.toml": 'cache-dir = "{tmp}/uvtoml"\n', "proj/pyproject.toml": "[tool.uv]\n"}, cwd="proj"),
    Case(
        "project-without-tool-uv-then-parent-uv-toml",
        files={"proj/pyproject.toml": "[tool.black]\nline-length = 1\n", "uv.toml": 'cache-dir = "{tmp}/parent"\n'},
        cwd="proj",
    ),
    Case(
        "project-unparsable-pyproject-then-parent",
        files={"proj/pyproject.toml": "[tool.uv\n", "uv.toml": 'cache-dir = "{tmp}/parent"\n'},
        cwd="proj",
    ),
    Case("project-unparsable-uv-toml", files={"proj/uv.toml": "cache-dir = [\n"}, cwd="proj", fails=True),
    Case("project-cache-dir-user-no-cache", files={"proj/uv.toml": 'cache-dir = "{tmp}/p"\n', USER: "no-cache = true\n"}, cwd="proj"),
    Case("project-no-cache-false-beats-user", files={"proj/uv.toml": "no-cache = false\n", USER: "no-cache = true\n"}, cwd="proj"),
    Case(
        "project-root-skips-uv-toml-below",
        files={"proj/pyproject.toml": PROJECT_TOML, "proj/sub/uv.toml": 'cache-dir = "{tmp}/sub"\n'},
        cwd="proj/sub",
    ),
    Case(
        "workspace-member-uses-the-root",
        files={
            "proj/pyproject.toml": PROJECT_TOML + '[tool.uv]\ncache-dir = "{tmp}/root"\n[tool.uv.workspace]\nmembers = ["packages/*"]\n',
            "proj/packages/a/pyproject.toml": "[project]\nname = 'a'\nversion = '1.0'\n[tool.uv]\ncache-dir = \"{tmp}/member\"\n",
        },
        cwd="proj/packages/a",
    ),
    Case(
        "workspace-excluded-member",
        files={
            "proj/pyproject.toml": PROJECT_TOML
            + '[tool.uv]\ncache-dir = "{tmp}/root"\n[tool.uv.workspace]\nmembers = ["packages/*"]\nexclude = ["packages/a"]\n',
            "proj/packages/a/pyproject.toml": "[project]\nname = 'a'\nversion = '1.0'\n[tool.uv]\ncache-dir = \"{tmp}/member\"\n",
        },
        cwd="proj/packages/a",
    ),
    Case("working-dir-variable", env={"UV_WORKING_DIR": "{tmp}/proj"}, files={"proj/uv.toml": 'cache-dir = "relw"\n'}),
    Case("project-variable", env={"UV_PROJECT": "{tmp}/proj"}, files={"proj/uv.toml": 'cache-dir = "relp"\n'}),
    Case("cwd-inside-the-cache", env={"UV_CACHE_DIR": "{tmp}"}),
]


@pytest.fixture(scope="module")
def uvs() -> list[OracleUv]:
    return oracle_uvs()


@pytest.fixture(params=UV_VERSIONS, ids=lambda version: f"uv-{version}")
def oracle_uv(request: pytest.FixtureRequest, uvs: list[OracleUv]) -> OracleUv:
    return next(uv for uv in uvs if uv.version == request.param)


def _prepare(case: Case, tmp: Path) -> tuple[dict[str, str], Path]:
    env = uv_isolated_env(tmp)
    for name in case.unset:
        env.pop(name, None)
    env.update({key: value.replace("{tmp}", str(tmp)) for key, value in case.env.items()})
    for relative, text in case.files.items():
        path = tmp / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if relative.endswith("/keep"):
            continue  # only the folder
        path.write_bytes(text.replace("{tmp}", str(tmp)).encode("utf-8"))
    cwd = tmp / case.cwd
    cwd.mkdir(parents=True, exist_ok=True)
    return env, cwd


def _ours(env: dict[str, str], cwd: Path, uv: OracleUv) -> UvResolution | CacheError:
    host = UvHost(platform="linux", environ=env, home=pwd.getpwuid(os.geteuid()).pw_dir, uid=os.geteuid(), cwd=str(cwd), live=True)
    try:
        return resolve(host, version=uv.key)
    except CacheError as error:
        return error


@pytest.fixture
def case_tmp(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "case"
    folder.mkdir()
    yield folder


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_resolution_matches_uv(case: Case, oracle_uv: OracleUv, case_tmp: Path) -> None:
    env, cwd = _prepare(case, case_tmp)
    proc = oracle_uv.run("cache", "dir", env=env, cwd=cwd, check=False)
    ours = _ours(env, cwd, oracle_uv)
    if proc.returncode != 0:
        assert isinstance(ours, CacheError), f"uv {oracle_uv.version} failed ({proc.stderr.strip()}) but we resolved {ours}"
        assert "Traceback" not in str(ours)
        return
    assert not case.fails, f"uv {oracle_uv.version} did not fail: {proc.stdout!r}"
    assert isinstance(ours, UvResolution), f"we failed ({ours}) but uv {oracle_uv.version} printed {proc.stdout!r}"
    printed = proc.stdout.removesuffix("\n")
    if ours.disabled:
        # No cache: uv prints the temporary folder it works in (and removes at exit).
        assert Path(printed).name.startswith(".tmp"), printed
        assert ours.cache_dir is None and ours.uv_cache_dir is None and ours.disabled_reason
    else:
        assert printed == ours.uv_cache_dir, f"uv {oracle_uv.version}: {printed!r} != ours {ours.uv_cache_dir!r} ({ours.source})"
        assert ours.cache_dir == (os.path.join(ours.working_dir, printed) if printed else ours.working_dir)
    moved = "UV_WORKING_DIR" in case.env and oracle_uv.key >= (0, 9, 14)  # the variable came with uv 0.9.14
    assert ours.working_dir == (env["UV_WORKING_DIR"] if moved else str(cwd))
    # uv's warnings about project files are ours too.
    assert ("Found both a `uv.toml`" in proc.stderr) == any("found both" in warning for warning in ours.warnings), (proc.stderr, ours.warnings)
    assert ("during settings discovery" in proc.stderr) == any("during settings discovery" in warning for warning in ours.warnings)


def test_the_cases_cover_what_versions_disagree_on(uvs: list[OracleUv], tmp_path: Path) -> None:
    """Cases where real uv versions print different things: the resolver follows each (and this proves it)."""
    outcome: dict[str, list[str]] = {}
    for case in CASES:
        for uv in uvs:
            env, cwd = _prepare(case, tmp_path / case.name / uv.version)
            proc = uv.run("cache", "dir", env=env, cwd=cwd, check=False)
            printed = proc.stdout.removesuffix("\n") if proc.returncode == 0 else "error"
            outcome.setdefault(case.name, []).append(printed.replace(str(tmp_path / case.name / uv.version), "{tmp}"))
    differing = {name for name, results in outcome.items() if len(set(results)) > 1 and not all(Path(item).name.startswith(".tmp") for item in results)}
    assert {
        "system-empty-entry",
        "system-embedded-empty-entry",
        "system-no-system-config",
        "system-no-system-config-bogus",
        "user-cache-dir-empty",
        "user-file-toml-1-1-escape",
        "user-file-toml-1-1-inline-table",
        "user-file-toml-1-1-trailing-comma",
        "project-toml-1-1-time-without-seconds",
        "uv-cache-dir-parent-of-cwd",
        "no-cache-0-but-file-true",
    } <= differing, outcome
