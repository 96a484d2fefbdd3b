# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real pip as the oracle: pip venvs of several versions, a loopback package index, caches real pip filled.

"pip is the truth": every behaviour of fleet.cache is proven by differential tests against real pip on
caches that real pip filled. This module provides the pieces those tests need:

- ``oracle_pips()``: one venv per pip version in ``ORACLE_VERSIONS``, installed once into ``ORACLE_DIR``
  (the only step that needs PyPI) and reused across runs.
- ``PackageIndex``: a deterministic PEP 503 index served on 127.0.0.1 with caching headers, over tiny
  distributions made by ``make_projects()`` (wheels built by hand, sdists with an in-tree PEP 517 backend
  that builds offline with build isolation on).
- ``fill_cache()`` / ``template_cache()``: caches filled by real pip from that index.
- ``pip_cache_*()``: run ``pip cache ...`` and parse each pip version's own wording.
- ``isolated_env()``: an environment free of the host's pip configuration.

Standard library only; runs on the controller's Python (>= 3.12). ``python piporacle.py prepare`` installs
the pips and builds the template caches ahead of a test run.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import email.utils
import fcntl
import functools
import hashlib
import importlib.util
import inspect
import json
import os
import pwd
import re
import shutil
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import types
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, Self

REPO_ROOT = Path(__file__).resolve().parents[2]
ORACLE_DIR: Path = Path(os.environ.get("FLEET_CACHE_ORACLE_DIR") or REPO_ROOT / ".oracle")
"""Where pip venvs, relocated interpreters and template caches live (git-ignored), reused across runs."""

ORACLE_VERSIONS: tuple[str, ...] = ("20.3.4", "23.2.1", "23.3.2", "25.1.1", "26.3")
"""pip versions the oracle runs; 26.3 is the newest release at the time of writing."""

PYTHON_FOR_PIP: dict[str, tuple[int, int]] = {
    "20.3.4": (3, 9),
    "23.2.1": (3, 11),
    "23.3.2": (3, 12),
    "25.1.1": (3, 12),
    "26.3": (3, 13),
}
"""The interpreter each oracle pip runs on (each a Python that pip version supports)."""

# Nothing listens on the discard port: a request that is not for loopback fails at once.
OFFLINE_PROXY = "http://127.0.0.1:9"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Bump when the meaning of a template cache changes in a way the generated files do not show.
TEMPLATE_FORMAT = 1
_LAST_MODIFIED = email.utils.formatdate(1_735_689_600, usegmt=True)  # 2025-01-01, fixed for determinism


class OracleError(RuntimeError):
    """A pip run or an oracle step failed; the message names the command, its exit code and its stderr."""

    def __init__(self, message: str, *, command: Sequence[str] = (), returncode: int | None = None, stdout: str = "", stderr: str = "") -> None:
        self.command = list(command)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        parts = [message]
        if self.command:
            parts.append("command: " + " ".join(self.command))
        if returncode is not None:
            parts.append(f"returncode: {returncode}")
        if stderr.strip():
            parts.append("stderr:\n" + stderr.rstrip())
        if stdout.strip():
            parts.append("stdout:\n" + stdout.rstrip()[-4000:])
        super().__init__("\n".join(parts))

    @classmethod
    def from_process(cls, message: str, proc: subprocess.CompletedProcess[str]) -> OracleError:
        command = [str(part) for part in proc.args] if isinstance(proc.args, (list, tuple)) else [str(proc.args)]
        return cls(message, command=command, returncode=proc.returncode, stdout=proc.stdout or "", stderr=proc.stderr or "")


# --------------------------------------------------------------------------------------------------
# Running commands


