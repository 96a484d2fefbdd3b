# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Editing pip's configuration files: one key changed, everything else kept byte for byte.

Editing pip's configuration files the way a careful person would: one key changed, every
comment, other section, key order and the file's line endings kept byte for byte. Keys are
matched as pip matches them (lowercase, ``_`` as ``-``, a leading ``--`` dropped); sections
are case-sensitive, as in pip. Writes are atomic. Standard library only.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from dataclasses import dataclass
from typing import Optional

from .._core.errors import InvalidValue
from .config_read import read_config_text, strtobool

_SECTION_RE = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")
_KEY_RE = re.compile(r"^(?P<key>[^\s=:#;][^=:]*?)\s*[=:]")
_NAME_RE = re.compile(r"^[A-Za-z0-9_:-][A-Za-z0-9_.:-]*\.[A-Za-z0-9_-]+$")

BOOLEAN_KEYS = {"no-cache-dir", "isolated", "no-input", "no-color", "disable-pip-version-check", "require-virtualenv", "no-build-isolation", "no-deps"}
PATH_KEYS = {"cache-dir", "cert", "client-cert", "log", "target", "build-dir", "src"}


def normalize_key(name: str) -> str:
    name = name.strip().lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


def split_name(name: str, *, option: str = "name") -> tuple[str, str]:
    """``global.no-cache-dir`` -> (``global``, ``no-cache-dir``), as ``pip config`` names keys."""
    if not isinstance(name, str) or not _NAME_RE.match(name.strip()):
        raise InvalidValue(f"{name!r} is not a pip configuration name: use section.key, such as global.no-cache-dir or install.cache-dir", option=option)
    section, key = name.strip().split(".", 1)
    return section, normalize_key(key)


def check_value(key: str, value: str, *, option: str = "value") -> str:
    """Refuse what pip would reject or misread for the keys that matter here."""
    if "\n" in value or "\r" in value or "\x00" in value:
        raise InvalidValue("a value must be one line without NUL characters", option=option)
    if key in BOOLEAN_KEYS:
        try:
            strtobool(value)
        except ValueError:
            raise InvalidValue(f"{key} takes a boolean (yes/no, true/false, 1/0), got {value!r}", option=option) from None
    if key in PATH_KEYS:
        text = value.strip()
        if not text:
            raise InvalidValue(f"{key} needs a path", option=option)
        try:
            strtobool(text)
        except ValueError:
            pass
        else:
            raise InvalidValue(
                f"{key} = {text!r} would make pip use a folder named {text!r}; to disable the cache set global.no-cache-dir instead",
                option=option,
            )
        if text.startswith("$") or "%" in text:
            raise InvalidValue(f"pip does not expand variables in {key}: {text!r} would be a literal folder name; use an absolute path or ~", option=option)
    if value != value.strip():
        raise InvalidValue("pip strips surrounding spaces from values; give the value without them", option=option)
    if " #" in value or " ;" in value:
        raise InvalidValue("pip reads no inline comments: ' #' and ' ;' would become part of the value", option=option)
    return value


@dataclass
class Edit:
    """The result of editing one file's text."""

    text: str
    changed: bool
    previous: Optional[str]  # the value the key had in this file, if any


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _key_lines(lines: list[str], section: str, key: str) -> tuple[Optional[int], list[tuple[int, int]], Optional[int]]:
    """(header index of the section's first occurrence, [(start, end) of each key line with continuations], last body index)."""
    header: Optional[int] = None
    spans: list[tuple[int, int]] = []
    last_body: Optional[int] = None
    current: Optional[str] = None
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _SECTION_RE.match(line.rstrip("\r\n"))
        if match:
            current = match.group("name")
            if current == section and header is None:
                header = index
            index += 1
            continue
        if current == section:
            stripped = line.rstrip("\r\n")
            if stripped.strip() and not stripped.lstrip().startswith(("#", ";")):
                last_body = index
            found = _KEY_RE.match(stripped) if stripped and not stripped[0].isspace() else None
            if found and normalize_key(found.group("key")) == key:
                end = index + 1
                while end < len(lines) and lines[end][:1] in (" ", "\t") and lines[end].strip():
                    end += 1
                spans.append((index, end))
                last_body = end - 1
                index = end
                continue
        index += 1
    return header, spans, last_body


def set_value(text: str, section: str, key: str, value: str) -> Edit:
    """Set ``section.key`` to ``value``: the last occurrence is rewritten in place, others removed."""
    newline = _newline(text)
    lines = text.splitlines(keepends=True)
    previous = current_value(text, section, key)
    header, spans, last_body = _key_lines(lines, section, key)
    new_line = f"{key} = {value}{newline}"
    if spans:
        start, end = spans[-1]
        original_key = _KEY_RE.match(lines[start]).group("key")  # type: ignore[union-attr]
        new_line = f"{original_key.strip()} = {value}{newline}"
        if end - start == 1 and lines[start] == new_line and len(spans) == 1:
            return Edit(text, False, previous)
        lines[start:end] = [new_line]
        for early_start, early_end in reversed(spans[:-1]):
            del lines[early_start:early_end]
    elif header is not None:
        insert_at = (last_body if last_body is not None else header) + 1
        if insert_at > 0 and not lines[insert_at - 1].endswith(("\n", "\r")):
            lines[insert_at - 1] += newline
        lines.insert(insert_at, new_line)
    else:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        if lines and lines[-1].strip():
            lines.append(newline)
        lines.extend([f"[{section}]{newline}", new_line])
    result = "".join(lines)
    return Edit(result, result != text, previous)


def remove_key(text: str, section: str, key: str) -> Edit:
    """Remove every ``section.key`` line; a section left with nothing but blank lines goes too."""
    previous = current_value(text, section, key)
    lines = text.splitlines(keepends=True)
    header, spans, _last = _key_lines(lines, section, key)
    if not spans:
        return Edit(text, False, previous)
    for start, end in reversed(spans):
        del lines[start:end]
    if header is not None:
        end = header + 1
        while end < len(lines) and not _SECTION_RE.match(lines[end].rstrip("\r\n")):
            end += 1
        if all(not line.strip() for line in lines[header + 1 : end]):
            del lines[header:end]
    result = "".join(lines)
    return Edit(result, result != text, previous)


def current_value(text: str, section: str, key: str) -> Optional[str]:
    """The value pip reads for ``section.key`` from this text, None when absent."""
    values = read_config_text(text, origin="<text>")
    return values.get(f"{section}.{key}")


def atomic_write(path: str, text: str, *, owner: Optional[tuple[int, int]] = None, mode: Optional[int] = None) -> None:
    """Write ``text`` to ``path`` by a temporary file in the same folder and os.replace; keep or set owner and mode."""
    directory = os.path.dirname(path) or "."
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        existing = None
    fd, temporary = tempfile.mkstemp(prefix=".pip-config-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if existing is not None:
            os.chmod(temporary, stat.S_IMODE(existing.st_mode) if mode is None else mode)
            if hasattr(os, "chown") and (owner is not None or os.geteuid() == 0):
                uid, gid = owner if owner is not None else (existing.st_uid, existing.st_gid)
                os.chown(temporary, uid, gid)
        else:
            os.chmod(temporary, 0o644 if mode is None else mode)
            if owner is not None and hasattr(os, "chown"):
                os.chown(temporary, owner[0], owner[1])
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
