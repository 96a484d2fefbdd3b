# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real uv as the oracle: uv binaries of several versions and caches real uv filled from the loopback index.

The uv counterpart of ``piporacle`` (whose ``PackageIndex``, interpreters, locks and user switching it reuses):

- ``oracle_uvs()`` / ``get_uv(version)``: one ``uv`` per version in ``UV_VERSIONS``, installed once into
  ``ORACLE_DIR/uv/<version>`` by the oracle's pip (the only step that needs PyPI) and reused across runs.
- ``uv_isolated_env()``: an environment free of the host's uv and pip configuration.
- ``fill_uv_cache()`` / ``uv_template_cache()`` / ``long_lived_cache()``: caches real uv filled from a
  ``PackageIndex`` (wheels downloaded, sdists built by uv with the index's in-tree backend).
- ``OracleUv.cache_dir/cache_size/clean/prune``: run ``uv cache ...`` and parse each version's wording.

Observed per version (``tests/oracle/test_uv_oracle.py`` checks these; README.md beside this file has the tables):

- uv <= 0.9 writes **absolute** symlinks (``wheels-vN/.../<wheel> -> /abs/cache/archive-v0/<id>``); uv 0.13
  writes relative ones. A plain copy of an old cache links back into the original, so that real uv's ``prune``
  on the copy sees its own archives as unreferenced. ``copy_uv_cache()`` copies and re-points such links.
- ``uv cache`` prints to stderr, with paths relative to the working directory when they lie under it.

Standard library only; runs on the controller's Python (>= 3.12). ``python uvoracle.py prepare`` installs the
uvs and builds the template caches ahead of a test run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import hashlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import piporacle
from piporacle import ORACLE_DIR, OracleError, PackageIndex, parse_version

UV_VERSIONS: tuple[str, ...] = ("0.4.30", "0.9.21", "0.13.10")
"""uv versions the oracle runs, oldest first; each stands for one cache layout (bucket generation):

- ``0.4.30`` (2024-11-05): the last 0.4 release, the 2024 layout: ``simple-v13``, ``wheels-v2``, ``sdists-v5``,
  ``interpreter-v2``; no ``.lock`` in the cache root; no ``uv cache size``; ``clean PKG`` reports per package.
- ``0.9.21`` (2025-12-30): the last 2025 release: ``simple-v18``, ``wheels-v5``, ``sdists-v9``, ``interpreter-v4``,
  a root ``.lock`` (since 0.8.19), ``UV_LOCK_TIMEOUT`` (since 0.9.16); ``uv cache size`` (since 0.9.8) in preview.
- ``0.13.10`` (2026-11-24): the newest release at the time of writing: ``simple-v28``, ``wheels-v8``,
  ``sdists-v11``, ``interpreter-v6``, relative symlinks, clean/prune sizes as disk usage, ``clean`` keeps the root
  ``.lock``.
"""

UV_PYTHONS: tuple[tuple[int, int], ...] = ((3, 12), (3, 13), (3, 11), (3, 10), (3, 9))
"""The interpreter uv installs for and builds sdists with, first found wins (every oracle uv supports each)."""

CACHE_SIZE_SINCE: tuple[int, ...] = (0, 9, 8)
"""``uv cache size`` appeared in uv 0.9.8 (astral-sh/uv#16032), as a preview command (still in 0.13.10)."""

# Bump when the meaning of a template cache changes in a way the generated files do not show.
UV_TEMPLATE_FORMAT = 1


# --------------------------------------------------------------------------------------------------
# The oracle uvs


@dataclass(frozen=True)
class OracleUv:
    """One real uv binary, installed by pip into ``ORACLE_DIR/uv/<version>``."""

    version: str
    path: Path
    """The ``uv`` binary."""

    @property
    def key(self) -> tuple[int, ...]:
        return parse_version(self.version)

    @property
    def id(self) -> str:
        return f"uv-{self.version}"

    def runnable_by_others(self) -> bool:
        """Whether users other than root can run this uv (ORACLE_DIR must sit in folders they can traverse)."""
        return piporacle._closed_ancestor(self.path.resolve()) is None

    def run(
        self,
        *args: str | os.PathLike[str],
        env: Mapping[str, str],
        cwd: Path | None = None,
        user: str | None = None,
        check: bool = True,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``uv ARGS`` with exactly ``env``; as the local ``user`` when given (needs root, like OraclePip.run).

        ``cwd`` defaults to ``env["HOME"]`` (inside the test's tmp with ``uv_isolated_env``), not the caller's
        folder: uv reads ``uv.toml`` / ``pyproject.toml`` from the working directory and its parents.
        ``check`` raises OracleError on a non-zero exit.
        """
        cmd: list[str] = [str(self.path), *(os.fspath(arg) for arg in args)]
        if user is not None:
            prefix = piporacle._user_prefix(user)
            closed = piporacle._closed_ancestor(self.path.resolve()) if prefix else None
            if closed is not None:
                raise OracleError(f"{user!r} cannot run {self.path}: {closed} lacks o+x (set FLEET_CACHE_ORACLE_DIR to a folder every user can traverse)")
            cmd = prefix + cmd
        if cwd is None and env.get("HOME") and Path(env["HOME"]).is_dir():
            cwd = Path(env["HOME"])
        proc = piporacle._run(cmd, env=env, cwd=cwd, timeout=timeout)
        if check and proc.returncode != 0:
            raise OracleError.from_process(f"uv {self.version} failed", proc)
        return proc

    # ---- uv cache commands -------------------------------------------------------------------

    def cache_dir(self, env: Mapping[str, str], *extra_args: str, user: str | None = None) -> str:
        """``uv cache dir``: the path printed (stdout), stripped."""
        return self.run("cache", "dir", *extra_args, env=env, user=user).stdout.strip()

    def cache_size(self, cache: Path, env: Mapping[str, str], *, user: str | None = None) -> int | None:
        """``uv cache size --cache-dir CACHE``: bytes, or None for a uv without the command (< 0.9.8).

        The command is a preview feature in every version that has it (0.9.8 through 0.13.10): without opt-in it
        prints ``warning: `uv cache size` is experimental ...`` on stderr, so this passes
        ``--preview-features cache-size``. stdout is one integer (``614400``); ``--human`` gives ``600.0KiB``.
        A missing cache folder is ``0``. uv < 0.9.8 exits 2 with ``error: unrecognized subcommand 'size'``.
        """
        proc = self.run("cache", "size", "--preview-features", "cache-size", "--cache-dir", cache, env=env, user=user, check=False)
        if proc.returncode == 2 and "unrecognized subcommand 'size'" in proc.stderr:
            return None
        if proc.returncode != 0 or not proc.stdout.strip().isdigit():
            raise OracleError.from_process(f"uv {self.version} cache size failed or printed no byte count", proc)
        return int(proc.stdout.strip())

    def clean(self, cache: Path, *packages: str, env: Mapping[str, str], user: str | None = None) -> UvRemoveResult:
        """``uv cache clean [PACKAGES] --cache-dir CACHE``, parsed (see ``parse_removal``)."""
        proc = self.run("cache", "clean", *packages, "--cache-dir", cache, env=env, user=user)
        return parse_removal(self, proc)

    def prune(self, cache: Path, *, ci: bool = False, env: Mapping[str, str], user: str | None = None) -> UvRemoveResult:
        """``uv cache prune [--ci] --cache-dir CACHE``, parsed (see ``parse_removal``)."""
        proc = self.run("cache", "prune", *(["--ci"] if ci else []), "--cache-dir", cache, env=env, user=user)
        return parse_removal(self, proc)


@dataclass
class UvRemoveResult:
    """``uv cache clean`` / ``uv cache prune``, parsed from stderr (uv prints nothing on stdout).

    Wording seen (``C`` is the cache path, relative to the working directory when it lies under it)::

        all versions     Clearing cache at: C / Pruning cache at: C, then Removed N files (26.0KiB)
                         ("Removed 1 file (...)" for one); a missing folder: No cache found at: C
        0.4.30           clean PKG...: one "Removed N files for PKG (SIZE)" or "No cache entries found for PKG"
                         per package
        0.9.21, 0.13.10  clean PKG...: one total "Removed N files (SIZE)", or "No cache entries found"
        0.13.10          prune with nothing to do: No unused entries found; clean of an emptied cache (the
                         root .lock stays): Clearing cache at: C + No cache entries found
    """

    files_removed: int
    size: str | None
    """The size of the one total ``Removed`` line as printed (``26.0KiB``); None when there is none."""
    location: str | None
    """The path after ``Clearing cache at:`` / ``Pruning cache at:`` / ``No cache found at:``."""
    cache_found: bool
    """False for ``No cache found at: C`` (nothing done, exit 0)."""
    nothing_found: bool
    """``No cache entries found`` or ``No unused entries found`` (cache there, nothing removed)."""
    per_package: dict[str, tuple[int, str]] = field(default_factory=dict)
    """uv 0.4.30 ``clean PKG``: name as printed (normalized) -> (files, size)."""
    no_entries_for: list[str] = field(default_factory=list)
    """uv 0.4.30 ``clean PKG``: ``No cache entries found for PKG``."""
    warnings: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""


_LOCATION = re.compile(r"^(Clearing|Pruning) cache at: (.+)$")
_NO_CACHE = re.compile(r"^No cache found at: (.+)$")
_REMOVED = re.compile(r"^Removed (\d+) files?(?: for (\S+))?(?: \(([^()]+)\))?$")
_NO_ENTRIES_FOR = re.compile(r"^No cache entries found for (\S+)$")
_NOTHING = {"No cache entries found", "No unused entries found"}


def parse_removal(uv: OracleUv, proc: subprocess.CompletedProcess[str]) -> UvRemoveResult:
    """Parse ``uv cache clean/prune`` output of any oracle version; an unknown line raises (a new wording)."""
    result = UvRemoveResult(files_removed=0, size=None, location=None, cache_found=True, nothing_found=False, stdout=proc.stdout, stderr=proc.stderr)
    for line in (proc.stderr + proc.stdout).splitlines():
        text = line.strip()
        if not text:
            continue
        if match := _LOCATION.match(text):
            result.location = match.group(2)
        elif match := _NO_CACHE.match(text):
            result.location = match.group(1)
            result.cache_found = False
        elif match := _REMOVED.match(text):
            count, package, size = int(match.group(1)), match.group(2), match.group(3) or ""
            result.files_removed += count
            if package is None:
                result.size = size or None
            else:
                result.per_package[package] = (count, size)
        elif match := _NO_ENTRIES_FOR.match(text):
            result.no_entries_for.append(match.group(1))
        elif text in _NOTHING:
            result.nothing_found = True
        elif text.startswith("warning:"):
            result.warnings.append(text)
        else:
            raise OracleError.from_process(f"uv {uv.version}: unexpected line in uv cache output: {line!r}", proc)
    return result


# --------------------------------------------------------------------------------------------------
# Installing uv versions


def _oracle_pip() -> piporacle.OraclePip:
    return piporacle.newest_pip()


def _install_uv(version: str) -> OracleUv:
    home = ORACLE_DIR / "uv" / version
    marker = home / "oracle.json"
    binary = home / "bin" / "uv"
    with piporacle._locked(f"uv-{version}"):
        if marker.exists() and binary.exists():
            return OracleUv(version=version, path=binary)
        if home.exists():
            shutil.rmtree(home)
        home.parent.mkdir(parents=True, exist_ok=True)
        staging = home.with_name(f".{version}.tmp{os.getpid()}")
        if staging.exists():
            shutil.rmtree(staging)
        pip = _oracle_pip()
        # The host's pip configuration (find-links, indexes, cert) is used as is: this is the one online step.
        cmd = [str(pip.python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps", "--target", str(staging), f"uv=={version}"]
        proc = piporacle._run(cmd, env=os.environ, timeout=900)
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise OracleError.from_process(f"cannot install uv=={version} from the package index", proc)
        staging.rename(home)
        with tempfile.TemporaryDirectory(prefix="uvoracle-probe-") as probe:
            proc = piporacle._run([binary, "--version"], env=uv_isolated_env(Path(probe)))
        if proc.returncode != 0 or not proc.stdout.startswith(f"uv {version}"):
            raise OracleError.from_process(f"{binary} is not uv {version}", proc)
        marker.write_text(json.dumps({"version": version, "installed_with": f"pip {pip.version}"}) + "\n", encoding="utf-8")
        return OracleUv(version=version, path=binary)


def get_uv(version: str) -> OracleUv:
    """The oracle uv of that version, installed into ORACLE_DIR/uv/<version> on first use (under a lock)."""
    piporacle._ensure_oracle_dir()
    return _install_uv(version)


def oracle_uvs() -> list[OracleUv]:
    """Every oracle uv, oldest first; installed once (two at a time), then reused."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(get_uv, UV_VERSIONS))


@functools.cache
def uv_python() -> Path:
    """The interpreter fills hand to uv (``--python``): the first of UV_PYTHONS found here, as a copy every user
    can run (piporacle's relocated interpreters). uv never downloads one (``UV_PYTHON_DOWNLOADS=never``)."""
    found = piporacle._interpreters()
    for wanted in UV_PYTHONS:
        if wanted in found:
            piporacle._ensure_oracle_dir()
            return piporacle._portable_interpreter(Path(found[wanted]))
    raise OracleError(f"no Python for the uv oracle: none of {', '.join(f'{major}.{minor}' for major, minor in UV_PYTHONS)} is on this machine")


# --------------------------------------------------------------------------------------------------
# Environments


def uv_isolated_env(tmp: Path, **overrides: str) -> dict[str, str]:
    """``piporacle.isolated_env(tmp)`` (HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME, XDG_CONFIG_DIRS, XDG_DATA_DIRS in
    ``tmp``, PATH without shims, the dead proxy for everything but loopback, no PIP_*) plus, for uv:
    XDG_DATA_HOME, XDG_STATE_HOME and XDG_BIN_HOME in ``tmp`` (managed Pythons, tools), no UV_* of the host and
    ``UV_PYTHON_DOWNLOADS=never``; then ``overrides``.

    uv's configuration stays enabled, so tests can write ``$XDG_CONFIG_HOME/uv/uv.toml`` (user) or
    ``$XDG_CONFIG_DIRS/uv/uv.toml`` (system) in ``tmp``. ``/etc/uv/uv.toml`` would still be read when the tmp system
    folder has none (there is none on this host); fills pass ``--no-config``. The default cache is
    ``$XDG_CACHE_HOME/uv``. A uv run that would reach the network fails on the proxy (after uv's retries, a few
    seconds). ``OracleUv.run`` works in ``$HOME`` by default, so no project ``uv.toml`` of the caller is found.
    """
    tmp = Path(tmp)
    env = piporacle.isolated_env(tmp)
    for name, folder in (("XDG_DATA_HOME", "xdg-data"), ("XDG_STATE_HOME", "xdg-state"), ("XDG_BIN_HOME", "xdg-bin")):
        (tmp / folder).mkdir(parents=True, exist_ok=True)
        env[name] = str(tmp / folder)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.update(overrides)
    return env


# --------------------------------------------------------------------------------------------------
# Filling caches


def uv_index_args(index: PackageIndex) -> list[str]:
    """``--index-url URL``, plus ``--allow-insecure-host HOST:PORT`` for the HTTPS index (self-signed)."""
    return ["--index-url", index.url, *(["--allow-insecure-host", index.host] if index.tls else [])]


def fill_uv_cache(
    uv: OracleUv,
    cache: Path,
    index: PackageIndex,
    requirements: Sequence[str],
    env: Mapping[str, str],
    *,
    build_sdists: bool = True,
    user: str | None = None,
    python: Path | None = None,
) -> None:
    """Real uv installs ``requirements`` from ``index`` into throwaway targets with ``--cache-dir cache``:

    ``uv pip install --no-config --no-deps --target TMP --index-url URL --cache-dir CACHE --python PY REQS``
    (``--no-config``: a fill is set-up, not under test; a test of configuration runs uv itself). Wheels are
    downloaded and unpacked (``archive-v0`` + ``wheels-vN``); sdists are built by uv with build isolation, which
    the index's sdists satisfy offline (``requires = []``, in-tree backend). ``build_sdists=False`` passes
    ``--no-build``: uv then refuses (OracleError) a requirement published only as an sdist. Requirements naming
    one project twice are installed by successive runs. ``python`` defaults to ``uv_python()``.
    """
    if not requirements:
        return
    interpreter = python or uv_python()
    with tempfile.TemporaryDirectory(prefix="uvoracle-target-") as scratch:
        if user is not None:
            Path(scratch).chmod(0o777)
        for number, batch in enumerate(piporacle._rounds(requirements)):
            args = ["pip", "install", "--no-config", "--no-deps", "--target", str(Path(scratch) / f"round-{number}")]
            args += [*uv_index_args(index), "--cache-dir", str(cache), "--python", str(interpreter)]
            if not build_sdists:
                args.append("--no-build")
            uv.run(*args, *batch, env=env, user=user, cwd=Path(scratch))


def copy_uv_cache(src: Path, dst: Path) -> Path:
    """Copy a uv cache (``dst`` must not exist) as if uv had filled ``dst`` itself: symlinks kept, and absolute
    links into ``src`` (uv <= 0.9) re-pointed to the same place in ``dst``. Returns ``dst``."""
    src, dst = Path(src), Path(dst)
    shutil.copytree(src, dst, symlinks=True)
    prefix = str(src) + os.sep
    for directory, dirnames, filenames in os.walk(dst):
        for name in dirnames + filenames:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                target = os.readlink(path)
                if target.startswith(prefix):
                    os.unlink(path)
                    os.symlink(str(dst) + os.sep + target[len(prefix) :], path)
    return dst


@functools.cache
def uv_generator_key() -> str:
    """A hash of what decides a uv template cache: the distributions and index (piporacle's key), the fill code,
    the interpreter."""
    digest = hashlib.sha256(f"uv format {UV_TEMPLATE_FORMAT}\n{piporacle.generator_key()}\n{uv_python()}\n".encode())
    for piece in (fill_uv_cache, uv_index_args, uv_isolated_env, _build_template):
        digest.update(inspect.getsource(piece).encode())
    return digest.hexdigest()[:16]


def _all_requirements(index: PackageIndex) -> list[str]:
    return [project.requirement(version) for project in index.projects for version in project.versions]


def _fingerprint(cache: Path) -> str:
    """A hash of every path, kind and size under ``cache``: a template changed after its build no longer matches."""
    return hashlib.sha256(json.dumps(sorted(piporacle.tree_snapshot(cache).items())).encode()).hexdigest()[:16]


def _build_template(uvs: Sequence[OracleUv], name: str) -> Path:
    """ORACLE_DIR/uv-caches/<name>/<key>/ filled by each of ``uvs`` in turn (every version of every project),
    built in place (old uvs write absolute links) under a lock; ``<key>.json`` beside it marks it complete and holds
    its fingerprint: a template found changed (a test cleaned a plain copy, whose absolute links lead back into the
    template: uv 0.9's ``clean PKG`` deletes the link targets) is rebuilt."""
    key = uv_generator_key()
    parent = ORACLE_DIR / "uv-caches" / name
    cache = parent / key
    stamp = parent / f"{key}.json"
    piporacle._ensure_oracle_dir()
    parent.mkdir(parents=True, exist_ok=True)
    with piporacle._locked(f"uv-cache-{name}"):
        if stamp.exists() and cache.is_dir():
            if json.loads(stamp.read_text(encoding="utf-8")).get("fingerprint") == _fingerprint(cache):
                return cache
            warnings.warn(f"the uv template cache {cache} was changed (a plain copy's absolute links lead back to it): rebuilding it", stacklevel=2)
        for stale in parent.iterdir():
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale)
            else:
                stale.unlink()
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="uvoracle-template-") as scratch, PackageIndex(Path(scratch) / "dists") as index:
            env = uv_isolated_env(Path(scratch) / "env")
            for uv in uvs:
                fill_uv_cache(uv, cache, index, _all_requirements(index), env)
            requests = [[request.method, request.path, request.status] for request in index.requests]
        seconds = round(time.monotonic() - started, 1)
        record = {"uv": [uv.version for uv in uvs], "key": key, "seconds": seconds, "fingerprint": _fingerprint(cache), "requests": requests}
        stamp.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return cache


def template_record(cache: Path) -> dict[str, Any]:
    """The stamp of a template cache: uv versions, seconds, and the index requests of its fill (method, path, status)."""
    record: dict[str, Any] = json.loads(cache.with_name(cache.name + ".json").read_text(encoding="utf-8"))
    return record


def uv_template_cache(uv: OracleUv) -> Path:
    """A cache ``uv`` filled with every version of every project; built once into ORACLE_DIR/uv-caches/<version>/,
    then reused. Read-only: copy it with ``copy_uv_cache`` (not ``shutil.copytree``: old uvs' links are absolute).
    Its index keys hash the URL of a throwaway index (another port than a session's index)."""
    return _build_template([uv], uv.version)


def uv_template_caches(uvs: Sequence[OracleUv]) -> dict[str, Path]:
    """uv_template_cache() for each uv, two at a time; version -> path."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip([uv.version for uv in uvs], pool.map(uv_template_cache, uvs), strict=True))


def long_lived_cache() -> Path:
    """A cache filled by the oldest oracle uv, then by the newest, from one index: both bucket generations side by
    side (``simple-v13`` and ``simple-v28`` ..., one shared ``archive-v0``). Read-only: copy with ``copy_uv_cache``."""
    oldest, newest = get_uv(UV_VERSIONS[0]), get_uv(UV_VERSIONS[-1])
    return _build_template([oldest, newest], f"long-lived-{oldest.version}-{newest.version}")


# --------------------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The fleet.cache uv oracle.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare", help="install every oracle uv and build the template caches (the only online step)")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        started = time.monotonic()
        uvs = oracle_uvs()
        print(f"uvs ready in {time.monotonic() - started:.1f}s: {', '.join(uv.version for uv in uvs)} (Python {uv_python()})")
        for version, path in uv_template_caches(uvs).items():
            print(f"uv {version}: {path}")
        print(f"long-lived: {long_lived_cache()}")
        print(f"done in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
