# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Resolution: which cache directory a user's pip uses for a given pip command, and why.

This reproduces the newest pip's rules (configuration.py, cli/parser.py, utils/filesystem.py) for Linux, macOS
and Windows: the settings that apply to a command, in pip's order (``config_read.py`` reads them), the command
line's options over them, the default folder when none is set (``host.py``), and pip's check that the user owns
the folder. Everything pip reads from the running process is an input, so the rules of every platform run
anywhere. Standard library only.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Any, Optional

from .._core.errors import ConfigError
from .config_read import ConfigFile, LoadedConfig, Setting, load_config, strtobool
from .host import HostContext

# Pip's [<command>] section for each pip command the engine reports on.
COMMANDS = ("cache", "install", "download", "wheel")


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
