# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Resolution: which cache directory a user's pip uses for a given pip command, and why.

This reproduces the newest pip's rules (configuration.py, cli/parser.py, utils/appdirs.py and
its vendored platformdirs) for Linux, macOS and Windows. Everything that pip reads from the
running process (platform, environment, home folder, effective uid, sys.prefix, the working
directory, Windows known folders, whether a folder exists) is an input, so the rules of every
platform run anywhere. Standard library only.
"""

from __future__ import annotations

import configparser
import locale
import ntpath
import os
import posixpath
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .._core.errors import ConfigError

PLATFORMS = ("linux", "darwin", "win32")

# Pip's [<command>] section for each pip command the engine reports on.
COMMANDS = ("cache", "install", "download", "wheel")

_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")

_HOMEBREW_PYTHON = re.compile(r"(?P<prefix>.+)/opt/python[^/]*/Frameworks/Python\.framework/Versions/[^/]+")


def strtobool(value: str) -> bool:
    """pip's strtobool: ValueError for anything that is not a boolean word."""
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"invalid truth value {value!r}")


@dataclass(frozen=True)
class HostContext:
    """What pip would see when run by one user on one host."""

    platform: str
    environ: Mapping[str, str]
    home: Optional[str] = None  # the password database's home, used when HOME is unset or empty
    uid: Optional[int] = None  # effective uid of that user's pip (None: no ownership check)
    gids: tuple[int, ...] = ()
    sys_prefix: Optional[str] = None  # the interpreter's prefix: its site config file
    base_prefix: Optional[str] = None
    cwd: str = "/"
    windows_folders: Mapping[str, str] = field(default_factory=dict)  # LOCAL_APPDATA, APPDATA, COMMON_APPDATA
    isdir: Callable[[str], bool] = os.path.isdir
    exists: Callable[[str], bool] = os.path.exists
    live: bool = False  # True: paths are on this machine, realpath and ownership checks touch the disk

    def __post_init__(self) -> None:
        if self.platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {PLATFORMS}, got {self.platform!r}")

    @property
    def path(self) -> Any:
        return ntpath if self.platform == "win32" else posixpath

    @property
    def config_basename(self) -> str:
        return "pip.ini" if self.platform == "win32" else "pip.conf"

    @property
    def devnull(self) -> str:
        return "nul" if self.platform == "win32" else "/dev/null"

    def getenv(self, name: str) -> Optional[str]:
        if self.platform == "win32":
            upper = name.upper()
            for key, value in self.environ.items():
                if key.upper() == upper:
                    return value
            return None
        return self.environ.get(name)

    def pip_environ_items(self) -> list[tuple[str, str]]:
        """The PIP_* variables as pip's Configuration.get_environ_vars yields them."""
        items = []
        for key, value in self.environ.items():
            name = key.upper() if self.platform == "win32" else key
            if name.startswith("PIP_"):
                short = name[4:].lower()
                if short not in ("version", "help"):
                    items.append((short, value))
        return items

    def expanduser(self, path: str) -> str:
        """os.path.expanduser of that platform, with this context's environment."""
        if not path.startswith("~"):
            return path
        if self.platform == "win32":
            index = 1
            while index < len(path) and path[index] not in "\\/":
                index += 1
            profile = self.getenv("USERPROFILE")
            if profile is None:
                drive, home_path = self.getenv("HOMEDRIVE"), self.getenv("HOMEPATH")
                if home_path is None:
                    return path
                profile = (drive or "") + home_path
            if index != 1:  # ~otheruser
                target = path[1:index]
                if target != self.getenv("USERNAME"):
                    profile = ntpath.join(ntpath.dirname(profile), target)
            return profile + path[index:]
        index = path.find("/", 1)
        if index < 0:
            index = len(path)
        if index != 1:
            return path  # ~otheruser: the engine never needs it
        home = self.environ.get("HOME")
        if home is None:
            home = self.home
            if home is None:
                return path
        home = home.rstrip("/")
        return (home + path[index:]) or "/"

    def platformdirs_expand(self, path: str) -> str:
        """platformdirs' _expand_user: an empty HOME counts as unset."""
        if self.platform != "win32" and "HOME" in self.environ and not self.environ["HOME"]:
            if self.home is None:
                raise ConfigError(f"could not determine the home directory for {path!r}: HOME is empty and no home is known")
            return (self.home.rstrip("/") + path[1:]) or "/"
        expanded = self.expanduser(path)
        if expanded.startswith("~"):
            raise ConfigError(f"could not determine the home directory for {path!r}: set HOME or an absolute XDG variable")
        return expanded

    def _xdg_dir(self, name: str) -> Optional[str]:
        value = (self.environ.get(name) or "").strip()
        return value if posixpath.isabs(value) else None

    def _xdg_dir_list(self, name: str) -> list[str]:
        parts = (self.environ.get(name) or "").split(":")
        return [part.strip() for part in parts if posixpath.isabs(part.strip())]

    def win_folder(self, name: str) -> str:
        """A Windows known folder (LOCAL_APPDATA, APPDATA, COMMON_APPDATA), platformdirs' override first."""
        override = (self.getenv(f"WIN_PD_OVERRIDE_{name}") or "").strip()
        drive, tail = ntpath.splitdrive(override)
        if drive.startswith(("\\", "/")) or (bool(drive) and tail.startswith(("\\", "/"))):
            return ntpath.normpath(override)
        folder = self.windows_folders.get(name)
        if not folder:
            raise ConfigError(f"the Windows known folder {name} is not known for this user")
        return ntpath.normpath(folder)

    # Default directories, as pip's appdirs wrapper asks platformdirs for them.
    def user_cache_dir(self) -> str:
        if self.platform == "win32":
            return ntpath.join(self.win_folder("LOCAL_APPDATA"), "pip", "Cache")
        xdg = self._xdg_dir("XDG_CACHE_HOME")
        if xdg:
            return posixpath.join(xdg, "pip")
        if self.platform == "darwin":
            return posixpath.join(self.platformdirs_expand("~/Library/Caches"), "pip")
        return posixpath.join(self.platformdirs_expand("~/.cache"), "pip")

    def user_config_dir(self) -> str:
        if self.platform == "win32":
            return ntpath.join(self.win_folder("APPDATA"), "pip")
        if self.platform == "darwin":
            xdg_data = self._xdg_dir("XDG_DATA_HOME")
            data_dir = posixpath.join(xdg_data, "pip") if xdg_data else posixpath.join(self.platformdirs_expand("~/Library/Application Support"), "pip")
            if self.isdir(data_dir):
                return data_dir
            return self.expanduser("~/.config/pip")
        xdg = self._xdg_dir("XDG_CONFIG_HOME")
        if xdg:
            return posixpath.join(xdg, "pip")
        return posixpath.join(self.platformdirs_expand("~/.config"), "pip")

    def site_config_dirs(self) -> list[str]:
        if self.platform == "win32":
            return [ntpath.join(self.win_folder("COMMON_APPDATA"), "pip")]
        if self.platform == "darwin":
            xdg_dirs = self._xdg_dir_list("XDG_DATA_DIRS")
            if xdg_dirs:
                return [posixpath.join(path, "pip") for path in xdg_dirs]
            dirs = []
            match = _HOMEBREW_PYTHON.fullmatch(self.base_prefix or "")
            if match:
                dirs.append(posixpath.join(match["prefix"] + "/share", "pip"))
            dirs.append("/Library/Application Support/pip")
            return dirs
        xdg_dirs = self._xdg_dir_list("XDG_CONFIG_DIRS")
        dirs = [posixpath.join(path, "pip") for path in xdg_dirs] if xdg_dirs else ["/etc/xdg/pip"]
        return [*dirs, "/etc"]


