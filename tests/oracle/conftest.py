# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for differential tests against real pip (see README.md beside this file)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import piporacle
from piporacle import ORACLE_VERSIONS, OraclePip, PackageIndex

from playbooks import local_users


@pytest.fixture(scope="session")
def oracle_pips() -> list[OraclePip]:
    """Every oracle pip that can run here, oldest first (installed into .oracle/ on first use)."""
    return piporacle.oracle_pips()


@pytest.fixture(params=ORACLE_VERSIONS, ids=lambda version: f"pip-{version}")
def oracle_pip(request: pytest.FixtureRequest, oracle_pips: list[OraclePip]) -> OraclePip:
    """One oracle pip per test instance (ids ``pip-20.3.4`` ...); skipped when its Python is missing."""
    for pip in oracle_pips:
        if pip.version == request.param:
            return pip
    pytest.skip(f"pip {request.param}: its Python ({'.'.join(map(str, piporacle.PYTHON_FOR_PIP[request.param]))}) is not on this machine")


@pytest.fixture(scope="session")
def newest_pip(oracle_pips: list[OraclePip]) -> OraclePip:
    if not oracle_pips:
        pytest.skip("no oracle pip can run here")
    return max(oracle_pips, key=lambda pip: pip.key)


@pytest.fixture(scope="session")
def package_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    """The loopback index (HTTPS, self-signed; install_args() trusts it) over make_projects(), for the session."""
    with PackageIndex(tmp_path_factory.mktemp("index")) as index:
        yield index


@pytest.fixture(scope="session")
def template_caches(oracle_pips: list[OraclePip]) -> dict[str, Path]:
    """pip version -> a cache that pip filled with every project; read-only: copy before changing it."""
    return piporacle.template_caches(oracle_pips)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder other local users can reach (pytest's own tmp_path sits in a 0700 folder)."""
    path = Path(tempfile.mkdtemp(prefix="piporacle-shared-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def iso_env(tmp_path: Path) -> dict[str, str]:
    """isolated_env(tmp_path): HOME and XDG folders in tmp_path, no PIP_* variable."""
    return piporacle.isolated_env(tmp_path)


@pytest.fixture
def two_users() -> Iterator[list[str]]:
    with local_users(2, "fleet-cache-users-") as (_base, names):
        yield names
