# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Reading uv's configuration: ``uv.toml`` files and a ``pyproject.toml``'s ``[tool.uv]`` table, as uv finds them.

What the cache needs of them: ``cache-dir`` (a path string, kept verbatim) and ``no-cache`` (a boolean). The rules are
uv-settings' (``FilesystemOptions::user``/``system``/``find``/``from_file``) and uv-workspace's (where the project
search starts), per uv version. A file is read without following it into a FIFO or device and never echoed: errors
name the file, the problem and the line, never a value from the file.

TOML: ``tomllib`` where Python has it (3.11+) and the uv reads TOML 1.0; otherwise (Python 3.9/3.10, or a uv that
reads TOML 1.1: 0.9.22+) the small reader below, which implements the whole TOML grammar the same way (tomllib's
rules for tables, dotted keys and redefinitions) plus TOML 1.1's additions when asked. Standard library only.
"""

from __future__ import annotations

import datetime
import errno
import fnmatch
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .._core.errors import ConfigError
from .host import NEWEST_UV, UvHost

if sys.version_info >= (3, 11):
    import tomllib as _tomllib
else:  # pragma: no cover - Python 3.9/3.10 use the reader below
    _tomllib = None

__all__ = [
    "CONFIG_MAX_BYTES",
    "TOML_1_1",
    "ProjectConfig",
    "TomlError",
    "UnreadableFile",
    "UvConfigFile",
    "cache_settings",
    "default_reader",
    "find_project_config",
    "load_file",
    "parse_toml",
    "read_toml",
    "workspace_root",
]

TOML_1_1 = (0, 9, 22)
"""uv reads TOML 1.1 from 0.9.22 on (the toml crate 0.9.10+spec-1.1.0): newlines and a trailing comma in inline tables,
``\\e`` and ``\\xHH`` escapes, times without seconds."""

# uv.toml keys uv refuses (unknown in every version, or pyproject-only since uv-settings' validate_uv_toml).
_NEVER_IN_UV_TOML = ("project", "tool", "build-system")
_PYPROJECT_ONLY = (((0, 5, 0), ("workspace", "sources", "dev-dependencies", "default-groups", "managed", "package")),
                   ((0, 8, 0), ("conflicts", "dependency-groups", "build-backend")))  # fmt: skip
# [tool.uv] keys that uv 0.8.1+ does not list when an adjacent uv.toml masks the table (project-only settings).
_PROJECT_ONLY_KEYS = frozenset(
    ("environments", "required-environments", "conflicts", "workspace", "sources", "dev-dependencies", "default-groups",
     "dependency-groups", "managed", "package", "build-backend", "audit", "no-sources-package")
)  # fmt: skip
MASKED_FIELDS_LISTED = (0, 8, 1)
# FilesystemOptions::user ignores these errors of the user file (uv 0.5.9 NotADirectory, 0.5.21 PermissionDenied).
USER_FILE_NOT_A_DIRECTORY_IGNORED = (0, 5, 9)
USER_FILE_PERMISSION_IGNORED = (0, 5, 21)

CONFIG_MAX_BYTES = 4 << 20
"""A configuration file larger than this is refused unread: a link to /dev/zero must not hold the run."""


# ------------------------------------------------------------------------------------------------------------------
# TOML


class TomlError(ValueError):
    """A TOML document that does not parse: what is wrong and the line, never the text."""

    def __init__(self, reason: str, line: int) -> None:
        super().__init__(f"{reason} (line {line})")
        self.reason = reason
        self.line = line


_WS = frozenset(" \t")
_WS_NL = frozenset(" \t\n")
_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_HEX = frozenset("0123456789abcdefABCDEF")
_CTRL = frozenset([chr(code) for code in range(32)] + ["\x7f"])
_ILLEGAL_ONE_LINE = _CTRL - {"\t"}  # basic and literal strings, comments
_ILLEGAL_MULTILINE = _CTRL - {"\t", "\n"}
_ESCAPES = {"\\b": "\b", "\\t": "\t", "\\n": "\n", "\\f": "\f", "\\r": "\r", '\\"': '"', "\\\\": "\\"}
_DATE = r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_OFFSET = r"(?:([Zz])|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))?"
_TIME_1_0 = r"([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(?:\.([0-9]{1,6})[0-9]*)?"
_TIME_1_1 = r"([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9])(?:\.([0-9]{1,6})[0-9]*)?)?"
_DATETIME = {
    False: re.compile(rf"{_DATE}(?:[Tt ]{_TIME_1_0}{_OFFSET})?"),
    True: re.compile(rf"{_DATE}(?:[Tt ]{_TIME_1_1}{_OFFSET})?"),
}
_LOCAL_TIME = {False: re.compile(_TIME_1_0), True: re.compile(_TIME_1_1)}
_NUMBER = re.compile(
    r"0(?:x[0-9A-Fa-f](?:_?[0-9A-Fa-f])*|b[01](?:_?[01])*|o[0-7](?:_?[0-7])*)"
    r"|[+-]?(?:0|[1-9](?:_?[0-9])*)(?P<fraction>(?:\.[0-9](?:_?[0-9])*)?(?:[eE][+-]?[0-9](?:_?[0-9])*)?)"
)
_FROZEN, _EXPLICIT = 0, 1

Key = tuple[str, ...]


class _Flags:
    """Which tables are closed to later statements (tomllib's rules): explicitly declared ones, and frozen inline
    tables and arrays."""

    def __init__(self) -> None:
        self._tree: dict[str, Any] = {}
        self._pending: list[tuple[Key, int]] = []

    def add_pending(self, key: Key, flag: int) -> None:
        self._pending.append((key, flag))

    def finalize_pending(self) -> None:
        for key, flag in self._pending:
            self.set(key, flag, recursive=False)
        self._pending.clear()

    def unset_all(self, key: Key) -> None:
        level = self._tree
        for part in key[:-1]:
            if part not in level:
                return
            level = level[part]["nested"]
        level.pop(key[-1], None)

    def set(self, key: Key, flag: int, *, recursive: bool) -> None:
        level = self._tree
        for part in key[:-1]:
            level = level.setdefault(part, {"flags": set(), "recursive": set(), "nested": {}})["nested"]
        entry = level.setdefault(key[-1], {"flags": set(), "recursive": set(), "nested": {}})
        entry["recursive" if recursive else "flags"].add(flag)

    def is_(self, key: Key, flag: int) -> bool:
        if not key:
            return False
        level = self._tree
        for part in key[:-1]:
            if part not in level:
                return False
            entry = level[part]
            if flag in entry["recursive"]:
                return True
            level = entry["nested"]
        entry = level.get(key[-1])
        return entry is not None and (flag in entry["flags"] or flag in entry["recursive"])


def _nest(root: dict[str, Any], key: Key, *, access_lists: bool = True) -> dict[str, Any]:
    """The table at ``key``, created when missing; KeyError when a value that is not a table is in the way."""
    level: Any = root
    for part in key:
        if part not in level:
            level[part] = {}
        level = level[part]
        if access_lists and isinstance(level, list):
            level = level[-1]
        if not isinstance(level, dict):
            raise KeyError(part)
    return level  # type: ignore[no-any-return]


class _Parser:
    def __init__(self, text: str, *, toml11: bool) -> None:
        self.src = text.replace("\r\n", "\n")
        self.toml11 = toml11
        self.data: dict[str, Any] = {}
        self.flags = _Flags()

    def error(self, pos: int, reason: str) -> TomlError:
        return TomlError(reason, self.src.count("\n", 0, pos) + 1)

    def char(self, pos: int) -> str:
        return self.src[pos : pos + 1]

    def skip(self, pos: int, chars: frozenset[str]) -> int:
        src = self.src
        while pos < len(src) and src[pos] in chars:
            pos += 1
        return pos

    def skip_comment(self, pos: int) -> int:
        if self.char(pos) != "#":
            return pos
        end = self.src.find("\n", pos + 1)
        end = len(self.src) if end < 0 else end
        for index in range(pos + 1, end):
            if self.src[index] in _ILLEGAL_ONE_LINE:
                raise self.error(index, "a control character in a comment")
        return end

    def skip_blank(self, pos: int) -> int:
        """Whitespace, newlines and comments (inside arrays, and inline tables in TOML 1.1)."""
        while True:
            before = pos
            pos = self.skip_comment(self.skip(pos, _WS_NL))
            if pos == before:
                return pos

    # --- statements

    def parse(self) -> dict[str, Any]:
        src = self.src
        pos = 0
        header: Key = ()
        while True:
            pos = self.skip(pos, _WS)
            char = self.char(pos)
            if not char:
                break
            if char == "\n":
                pos += 1
                continue
            if char in _BARE or char in "\"'":
                pos = self.key_value_rule(pos, header)
                pos = self.skip(pos, _WS)
            elif char == "[":
                self.flags.finalize_pending()
                if self.char(pos + 1) == "[":
                    pos, header = self.array_table_rule(pos)
                else:
                    pos, header = self.table_rule(pos)
                pos = self.skip(pos, _WS)
            elif char != "#":
                raise self.error(pos, "a line that is neither a key = value nor a [table] header")
            pos = self.skip_comment(pos)
            if pos >= len(src):
                break
            if src[pos] != "\n":
                raise self.error(pos, "more after a statement on the same line")
            pos += 1
        return self.data

    def key_value_rule(self, pos: int, header: Key) -> int:
        start = pos
        pos, key, value = self.key_value_pair(pos)
        parent, stem = key[:-1], key[-1]
        for index in range(1, len(key)):
            container = header + key[:index]
            if self.flags.is_(container, _EXPLICIT):
                raise self.error(start, "a dotted key that redefines a table")
            self.flags.add_pending(container, _EXPLICIT)
        if self.flags.is_(header + parent, _FROZEN):
            raise self.error(start, "a key added to an inline table or array after its definition")
        try:
            nest = _nest(self.data, header + parent)
        except KeyError:
            raise self.error(start, "a key under a value that is not a table") from None
        if stem in nest:
            raise self.error(start, "a key defined twice")
        if isinstance(value, (dict, list)):
            self.flags.set(header + key, _FROZEN, recursive=True)
        nest[stem] = value
        return pos

    def table_rule(self, pos: int) -> tuple[int, Key]:
        start = pos
        pos, key = self.key(self.skip(pos + 1, _WS))
        if self.flags.is_(key, _EXPLICIT) or self.flags.is_(key, _FROZEN):
            raise self.error(start, "a table defined twice")
        self.flags.set(key, _EXPLICIT, recursive=False)
        try:
            _nest(self.data, key)
        except KeyError:
            raise self.error(start, "a table header over a value that is not a table") from None
        if self.char(pos) != "]":
            raise self.error(pos, "a table header without its closing ]")
        return pos + 1, key

    def array_table_rule(self, pos: int) -> tuple[int, Key]:
        start = pos
        pos, key = self.key(self.skip(pos + 2, _WS))
        if self.flags.is_(key, _FROZEN):
            raise self.error(start, "an array of tables over an inline array")
        self.flags.unset_all(key)
        self.flags.set(key, _EXPLICIT, recursive=False)
        try:
            container = _nest(self.data, key[:-1])
        except KeyError:
            raise self.error(start, "an array of tables under a value that is not a table") from None
        existing = container.get(key[-1])
        if existing is None:
            container[key[-1]] = [{}]
        elif isinstance(existing, list):
            existing.append({})
        else:
            raise self.error(start, "an array of tables over a value that is not an array")
        if not self.src.startswith("]]", pos):
            raise self.error(pos, "an array of tables header without its closing ]]")
        return pos + 2, key

    # --- keys

    def key_value_pair(self, pos: int) -> tuple[int, Key, Any]:
        pos, key = self.key(pos)
        if self.char(pos) != "=":
            raise self.error(pos, "a key without = and a value")
        pos, value = self.value(self.skip(pos + 1, _WS))
        return pos, key, value

    def key(self, pos: int) -> tuple[int, Key]:
        pos, part = self.key_part(pos)
        key: Key = (part,)
        pos = self.skip(pos, _WS)
        while self.char(pos) == ".":
            pos, part = self.key_part(self.skip(pos + 1, _WS))
            key += (part,)
            pos = self.skip(pos, _WS)
        return pos, key

    def key_part(self, pos: int) -> tuple[int, str]:
        char = self.char(pos)
        if char and char in _BARE:
            end = self.skip(pos, _BARE)
            return end, self.src[pos:end]
        if char == "'":
            return self.literal_string(pos)
        if char == '"':
            return self.basic_string(pos + 1, multiline=False)
        raise self.error(pos, "an invalid key")

    # --- values

    def value(self, pos: int) -> tuple[int, Any]:
        src = self.src
        char = self.char(pos)
        if char == '"':
            if src.startswith('"""', pos):
                return self.multiline_string(pos, literal=False)
            return self.basic_string(pos + 1, multiline=False)
        if char == "'":
            if src.startswith("'''", pos):
                return self.multiline_string(pos, literal=True)
            return self.literal_string(pos)
        if char == "t" and src.startswith("true", pos):
            return pos + 4, True
        if char == "f" and src.startswith("false", pos):
            return pos + 5, False
        if char == "[":
            return self.array(pos)
        if char == "{":
            return self.inline_table(pos)
        match = _DATETIME[self.toml11].match(src, pos)
        if match:
            try:
                return match.end(), _to_datetime(match)
            except ValueError:
                raise self.error(pos, "an invalid date or date-time") from None
        match = _LOCAL_TIME[self.toml11].match(src, pos)
        if match:
            hour, minute, second, micros = match.groups()
            return match.end(), datetime.time(int(hour), int(minute), int(second or 0), _micros(micros))
        match = _NUMBER.match(src, pos)
        if match:
            text = match.group().replace("_", "")
            return match.end(), float(text) if match.group("fraction") else int(text, 0)
        for word in ("inf", "nan", "+inf", "-inf", "+nan", "-nan"):
            if src.startswith(word, pos):
                return pos + len(word), float(word)
        raise self.error(pos, "an invalid value (strings need quotes)")

    def array(self, pos: int) -> tuple[int, list[Any]]:
        start = pos
        items: list[Any] = []
        pos = self.skip_blank(pos + 1)
        if self.char(pos) == "]":
            return pos + 1, items
        while True:
            pos, item = self.value(pos)
            items.append(item)
            pos = self.skip_blank(pos)
            char = self.char(pos)
            if char == "]":
                return pos + 1, items
            if char != ",":
                raise self.error(start, "an array without its closing ]")
            pos = self.skip_blank(pos + 1)
            if self.char(pos) == "]":
                return pos + 1, items

    def inline_table(self, pos: int) -> tuple[int, dict[str, Any]]:
        start = pos
        skip = self.skip_blank if self.toml11 else (lambda at: self.skip(at, _WS))
        table: dict[str, Any] = {}
        flags = _Flags()
        pos = skip(pos + 1)
        if self.char(pos) == "}":
            return pos + 1, table
        while True:
            pos, key, value = self.key_value_pair(pos)
            parent, stem = key[:-1], key[-1]
            if flags.is_(key, _FROZEN):
                raise self.error(start, "a key added to an inline table or array after its definition")
            try:
                nest = _nest(table, parent, access_lists=False)
            except KeyError:
                raise self.error(start, "a key under a value that is not a table") from None
            if stem in nest:
                raise self.error(start, "a key defined twice in an inline table")
            nest[stem] = value
            pos = skip(pos)
            char = self.char(pos)
            if char == "}":
                return pos + 1, table
            if char != ",":
                raise self.error(start, "an inline table without its closing }" + ("" if self.toml11 else " on the same line"))
            if isinstance(value, (dict, list)):
                flags.set(key, _FROZEN, recursive=True)
            pos = skip(pos + 1)
            if self.toml11 and self.char(pos) == "}":
                return pos + 1, table

    # --- strings

    def literal_string(self, pos: int) -> tuple[int, str]:
        start = pos + 1
        index = start
        src = self.src
        while True:
            if index >= len(src):
                raise self.error(pos, "a string without its closing quote")
            char = src[index]
            if char == "'":
                return index + 1, src[start:index]
            if char in _ILLEGAL_ONE_LINE:
                raise self.error(index, "a control character or newline in a string")
            index += 1

    def multiline_string(self, pos: int, *, literal: bool) -> tuple[int, str]:
        src = self.src
        pos += 3
        if src.startswith("\n", pos):
            pos += 1
        if literal:
            delimiter = "'"
            end = src.find("'''", pos)
            if end < 0:
                raise self.error(pos, "a string without its closing quotes")
            for index in range(pos, end):
                if src[index] in _ILLEGAL_MULTILINE:
                    raise self.error(index, "a control character in a string")
            result, pos = src[pos:end], end + 3
        else:
            delimiter = '"'
            pos, result = self.basic_string(pos, multiline=True, opened=pos - 3)
        # Up to two more quotes right before the closing three belong to the string.
        for extra in range(2):
            del extra
            if not src.startswith(delimiter, pos):
                break
            result += delimiter
            pos += 1
        return pos, result

    def basic_string(self, pos: int, *, multiline: bool, opened: Optional[int] = None) -> tuple[int, str]:
        """The string from ``pos`` (after the opening quote or quotes, at ``opened``) to its closing quote or quotes."""
        src = self.src
        illegal = _ILLEGAL_MULTILINE if multiline else _ILLEGAL_ONE_LINE
        parts: list[str] = []
        start = pos
        while True:
            if pos >= len(src):
                raise self.error(pos - 1 if opened is None else opened, "a string without its closing quote")
            char = src[pos]
            if char == '"':
                if not multiline:
                    return pos + 1, "".join(parts) + src[start:pos]
                if src.startswith('"""', pos):
                    return pos + 3, "".join(parts) + src[start:pos]
                pos += 1
                continue
            if char == "\\":
                parts.append(src[start:pos])
                pos, text = self.escape(pos, multiline=multiline)
                parts.append(text)
                start = pos
                continue
            if char in illegal:
                raise self.error(pos, "a control character or newline in a string")
            pos += 1

    def escape(self, pos: int, *, multiline: bool) -> tuple[int, str]:
        src = self.src
        escape = src[pos : pos + 2]
        at = pos
        pos += 2
        if multiline and escape in ("\\ ", "\\\t", "\\\n"):
            if escape != "\\\n":
                pos = self.skip(pos, _WS)
                if self.char(pos) != "\n":
                    raise self.error(at, "a backslash that escapes nothing")
                pos += 1
            return self.skip(pos, _WS_NL), ""
        if escape == "\\u":
            return self.hex_escape(at, pos, 4)
        if escape == "\\U":
            return self.hex_escape(at, pos, 8)
        if self.toml11 and escape == "\\x":
            return self.hex_escape(at, pos, 2)
        if self.toml11 and escape == "\\e":
            return pos, "\x1b"
        if escape in _ESCAPES:
            return pos, _ESCAPES[escape]
        raise self.error(at, "an unknown escape sequence")

    def hex_escape(self, at: int, pos: int, digits: int) -> tuple[int, str]:
        text = self.src[pos : pos + digits]
        if len(text) != digits or not _HEX.issuperset(text):
            raise self.error(at, "an escape sequence without its hexadecimal digits")
        code = int(text, 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise self.error(at, "an escape sequence that is not a Unicode character")
        return pos + digits, chr(code)


def _micros(text: Optional[str]) -> int:
    return int(text.ljust(6, "0")) if text else 0


def _to_datetime(match: re.Match[str]) -> Any:
    year, month, day, hour, minute, second, micros, zulu, sign, offset_hour, offset_minute = match.groups()
    if hour is None:
        return datetime.date(int(year), int(month), int(day))
    tz: Optional[datetime.tzinfo] = None
    if sign:
        factor = -1 if sign == "-" else 1
        tz = datetime.timezone(datetime.timedelta(hours=factor * int(offset_hour), minutes=factor * int(offset_minute)))
    elif zulu:
        tz = datetime.timezone.utc
    return datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), _micros(micros), tzinfo=tz)


