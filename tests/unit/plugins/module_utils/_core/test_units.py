# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sizes, ages, pip's size wording and times (_core/units.py)."""

from __future__ import annotations

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import InvalidValue
from ansible_collections.fleet.cache.plugins.module_utils._core.units import age_words, human_size, iso_time, parse_duration, parse_size, pip_format_size

# --- parse_size -----------------------------------------------------------------------------------


SIZES = [
    ("2GB", 2_000_000_000),
    ("2gb", 2_000_000_000),
    ("2G", 2_000_000_000),
    ("500MiB", 500 * 1024**2),
    ("500mib", 500 * 1024**2),
    ("500Mi", 500 * 1024**2),
    ("1.5G", 1_500_000_000),
    ("1.5 G", 1_500_000_000),
    (" 10 kB ", 10_000),
    ("1KiB", 1024),
    ("1.5KiB", 1536),
    ("3TB", 3 * 10**12),
    ("1PiB", 1024**5),
    ("1048576B", 1_048_576),
    ("1048576 b", 1_048_576),
    ("0", 0),
    (" 0 ", 0),
    ("0.0", 0),
    ("0B", 0),
    ("0GB", 0),
    ("7B", 7),
    ("7b", 7),
    ("1.9B", 1),
    (0, 0),
    (0.0, 0),
]


def test_parse_size():
    got = {value: parse_size(value) for value, _expected in SIZES}
    assert got == dict(SIZES)
    assert all(isinstance(result, int) and not isinstance(result, bool) for result in got.values())


def rejected(function, values, option):
    """The values the function accepts, or that it rejects without naming the option."""
    wrong = []
    for value in values:
        try:
            function(value, option=option)
        except InvalidValue as error:
            if error.option != option or not str(error).startswith(f"{option}: "):
                wrong.append((value, str(error)))
        else:
            wrong.append((value, "accepted"))
    return wrong


def test_parse_size_rejects():
    bad = ["2XB", "", "   ", "GB", "1.2.3G", "1e9", "5iB", "5i", "-1", "-1GB", "1 GB extra", "1,000", "0x10", "ten", "1GBB", "1 2"]
    assert rejected(parse_size, bad, "max_size") == []


def test_parse_size_rejects_non_sizes():
    assert rejected(parse_size, [True, False, -1, -0.5, float("nan")], "budget") == []


def unitless(function, values, option, forms):
    """The values the function accepts, or that it rejects without saying a unit is needed, naming the option and
    showing the forms."""
    wrong = []
    for value in values:
        try:
            function(value, option=option)
        except InvalidValue as error:
            text = str(error)
            if error.option != option or not text.startswith(f"{option}: ") or "needs a unit" not in text or not all(form in text for form in forms):
                wrong.append((value, text))
        else:
            wrong.append((value, "accepted"))
    return wrong


def test_parse_size_needs_a_unit():
    """A number alone is not taken as bytes (max_size=5 would empty the cache): only 0 needs no unit."""
    values = ["5", " 5 ", "1048576", "1.9", "0.5", "007", str(2**62), 5, 1048576, 2.7]
    assert unitless(parse_size, values, "max_size", ["5GB", "500MiB", "7B"]) == []
    with pytest.raises(InvalidValue) as raised:
        parse_size("5")
    assert str(raised.value) == "max_size: a size needs a unit, got '5': write it as 5GB, 500MiB, 2GiB, or 7B for bytes (only 0 needs no unit)"


def test_parse_size_rejects_more_than_any_file_system():
    with pytest.raises(InvalidValue, match="larger than any file system"):
        parse_size("9999999PB")
    with pytest.raises(InvalidValue, match="larger than any file system"):
        parse_size(f"{2**64}B")
    assert parse_size("4PB") == 4 * 10**15


@pytest.mark.parametrize(("parse", "noun"), [(parse_size, "a size"), (parse_duration, "an age")])
def test_numbers_that_are_no_size_or_age_say_so(parse, noun):
    for value in (float("inf"), -1, float("nan")):
        with pytest.raises(InvalidValue, match=f": {noun} cannot be negative, infinite or NaN, got "):
            parse(value)


# --- parse_duration -------------------------------------------------------------------------------


DURATIONS = [
    ("30d", 30 * 86400),
    ("12h", 12 * 3600),
    ("1w2d", 7 * 86400 + 2 * 86400),
    ("90m", 5400),
    ("3600s", 3600),
    ("0", 0),
    (" 0 ", 0),
    ("0.0", 0),
    ("0s", 0),
    ("0d", 0),
    ("45s", 45),
    ("1.5h", 5400),
    ("1h 30m", 5400),
    ("1h30m15s", 5415),
    ("2 weeks", 14 * 86400),
    ("1 day", 86400),
    ("5 min", 300),
    ("30D", 30 * 86400),
    ("10hrs", 36000),
    ("  7d  ", 7 * 86400),
    (0, 0.0),
    (0.0, 0.0),
]


