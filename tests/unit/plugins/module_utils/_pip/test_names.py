# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Project names and wheel and sdist file names (_pip/names.py)."""

from __future__ import annotations

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._pip.names import WheelName, normalize_name, parse_sdist_filename, parse_wheel_filename

# --- names ----------------------------------------------------------------------------------------


NAMES = [
    ("PyYAML", "pyyaml"),
    ("typing_extensions", "typing-extensions"),
    ("zope.interface", "zope-interface"),
    ("Foo__Bar-._baz", "foo-bar-baz"),
    ("a-b", "a-b"),
    ("requests", "requests"),
]


def test_normalize_name():
    assert [(name, normalize_name(name)) for name, _normalized in NAMES] == NAMES


def test_normalize_name_matches_packaging():
    utils = pytest.importorskip("packaging.utils")
    names = ["PyYAML", "typing_extensions", "zope.interface", "Foo__Bar-._baz", "ruamel.yaml.clib", "A", "x-_-y", "__a__"]
    assert [normalize_name(name) for name in names] == [utils.canonicalize_name(name) for name in names]


WHEEL_NAMES = [
    ("tiny-1.0-py3-none-any.whl", WheelName("tiny", "1.0", "", "py3", "none", "any")),
    ("Foo_Bar-2.0.1-1-cp312-cp312-manylinux_2_17_x86_64.whl", WheelName("Foo_Bar", "2.0.1", "1", "cp312", "cp312", "manylinux_2_17_x86_64")),
    ("numpy-1.26.4-cp39-cp39-win_amd64.WHL", WheelName("numpy", "1.26.4", "", "cp39", "cp39", "win_amd64")),
    ("pkg-1.0-py2.py3-none-any.whl", WheelName("pkg", "1.0", "", "py2.py3", "none", "any")),
]


def test_parse_wheel_filename():
    assert [(filename, parse_wheel_filename(filename)) for filename, _parts in WHEEL_NAMES] == WHEEL_NAMES


def test_wheel_name_normalized():
    result = parse_wheel_filename("Foo_Bar-2.0-py3-none-any.whl")
    assert result is not None
    assert result.normalized == "foo-bar"


NOT_WHEELS = [
    "tiny-1.0.tar.gz",
    "tiny.whl",
    "tiny-1.0-any.whl",
    "a-b-c-d-e-f-g.whl",
    "-1.0-py3-none-any.whl",
    "tiny--py3-none-any.whl",
    "",
    "origin.json",
    "tiny-1.0-py3-none-any.whl.part",
]


def test_parse_wheel_filename_rejects():
    assert {filename: parse_wheel_filename(filename) for filename in NOT_WHEELS} == dict.fromkeys(NOT_WHEELS)


SDIST_NAMES = [
    ("requests-2.31.0.tar.gz", ("requests", "2.31.0")),
    ("foo-bar-1.0.zip", ("foo-bar", "1.0")),
    ("Foo_Bar-1.0rc1.tar.bz2", ("Foo_Bar", "1.0rc1")),
    ("x-1.tgz", ("x", "1")),
    ("requests-latest.tar.gz", None),
    ("requests-2.31.0-py3-none-any.whl", None),
    ("requests.tar.gz", None),
]


def test_parse_sdist_filename():
    assert [(filename, parse_sdist_filename(filename)) for filename, _parts in SDIST_NAMES] == SDIST_NAMES
