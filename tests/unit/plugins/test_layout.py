# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The unit tests stand on their own: none imports from tests/oracle (the differential tests against real pip and uv,
which need the checkout, the built collection and the real tools)."""

from __future__ import annotations

import ast
from pathlib import Path

UNIT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_no_unit_test_imports_the_oracle() -> None:
    files = sorted(UNIT.rglob("*.py"))
    assert len(files) > 10, f"found only {len(files)} Python files under {UNIT}"
    offending = [
        f"{path.relative_to(UNIT)}: {name}"
        for path in files
        for name in _imports(path)
        if name.split(".")[:2] == ["tests", "oracle"] or ".tests.oracle" in f".{name}" or name in ("piporacle", "attack_support", "hardening_support")
    ]
    assert not offending, "unit tests import from tests/oracle: " + "; ".join(offending)