def parse_toml(text: str, *, toml11: bool = False) -> dict[str, Any]:
    """This module's own TOML reader (TOML 1.0, or 1.1 with ``toml11``); TomlError names the problem and line."""
    return _Parser(text, toml11=toml11).parse()


def read_toml(text: str, *, toml11: bool = False) -> dict[str, Any]:
    """A TOML document as uv's toml crate reads it: tomllib for TOML 1.0 where Python has it, else ``parse_toml``.

    A leading byte order mark is dropped (uv's parser accepts one, tomllib does not). tomllib's own message is not
    passed on (it may quote a character of the file): the problem is named by this module's reader."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if _tomllib is None or toml11:
        return parse_toml(text, toml11=toml11)
    try:
        return _tomllib.loads(text)
    except _tomllib.TOMLDecodeError as error:
        try:
            parse_toml(text)
        except TomlError as ours:
            raise ours from None
        found = re.search(r"line (\d+)", str(error))
        raise TomlError("not valid TOML", int(found.group(1)) if found else 1) from None


# ------------------------------------------------------------------------------------------------------------------
# Files


class UnreadableFile(OSError):
    """A file uv would fail to read (not UTF-8) or that is left unread on purpose (FIFO, device, too large)."""


Reader = Callable[[str], str]


def default_reader(path: str) -> str:
    """Read a configuration file as uv does (UTF-8, a byte order mark allowed); OSError as the system gives it.

    Only a regular file is read (opened without blocking, so a FIFO cannot hold the run; /dev/null reads as
    empty), and at most CONFIG_MAX_BYTES of it."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        if not stat.S_ISREG(info.st_mode):
            if stat.S_ISCHR(info.st_mode) and os.path.exists(os.devnull) and os.path.samestat(info, os.stat(os.devnull)):
                return ""
            raise UnreadableFile(errno.EINVAL, "not a regular file (a device, FIFO or socket): left unread")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > CONFIG_MAX_BYTES:
                raise UnreadableFile(errno.EFBIG, f"larger than {CONFIG_MAX_BYTES} bytes: left unread")
            chunks.append(chunk)
    finally:
        os.close(fd)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableFile(errno.EILSEQ, "stream did not contain valid UTF-8") from None