@dataclass(frozen=True)
class ConfigFile:
    """One configuration file pip considers, in pip's loading order."""

    variant: str  # global, user, site, env (the file named by PIP_CONFIG_FILE)
    path: str
    exists: bool

    def as_dict(self) -> dict[str, Any]:
        return {"variant": self.variant, "path": self.path, "exists": self.exists}


def config_files(ctx: HostContext, *, isolated: bool = False) -> list[ConfigFile]:
    """Every file pip would load, in load order; user files are skipped when PIP_CONFIG_FILE exists."""
    path = ctx.path
    basename = ctx.config_basename
    env_file = ctx.getenv("PIP_CONFIG_FILE")
    env_file_exists = bool(env_file) and ctx.exists(_absolute(ctx, env_file or ""))
    files: list[tuple[str, str]] = [("global", path.join(directory, basename)) for directory in ctx.site_config_dirs()]
    if not isolated and not env_file_exists:
        legacy = path.join(ctx.expanduser("~"), "pip" if ctx.platform == "win32" else ".pip", basename)
        files.append(("user", legacy))
        files.append(("user", path.join(ctx.user_config_dir(), basename)))
    if ctx.sys_prefix:
        files.append(("site", path.join(ctx.sys_prefix, basename)))
    if env_file is not None:
        files.append(("env", env_file))
    return [ConfigFile(variant, name, bool(name) and ctx.exists(_absolute(ctx, name))) for variant, name in files]


