# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The engine as it goes to a host: one archive of plugins/module_utils and one launcher beside it.

Every way the engine reaches a host uses these two: the action plugins send them to the host's temporary
folder for one task (Windows hosts, ``fleet_cache_transport: engine``), and the pip_cache_policy role installs
them for its scheduled job (through the ``fleet.cache.pip_cache_engine`` lookup). The archive is a package,
``fleet_cache_engine``, that Python imports with zipimport; it is the same bytes for the same files (entries
sorted, fixed dates and modes), so its SHA-256 names one engine. The job's launcher records that SHA-256 when
the role installs it and, on POSIX hosts, refuses to run unless the archive, the launcher and the interpreter
are root's alone and the archive is that very one (``_core/trust.py``, which the launcher carries).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import posixpath
import tempfile
import zipfile

from ansible_collections.fleet.cache.plugins.module_utils._core import trust

ENGINE_PACKAGE = trust.ENGINE_PACKAGE
ENGINE_ARCHIVE = trust.ENGINE_ARCHIVE
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

# Written for any Python, so that an old one answers with a message rather than a syntax error.
_VERSION_CHECK = """\
import json
import os
import sys

if sys.version_info < (3, 9):
    sys.stdout.write(json.dumps({"failed": True, "msg": "fleet.cache needs Python 3.9 or newer on this host; %s is Python %s"
                                 % (sys.executable, sys.version.split()[0])}) + "\\n")
    sys.exit(1)
"""

_REFUSE = """\
_refusals = job_problems(_launcher, digest=ENGINE_SHA256)
if _refusals:
    for _refusal in _refusals:
        sys.stderr.write(f"fleet-cache: refusing to run: {_refusal}\\n")
    sys.exit(1)
"""


def engine_folder() -> str:
    """plugins/module_utils on the controller: the engine's files."""
    return os.path.dirname(os.path.dirname(os.path.abspath(trust.__file__)))


def engine_files() -> list[str]:
    """The engine's files relative to plugins/module_utils (``_entry.py``, ``_core/walk.py``, ...): its modules and
    every package below it, so that a new package ships with no list to update."""
    top = engine_folder()
    found = []
    for folder, folders, names in os.walk(top):
        folders[:] = [name for name in folders if name != "__pycache__"]
        relative = os.path.relpath(folder, top).replace(os.sep, "/")
        found += [posixpath.join(relative, name) if relative != "." else name for name in names if name.endswith(".py")]
    return sorted(found)


@functools.lru_cache(maxsize=1)
def engine_archive() -> bytes:
    """The engine as the package ``fleet_cache_engine`` in a zip (imported by zipimport); the same bytes for the same files."""
    buffer = io.BytesIO()
    entries = [("__init__.py", b"")]
    for relative in engine_files():
        with open(os.path.join(engine_folder(), *relative.split("/")), "rb") as handle:
            entries.append((relative, handle.read()))
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(f"{ENGINE_PACKAGE}/{name}", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def archive_sha256() -> str:
    return hashlib.sha256(engine_archive()).hexdigest()


def archive_file(folder: str) -> str:
    """The archive as a file in ``folder`` (for a copy module's ``src``), written once, atomically, named by its SHA-256."""
    path = os.path.join(folder, f"{ENGINE_PACKAGE}-{archive_sha256()[:16]}.zip")
    try:
        with open(path, "rb") as handle:
            if handle.read() == engine_archive():
                return path
    except FileNotFoundError:
        pass
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{ENGINE_PACKAGE}-", suffix=".zip")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(engine_archive())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return path


def trust_source() -> str:
    """_core/trust.py as it is: the launcher's first part on POSIX hosts, and the role's check of the host."""
    with open(trust.__file__, encoding="utf-8") as handle:
        return handle.read()


def launcher_source(*, job: bool = False, check: bool = False, digest: str = "") -> str:
    """The launcher that runs the engine in the archive beside it, for one task (``job=False``: the action plugins'
    ``_entry.main`` with the arguments file) or as the scheduled job (``job=True``: the command line, ``_cli.main``).

    ``check=True`` (the job on POSIX hosts, where it runs as root) puts _core/trust.py first and refuses to run,
    naming the path and why, unless the interpreter, the standard library, the launcher and the archive can be changed
    by root alone and the archive's SHA-256 is ``digest``, the one recorded at install time."""
    if check and not (job and len(digest) == 64):
        raise ValueError("the trust check is the scheduled job's, and needs the archive's SHA-256")
    if job:
        head = [
            "# fleet-cache: prune, purge and look after pip's caches with the fleet.cache engine in fleet_cache_engine.zip beside",
            "# this file (see --help); the job that the pip_cache_policy role schedules, run as PYTHON -I -S -B fleet-cache COMMAND.",
        ]
    else:
        head = ["# fleet.cache: runs one pip cache task with the engine in fleet_cache_engine.zip beside this file (removed after the task)."]
    if check:
        head += [
            "# What follows first is the collection's plugins/module_utils/_core/trust.py, as it is: before it imports the",
            "# engine, the launcher makes sure that only root can change the interpreter, the launcher and the engine, and",
            "# that the engine is the archive the role installed (ENGINE_SHA256).",
        ]
        prelude = trust_source() + f"\n\nENGINE_SHA256 = {digest!r}\n"
    else:
        prelude = _VERSION_CHECK
    body = ["_launcher = os.path.abspath(__file__)", *([_REFUSE.rstrip("\n")] if check else [])]
    body += [
        f"sys.path.insert(0, os.path.join(os.path.dirname(_launcher), {ENGINE_ARCHIVE!r}))",
        f"from {ENGINE_PACKAGE}.{'_cli' if job else '_entry'} import main  # noqa: E402",
        "",
        "sys.exit(main(sys.argv[1:]))",
    ]
    return "\n".join(head) + "\n" + prelude + "\n" + "\n".join(body) + "\n"


def role_check_source() -> str:
    """What the role runs on the host (``python -I -S -B -``) before it installs the engine: _core/trust.py and its call."""
    return trust_source() + "\nraise SystemExit(role_check(sys.argv[1:]))\n"