def _run(
    cmd: Sequence[str | os.PathLike[str]], *, env: Mapping[str, str] | None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    args = [os.fspath(part) for part in cmd]
    try:
        return subprocess.run(
            args,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise OracleError(f"timed out after {timeout}s", command=args, stdout=out, stderr=err) from exc
    except OSError as exc:
        raise OracleError(f"cannot run: {exc}", command=args) from exc


def _user_prefix(user: str) -> list[str]:
    """The command prefix that runs a command as ``user`` with the environment passed through unchanged."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError as exc:
        raise OracleError(f"no such local user: {user!r}") from exc
    if entry.pw_uid == os.geteuid():
        return []
    if os.geteuid() != 0:
        raise OracleError(f"running pip as {user!r} needs root (running as uid {os.geteuid()})")
    setpriv = shutil.which("setpriv", path=DEFAULT_PATH)
    if setpriv is None:
        raise OracleError("running pip as another user needs setpriv (util-linux)")
    # setpriv keeps the environment as given (runuser would reset HOME, USER, SHELL and LOGNAME).
    return [setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", "--"]


def _closed_ancestor(path: Path) -> Path | None:
    """The first of ``path`` and its parents that users other than root cannot traverse (no o+x), if any."""
    for parent in [path, *path.parents]:
        try:
            if not parent.stat().st_mode & stat.S_IXOTH:
                return parent
        except OSError:
            return parent
    return None


@dataclass(frozen=True)
class OraclePip:
    """One real pip, installed in its own venv."""

    version: str
    python: Path
    venv: Path
    python_version: tuple[int, ...] = ()

    @property
    def key(self) -> tuple[int, ...]:
        return parse_version(self.version)

    @property
    def id(self) -> str:
        return f"pip-{self.version}"

    def runnable_by_others(self) -> bool:
        """Whether users other than root can run this pip (ORACLE_DIR must sit in folders they can traverse)."""
        return _closed_ancestor(self.python.resolve()) is None

    def run(
        self,
        *args: str,
        env: Mapping[str, str],
        cwd: Path | None = None,
        user: str | None = None,
        check: bool = False,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python -m pip ARGS`` with exactly ``env``; as the local ``user`` when given (needs root)."""
        cmd: list[str] = [str(self.python), "-m", "pip", *args]
        if user is not None:
            prefix = _user_prefix(user)
            closed = _closed_ancestor(self.python.resolve()) if prefix else None
            if closed is not None:
                raise OracleError(f"{user!r} cannot run {self.python}: {closed} lacks o+x (set FLEET_CACHE_ORACLE_DIR to a folder every user can traverse)")
            cmd = prefix + cmd
        proc = _run(cmd, env=env, cwd=cwd, timeout=timeout)
        if check and proc.returncode != 0:
            raise OracleError.from_process(f"pip {self.version} failed", proc)
        return proc


def parse_version(text: str) -> tuple[int, ...]:
    """``"20.3.4"`` -> ``(20, 3, 4)``; release segments only."""
    match = re.match(r"\d+(?:\.\d+)*", text.strip())
    if not match:
        raise ValueError(f"not a version: {text!r}")
    return tuple(int(part) for part in match.group(0).split("."))


# --------------------------------------------------------------------------------------------------
# Installing pip versions


@functools.cache
def _interpreters() -> dict[tuple[int, int], str]:
    script = REPO_ROOT / "hack" / "pythons.py"
    spec = importlib.util.spec_from_file_location("_fleet_cache_pythons", script)
    if spec is None or spec.loader is None:
        raise OracleError(f"cannot load {script}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found: dict[tuple[int, int], str] = module.interpreters()
    return found


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """An exclusive lock across processes (pytest-xdist workers, parallel sessions) on ORACLE_DIR/locks/NAME."""
    lock_dir = ORACLE_DIR / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "w", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ensure_oracle_dir() -> None:
    ORACLE_DIR.mkdir(parents=True, exist_ok=True)
    # Other users run the venvs' interpreters (OraclePip.run(user=...)): keep the folder traversable.
    ORACLE_DIR.chmod(0o755)


def _probe(python: Path | str) -> dict[str, Any]:
    code = "import json, sys; print(json.dumps({'prefix': sys.prefix, 'version': list(sys.version_info[:3])}))"
    proc = _run([python, "-I", "-c", code], env={"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"})
    if proc.returncode != 0:
        raise OracleError.from_process(f"interpreter {python} does not run", proc)
    probed: dict[str, Any] = json.loads(proc.stdout)
    return probed


def _portable_interpreter(base: Path) -> Path:
    """An interpreter every local user can run: ``base`` itself, or a relocated copy under ORACLE_DIR/pythons.

    pyenv keeps its interpreters under /root (mode 700), where other users cannot reach them, so
    ``OraclePip.run(user=...)`` needs a copy: the binary, libpython and the standard library (without its
    test suite). The copy's RUNPATH is rewritten in place to ``$ORIGIN/../lib`` (a shorter string).
    """
    base = base.resolve()
    if _closed_ancestor(base) is None:
        return base
    info = _probe(base)
    major, minor, micro = info["version"]
    prefix = Path(info["prefix"])
    name = f"python{major}.{minor}"
    digest = hashlib.sha256(str(prefix).encode()).hexdigest()[:8]
    dest = ORACLE_DIR / "pythons" / f"{major}.{minor}.{micro}-{digest}"
    binary = dest / "bin" / name
    with _locked(f"python-{dest.name}"):
        if not (dest / ".complete").exists():
            _relocate(base, prefix, dest, name)
    return binary


def _relocate(base: Path, prefix: Path, dest: Path, name: str) -> None:
    stdlib = prefix / "lib" / name
    if base.parent != prefix / "bin" or not (stdlib / "os.py").exists():
        raise OracleError(f"cannot relocate {base}: expected {prefix}/bin/{name} beside {stdlib}/os.py")
    if dest.exists():
        shutil.rmtree(dest)
    staging = dest.with_name(dest.name + f".tmp{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "bin").mkdir(parents=True)
    (staging / "lib").mkdir()
    shutil.copy2(base, staging / "bin" / name)
    for library in sorted((prefix / "lib").glob(f"lib{name}*.so*")):
        shutil.copy2(library, staging / "lib" / library.name, follow_symlinks=False)

    def ignore(directory: str, names: list[str]) -> set[str]:
        return {"test", "site-packages"} & set(names) if Path(directory) == stdlib else set()

    shutil.copytree(stdlib, staging / "lib" / name, symlinks=True, ignore=ignore)
    (staging / "lib" / name / "site-packages").mkdir()
    data = (staging / "bin" / name).read_bytes()
    old = str(prefix / "lib").encode() + b"\0"
    new = b"$ORIGIN/../lib"
    if data.count(old) == 1:
        (staging / "bin" / name).write_bytes(data.replace(old, new + b"\0" * (len(old) - len(new))))
    elif data.count(old) > 1:
        raise OracleError(f"cannot relocate {base}: its library path occurs {data.count(old)} times")
    staged = _probe(staging / "bin" / name)
    if Path(staged["prefix"]) != staging:
        raise OracleError(f"relocated {base} to {staging} but it reports prefix {staged['prefix']}")
    staging.rename(dest)
    (dest / ".complete").write_text(f"{base}\n", encoding="utf-8")


def _install_pip(version: str, base_python: Path) -> OraclePip:
    venv = ORACLE_DIR / "venvs" / f"pip-{version}"
    marker = venv / "oracle.json"
    python = venv / "bin" / "python"
    with _locked(f"venv-{version}"):
        if marker.exists():
            recorded = json.loads(marker.read_text(encoding="utf-8"))
            if recorded.get("base_python") == str(base_python) and python.exists():
                return OraclePip(version=version, python=python, venv=venv, python_version=tuple(recorded["python_version"]))
        if venv.exists():
            shutil.rmtree(venv)
        portable = _portable_interpreter(base_python)
        proc = _run([portable, "-m", "venv", venv], env=os.environ, timeout=600)
        if proc.returncode != 0:
            raise OracleError.from_process(f"cannot create the venv for pip {version}", proc)
        # The host's pip configuration (find-links, indexes, cert) is used as is: this is the one online step.
        proc = _run([python, "-m", "pip", "install", "--disable-pip-version-check", "-q", f"pip=={version}"], env=os.environ, timeout=900)
        if proc.returncode != 0:
            raise OracleError.from_process(f"cannot install pip=={version} from the package index", proc)
        with tempfile.TemporaryDirectory(prefix="piporacle-probe-") as probe:
            proc = _run([python, "-m", "pip", "--version"], env=isolated_env(Path(probe)))
        if proc.returncode != 0 or not proc.stdout.startswith(f"pip {version} "):
            raise OracleError.from_process(f"the venv for pip {version} runs another pip", proc)
        python_version = tuple(_probe(python)["version"])
        marker.write_text(json.dumps({"version": version, "base_python": str(base_python), "python_version": python_version}) + "\n", encoding="utf-8")
        return OraclePip(version=version, python=python, venv=venv, python_version=python_version)


def get_pip(version: str) -> OraclePip | None:
    """The oracle pip of that version (installed on first use), or None when its Python is missing here."""
    wanted = PYTHON_FOR_PIP[version]
    base = _interpreters().get(wanted)
    if base is None:
        warnings.warn(f"pip {version} skipped: no Python {wanted[0]}.{wanted[1]} on this machine", stacklevel=2)
        return None
    _ensure_oracle_dir()
    return _install_pip(version, Path(base))


def oracle_pips() -> list[OraclePip]:
    """Every oracle pip whose Python exists here, oldest first; installed once (two at a time), then reused."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(get_pip, ORACLE_VERSIONS))
    return [pip for pip in found if pip is not None]


def newest_pip() -> OraclePip:
    """The newest oracle pip available here."""
    for version in reversed(ORACLE_VERSIONS):
        pip = get_pip(version)
        if pip is not None:
            return pip
    raise OracleError("no oracle pip can run here: none of their Pythons exists")


# --------------------------------------------------------------------------------------------------
# Environments


def isolated_env(tmp: Path, **overrides: str) -> dict[str, str]:
    """A minimal environment for pip with every configuration location inside ``tmp`` (created here).

    HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME, XDG_CONFIG_DIRS and XDG_DATA_DIRS point into ``tmp``; no PIP_*
    variable is set and nothing else of the caller's environment leaks in (no PYTHONPATH, no host proxies).
    A dead proxy (127.0.0.1:9) for every host but loopback makes a pip run that would reach the network
    (a forgotten ``--index-url``) fail at once instead of downloading from PyPI.
    /etc/pip.conf is still read by pip (it cannot be avoided without PIP_CONFIG_FILE, which would change
    what is tested). ``overrides`` are added last, e.g. ``PIP_CACHE_DIR="/x"``.
    """
    tmp = Path(tmp)
    dirs = {
        "HOME": tmp / "home",
        "XDG_CONFIG_HOME": tmp / "xdg-config",
        "XDG_CACHE_HOME": tmp / "xdg-cache",
        "XDG_CONFIG_DIRS": tmp / "xdg-config-dirs",
        "XDG_DATA_DIRS": tmp / "xdg-data-dirs",
    }
    for directory in dirs.values():
        directory.mkdir(parents=True, exist_ok=True)
    env = {key: str(value) for key, value in dirs.items()}
    env.update({"PATH": DEFAULT_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
    env.update({"http_proxy": OFFLINE_PROXY, "https_proxy": OFFLINE_PROXY, "no_proxy": "127.0.0.1,localhost,::1"})
    if os.environ.get("TMPDIR"):
        env["TMPDIR"] = os.environ["TMPDIR"]
    env.update(overrides)
    return env


def chown_tree(root: Path, user: str) -> None:
    """Give ``root`` and everything under it to the local ``user`` (and the user's primary group)."""
    entry = pwd.getpwnam(user)
    os.chown(root, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(directory, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


# --------------------------------------------------------------------------------------------------
# Distributions

# The in-tree PEP 517 backend shipped inside every sdist. Python 3.6+ syntax, standard library only,
# deterministic output. make_projects() uses the same code to build the wheels it publishes.
TINYBACKEND_SOURCE = '''\
"""tinybackend: a PEP 517 build backend in one file, standard library only, deterministic output."""

import base64
import email.parser
import gzip
import hashlib
import io
import os
import re
import tarfile
import zipfile

ZIP_DATE = (2025, 1, 1, 0, 0, 0)
SOURCE_MTIME = 1735689600
WHEEL_TAG = "py3-none-any"


def _metadata(source_dir):
    with open(os.path.join(source_dir, "PKG-INFO"), encoding="utf-8") as handle:
        text = handle.read()
    message = email.parser.Parser().parsestr(text)
    return message["Name"], message["Version"], text


def wheel_name(name):
    """The distribution name as it appears in wheel filenames (PEP 427 escaping: case and dots kept)."""
    return re.sub(r"[^\\w\\d.]+", "_", name, flags=re.UNICODE)


def _dist_info(name, version):
    return "%s-%s.dist-info" % (wheel_name(name), version)


def _wheel_file():
    return "Wheel-Version: 1.0\\nGenerator: tinybackend 1\\nRoot-Is-Purelib: true\\nTag: %s\\n" % WHEEL_TAG


def _payload(source_dir):
    root = os.path.join(source_dir, "src")
    files = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for filename in sorted(filenames):
            path = os.path.join(directory, filename)
            with open(path, "rb") as handle:
                files.append((os.path.relpath(path, root).replace(os.sep, "/"), handle.read()))
    return files


def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def build_wheel_from(source_dir, wheel_directory):
    name, version, metadata = _metadata(source_dir)
    dist_info = _dist_info(name, version)
    filename = "%s-%s-%s.whl" % (wheel_name(name), version, WHEEL_TAG)
    entries = _payload(source_dir)
    entries.append((dist_info + "/METADATA", metadata.encode("utf-8")))
    entries.append((dist_info + "/WHEEL", _wheel_file().encode("utf-8")))
    record = "".join("%s,%s,%d\\n" % (arcname, _digest(data), len(data)) for arcname, data in entries)
    record += dist_info + "/RECORD,,\\n"
    entries.append((dist_info + "/RECORD", record.encode("utf-8")))
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname, data in entries:
            info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return filename


def build_sdist_from(source_dir, sdist_directory):
    name, version, _ = _metadata(source_dir)
    base = "%s-%s" % (name, version)
    filename = base + ".tar.gz"
    paths = []
    for directory, dirnames, filenames in os.walk(source_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for filename_ in sorted(filenames):
            paths.append(os.path.join(directory, filename_))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for path in paths:
            with open(path, "rb") as handle:
                data = handle.read()
            info = tarfile.TarInfo(base + "/" + os.path.relpath(path, source_dir).replace(os.sep, "/"))
            info.size = len(data)
            info.mtime = SOURCE_MTIME
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    with open(os.path.join(sdist_directory, filename), "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed:
            compressed.write(buffer.getvalue())
    return filename


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    name, version, metadata = _metadata(os.getcwd())
    dist_info = _dist_info(name, version)
    os.makedirs(os.path.join(metadata_directory, dist_info), exist_ok=True)
    with open(os.path.join(metadata_directory, dist_info, "METADATA"), "w", encoding="utf-8") as handle:
        handle.write(metadata)
    with open(os.path.join(metadata_directory, dist_info, "WHEEL"), "w", encoding="utf-8") as handle:
        handle.write(_wheel_file())
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return build_wheel_from(os.getcwd(), wheel_directory)


def build_sdist(sdist_directory, config_settings=None):
    return build_sdist_from(os.getcwd(), sdist_directory)
'''

PYPROJECT_TOML = """\
[build-system]
requires = []
build-backend = "tinybackend"
backend-path = ["."]
"""

Kind = Literal["wheel", "sdist"]

# name as published -> (version, kind) in release order. Names mix capitals, dots, underscores and hyphens.
PROJECT_SPECS: dict[str, tuple[tuple[str, Kind], ...]] = {
    "TinyYAML": (("1.0", "sdist"), ("1.1", "sdist")),
    "zope.tiny": (("1.0", "wheel"), ("2.0", "sdist")),
    "typing_tiny": (("0.1", "wheel"), ("0.2", "wheel"), ("0.3", "wheel")),
    "tiny-requests": (("2.0", "sdist"), ("2.1", "sdist")),
    "Simple": (("1.0", "wheel"), ("1.1", "sdist")),
}
# A few kB of incompressible bytes in one project, so sizes reach pip's "kB" formatting tiers.
_BLOB_PROJECT = "TinyYAML"
_BLOB_BYTES = 16_000


def normalize(name: str) -> str:
    """PEP 503 normalized name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Project:
    """A project the loopback index serves: each version is published as exactly one file (a wheel or an sdist)."""

    name: str
    normalized: str
    versions: tuple[str, ...]
    kinds: dict[str, Kind]
    filenames: dict[str, str] = field(default_factory=dict)
    """version -> the published file's name."""
    wheel_name: str = ""
    """The name as written in wheel filenames (case and dots kept, ``-`` -> ``_``)."""

    def wheel_filename(self, version: str) -> str:
        """The wheel pip installs for that version: the published one, or the one pip builds from the sdist."""
        return f"{self.wheel_name}-{version}-py3-none-any.whl"

    def built_wheels(self) -> list[str]:
        """Wheels pip builds (and keeps in wheels/) when it installs every version: those of sdist-only versions."""
        return [self.wheel_filename(version) for version in self.versions if self.kinds[version] == "sdist"]

    def requirement(self, version: str) -> str:
        return f"{self.name}=={version}"


@functools.cache
def _tinybackend() -> types.ModuleType:
    module = types.ModuleType("tinybackend")
    exec(compile(TINYBACKEND_SOURCE, "tinybackend.py", "exec"), module.__dict__)
    return module


def _module_source(project: str, version: str) -> str:
    lines = [f'"""{project} {version}: a tiny distribution made by the fleet.cache test oracle."""', "", f'__version__ = "{version}"', ""]
    if project == _BLOB_PROJECT:
        blob = b""
        seed = f"{project}-{version}".encode()
        while len(blob) < _BLOB_BYTES:
            seed = hashlib.sha256(seed).digest()
            blob += seed
        encoded = base64.b64encode(blob[:_BLOB_BYTES]).decode("ascii")
        lines.append("BLOB = (")
        lines.extend(f'    "{encoded[i : i + 76]}"' for i in range(0, len(encoded), 76))
        lines.extend([")", ""])
    return "\n".join(lines)


def _write_source_tree(root: Path, project: str, version: str) -> None:
    module = normalize(project).replace("-", "_")
    (root / "src").mkdir(parents=True)
    (root / "src" / f"{module}.py").write_text(_module_source(project, version), encoding="utf-8")
    pkg_info = f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\nSummary: {project}, a tiny test distribution\n"
    (root / "PKG-INFO").write_text(pkg_info, encoding="utf-8")
    (root / "pyproject.toml").write_text(PYPROJECT_TOML, encoding="utf-8")
    (root / "tinybackend.py").write_text(TINYBACKEND_SOURCE, encoding="utf-8")


def make_projects(dest: Path) -> list[Project]:
    """Write every distribution of ``PROJECT_SPECS`` into ``dest`` (flat) and describe them; deterministic bytes."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    backend = _tinybackend()
    projects: list[Project] = []
    with tempfile.TemporaryDirectory(prefix="piporacle-src-") as scratch:
        for name, releases in PROJECT_SPECS.items():
            filenames: dict[str, str] = {}
            for version, kind in releases:
                tree = Path(scratch) / f"{normalize(name)}-{version}"
                _write_source_tree(tree, name, version)
                if kind == "wheel":
                    filenames[version] = backend.build_wheel_from(str(tree), str(dest))
                else:
                    filenames[version] = backend.build_sdist_from(str(tree), str(dest))
            projects.append(
                Project(
                    name=name,
                    normalized=normalize(name),
                    versions=tuple(version for version, _kind in releases),
                    kinds=dict(releases),
                    filenames=filenames,
                    wheel_name=backend.wheel_name(name),
                )
            )
    return projects


# --------------------------------------------------------------------------------------------------
# The loopback index


@dataclass(frozen=True)
class Request:
    """One request the index answered."""

    method: str
    path: str
    status: int
    headers: dict[str, str]


@dataclass(frozen=True)
class _Resource:
    body: bytes
    content_type: str
    etag: str


class _IndexHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "piporacle-index/1"
    server: _IndexServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _common_headers(self) -> None:
        self.send_header("Cache-Control", "max-age=3600")
        self.send_header("Last-Modified", _LAST_MODIFIED)

    def _answer(self, *, body: bool) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        status, resource, location = self.server.index.resolve(path)
        if status == HTTPStatus.OK and resource is not None and self._not_modified(resource):
            status = HTTPStatus.NOT_MODIFIED
        self.server.index.record(Request(self.command, self.path, int(status), {key.lower(): value for key, value in self.headers.items()}))
        self.send_response(status)
        self._common_headers()
        if resource is not None:
            self.send_header("ETag", resource.etag)
        if status == HTTPStatus.NOT_MODIFIED:
            self.end_headers()
            return
        if location is not None:
            self.send_header("Location", location)
        payload = resource.body if resource is not None else f"{int(status)} {status.phrase}\n".encode()
        self.send_header("Content-Type", resource.content_type if resource is not None else "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def _not_modified(self, resource: _Resource) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return resource.etag in [tag.strip() for tag in if_none_match.split(",")] or if_none_match.strip() == "*"
        return self.headers.get("If-Modified-Since") == _LAST_MODIFIED


class _IndexServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, index: PackageIndex, tls: ssl.SSLContext | None) -> None:
        self.index = index
        super().__init__(("127.0.0.1", 0), _IndexHandler)
        if tls is not None:
            # The handshake happens in the handler's thread, not in the accepting one.
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)


def _tls_context() -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1, made once by openssl into ORACLE_DIR/tls."""
    directory = ORACLE_DIR / "tls"
    cert, key = directory / "cert.pem", directory / "key.pem"
    _ensure_oracle_dir()
    with _locked("tls"):
        if not (cert.exists() and key.exists()):
            openssl = shutil.which("openssl", path=DEFAULT_PATH)
            if openssl is None:
                raise OracleError("the HTTPS index needs the openssl command (Debian package openssl)")
            directory.mkdir(exist_ok=True)
            cmd = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "36500", "-subj", "/CN=127.0.0.1"]
            cmd += ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key) + ".tmp", "-out", str(cert) + ".tmp"]
            proc = _run(cmd, env={"PATH": DEFAULT_PATH})
            if proc.returncode != 0:
                raise OracleError.from_process("cannot make the index's certificate", proc)
            os.replace(str(key) + ".tmp", key)
            os.replace(str(cert) + ".tmp", cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


# The pip release /simple/pip/ lists: older than every oracle pip, so pip prints no upgrade notice.
SELFCHECK_PIP = "pip-0.1.tar.gz"


def _html(title: str, anchors: Sequence[tuple[str, str]]) -> bytes:
    links = "\n".join(f'    <a href="{href}">{text}</a><br/>' for href, text in anchors)
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        f"    <title>{title}</title>\n  </head>\n  <body>\n    <h1>{title}</h1>\n{links}\n  </body>\n</html>\n"
    ).encode()


def _resource(body: bytes, content_type: str) -> _Resource:
    return _Resource(body=body, content_type=content_type, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"')


class PackageIndex:
    """A PEP 503 simple index on 127.0.0.1 (random port) serving ``projects`` from ``dist_dir``.

    ``/simple/``, ``/simple/<normalized>/`` (anchors carry ``#sha256=``) and ``/files/<filename>``; other
    spellings of a project redirect (301) to the normalized page, as PyPI does. Every response carries
    ``Cache-Control: max-age=3600``, ``Last-Modified`` (fixed) and, for content, a content-derived ``ETag``;
    conditional requests get 304. Deterministic: the same projects give the same bytes on every run.
    With ``projects=None`` the distributions of ``make_projects(dist_dir)`` are generated and served.

    HTTPS by default (self-signed; ``--trusted-host`` makes pip accept it): pip < 21 caches responses of a
    trusted host over HTTPS only (it mounts its caching adapter on ``https://HOST/``), so a plain-HTTP index
    leaves pip 20.3.4's ``http/`` empty. ``tls=False`` serves plain HTTP.

    ``/simple/pip/`` lists one old pip release (never served), so that pip's self version check finds an
    answer and writes its ``selfcheck/`` state into the cache, as it does against PyPI.
    """

    def __init__(self, dist_dir: Path, projects: Sequence[Project] | None = None, *, tls: bool = True) -> None:
        self.dist_dir = Path(dist_dir)
        self.projects: list[Project] = list(projects) if projects is not None else make_projects(self.dist_dir)
        self.tls = tls
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: _IndexServer | None = None
        self._thread: threading.Thread | None = None
        self._resources = self._build_resources()
        self.url = ""
        self.host = ""

    def _build_resources(self) -> dict[str, _Resource]:
        html = "text/html; charset=utf-8"
        resources: dict[str, _Resource] = {}
        root_links = [(f"/simple/{project.normalized}/", project.name) for project in sorted(self.projects, key=lambda p: p.normalized)]
        resources["/simple/"] = _resource(_html("Simple index", root_links), html)
        for project in self.projects:
            anchors = []
            for version in project.versions:
                filename = project.filenames[version]
                data = (self.dist_dir / filename).read_bytes()
                resources[f"/files/{filename}"] = _resource(data, "application/octet-stream")
                anchors.append((f"/files/{filename}#sha256={hashlib.sha256(data).hexdigest()}", filename))
            resources[f"/simple/{project.normalized}/"] = _resource(_html(f"Links for {project.name}", anchors), html)
        pip_sdist = f"/files/{SELFCHECK_PIP}#sha256={hashlib.sha256(b'').hexdigest()}"
        resources["/simple/pip/"] = _resource(_html("Links for pip", [(pip_sdist, SELFCHECK_PIP)]), html)
        return resources

    def resolve(self, path: str) -> tuple[HTTPStatus, _Resource | None, str | None]:
        """(status, resource, redirect location) for a request path."""
        resource = self._resources.get(path)
        if resource is not None:
            return HTTPStatus.OK, resource, None
        match = re.fullmatch(r"/simple/([^/]+)/?", path)
        if match or path == "/simple":
            target = "/simple/" if path == "/simple" else f"/simple/{normalize(match.group(1) if match else '')}/"
            if target in self._resources and target != path:
                return HTTPStatus.MOVED_PERMANENTLY, None, target
        return HTTPStatus.NOT_FOUND, None, None

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def install_args(self) -> list[str]:
        return ["--index-url", self.url, "--trusted-host", self.host]

    def project(self, name: str) -> Project:
        for project in self.projects:
            if project.normalized == normalize(name):
                return project
        raise KeyError(name)

    def start(self) -> Self:
        if self._server is None:
            self._server = _IndexServer(self, _tls_context() if self.tls else None)
            port = self._server.server_address[1]
            self.host = f"127.0.0.1:{port}"
            self.url = f"{'https' if self.tls else 'http'}://{self.host}/simple/"
            self._thread = threading.Thread(target=self._server.serve_forever, name=f"piporacle-index-{port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._server = None
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------------
# Filling caches

_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _rounds(requirements: Sequence[str]) -> list[list[str]]:
    """Split requirements so that no pip run names one project twice (pip refuses double requirements)."""
    rounds: list[list[str]] = []
    seen: list[set[str]] = []
    for requirement in requirements:
        match = _REQUIREMENT_NAME.match(requirement)
        name = normalize(match.group(1)) if match else requirement
        for names, batch in zip(seen, rounds, strict=True):
            if name not in names:
                names.add(name)
                batch.append(requirement)
                break
        else:
            seen.append({name})
            rounds.append([requirement])
    return rounds


def fill_cache(
    pip: OraclePip,
    cache_dir: Path,
    index: PackageIndex,
    requirements: Sequence[str],
    *,
    env: Mapping[str, str],
    target: Path | None = None,
    user: str | None = None,
) -> None:
    """Real pip installs ``requirements`` from ``index`` with ``--cache-dir cache_dir --no-deps``.

    The installs go into a throwaway ``--target`` (or ``target``). Requirements naming one project twice
    (``TinyYAML==1.0``, ``TinyYAML==1.1``) are installed by successive pip runs. Raises OracleError on failure.
    """
    if not requirements:
        return
    with tempfile.TemporaryDirectory(prefix="piporacle-target-") as scratch:
        for number, batch in enumerate(_rounds(requirements)):
            destination = Path(target) if target is not None else Path(scratch) / f"round-{number}"
            args = ["install", "--no-deps", "--cache-dir", str(cache_dir), *index.install_args(), "--target", str(destination), "--progress-bar", "off"]
            if target is not None and number > 0:
                args.append("--upgrade")
            if user is not None and target is None:
                Path(scratch).chmod(0o777)
            pip.run(*args, *batch, env=env, user=user, check=True)


def _all_requirements(projects: Sequence[Project]) -> list[str]:
    return [project.requirement(version) for project in projects for version in project.versions]


@functools.cache
def generator_key() -> str:
    """A hash of everything that decides a template cache's content: distributions, index pages, fill command."""
    digest = hashlib.sha256(f"format {TEMPLATE_FORMAT}\n".encode())
    with tempfile.TemporaryDirectory(prefix="piporacle-key-") as scratch:
        projects = make_projects(Path(scratch))
        index = PackageIndex(Path(scratch), projects)
        for path, resource in sorted(index._resources.items()):
            digest.update(path.encode() + b"\0" + hashlib.sha256(resource.body).digest())
    for piece in (_IndexHandler, PackageIndex.resolve, fill_cache, _rounds, _all_requirements, isolated_env):
        digest.update(inspect.getsource(piece).encode())
    return digest.hexdigest()[:16]


def template_cache(pip: OraclePip) -> Path:
    """A cache that ``pip`` filled by installing every version of every project; built once, then reused.

    Lives in ORACLE_DIR/caches/<pip version>/<generator key>/ and must not be changed: copy it first
    (``shutil.copytree(src, dst, symlinks=True)``). Its HTTP entries and wheels/ keys name the port of a
    throwaway index, not the session's one.
    """
    key = generator_key()
    parent = ORACLE_DIR / "caches" / pip.version
    cache = parent / key
    stamp = parent / f"{key}.json"
    _ensure_oracle_dir()
    parent.mkdir(parents=True, exist_ok=True)
    with _locked(f"cache-{pip.version}"):
        if stamp.exists() and cache.is_dir():
            return cache
        for stale in parent.iterdir():
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink()
        with tempfile.TemporaryDirectory(prefix="piporacle-template-") as scratch:
            started = time.monotonic()
            building = parent / f".building-{key}"
            with PackageIndex(Path(scratch) / "dists") as index:
                env = isolated_env(Path(scratch) / "env")
                fill_cache(pip, building, index, _all_requirements(index.projects), env=env)
            building.rename(cache)
        stamp.write_text(json.dumps({"pip": pip.version, "key": key, "seconds": round(time.monotonic() - started, 1)}) + "\n", encoding="utf-8")
    return cache


def template_caches(pips: Sequence[OraclePip]) -> dict[str, Path]:
    """template_cache() for each pip, two at a time; version -> path."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip([pip.version for pip in pips], pool.map(template_cache, pips), strict=True))


# --------------------------------------------------------------------------------------------------
# pip cache commands


@dataclass
class CacheInfo:
    """``pip cache info``, parsed. Locations are None when that pip version prints no such line."""

    http_files: int
    index_page_size: str
    wheels_location: str
    wheels_size: str
    wheels_count: int
    http_v2_location: str | None = None
    """``Package index page cache location (pip v23.3+): ...`` (pip >= 23.3)."""
    http_location: str | None = None
    """``... location (older pips): ...`` (pip >= 23.3), or the one unqualified location line of older pips."""
    index_page_location: str | None = None
    """The unqualified ``Package index page cache location: ...`` line (pip < 23.3 only)."""
    raw: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    """Every ``label: value`` line as printed."""


_INFO_LABELS: dict[str, str] = {
    "Package index page cache location (pip v23.3+)": "http_v2_location",
    "Package index page cache location (older pips)": "http_location",
    "Package index page cache location": "index_page_location",
    "Package index page cache size": "index_page_size",
    "Number of HTTP files": "http_files",
    "Wheels location": "wheels_location",
    "Locally built wheels location": "wheels_location",
    "Wheels size": "wheels_size",
    "Locally built wheels size": "wheels_size",
    "Number of wheels": "wheels_count",
    "Number of locally built wheels": "wheels_count",
}


def _cache_command(pip: OraclePip, env: Mapping[str, str], *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = pip.run("cache", *args, env=env, user=user)
    if proc.returncode != 0:
        raise OracleError.from_process(f"pip {pip.version} cache {args[0]} failed", proc)
    return proc


def pip_cache_dir(pip: OraclePip, env: Mapping[str, str], *extra_args: str, user: str | None = None) -> str:
    """``pip cache dir``: the path printed, stripped."""
    return _cache_command(pip, env, "dir", *extra_args, user=user).stdout.strip()


def parse_cache_info(text: str) -> CacheInfo:
    """Parse the output of ``pip cache info`` of any supported pip version."""
    values: dict[str, str] = {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        label, sep, value = line.partition(": ")
        if not sep or label not in _INFO_LABELS:
            raise OracleError(f"unexpected line in pip cache info: {line!r}", stdout=text)
        fields[label] = value
        values[_INFO_LABELS[label]] = value
    if "index_page_location" in values and "http_location" not in values:
        values["http_location"] = values["index_page_location"]
    missing = {"http_files", "index_page_size", "wheels_location", "wheels_size", "wheels_count"} - values.keys()
    if missing:
        raise OracleError(f"pip cache info printed no {', '.join(sorted(missing))}", stdout=text)
    return CacheInfo(
        http_files=int(values["http_files"]),
        index_page_size=values["index_page_size"],
        wheels_location=values["wheels_location"],
        wheels_size=values["wheels_size"],
        wheels_count=int(values["wheels_count"]),
        http_v2_location=values.get("http_v2_location"),
        http_location=values.get("http_location"),
        index_page_location=values.get("index_page_location"),
        raw=text,
        fields=fields,
    )


def pip_cache_info(pip: OraclePip, env: Mapping[str, str], *extra_args: str, user: str | None = None) -> CacheInfo:
    """``pip cache info``, parsed."""
    return parse_cache_info(_cache_command(pip, env, "info", *extra_args, user=user).stdout)


_NO_WHEELS = {"No locally built wheels cached.", "Nothing cached."}


def pip_cache_list(pip: OraclePip, env: Mapping[str, str], pattern: str | None = None, fmt: str = "human", *, user: str | None = None) -> list[str]:
    """``pip cache list [PATTERN] --format FMT``: ``"- NAME.whl (SIZE)"`` lines (human) or absolute paths (abspath)."""
    args = ["list", f"--format={fmt}"]
    if pattern is not None:
        args.append(pattern)
    text = _cache_command(pip, env, *args, user=user).stdout
    entries: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped in _NO_WHEELS or stripped == "Cache contents:":
            continue
        if (fmt == "human" and stripped.startswith("- ")) or (fmt == "abspath" and os.path.isabs(stripped)):
            entries.append(stripped)
        else:
            raise OracleError(f"unexpected line in pip cache list: {line!r}", stdout=text)
    return entries


@dataclass
class RemoveResult:
    """``pip cache remove`` / ``purge``, parsed. ``dirs_removed`` is None for pips that print no such line."""

    files_removed: int
    dirs_removed: int | None
    stdout: str
    stderr: str
    returncode: int
    warning_no_match: bool
    """pip said ``No matching packages`` (a warning since pip 21.3, an error with exit 1 before)."""
    size_removed: str | None = None
    """``Files removed: N (SIZE)`` (pip >= 25.0)."""


_FILES_REMOVED = re.compile(r"^Files removed: (\d+)(?: \((.+)\))?$", re.MULTILINE)
_DIRS_REMOVED = re.compile(r"^Directories removed: (\d+)$", re.MULTILINE)


def _remove_result(pip: OraclePip, proc: subprocess.CompletedProcess[str]) -> RemoveResult:
    files = _FILES_REMOVED.search(proc.stdout)
    dirs = _DIRS_REMOVED.search(proc.stdout)
    no_match = "No matching packages" in proc.stderr or "No matching packages" in proc.stdout
    if proc.returncode == 0 and files is None:
        raise OracleError.from_process(f"pip {pip.version} printed no 'Files removed' line", proc)
    return RemoveResult(
        files_removed=int(files.group(1)) if files else 0,
        dirs_removed=int(dirs.group(1)) if dirs else None,
        stdout=proc.stdout,
        stderr=proc.stderr,
        returncode=proc.returncode,
        warning_no_match=no_match,
        size_removed=files.group(2) if files else None,
    )


def pip_cache_remove(pip: OraclePip, env: Mapping[str, str], pattern: str, *, user: str | None = None) -> RemoveResult:
    """``pip cache remove PATTERN``; a non-zero exit is returned, not raised (old pips exit 1 on no match)."""
    return _remove_result(pip, pip.run("cache", "remove", pattern, env=env, user=user))


def pip_cache_purge(pip: OraclePip, env: Mapping[str, str], *, user: str | None = None) -> RemoveResult:
    """``pip cache purge``; a non-zero exit is returned, not raised."""
    return _remove_result(pip, pip.run("cache", "purge", env=env, user=user))


# --------------------------------------------------------------------------------------------------
# Comparing trees


def tree_snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """relative path -> (kind, size) for everything under ``root``; kind is 'f' file, 'd' folder, 'l' symlink
    (size = length of its target, never followed) or 'o' anything else. ``root`` itself is not listed."""
    snapshot: dict[str, tuple[str, int]] = {}
    root = Path(root)
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            rel = Path(os.path.relpath(path, root)).as_posix()
            if stat.S_ISLNK(info.st_mode):
                snapshot[rel] = ("l", info.st_size)
            elif stat.S_ISDIR(info.st_mode):
                snapshot[rel] = ("d", 0)
            elif stat.S_ISREG(info.st_mode):
                snapshot[rel] = ("f", info.st_size)
            else:
                snapshot[rel] = ("o", info.st_size)
    return snapshot


# --------------------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The fleet.cache pip oracle.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare", help="install every oracle pip and build the template caches (the only online step)")
    serve = sub.add_parser("serve", help="serve the loopback index in the foreground until interrupted")
    serve.add_argument("--dir", type=Path, help="where to write the distributions (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        started = time.monotonic()
        pips = oracle_pips()
        print(f"pips ready in {time.monotonic() - started:.1f}s: {', '.join(pip.version for pip in pips)}")
        for version, path in template_caches(pips).items():
            print(f"pip {version}: {path}")
        print(f"done in {time.monotonic() - started:.1f}s")
        return 0
    with contextlib.ExitStack() as stack:
        directory = args.dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="piporacle-index-")))
        index = stack.enter_context(PackageIndex(directory))
        print(f"serving {index.url} (pip args: {' '.join(index.install_args())}); Ctrl-C stops", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