def _absolute(ctx: HostContext, name: str) -> str:
    return name if ctx.path.isabs(name) else ctx.path.join(ctx.cwd, name)


def _normalize_key(name: str) -> str:
    name = name.lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


@dataclass(frozen=True)
class Setting:
    """One value pip read, and where from."""

    key: str  # normalised option name: cache-dir, no-cache-dir
    value: str
    origin: str  # a file path, or "environment"
    section: str  # the file's section, or the variable name for the environment

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value, "origin": self.origin, "section": self.section}

    @classmethod
    def from_dict(cls, data: Optional[dict[str, Any]]) -> Optional[Setting]:
        return None if data is None else cls(str(data["key"]), str(data["value"]), str(data["origin"]), str(data["section"]))


@dataclass
class LoadedConfig:
    """The parsed configuration: per file, section.key -> value, in pip's override order."""

    files: list[ConfigFile]
    values: list[tuple[str, dict[str, str]]]  # (origin, {"section.key": value}) in override order
    skipped_all_files: bool = False


def read_config_text(text: str, *, origin: str) -> dict[str, str]:
    """Parse one file's text the way pip does (RawConfigParser, normalised keys)."""
    parser = configparser.RawConfigParser()
    parser.optionxform = _normalize_key  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text, source=origin)
    except configparser.Error as error:
        # Named by kind and line number only: the parser's own message quotes the line, which may be anything the
        # file's owner linked it to (a root-only file read by root must never be echoed).
        raise ConfigError(f"pip cannot load this configuration file: {_parse_problem(error)}", path=origin) from None
    result: dict[str, str] = {}
    for section in parser.sections():
        for name, value in parser.items(section):
            result[f"{section}.{_normalize_key(name)}"] = value
    return result


def _parse_problem(error: configparser.Error) -> str:
    """What is wrong with a configuration file, by kind and line number, without any of its text."""
    line: Optional[int] = getattr(error, "lineno", None)
    if line is None and isinstance(error, configparser.ParsingError) and error.errors:
        line = error.errors[0][0]
    kinds = (
        (configparser.MissingSectionHeaderError, "no [section] header before the first setting"),
        (configparser.DuplicateSectionError, "a section that appears twice"),
        (configparser.DuplicateOptionError, "a key that appears twice in its section"),
        (configparser.ParsingError, "a line that is neither a [section] nor key = value"),
    )
    kind = next((text for cls, text in kinds if isinstance(error, cls)), "a syntax error")
    return f"{kind} (line {line})" if line else kind


CONFIG_MAX_BYTES = 1 << 20
"""A configuration file larger than this is refused unread: pip's files are a few lines, and a link to /dev/zero
must not hold the run."""


def default_reader(path: str) -> Optional[str]:
    """Read a configuration file as pip does (locale encoding); None when it does not exist.

    Only a regular file is read (opened without blocking, so a FIFO cannot hold the run), and at most
    CONFIG_MAX_BYTES of it. Errors name the file and the cause, never its contents.
    """
    encoding = "utf-8" if sys.flags.utf8_mode else (locale.getpreferredencoding(False) or "utf-8")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ConfigError("pip cannot load this configuration file: it is a directory", path=path) from None
    except PermissionError:
        raise ConfigError("pip cannot read this configuration file: permission denied", path=path) from None
    except OSError as error:
        raise ConfigError(f"pip cannot read this configuration file: {error.strerror or type(error).__name__}", path=path) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError("pip cannot load this configuration file: it is a directory", path=path)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError("not a regular file (a device, FIFO or socket): left unread", path=path)
        if info.st_size > CONFIG_MAX_BYTES:
            raise ConfigError(f"larger than {CONFIG_MAX_BYTES} bytes, no pip configuration file: left unread", path=path)
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > CONFIG_MAX_BYTES:
                raise ConfigError(f"larger than {CONFIG_MAX_BYTES} bytes, no pip configuration file: left unread", path=path)
            chunks.append(chunk)
    except OSError as error:
        raise ConfigError(f"pip cannot read this configuration file: {error.strerror or type(error).__name__}", path=path) from None
    finally:
        os.close(fd)
    try:
        # As open() in text mode reads it: universal newlines.
        return b"".join(chunks).decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
    except (UnicodeDecodeError, LookupError):
        raise ConfigError(f"pip cannot load this configuration file: it contains invalid {encoding} characters", path=path) from None


