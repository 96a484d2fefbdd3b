"""Fixtures for differential tests against real pip (see README.md beside this file)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import piporacle
from piporacle import ORACLE_VERSIONS, OraclePip, PackageIndex


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
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd to create local users")
    base = Path(tempfile.mkdtemp(prefix="fleet-cache-users-"))
    base.chmod(0o755)
    names = [f"fc{uuid.uuid4().hex[:8]}" for _number in range(2)]
    try:
        for name in names:
            subprocess.run(["useradd", "--create-home", "--home-dir", str(base / name), "--shell", "/bin/sh", name], check=True, capture_output=True)
        yield names
    finally:
        for name in names:
            subprocess.run(["userdel", name], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