def _why(error: OSError) -> str:
    return error.strerror or type(error).__name__


@dataclass
class UvConfigFile:
    """One configuration file uv considers: where, from which scope, whether it is there, and the cache settings it
    sets (``cache-dir``: the path string as written, ``no-cache``: a boolean)."""

    path: str
    scope: str  # project, user, system, UV_CONFIG_FILE
    exists: bool
    keys: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.path} ({self.scope})"

    def to_data(self) -> dict[str, Any]:
        return {"path": self.path, "scope": self.scope, "exists": self.exists, "keys": dict(self.keys)}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> UvConfigFile:
        return cls(str(data["path"]), str(data["scope"]), bool(data["exists"]), dict(data.get("keys") or {}))


def cache_settings(document: dict[str, Any], *, path: str, uv_toml: bool, version: tuple[int, ...] = NEWEST_UV) -> dict[str, Any]:
    """``cache-dir`` and ``no-cache`` of one parsed table (a uv.toml, or a pyproject's [tool.uv]); ConfigError when
    uv's schema refuses them (a path that is not a string, a no-cache that is not a boolean, a uv.toml holding a
    pyproject-only table). Other keys are not checked: which ones a uv knows depends on its version."""
    found: dict[str, Any] = {}
    where = "uv.toml" if uv_toml else "[tool.uv]"
    if uv_toml:
        refused = [key for key in _NEVER_IN_UV_TOML if key in document]
        refused += [key for since, keys in _PYPROJECT_ONLY if version >= since for key in keys if key in document]
        if refused:
            raise ConfigError(f"uv cannot parse this configuration file: `{refused[0]}` belongs in a pyproject.toml, not a uv.toml", path=path)
    if "cache-dir" in document:
        value = document["cache-dir"]
        if not isinstance(value, str):
            raise ConfigError(f"uv cannot parse this configuration file: cache-dir in {where} must be a path string", path=path)
        found["cache-dir"] = value
    if "no-cache" in document:
        value = document["no-cache"]
        if not isinstance(value, bool):
            raise ConfigError(f"uv cannot parse this configuration file: no-cache in {where} must be true or false", path=path)
        found["no-cache"] = value
    return found