def load_config(ctx: HostContext, *, isolated: bool = False, reader: Callable[[str], Optional[str]] = default_reader) -> LoadedConfig:
    """Load every file and the environment the way pip's Configuration.load() does."""
    files = config_files(ctx, isolated=isolated)
    env_file = ctx.getenv("PIP_CONFIG_FILE")
    # pip keys its per-variant dictionaries by file name; a name seen again keeps its first position.
    by_origin: dict[str, dict[str, str]] = {}
    skipped = env_file is not None and env_file == ctx.devnull
    if not skipped:
        for config_file in files:
            data: dict[str, str] = {}
            if config_file.exists:
                text = reader(_absolute(ctx, config_file.path))
                if text is not None:
                    data = read_config_text(text, origin=config_file.path)
            by_origin[config_file.path] = data
    values = list(by_origin.items())
    if not isolated:
        env_values = {f":env:.{_normalize_key(name)}": value for name, value in ctx.pip_environ_items()}
        values.append(("environment", env_values))
    return LoadedConfig(files=files, values=values, skipped_all_files=skipped)


@dataclass
class Resolution:
    """Where one user's pip keeps its cache for one pip command, and why."""

    command: str
    cache_dir: Optional[str]  # None when the cache is disabled
    configured_dir: Optional[str]  # the directory before the ownership check disabled it
    source: str  # option, env, config, default, disabled (by no-cache-dir, an empty cache_dir, or the ownership check)
    setting: Optional[Setting]  # the value that decided, when not the default
    disabled: bool
    disabled_reason: Optional[str]
    disabled_by: Optional[Setting]
    owner_ok: Optional[bool]
    config_files: list[ConfigFile]
    warnings: list[str] = field(default_factory=list)
    configured_source: Optional[str] = None  # where configured_dir came from (option, env, config, default)

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "cache_dir": self.cache_dir,
            "configured_dir": self.configured_dir,
            "source": self.source,
            "configured_source": self.configured_source,
            "setting": self.setting.as_dict() if self.setting else None,
            "disabled": self.disabled,
            "disabled_reason": self.disabled_reason,
            "disabled_by": self.disabled_by.as_dict() if self.disabled_by else None,
            "owner_ok": self.owner_ok,
            "config_files": [item.as_dict() for item in self.config_files],
        }

    def to_data(self) -> dict[str, Any]:
        """Everything, as plain data (what a process acting as the user sends back)."""
        return dict(self.as_dict(), warnings=list(self.warnings))

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Resolution:
        return cls(
            command=str(data["command"]),
            cache_dir=data["cache_dir"],
            configured_dir=data["configured_dir"],
            source=str(data["source"]),
            setting=Setting.from_dict(data["setting"]),
            disabled=bool(data["disabled"]),
            disabled_reason=data["disabled_reason"],
            disabled_by=Setting.from_dict(data["disabled_by"]),
            owner_ok=data["owner_ok"],
            config_files=[ConfigFile(str(item["variant"]), str(item["path"]), bool(item["exists"])) for item in data["config_files"]],
            warnings=[str(item) for item in data.get("warnings", [])],
            configured_source=data.get("configured_source"),
        )


def _ordered_settings(config: LoadedConfig, command: str) -> list[Setting]:
    """pip's _get_ordered_configuration_items: [global], then [command], then the environment."""
    order = ["global", command, ":env:"]
    pooled: dict[str, dict[str, Setting]] = {name: {} for name in order}
    for origin, values in config.values:
        for section_key, value in values.items():
            section, key = section_key.split(".", 1)
            if section in pooled:
                label = "environment" if section == ":env:" else section
                variable = "PIP_" + key.upper().replace("-", "_") if section == ":env:" else label
                pooled[section][key] = Setting(key=key, value=value, origin=origin, section=variable)
    result: list[Setting] = []
    for name in order:
        result.extend(setting for setting in pooled[name].values() if setting.value)
    return result


