# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine as it ships (_engine_bundle): one archive and one launcher for the Windows transport and the
scheduled job, and the job's refusal of an archive that is not the one it was installed with."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import trust
from ansible_collections.fleet.cache.plugins.plugin_utils import _engine_bundle as bundle

MODULE_UTILS = Path(trust.__file__).resolve().parents[1]


def test_the_archive_holds_every_engine_file_and_is_the_same_bytes_each_time() -> None:
    shipped = sorted(path.relative_to(MODULE_UTILS).as_posix() for path in MODULE_UTILS.rglob("*.py") if "__pycache__" not in path.parts)
    assert bundle.engine_files() == shipped
    assert {"_entry.py", "_cli.py", "_core/trust.py", "_pip/scan.py", "_tasks/pip_cache.py"} <= set(shipped)
    first = bundle.engine_archive()
    bundle.engine_archive.cache_clear()
    assert bundle.engine_archive() == first, "built again from the same files: the same bytes"
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
        assert [info.filename for info in infos] == ["fleet_cache_engine/__init__.py", *(f"fleet_cache_engine/{name}" for name in shipped)]
        assert {(info.date_time, info.external_attr >> 16) for info in infos} == {((1980, 1, 1, 0, 0, 0), 0o644)}
        for name in shipped:
            assert archive.read(f"fleet_cache_engine/{name}") == (MODULE_UTILS / name).read_bytes(), name
    assert bundle.archive_sha256() == hashlib.sha256(first).hexdigest()


def test_the_archive_file_is_written_once_and_rewritten_when_it_differs(tmp_path: Path) -> None:
    path = Path(bundle.archive_file(str(tmp_path)))
    assert path.parent == tmp_path and path.read_bytes() == bundle.engine_archive()
    assert bundle.archive_sha256()[:16] in path.name
    stamp = path.stat().st_mtime_ns
    assert bundle.archive_file(str(tmp_path)) == str(path) and path.stat().st_mtime_ns == stamp
    path.write_bytes(b"not the engine")
    assert Path(bundle.archive_file(str(tmp_path))).read_bytes() == bundle.engine_archive()
    assert sorted(entry.name for entry in tmp_path.iterdir()) == [path.name], "no temporary file left behind"


def test_one_launcher_source_for_the_task_and_the_job() -> None:
    digest = bundle.archive_sha256()
    task = bundle.launcher_source()
    job = bundle.launcher_source(job=True)
    checked = bundle.launcher_source(job=True, check=True, digest=digest)
    for source in (task, job, checked):
        compile(source, "launcher", "exec")
        assert "sys.path.insert(0, os.path.join(os.path.dirname(_launcher), 'fleet_cache_engine.zip'))" in source
        assert source.endswith("import main  # noqa: E402\n\nsys.exit(main(sys.argv[1:]))\n")
    assert "from fleet_cache_engine._entry import main" in task and "from fleet_cache_engine._cli import main" in job
    assert "sys.version_info < (3, 9)" in task and "sys.version_info < (3, 9)" in job
    assert "job_problems" not in task + job, "only the job on POSIX hosts carries the trust check"
    assert bundle.trust_source() in checked and f"ENGINE_SHA256 = {digest!r}" in checked
    assert checked.index(bundle.trust_source()) < checked.index("job_problems(_launcher, digest=ENGINE_SHA256)") < checked.index("sys.path.insert")
    with pytest.raises(ValueError):
        bundle.launcher_source(job=True, check=True)
    with pytest.raises(ValueError):
        bundle.launcher_source(check=True, digest=digest)


def _install(folder: Path, *, check: bool) -> Path:
    """The archive and the job's launcher as the role installs them: root's (the test's account), 0644, in a 0755 folder."""
    folder.mkdir(mode=0o755)
    (folder / bundle.ENGINE_ARCHIVE).write_bytes(bundle.engine_archive())
    launcher = folder / "fleet-cache"
    launcher.write_text(bundle.launcher_source(job=True, check=check, digest=bundle.archive_sha256()), encoding="utf-8")
    for path in (folder / bundle.ENGINE_ARCHIVE, launcher):
        path.chmod(0o644)
    return launcher


def _run(launcher: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", "-B", str(launcher), "--help"], capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"}
    )


@pytest.mark.skipif(os.name != "posix", reason="owners and mode bits are POSIX's")
def test_the_installed_job_runs_its_archive_and_refuses_any_other(tmp_path: Path) -> None:
    """End to end with the real launcher: it runs the engine from the archive, and refuses (exit 1, nothing run) an
    archive edited or swapped after install, one made writable by its group, and an engine folder replaced by a link."""
    folder = tmp_path / "engine"
    try:
        trust.check_interpreter(sys.executable)
        trust.check_tree_top(os.path.dirname(hashlib.__file__))
        trust.resolve_trusted(str(tmp_path))
    except trust.UntrustedPath as error:
        pytest.skip(f"the launcher would refuse to run here ({error}), whatever the archive")
    launcher = _install(folder, check=True)
    archive = folder / bundle.ENGINE_ARCHIVE
    ran = _run(launcher)
    assert ran.returncode == 0 and "prune" in ran.stdout and ran.stderr == "", ran.stdout + ran.stderr

    def refused(*reasons: str) -> None:
        proc = _run(launcher)
        assert proc.returncode == 1 and proc.stdout == "", proc.stdout + proc.stderr
        assert proc.stderr.splitlines() == [f"fleet-cache: refusing to run: {reason}" for reason in reasons]

    digest = bundle.archive_sha256()
    good = archive.read_bytes()
    with archive.open("ab") as handle:
        handle.write(b"#")
    edited = hashlib.sha256(good + b"#").hexdigest()
    refused(f"the engine {archive} is not the engine the role installed (SHA-256 {edited}, the launcher expects {digest})")
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as swapped:
        swapped.writestr("fleet_cache_engine/__init__.py", "")
        swapped.writestr("fleet_cache_engine/_cli.py", "def main(argv=None):\n    return 0\n")
    other.chmod(0o644)
    other.replace(archive)
    proc = _run(launcher)
    assert proc.returncode == 1 and f"refusing to run: the engine {archive} is not the engine the role installed" in proc.stderr, proc.stderr
    archive.write_bytes(good)
    archive.chmod(0o664)
    refused(f"the engine {archive} is writable by its group")
    archive.chmod(0o644)
    assert _run(launcher).returncode == 0
    real = tmp_path / "engine-real"
    folder.rename(real)
    folder.symlink_to(real)
    refused(f"the engine {archive}: {folder} is a symbolic link (the role installs the engine's folder and archive themselves)")


def test_the_windows_job_launcher_runs_the_archive_without_the_check(tmp_path: Path) -> None:
    """On Windows the job runs as the connecting user, as today: no owner or mode check, the same archive."""
    launcher = _install(tmp_path / "engine", check=False)
    ran = _run(launcher)
    assert ran.returncode == 0 and "prune" in ran.stdout, ran.stdout + ran.stderr