def load_file(path: str, absolute: str, *, scope: str, reader: Reader, version: tuple[int, ...] = NEWEST_UV) -> UvConfigFile:
    """A uv.toml uv must read (``read_file``): every failure is an error, as uv stops on it."""
    try:
        text = reader(absolute)
    except OSError as error:
        raise ConfigError(f"uv cannot read this configuration file: {_why(error)}", path=path) from None
    return UvConfigFile(path, scope, True, _settings_of_uv_toml(text, path=path, version=version))


def _settings_of_uv_toml(text: str, *, path: str, version: tuple[int, ...]) -> dict[str, Any]:
    try:
        document = read_toml(text, toml11=version >= TOML_1_1)
    except TomlError as error:
        raise ConfigError(f"uv cannot parse this configuration file (uv: Failed to parse): {error}", path=path) from None
    return cache_settings(document, path=path, uv_toml=True, version=version)


def load_user_file(host: UvHost, path: str, *, reader: Reader, version: tuple[int, ...] = NEWEST_UV) -> UvConfigFile:
    """The user file (FilesystemOptions::user): missing, or in a folder that is not one, or (0.5.21+) unreadable for
    want of permission, it is skipped; any other failure is an error."""
    absolute = host.path.join(host.cwd, path)
    try:
        text = reader(absolute)
    except FileNotFoundError:
        return UvConfigFile(path, "user", False)
    except OSError as error:
        ignored = version >= USER_FILE_NOT_A_DIRECTORY_IGNORED and error.errno == errno.ENOTDIR
        ignored = ignored or (version >= USER_FILE_PERMISSION_IGNORED and isinstance(error, PermissionError))
        if version < USER_FILE_NOT_A_DIRECTORY_IGNORED and not host.isdir(host.path.dirname(host.path.dirname(absolute))):
            ignored = True  # uv < 0.5.9: any failure is ignored when the configuration folder is not a folder
        if ignored:
            return UvConfigFile(path, "user", False)
        raise ConfigError(f"uv cannot read this configuration file: {_why(error)}", path=path) from None
    return UvConfigFile(path, "user", True, _settings_of_uv_toml(text, path=path, version=version))


