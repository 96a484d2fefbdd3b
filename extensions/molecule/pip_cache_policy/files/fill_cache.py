# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fill one user's pip cache with real pip from a loopback index, in rounds of different ages (molecule prepare step).

Runs as root on the host under test (Python 3.9+, standard library only). It makes, as the user, a venv with the pip
that ``ensurepip`` bundles, writes tiny distributions (a wheel, and an sdist built by an in-tree PEP 517 backend, each
carrying ``--payload`` incompressible bytes), serves them on 127.0.0.1 as a PEP 503 index that answers with caching
headers (as a trusted host: pip caches plain HTTP from no other), and has that pip install each round's projects with
``--cache-dir``, so the cache holds what pip itself wrote: HTTP entries (index pages, the downloads) and the wheel it
built from the sdist. The files a round added are then dated ``days`` back. pip runs as the user, in a clean
environment with ``PIP_CONFIG_FILE=/dev/null``: nothing of the host's or the user's pip configuration takes part.
Prints one JSON object: the bytes each round added, the wheel it built, pip's version, the cache's total.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import pwd
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BACKEND = '''\
"""In-tree PEP 517 backend of the molecule scenario's sdists: builds the wheel offline, standard library only."""
import base64, hashlib, os, zipfile


def _meta():
    with open("PKG-INFO", encoding="utf-8") as handle:
        text = handle.read()
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    return fields["Name"].replace("-", "_"), fields["Version"], text


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version, metadata = _meta()
    files = []
    for directory, _dirs, names in os.walk("src"):
        for filename in sorted(names):
            path = os.path.join(directory, filename)
            with open(path, "rb") as handle:
                files.append((os.path.relpath(path, "src").replace(os.sep, "/"), handle.read()))
    return write_wheel(wheel_directory, name, version, metadata, files)


def write_wheel(wheel_directory, name, version, metadata, files):
    info = "%s-%s.dist-info" % (name, version)
    files = files + [(info + "/METADATA", metadata.encode()), (info + "/WHEEL", b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")]
    record = "".join(
        "%s,sha256=%s,%d\\n" % (arcname, base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode(), len(data))
        for arcname, data in files
    )
    files.append((info + "/RECORD", (record + info + "/RECORD,,\\n").encode()))
    filename = "%s-%s-py3-none-any.whl" % (name, version)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_STORED) as archive:
        for arcname, data in files:
            archive.writestr(zipfile.ZipInfo(arcname, date_time=(2025, 1, 1, 0, 0, 0)), data)
    return filename
'''

PYPROJECT = '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
VERSION = "1.0"


def blob(seed: str, size: int) -> bytes:
    """``size`` bytes that do not compress, the same for the same seed."""
    out = bytearray()
    digest = seed.encode()
    while len(out) < size:
        digest = hashlib.sha256(digest).digest()
        out += digest
    return bytes(out[:size])


def sources(project: str, payload: int) -> list[tuple[str, bytes]]:
    module = project.replace("-", "_")
    return [(f"{module}/__init__.py", f'__version__ = "{VERSION}"\n'.encode()), (f"{module}/payload.bin", blob(project, payload))]


def pkg_info(project: str) -> str:
    return f"Metadata-Version: 2.1\nName: {project}\nVersion: {VERSION}\n"