def resolve(
    ctx: HostContext,
    *,
    command: str = "cache",
    cache_dir: Optional[str] = None,
    no_cache_dir: bool = False,
    isolated: bool = False,
    config: Optional[LoadedConfig] = None,
) -> Resolution:
    """The cache directory pip uses for ``command``; ``cache_dir``/``no_cache_dir`` act as pip's command line."""
    if config is None:
        config = load_config(ctx, isolated=isolated)
    chosen: Optional[Setting] = None
    disabled_by: Optional[Setting] = None
    for setting in _ordered_settings(config, command):
        if setting.key == "cache-dir":
            chosen = setting
        elif setting.key == "no-cache-dir":
            try:
                strtobool(setting.value)
            except ValueError:
                where = setting.section if setting.origin == "environment" else f"[{setting.section}] in {setting.origin}"
                # A file's value is not quoted (see read_config_text); the task's own environment is.
                shown = f"no-cache-dir = {setting.value!r}" if setting.origin == "environment" else "the no-cache-dir value"
                raise ConfigError(
                    f"pip rejects {shown} ({where}): use a boolean such as yes/no, true/false or 1/0; "
                    "any boolean disables the cache, remove the key to enable it",
                    path=None if setting.origin == "environment" else setting.origin,
                ) from None
            disabled_by = setting  # any valid boolean disables the cache: pip keeps that on purpose
    source = "default"
    raw: Optional[str]
    if cache_dir == "":
        # pip keeps an empty --cache-dir as it is and takes it for no cache ("if options.cache_dir:"); it is
        # never the working directory.
        reason = "cache_dir is empty: pip takes an empty --cache-dir for no cache"
        return Resolution(command, None, None, "disabled", Setting("cache-dir", "", "option", "cache_dir"), True, reason, None, None, config.files)
    if cache_dir is not None:
        raw, source, chosen, disabled_by = cache_dir, "option", Setting("cache-dir", cache_dir, "option", "cache_dir"), None
    elif no_cache_dir:
        return Resolution(command, None, None, "disabled", None, True, "the no_cache_dir option", None, None, config.files)
    elif disabled_by is not None:
        where = disabled_by.section if disabled_by.origin == "environment" else f"[{disabled_by.section}] of {disabled_by.origin}"
        reason = f"no-cache-dir = {disabled_by.value} in {where}"
        return Resolution(command, None, None, "disabled", chosen, True, reason, disabled_by, None, config.files)
    elif chosen is not None:
        raw = chosen.value
        source = "env" if chosen.origin == "environment" else "config"
    else:
        raw = None
    if raw is None:
        directory = ctx.user_cache_dir()
    else:
        directory = ctx.expanduser(raw)
    directory = normalize_path(ctx, directory)
    owner_ok = check_path_owner(ctx, directory)
    if not owner_ok:
        # pip's ownership check disabled it: source says so, as for no-cache-dir; configured_source keeps where the
        # folder it refused came from.
        # The advice fits the cause: a default folder left to root by 'sudo pip' wants its files back; a folder the
        # user's configuration or environment chose is the wrong place for this user's cache.
        if source == "default":
            advice = "after 'sudo pip', give the files back to their owner"
        else:
            chooser = {"env": "the environment", "config": "the configuration"}.get(source, "the option")
            advice = f"it was chosen by {chooser}: point it at a folder of this user's"
        reason = f"the directory '{directory}' or its parent directory is not owned or is not writable by the user; pip disables the cache ({advice})"
        return Resolution(command, None, directory, "disabled", chosen, True, reason, None, False, config.files, [reason], configured_source=source)
    return Resolution(command, directory, directory, source, chosen, False, None, None, owner_ok, config.files, configured_source=source)


def normalize_path(ctx: HostContext, path: str) -> str:
    """pip's normalize_path: expanduser, realpath, normcase (which lowercases on Windows)."""
    path = ctx.expanduser(path)
    if not ctx.path.isabs(path):
        path = ctx.path.join(ctx.cwd, path)
    path = os.path.realpath(path) if ctx.live else ctx.path.normpath(path)
    return str(ctx.path.normcase(path))


def check_path_owner(ctx: HostContext, path: str) -> Optional[bool]:
    """pip's check_path_owner for that user: root needs root ownership, others write access."""
    if ctx.platform == "win32" or ctx.uid is None or not ctx.live:
        return True
    previous = None
    while path != previous:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            previous, path = path, os.path.dirname(path)
            continue
        except OSError:
            return False
        if ctx.uid == 0:
            return not stat.S_ISLNK(info.st_mode) and info.st_uid == 0
        if hasattr(os, "geteuid") and ctx.uid == os.geteuid():
            return os.access(path, os.W_OK)
        return _writable_by(info, ctx.uid, ctx.gids)
    return False


def _writable_by(info: os.stat_result, uid: int, gids: tuple[int, ...]) -> bool:
    """Write permission from the mode bits, for a user other than this process (ACLs not read)."""
    if info.st_uid == uid:
        return bool(info.st_mode & stat.S_IWUSR)
    if info.st_gid in gids:
        return bool(info.st_mode & stat.S_IWGRP)
    return bool(info.st_mode & stat.S_IWOTH)