@dataclass
class ProjectConfig:
    """The project configuration uv found (None: none), the folder its search started from, and uv's warnings."""

    file: Optional[UvConfigFile]
    start: str
    warnings: list[str] = field(default_factory=list)


def _ancestors(host: UvHost, path: str) -> list[str]:
    """Path::ancestors: the path itself, then each parent up to the root."""
    result = [path]
    while True:
        parent = host.path.dirname(path)
        if parent == path or not parent:
            return result
        result.append(parent)
        path = parent


def _pyproject_uv_table(document: dict[str, Any]) -> Any:
    """The ``tool.uv`` entry of a pyproject.toml, or None; ValueError when ``tool`` is no table."""
    tool = document.get("tool")
    if tool is None:
        return None
    if not isinstance(tool, dict):
        raise ValueError("tool is not a table")
    return tool.get("uv")


def find_project_config(host: UvHost, start: str, *, reader: Reader, version: tuple[int, ...] = NEWEST_UV) -> ProjectConfig:
    """FilesystemOptions::find: from ``start`` upward, the first folder with a ``uv.toml`` (which beats a
    ``pyproject.toml`` beside it, with uv's warning) or a ``pyproject.toml`` that has a ``[tool.uv]`` table.

    A pyproject.toml uv cannot parse is skipped with uv's warning; a uv.toml it cannot parse, or a file there that
    cannot be read (other than missing), is an error."""
    toml11 = version >= TOML_1_1
    result = ProjectConfig(None, start)
    for folder in _ancestors(host, start):
        uv_toml = host.path.join(folder, "uv.toml")
        try:
            text = reader(uv_toml)
        except FileNotFoundError:
            pass
        except OSError as error:
            raise ConfigError(f"uv cannot read this configuration file: {_why(error)}", path=uv_toml) from None
        else:
            settings = _settings_of_uv_toml(text, path=uv_toml, version=version)
            masked = _adjacent_tool_uv(host.path.join(folder, "pyproject.toml"), reader=reader, toml11=toml11)
            if masked is not None and (version < MASKED_FIELDS_LISTED or masked):
                # Only the cache's own key names are repeated: the rest of the file is counted, not quoted.
                named = [key for key in masked if key in ("cache-dir", "no-cache")]
                named += [f"{len(masked) - len(named)} more"] if len(masked) > len(named) else []
                fields = f" (uv ignores these fields of it: {', '.join(named)})" if masked else ""
                result.warnings.append(f"uv found both {uv_toml} and a [tool.uv] table in the pyproject.toml beside it: the uv.toml wins{fields}")
            result.file = UvConfigFile(uv_toml, "project", True, settings)
            return result
        pyproject = host.path.join(folder, "pyproject.toml")
        try:
            text = reader(pyproject)
        except FileNotFoundError:
            continue
        except OSError as error:
            raise ConfigError(f"uv cannot read this configuration file: {_why(error)}", path=pyproject) from None
        try:
            table = _pyproject_uv_table(read_toml(text, toml11=toml11))
            if table is None:
                continue
            if not isinstance(table, dict):
                raise ValueError("tool.uv is not a table")
            settings = cache_settings(table, path=pyproject, uv_toml=False, version=version)
        except (TomlError, ValueError, ConfigError) as error:
            problem = error.msg if isinstance(error, ConfigError) else str(error)
            result.warnings.append(f"uv cannot parse {pyproject} during settings discovery and goes on without it: {problem}")
            continue
        result.file = UvConfigFile(pyproject, "project", True, settings)
        return result
    return result


