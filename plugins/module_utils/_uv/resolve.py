# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Resolution: which cache directory a user's uv uses, and why, exactly as ``uv cache dir`` would tell.

uv's rules (crates/uv/src/lib.rs, uv-cache's Cache::from_settings, uv-settings, uv-dirs), per uv version:

1. ``--no-cache`` / UV_NO_CACHE (a boolean), or ``no-cache = true`` in the configuration: no cache (uv works in a
   temporary folder it removes at exit), whatever else is set. (uv 0.13: UV_NO_CACHE=false beats the file's true.)
2. ``--cache-dir`` (``cache_dir`` here), then UV_CACHE_DIR, then ``cache-dir`` in the configuration: that path, as
   written (no ``~`` or ``$VAR`` expansion; a relative path is relative to uv's working folder).
3. Else the legacy folder when it exists (macOS ``~/Library/Caches/uv``), else ``$XDG_CACHE_HOME/uv`` (absolute only)
   or ``~/.cache/uv``; Windows ``%LOCALAPPDATA%\\uv\\cache``; ``.uv_cache`` without any home folder.

The configuration: UV_CONFIG_FILE alone when set, nothing with UV_NO_CONFIG, else the project's file (found from the
workspace root upward) over the user's over the system's, each setting on its own. ``project`` stands for running
uv in that folder. Everything uv reads from the running process is an input (``UvHost``). Standard library only.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from .._core.errors import ConfigError, InvalidValue
from .config import ProjectConfig, Reader, UvConfigFile, default_reader, find_project_config, load_file, load_user_file, workspace_root
from .host import NEWEST_UV, UvHost, parse_boolish

__all__ = ["UvResolution", "resolve"]

# First uv version with each rule (from `git tag --contains` of the change in astral-sh/uv).
PROJECT_ENV = (0, 6, 11)  # UV_PROJECT
WORKING_DIRECTORY_ENV = (0, 9, 1)  # UV_WORKING_DIRECTORY
WORKING_DIR_ENV = (0, 9, 14)  # UV_WORKING_DIR (clap's env for --directory; UV_WORKING_DIRECTORY stays the fallback)
PROJECT_MISSING_WARNS = (0, 10, 10)
PROJECT_MISSING_FAILS = (0, 12, 0)
CACHE_DIR_CHECKS = (0, 11, 21)  # std::path::absolute(cache root): an empty one fails; no project inside the cache
# UV_NO_CACHE=false beats a file's no-cache = true: observed in uv 0.13.10 (0.12.5's source, the newest in the mirror,
# still ORs the two, as 0.4.30 and 0.9.21 do); 0.13.0 is the first version it is assumed for.
NO_CACHE_FALSE_WINS = (0, 13, 0)


@dataclass
class UvResolution:
    """Where one user's uv keeps its cache, and why."""

    uv_cache_dir: Optional[str]  # exactly what `uv cache dir` prints; None when the cache is disabled
    cache_dir: Optional[str]  # that folder as an absolute path (joined with the working folder, ~ not expanded)
    source: str  # cache_dir option, UV_CACHE_DIR, cache-dir in FILE (scope), XDG_CACHE_HOME, LOCALAPPDATA, default, ...
    disabled: bool
    disabled_reason: Optional[str]
    config_files: list[UvConfigFile]
    warnings: list[str] = field(default_factory=list)
    working_dir: str = ""  # the folder uv runs in
    uv_version: tuple[int, ...] = NEWEST_UV  # whose rules decided

    def to_data(self) -> dict[str, Any]:
        """Everything, as plain data (what a process acting as the user sends back)."""
        return {
            "uv_cache_dir": self.uv_cache_dir,
            "cache_dir": self.cache_dir,
            "source": self.source,
            "disabled": self.disabled,
            "disabled_reason": self.disabled_reason,
            "config_files": [item.to_data() for item in self.config_files],
            "warnings": list(self.warnings),
            "working_dir": self.working_dir,
            "uv_version": list(self.uv_version),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> UvResolution:
        return cls(
            uv_cache_dir=data["uv_cache_dir"],
            cache_dir=data["cache_dir"],
            source=str(data["source"]),
            disabled=bool(data["disabled"]),
            disabled_reason=data["disabled_reason"],
            config_files=[UvConfigFile.from_data(item) for item in data["config_files"]],
            warnings=[str(item) for item in data.get("warnings", [])],
            working_dir=str(data.get("working_dir", "")),
            uv_version=tuple(int(part) for part in data.get("uv_version", NEWEST_UV)),
        )


def _env_boolish(host: UvHost, name: str, flag: str) -> Optional[bool]:
    """A boolean flag's variable, as clap's BoolishValueParser reads it (an empty value is not a boolean)."""
    value = host.getenv(name)
    if value is None:
        return None
    parsed = parse_boolish(value)
    if parsed is None:
        raise ConfigError(f"uv rejects {name}={value!r} (its {flag}): expected a boolean (true/false, yes/no, on/off, 1/0)")
    return parsed


def _env_path(host: UvHost, name: str, flag: str) -> Optional[str]:
    """A path option's variable, as clap reads it: an empty value is an error, not an unset variable."""
    value = host.getenv(name)
    if value == "":
        raise ConfigError(f"uv rejects an empty {name} (its {flag}): a value is required")
    return value


def _canonical(host: UvHost, path: str) -> str:
    """The working folder as uv's getcwd would give it: links resolved on a live host, else normalised."""
    return os.path.realpath(path) if host.live else str(host.path.normpath(path))


def _simplified(host: UvHost, path: str) -> str:
    """uv's simplified_display (dunce::simplified): a Windows ``\\\\?\\`` prefix dropped where that is safe."""
    if host.platform != "win32" or not path.startswith("\\\\?\\"):
        return path
    rest = path[4:]
    if rest[:4].upper() == "UNC\\":
        return "\\\\" + rest[4:]
    if len(rest) >= 3 and rest[0].isalpha() and rest[1:3] == ":\\" and "/" not in rest and "\\.\\" not in rest and "\\..\\" not in rest:
        return rest
    return path


def _components(host: UvHost, path: str) -> list[str]:
    """Path::components: separators collapsed, ``.`` dropped (``..`` kept); Windows compares case-insensitively."""
    drive, rest = host.path.splitdrive(path)
    if host.platform == "win32":
        rest = rest.replace("\\", "/").lower()
        drive = drive.lower()
    return [drive, *(part for part in rest.split("/") if part not in ("", "."))]


def _inside(host: UvHost, path: str, folder: str) -> bool:
    outer = _components(host, folder)
    inner = _components(host, path)
    return inner[: len(outer)] == outer


def _working_folder(host: UvHost, project: Optional[str], version: tuple[int, ...]) -> str:
    """The folder uv runs in: ``project`` (or the host's working folder), then UV_WORKING_DIR's change of folder."""
    path = host.path
    if project is not None:
        if not project:
            raise InvalidValue("project is empty: name the folder uv would run in", option="project")
        working = _canonical(host, path.join(host.cwd, project))
        if not host.isdir(working):
            raise InvalidValue(f"project {project!r} is not a folder: uv cannot run in it", option="project", path=working)
    else:
        working = host.cwd
    name = "UV_WORKING_DIR"
    directory = _env_path(host, name, "--directory") if version >= WORKING_DIR_ENV else None
    if directory is None and version >= WORKING_DIRECTORY_ENV:
        name = "UV_WORKING_DIRECTORY"
        directory = host.getenv(name)
    if directory is not None:
        target = path.join(working, directory) if directory else ""
        if not target or not host.isdir(target):
            raise ConfigError(f"uv cannot change to the folder {name}={directory!r} names: no such folder")
        working = _canonical(host, target)
    return working


def _project_dir(host: UvHost, working: str, version: tuple[int, ...], warnings: list[str]) -> str:
    """Where uv looks for the project: UV_PROJECT (``--project``, normalised, a pyproject.toml's folder), else the
    working folder."""
    value = _env_path(host, "UV_PROJECT", "--project") if version >= PROJECT_ENV else None
    if value is None:
        return working
    path = host.path
    project_dir = str(path.normpath(path.join(working, value)))
    if path.basename(project_dir) == "pyproject.toml" and host.is_file(project_dir):
        return str(path.dirname(project_dir))
    if not host.isdir(project_dir):
        if version >= PROJECT_MISSING_FAILS:
            raise ConfigError(f"uv fails: the project folder UV_PROJECT={value!r} names is not a folder", path=project_dir)
        if version >= PROJECT_MISSING_WARNS and not host.exists(project_dir):
            warnings.append(f"uv warns that the project folder UV_PROJECT={value!r} names does not exist")
    return project_dir


def resolve(
    host: UvHost,
    *,
    cache_dir: Optional[str] = None,
    project: Optional[str] = None,
    in_cwd: bool = True,
    version: Optional[tuple[int, ...]] = None,
    reader: Optional[Reader] = None,
) -> UvResolution:
    """The cache directory ``uv cache dir`` would give for this user, with ``cache_dir`` as its ``--cache-dir`` and
    run in ``project`` (else in ``host.cwd``), following the rules of uv ``version`` (default: the newest known).
    ``in_cwd=False``: ``host.cwd`` is only where relative values lead (the modules take the home), not a folder uv
    runs in - without ``project`` (or UV_PROJECT, UV_WORKING_DIR), no project's configuration counts and uv's refusal
    of a project inside its cache does not apply.

    ``reader`` reads a file's text (default: from disk), raising OSError as the system would. Errors are uv's: a
    variable or file uv rejects raises ConfigError naming it; an empty ``cache_dir`` or a ``project`` that is not a
    folder raises InvalidValue."""
    version = tuple(version) if version else NEWEST_UV
    read = reader or default_reader
    path = host.path
    warnings: list[str] = []

    # What clap reads (the command line, then its variables): errors before anything else.
    if cache_dir == "":
        raise InvalidValue("cache_dir is empty: uv requires a value for --cache-dir", option="cache_dir")
    no_cache_env = _env_boolish(host, "UV_NO_CACHE", "--no-cache")
    env_cache_dir = _env_path(host, "UV_CACHE_DIR", "--cache-dir") if cache_dir is None else None
    config_file = _env_path(host, "UV_CONFIG_FILE", "--config-file")
    no_config = _env_boolish(host, "UV_NO_CONFIG", "--no-config")
    working = _working_folder(host, project, version)
    uv_host = dataclasses.replace(host, cwd=working)
    project_dir = _project_dir(uv_host, working, version, warnings)
    # Without a project (the option, UV_PROJECT or UV_WORKING_DIR), the working folder is a convention (the home), not
    # a folder uv runs in: no project's configuration counts, and uv's refusal of a project inside its cache does not apply.
    in_project = in_cwd or project is not None or any(host.getenv(name) is not None for name in ("UV_PROJECT", "UV_WORKING_DIR", "UV_WORKING_DIRECTORY"))

    # The configuration files, in precedence order.
    files: list[UvConfigFile] = []
    if config_file is not None:
        if path.basename(config_file) == "pyproject.toml":
            warnings.append("uv warns that UV_CONFIG_FILE expects a uv.toml file, not a pyproject.toml")
        files.append(load_file(config_file, path.join(working, config_file), scope="UV_CONFIG_FILE", reader=read, version=version))
    elif not no_config:
        found = ProjectConfig(None, project_dir)
        if in_project:
            start = workspace_root(uv_host, project_dir, reader=read, version=version) or project_dir
            found = find_project_config(uv_host, start, reader=read, version=version)
        warnings.extend(found.warnings)
        system: list[UvConfigFile] = []
        if not uv_host.no_system_config(version):
            chosen = uv_host.system_config_file(version)
            for candidate in uv_host.system_config_candidates(version):
                if candidate == chosen:
                    system.append(load_file(candidate, path.join(working, candidate), scope="system", reader=read, version=version))
                    break
                system.append(UvConfigFile(candidate, "system", False))
        user_path = uv_host.user_config_file(version)
        if found.file is not None:
            files.append(found.file)
        if user_path is not None:
            files.append(load_user_file(uv_host, user_path, reader=read, version=version))
        files.extend(system)

    def first(key: str) -> Optional[UvConfigFile]:
        return next((item for item in files if key in item.keys), None)

    def result(uv_cache_dir: Optional[str], absolute: Optional[str], source: str, reason: Optional[str] = None) -> UvResolution:
        return UvResolution(uv_cache_dir, absolute, source, reason is not None, reason, files, warnings, working, version)

    # 1. No cache.
    if no_cache_env:
        value = host.getenv("UV_NO_CACHE")
        return result(None, None, "UV_NO_CACHE", f"UV_NO_CACHE={value}: uv works in a temporary folder it removes at exit")
    no_cache_file = first("no-cache")
    if no_cache_env is False and version >= NO_CACHE_FALSE_WINS:
        no_cache_file = None
    if no_cache_file is not None and no_cache_file.keys["no-cache"]:
        where = no_cache_file.describe()
        return result(None, None, f"no-cache in {where}", f"no-cache = true in {where}: uv works in a temporary folder it removes at exit")

    # 2. A folder that is set, 3. the default one.
    if cache_dir is not None:
        raw, source = cache_dir, "cache_dir option"
    elif env_cache_dir is not None:
        raw, source = env_cache_dir, "UV_CACHE_DIR"
    else:
        setting = first("cache-dir")
        if setting is not None:
            raw, source = setting.keys["cache-dir"], f"cache-dir in {setting.describe()}"
        else:
            raw, source = uv_host.default_cache_dir(version)
    if raw == "":
        if version >= CACHE_DIR_CHECKS:
            raise ConfigError(f"uv fails on the empty {source}: cannot make an empty path absolute")
        warnings.append(f"the cache folder ({source}) is empty: uv {'.'.join(map(str, version))} takes its working folder {working} as the cache")
        return result("", working, source)
    shown = _simplified(host, raw)
    absolute = str(path.join(working, shown))
    if raw.startswith("~") or "$" in raw:
        warnings.append(f"uv expands neither ~ nor $VARIABLES: the cache folder ({source}) is {absolute}")
    elif not path.isabs(raw):
        warnings.append(f"the cache folder ({source}) is a relative path: uv takes it relative to its working folder {working}")
    if in_project and version >= CACHE_DIR_CHECKS and _project_inside_cache(uv_host, project_dir, absolute):
        raise ConfigError(f"uv refuses to run: the project folder {project_dir} is inside its cache folder {absolute} ({source})", path=absolute)
    return result(shown, absolute, source)


def _project_inside_cache(host: UvHost, project_dir: str, cache: str) -> bool:
    """uv 0.11.21+ refuses to run in a project inside its cache: compared as written, then with links resolved."""
    if _inside(host, project_dir, cache) or _inside(host, host.path.normpath(project_dir), host.path.normpath(cache)):
        return True
    if host.live and os.path.exists(cache) and os.path.exists(project_dir):
        return _inside(host, os.path.realpath(project_dir), os.path.realpath(cache))
    return False