def test_parse_duration():
    got = {value: parse_duration(value) for value, _expected in DURATIONS}
    assert got == dict(DURATIONS)
    assert all(isinstance(result, float) for result in got.values())


def test_parse_duration_rejects():
    bad = ["", "   ", "abc", "5x", "d", "-5m", "1y", "1dd", "1h-30m", "1.2.3h", "30 d ago", "1mo"]
    assert rejected(parse_duration, bad, "min_age") == []


def test_parse_duration_needs_a_unit():
    """A number alone is not taken as seconds (max_age=30 would empty the cache): only 0 needs no unit, and each number
    of a compound age has its own (1h30 is neither 1h30m nor 1h30s)."""
    values = ["30", " 30 ", "3600", "1.5", "0.5", "1h30", "30 5m", "0 0", "0 5m", 30, 1.5]
    assert unitless(parse_duration, values, "max_age", ["30d", "12h", "45s"]) == []
    with pytest.raises(InvalidValue) as raised:
        parse_duration("30", option="min_age")
    assert str(raised.value) == "min_age: an age needs a unit, got '30': write it as 30d, 12h, 90m, 2w, or 45s for seconds (only 0 needs no unit)"


def test_parse_duration_rejects_non_ages():
    assert rejected(parse_duration, [True, False, -1, float("nan")], "max_age") == []
    with pytest.raises(InvalidValue) as caught:
        parse_duration("soon")
    assert caught.value.option == "max_age"


def test_parse_duration_rejects_more_than_a_century():
    with pytest.raises(InvalidValue, match="century"):
        parse_duration("40000d")
    with pytest.raises(InvalidValue, match="century"):
        parse_duration("9" * 400 + "s")
    assert parse_duration("5200w") == 5200 * 604800


# --- pip's size wording ---------------------------------------------------------------------------


PIP_SIZES = [
    (0, "0 bytes"),
    (1, "1 bytes"),
    (999, "999 bytes"),
    (1000, "1000 bytes"),
    (1001, "1.0 kB"),
    (1049, "1.0 kB"),
    (1050, "1.1 kB"),
    (1500, "1.5 kB"),
    (9999, "10.0 kB"),
    (10000, "10.0 kB"),
    (10001, "10 kB"),
    (10999, "10 kB"),
    (999999, "999 kB"),
    (1000000, "1000 kB"),
    (1000001, "1.0 MB"),
    (1234567, "1.2 MB"),
    (31234567, "31.2 MB"),
    (2_000_000_000, "2000.0 MB"),
    (1500.0, "1.5 kB"),
]


def test_pip_format_size_tiers():
    assert [(num_bytes, pip_format_size(num_bytes)) for num_bytes, _text in PIP_SIZES] == PIP_SIZES


def test_pip_format_size_matches_installed_pip():
    misc = pytest.importorskip("pip._internal.utils.misc")
    sizes = [0, 1, 999, 1000, 1001, 9999, 10000, 10001, 123456, 999999, 1000000, 1000001, 54321987, 10**10, 1500.0]
    assert [pip_format_size(num_bytes) for num_bytes in sizes] == [misc.format_size(num_bytes) for num_bytes in sizes]


HUMAN_SIZES = [
    (0, "0 bytes"),
    (1000, "1000 bytes"),
    (1001, "1.0 kB"),
    (10_001, "10 kB"),
    (1_500_000, "1.5 MB"),
    (999_999_999, "1000.0 MB"),
    (1_000_000_000, "1.0 GB"),
    (1_536_000_000, "1.5 GB"),
    (5 * 1000**4, "5.0 TB"),
    (3 * 1000**5, "3000.0 TB"),
]


def test_human_size():
    """One convention: pip's decimal units, exactly pip's words below 1 GB, then GB and TB."""
    assert [(num_bytes, human_size(num_bytes)) for num_bytes, _text in HUMAN_SIZES] == HUMAN_SIZES
    for num_bytes in (0, 999, 1001, 12_345, 999_999, 123_456_789, 999_999_999):
        assert human_size(num_bytes) == pip_format_size(num_bytes)


def test_age_words_are_what_parse_duration_reads_back():
    for seconds, text in ((300, "5m"), (3600, "1h"), (86400 * 30, "30d"), (45, "45s"), (90, "90s"), (0, "0s")):
        assert age_words(seconds) == text
        assert parse_duration(text, option="min_age") == seconds


def test_iso_time():
    assert iso_time(None) is None
    assert iso_time(0) == "1970-01-01T00:00:00Z"
    assert iso_time(1700000000.9) == "2023-11-14T22:13:20Z"
