# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Reading pip's configuration: which files pip loads, in its order, parsed as pip parses them, and its environment.

The rules of pip's configuration.py (files per platform and variant, PIP_CONFIG_FILE, RawConfigParser with
normalised keys, PIP_* variables). A file is read without following it into a device or a FIFO and never
echoed: errors name the file, the kind of problem and the line. Standard library only.
"""

from __future__ import annotations

import configparser
import locale
import os
import stat
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .._core.errors import ConfigError
from .host import HostContext

_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")


def strtobool(value: str) -> bool:
    """pip's strtobool: ValueError for anything that is not a boolean word."""
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"invalid truth value {value!r}")


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