def _adjacent_tool_uv(path: str, *, reader: Reader, toml11: bool) -> Optional[list[str]]:
    """The [tool.uv] keys of a pyproject.toml beside a uv.toml that uv would list as masked; None when it has no
    readable [tool.uv] table (uv ignores every failure here)."""
    try:
        table = _pyproject_uv_table(read_toml(reader(path), toml11=toml11))
    except (OSError, TomlError, ValueError):
        return None
    if not isinstance(table, dict):
        return None
    return [key for key in table if key not in _PROJECT_ONLY_KEYS]


# ------------------------------------------------------------------------------------------------------------------
# Where the project search starts: the workspace root (uv-workspace's Workspace::discover)


def _project_table_ok(document: dict[str, Any]) -> bool:
    """Whether uv-workspace would accept the [project] table (when there is one): it needs a name."""
    project = document.get("project")
    return project is None or (isinstance(project, dict) and isinstance(project.get("name"), str))


def _workspace_table(document: dict[str, Any]) -> Any:
    tool = document.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    if tool is not None and not isinstance(tool, dict):
        raise ValueError("tool")
    if uv is not None and not isinstance(uv, dict):
        raise ValueError("tool.uv")
    return uv


def _glob_matches(pattern: str, path: str) -> bool:
    """glob::Pattern::matches_path with uv's options: ``*`` crosses ``/``, ``**/`` also matches no folder."""
    variants = {pattern, pattern.replace("/**/", "/")}
    if pattern.endswith("/**"):
        variants.add(pattern[:-3])
    return any(fnmatch.fnmatchcase(path, variant) for variant in variants)


