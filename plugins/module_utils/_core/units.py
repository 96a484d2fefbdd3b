# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Sizes, ages and times as people write and read them: ``5GB``, ``30d``, pip's ``21 kB``, ISO 8601.

Standard library only.
"""

from __future__ import annotations

import math
import re
import time
from typing import Optional

from .errors import InvalidValue

# Sizes: SI and IEC units, case-insensitive, optional "B". A number needs its unit ("7B" for bytes): "max_size: 5"
# meant as 5 bytes would empty a cache, so only 0 may stand alone.
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)(b?)\s*$", re.IGNORECASE)
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
SIZE_FORMS = "5GB, 500MiB, 2GiB, or 7B for bytes"


class _Quantity:
    """What a size or an age is called in messages, and the forms it is written in."""

    def __init__(self, noun: str, forms: str) -> None:
        self.noun = noun  # with its article: "a size", "an age"
        self.forms = forms

    def invalid(self, shown: object, option: str) -> InvalidValue:
        return InvalidValue(f"expected {self.noun} such as {self.forms}, got {shown!r}", option=option)

    def unitless(self, shown: object, option: str) -> InvalidValue:
        return InvalidValue(f"{self.noun} needs a unit, got {shown!r}: write it as {self.forms} (only 0 needs no unit)", option=option)

    def text_of(self, value: object, option: str) -> Optional[str]:
        """A value given as text, for the caller to parse; None for the number 0; every other number refused."""
        if isinstance(value, bool):
            raise self.invalid(value, option)
        if isinstance(value, (int, float)):
            if value < 0 or math.isnan(value) or math.isinf(value):
                raise InvalidValue(f"{self.noun} cannot be negative, infinite or NaN, got {value}", option=option)
            if value != 0:
                raise self.unitless(value, option)
            return None
        return str(value)


_SIZE = _Quantity("a size", SIZE_FORMS)


def parse_size(value: object, *, option: str = "max_size") -> int:
    """Parse ``2GB``, ``500MiB``, ``1.5 G``, ``7B`` into bytes; a number without a unit is refused unless it is 0."""
    text = _SIZE.text_of(value, option)
    if text is None:
        return 0
    match = _SIZE_RE.match(text)
    if not match:
        raise _SIZE.invalid(text, option)
    number, prefix, binary, unit = match.groups()
    if binary and not prefix:
        raise _SIZE.invalid(text, option)
    if not (prefix or binary or unit) and float(number) != 0:
        raise _SIZE.unitless(text, option)
    base = 1024 if binary else 1000
    result = float(number) * base ** _SIZE_POWERS[prefix.lower()]
    if result > 2**62:
        raise InvalidValue(f"size {text!r} is larger than any file system", option=option)
    return int(result)


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)", re.IGNORECASE)
_DURATION_UNITS = {
    "": 1,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}


AGE_FORMS = "30d, 12h, 90m, 2w, or 45s for seconds"


_AGE = _Quantity("an age", AGE_FORMS)


def parse_duration(value: object, *, option: str = "max_age") -> float:
    """Parse ``30d``, ``12h``, ``1w2d``, ``90m``, ``45s`` into seconds; a number without a unit is refused unless it is 0."""
    given = _AGE.text_of(value, option)
    if given is None:
        return 0.0
    text = given.strip()
    position = 0
    total = 0.0
    parts = 0
    unitless = False
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        match = _DURATION_RE.match(text, position)
        if not match or match.group(2).lower() not in _DURATION_UNITS:
            raise _AGE.invalid(text, option)
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
        unitless = unitless or not match.group(2)
        position = match.end()
        parts += 1
    if not parts:
        raise _AGE.invalid(text, option)
    if unitless and (parts > 1 or total != 0):
        raise _AGE.unitless(text, option)
    if total > 100 * 365 * 86400:
        raise InvalidValue(f"age {text!r} is more than a century", option=option)
    return total


def age_words(seconds: float) -> str:
    """An age in seconds as the options take it (what ``parse_duration`` reads back): ``5m``, ``12h``, ``30d``, ``45s``."""
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def pip_format_size(num_bytes: float) -> str:
    """Size in pip's own words (SI, no GB tier), as ``pip cache info`` prints it."""
    if num_bytes > 1000 * 1000:
        return f"{num_bytes / 1000.0 / 1000:.1f} MB"
    if num_bytes > 10 * 1000:
        return f"{int(num_bytes / 1000)} kB"
    if num_bytes > 1000:
        return f"{num_bytes / 1000.0:.1f} kB"
    return f"{int(num_bytes)} bytes"


def human_size(num_bytes: float) -> str:
    """Size for people, in the one convention of the collection: pip's decimal units (1 kB = 1000 bytes).

    Below 1 GB it is exactly pip's own wording (``pip_format_size``); above, where pip goes on counting megabytes
    (``12345.6 MB``), the same units go on to ``GB`` and ``TB``. Results carry the raw bytes beside it.
    """
    if num_bytes >= 1000**4:
        return f"{num_bytes / 1000.0**4:.1f} TB"
    if num_bytes >= 1000**3:
        return f"{num_bytes / 1000.0**3:.1f} GB"
    return pip_format_size(num_bytes)


def iso_time(timestamp: Optional[float]) -> Optional[str]:
    """UTC ISO 8601 text for a POSIX timestamp, None stays None."""
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