def make_dists(scratch: str, projects: list[str], payload: int) -> str:
    """Each round publishes ``<prefix>-wheel`` as a wheel and ``<prefix>-sdist`` as an sdist that pip builds.

    The wheel is the one the in-tree backend builds from the same source tree, run as pip runs it. Returns the folder
    the index serves: one folder per project.
    """
    index = os.path.join(scratch, "index")
    for project in projects:
        folder = os.path.join(index, project)
        os.makedirs(folder)
        base = f"{project.replace('-', '_')}-{VERSION}"
        members = [("PKG-INFO", pkg_info(project).encode()), ("pyproject.toml", PYPROJECT.encode()), ("backend.py", BACKEND.encode())]
        members += [("src/" + name, data) for name, data in sources(project, payload)]
        if project.endswith("-wheel"):
            tree = os.path.join(scratch, "build", project)
            for name, data in members:
                os.makedirs(os.path.dirname(os.path.join(tree, name)), exist_ok=True)
                with open(os.path.join(tree, name), "wb") as handle:
                    handle.write(data)
            build = f"import sys; sys.path.insert(0, '.'); import backend; backend.build_wheel({folder!r})"
            subprocess.run([sys.executable, "-I", "-c", build], cwd=tree, check=True)
            continue
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
            for name, data in members:
                info = tarfile.TarInfo(f"{base}/{name}")
                info.size, info.mode, info.mtime = len(data), 0o644, 1735689600
                archive.addfile(info, io.BytesIO(data))
        with open(os.path.join(folder, base + ".tar.gz"), "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
            packed.write(buffer.getvalue())
    return index


class Index(BaseHTTPRequestHandler):
    """/simple/<project>/ lists that project's files; /files/<project>/<file> serves one. Cacheable, as PyPI's are."""

    dist_dir = ""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        parts = [part for part in self.path.split("?", 1)[0].split("/") if part]
        body, kind = None, "text/html"
        if len(parts) == 2 and parts[0] == "simple" and os.path.isdir(os.path.join(self.dist_dir, parts[1])):
            links = "".join(f'<a href="/files/{parts[1]}/{name}">{name}</a>\n' for name in sorted(os.listdir(os.path.join(self.dist_dir, parts[1]))))
            body = f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()
        elif len(parts) == 3 and parts[0] == "files" and "/" not in parts[2] and os.path.isfile(os.path.join(self.dist_dir, parts[1], parts[2])):
            with open(os.path.join(self.dist_dir, parts[1], parts[2]), "rb") as handle:
                body, kind = handle.read(), "application/octet-stream"
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600")
        self.send_header("ETag", '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
        self.end_headers()
        self.wfile.write(body)


def as_user(user: pwd.struct_passwd, argv: list[str], cwd: str) -> str:
    """Run argv as the user, in a clean environment that names no pip configuration; its output, or exit naming it."""
    env = {"HOME": user.pw_dir, "PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C.UTF-8", "PIP_CONFIG_FILE": os.devnull}
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=env, user=user.pw_uid, group=user.pw_gid, extra_groups=[], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
        )
    except OSError as error:
        sys.exit(f"fill_cache: {user.pw_name} cannot run {argv[0]}: {error.strerror}")
    output = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        sys.exit(f"fill_cache: {' '.join(argv)} exited {proc.returncode} as {user.pw_name}:\n{output[-3000:]}")
    return output


def files_under(root: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            found[path] = os.lstat(path).st_size
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user", required=True)
    parser.add_argument("--python", required=True, help="the interpreter the user's pip venv is made from")
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--rounds", required=True, help="NAME:DAYS,...: each round's projects, and how many days back its files go")
    parser.add_argument("--payload", type=int, default=64000, help="incompressible bytes in each distribution")
    args = parser.parse_args()

    user = pwd.getpwnam(args.user)
    work = os.path.join(user.pw_dir, "fill")
    venv = os.path.join(user.pw_dir, "venv")
    rounds = [(name, float(days)) for name, days in (item.split(":") for item in args.rounds.split(","))]
    if not os.path.exists(os.path.join(venv, "bin", "pip")):
        as_user(user, [args.python, "-m", "venv", venv], user.pw_dir)
    as_user(user, ["mkdir", "-p", work], user.pw_dir)
    pip = [os.path.join(venv, "bin", "python"), "-m", "pip"]
    result: dict[str, Any] = {"pip": as_user(user, [*pip, "--version"], user.pw_dir).split()[1], "rounds": {}}

    with tempfile.TemporaryDirectory(prefix="fleet-cache-molecule-index-") as scratch:
        projects = [f"fcmol-{name}-{kind}" for name, _days in rounds for kind in ("wheel", "sdist")]
        Index.dist_dir = make_dists(scratch, projects, args.payload)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Index)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        index_url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
        try:
            for name, days in rounds:
                before = files_under(args.cache_dir)
                target = os.path.join(work, name)
                install = [*pip, "install", "--no-deps", "--no-input", "--disable-pip-version-check", "--progress-bar", "off"]
                install += ["--index-url", index_url, "--trusted-host", "127.0.0.1", "--cache-dir", args.cache_dir, "--target", target]
                as_user(user, [*install, f"fcmol-{name}-wheel=={VERSION}", f"fcmol-{name}-sdist=={VERSION}"], user.pw_dir)
                added = {path: size for path, size in files_under(args.cache_dir).items() if path not in before}
                when = time.time() - days * 86400
                for path in added:
                    os.utime(path, (when, when), follow_symlinks=False)
                wheels = os.path.join(args.cache_dir, "wheels") + os.sep
                built = sorted(os.path.basename(path) for path in added if path.startswith(wheels) and path.endswith(".whl"))
                if not built:
                    sys.exit(f"fill_cache: round {name}: pip built no wheel into {args.cache_dir}/wheels")
                result["rounds"][name] = {"bytes": sum(added.values()), "files": len(added), "built_wheels": built, "mtime": when}
        finally:
            server.shutdown()
            server.server_close()
    result["total_bytes"] = sum(files_under(args.cache_dir).values())
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