def _member_glob(host: UvHost, root: str, glob: str) -> str:
    normalized = host.path.normpath(glob)
    escaped = re.sub(r"([*?\[\]])", r"[\1]", root)
    return str(host.path.join(escaped, normalized))


def workspace_root(host: UvHost, project_dir: str, *, reader: Reader, version: tuple[int, ...] = NEWEST_UV) -> Optional[str]:
    """Where uv starts the project configuration search from ``project_dir``: the workspace root uv discovers, or
    None when discovery fails (uv then starts at ``project_dir`` itself).

    The nearest folder with a pyproject.toml is the project; it is the root when it declares [tool.uv.workspace];
    without a [project] table there is no workspace; else the first pyproject.toml above it decides: a workspace
    whose members include the project (and do not exclude it) is the root, anything else leaves the project alone.
    Not modelled: uv's checks of every member of the workspace (a member folder without a pyproject.toml fails
    discovery in uv)."""
    toml11 = version >= TOML_1_1
    project = next((folder for folder in _ancestors(host, project_dir) if host.is_file(host.path.join(folder, "pyproject.toml"))), None)
    if project is None:
        return None
    try:
        document = read_toml(reader(host.path.join(project, "pyproject.toml")), toml11=toml11)
        uv = _workspace_table(document)
    except (OSError, TomlError, ValueError):
        return None
    if not _project_table_ok(document) or (uv is not None and uv.get("managed") is False):
        return None
    if uv is not None and isinstance(uv.get("workspace"), dict):
        return project
    if document.get("project") is None:
        return None
    for folder in _ancestors(host, project)[1:]:
        path = host.path.join(folder, "pyproject.toml")
        if not host.is_file(path):
            continue
        try:
            above = read_toml(reader(path), toml11=toml11)
            above_uv = _workspace_table(above)
        except (OSError, TomlError, ValueError):
            return None
        workspace = above_uv.get("workspace") if above_uv is not None else None
        if not isinstance(workspace, dict):
            return project
        members = [item for item in workspace.get("members") or [] if isinstance(item, str)]
        excluded = [item for item in workspace.get("exclude") or [] if isinstance(item, str)]
        if any(_glob_matches(_member_glob(host, folder, item), project) for item in members) and not any(
            _glob_matches(_member_glob(host, folder, item), project) for item in excluded
        ):
            return folder
        return project
    return project
