# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The oracle itself is checked here: real pip filled the caches, the index behaves, the parsers read real output."""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import ssl
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from piporacle import (
    ORACLE_VERSIONS,
    OracleError,
    OraclePip,
    PackageIndex,
    chown_tree,
    fill_cache,
    isolated_env,
    make_projects,
    normalize,
    pip_cache_dir,
    pip_cache_info,
    pip_cache_list,
    pip_cache_purge,
    pip_cache_remove,
    tree_snapshot,
)

HTTP_V2 = (23, 3)
LIST_LINE = re.compile(r"^- (?P<name>\S+\.whl) \((?P<size>[^)]+)\)$")


def _expected_built_wheels(index: PackageIndex) -> set[str]:
    return {wheel for project in index.projects for wheel in project.built_wheels()}


def _copy(template: Path, tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    shutil.copytree(template, cache, symlinks=True)
    return cache


def _fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url, headers=headers or {})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), NoRedirect())
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# ------------------------------------------------------------------------------------------------
# Template caches: filled by each real pip


def test_template_cache_is_filled(oracle_pip: OraclePip, template_caches: dict[str, Path], package_index: PackageIndex, tmp_path: Path) -> None:
    template = template_caches[oracle_pip.version]
    before = tree_snapshot(template)
    env = isolated_env(tmp_path)
    info = pip_cache_info(oracle_pip, env, "--cache-dir", str(template))
    assert info.http_files > 0, info.raw
    assert info.wheels_count == len(_expected_built_wheels(package_index)), info.raw
    assert info.wheels_location == str(template / "wheels")
    if oracle_pip.key >= HTTP_V2:
        assert (template / "http-v2").is_dir()
        assert not (template / "http").exists()
        assert info.http_v2_location == str(template / "http-v2")
        assert info.http_location == str(template / "http")
        assert info.index_page_location is None
    else:
        assert (template / "http").is_dir()
        assert not (template / "http-v2").exists()
        assert info.http_v2_location is None
        assert info.index_page_location == info.http_location == str(template / "http")
    # Every distribution file and every project page was fetched once and cached (http-v2: 2 files an entry).
    served = sum(len(project.versions) + 1 for project in package_index.projects) + 1  # + /simple/pip/
    assert info.http_files == served * (2 if oracle_pip.key >= HTTP_V2 else 1), info.raw
    assert (template / "selfcheck").is_dir()
    assert tree_snapshot(template) == before, "pip cache info changed the cache"


def test_template_cache_lists_exactly_the_built_wheels(
    oracle_pip: OraclePip, template_caches: dict[str, Path], package_index: PackageIndex, tmp_path: Path
) -> None:
    template = template_caches[oracle_pip.version]
    env = isolated_env(tmp_path, PIP_CACHE_DIR=str(template))
    human = pip_cache_list(oracle_pip, env)
    names = []
    for line in human:
        match = LIST_LINE.match(line)
        assert match, line
        names.append(match.group("name"))
    expected = _expected_built_wheels(package_index)
    assert sorted(names) == sorted(expected)
    paths = pip_cache_list(oracle_pip, env, fmt="abspath")
    assert sorted(os.path.basename(path) for path in paths) == sorted(expected)
    assert all(Path(path).is_file() and Path(path).is_relative_to(template / "wheels") for path in paths)
    origin = [Path(path).with_name("origin.json").exists() for path in paths]
    assert all(origin) if oracle_pip.key >= (22, 2) else not any(origin)
    # pip's own pattern rules: "-" in the pattern means no "-*.whl" suffix, and no name normalisation.
    assert [Path(p).name for p in pip_cache_list(oracle_pip, env, "zope.tiny", fmt="abspath")] == ["zope.tiny-2.0-py3-none-any.whl"]
    assert pip_cache_list(oracle_pip, env, "tinyyaml") == []
    assert pip_cache_list(oracle_pip, env, "tiny-requests") == []
    assert len(pip_cache_list(oracle_pip, env, "tiny_requests")) == 2


def test_cache_dir_is_what_was_given(oracle_pip: OraclePip, tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    given = tmp_path / "given"
    assert pip_cache_dir(oracle_pip, env, "--cache-dir", str(given)) == str(given)
    assert pip_cache_dir(oracle_pip, {**env, "PIP_CACHE_DIR": str(tmp_path / "from-env")}) == str(tmp_path / "from-env")
    # Isolation: with nothing given, pip's default lies inside the temporary XDG_CACHE_HOME.
    assert pip_cache_dir(oracle_pip, env) == str(tmp_path / "xdg-cache" / "pip")


def test_remove_and_purge_parse_real_output(oracle_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    cache = _copy(template_caches[oracle_pip.version], tmp_path)
    env = isolated_env(tmp_path, PIP_CACHE_DIR=str(cache))
    before = pip_cache_info(oracle_pip, env)

    missing = pip_cache_remove(oracle_pip, env, "nomatch")
    assert missing.warning_no_match
    assert missing.files_removed == 0
    assert missing.returncode == (0 if oracle_pip.key >= (21, 3) else 1), missing.stderr

    removed = pip_cache_remove(oracle_pip, env, "TinyYAML")
    assert (removed.returncode, removed.files_removed, removed.warning_no_match) == (0, 2, False), removed.stdout
    assert (removed.size_removed is not None) == (oracle_pip.key >= (25, 0))
    assert (removed.dirs_removed is not None) == (oracle_pip.key >= (26, 0))
    assert pip_cache_list(oracle_pip, env, "TinyYAML") == []

    purged = pip_cache_purge(oracle_pip, env)
    assert purged.returncode == 0
    assert purged.files_removed == before.http_files + before.wheels_count - 2
    after = pip_cache_info(oracle_pip, env)
    assert (after.http_files, after.wheels_count) == (0, 0), after.raw
    assert pip_cache_list(oracle_pip, env) == []
    assert any(path.startswith("selfcheck/") for path in tree_snapshot(cache)), "purge left selfcheck/ alone"


# ------------------------------------------------------------------------------------------------
# The index and the distributions


def test_index_serves_pages_and_files_with_cache_headers(package_index: PackageIndex) -> None:
    root = f"https://{package_index.host}"
    status, headers, body = _fetch(package_index.url)
    assert status == 200
    for project in package_index.projects:
        assert f'href="/simple/{project.normalized}/"' in body.decode()
    project = package_index.project("zope.tiny")
    status, headers, page = _fetch(f"{root}/simple/{project.normalized}/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "max-age=3600" and headers["ETag"] and headers["Last-Modified"]
    for version in project.versions:
        filename = project.filenames[version]
        anchor = re.search(rf'href="(/files/{re.escape(filename)})#sha256=([0-9a-f]{{64}})"', page.decode())
        assert anchor, page
        status, headers, data = _fetch(root + anchor.group(1))
        assert status == 200 and headers["Cache-Control"] == "max-age=3600" and "ETag" in headers and "Last-Modified" in headers
        assert hashlib.sha256(data).hexdigest() == anchor.group(2)
    status, headers, _body = _fetch(f"{root}/simple/zope-tiny/", {"If-None-Match": headers["ETag"]})
    assert status == 200  # another resource's ETag
    _status, page_headers, _body = _fetch(f"{root}/simple/zope-tiny/")
    status, headers, body = _fetch(f"{root}/simple/zope-tiny/", {"If-None-Match": page_headers["ETag"]})
    assert (status, body, headers["Cache-Control"]) == (304, b"", "max-age=3600")
    status, headers, _body = _fetch(f"{root}/simple/Zope.Tiny/")
    assert (status, headers["Location"]) == (301, "/simple/zope-tiny/")
    assert _fetch(f"{root}/simple/nothing-here/")[0] == 404


def test_projects_are_deterministic_and_cover_name_spellings(tmp_path: Path) -> None:
    first = make_projects(tmp_path / "a")
    second = make_projects(tmp_path / "b")
    assert first == second
    for project in first:
        for filename in project.filenames.values():
            assert (tmp_path / "a" / filename).read_bytes() == (tmp_path / "b" / filename).read_bytes()
    names = [project.name for project in first]
    assert any(any(c.isupper() for c in name) for name in names)
    assert any("." in name for name in names) and any("_" in name for name in names) and any("-" in name for name in names)
    assert {project.normalized for project in first} == {normalize(name) for name in names}
    kinds = {kind for project in first for kind in project.kinds.values()}
    assert kinds == {"wheel", "sdist"}
    assert any(set(project.kinds.values()) == {"sdist"} for project in first), "a project published only as sdists"


def test_hand_built_wheels_are_complete(tmp_path: Path) -> None:
    for project in make_projects(tmp_path):
        for version, kind in project.kinds.items():
            if kind != "wheel":
                continue
            filename = project.filenames[version]
            assert filename == project.wheel_filename(version)
            with zipfile.ZipFile(tmp_path / filename) as archive:
                dist_info = f"{project.wheel_name}-{version}.dist-info"
                members = set(archive.namelist())
                assert {f"{dist_info}/METADATA", f"{dist_info}/WHEEL", f"{dist_info}/RECORD"} <= members
                record = archive.read(f"{dist_info}/RECORD").decode().splitlines()
                assert {line.split(",")[0] for line in record} == members
                assert f"Version: {version}" in archive.read(f"{dist_info}/METADATA").decode()


@pytest.mark.parametrize("version", [ORACLE_VERSIONS[0], ORACLE_VERSIONS[-1]], ids=lambda v: f"pip-{v}")
def test_sdists_build_offline_with_build_isolation(version: str, oracle_pips: list[OraclePip], package_index: PackageIndex, tmp_path: Path) -> None:
    pip = next((pip for pip in oracle_pips if pip.version == version), None)
    if pip is None:
        pytest.skip(f"pip {version} is not available here")
    target = tmp_path / "target"
    fill_cache(pip, tmp_path / "cache", package_index, ["tiny-requests==2.1", "Simple==1.1"], env=isolated_env(tmp_path), target=target)
    assert (target / "tiny_requests.py").read_text().count('__version__ = "2.1"') == 1
    assert (target / "simple.py").exists()
    assert sorted(os.path.basename(p) for p in pip_cache_list(pip, isolated_env(tmp_path, PIP_CACHE_DIR=str(tmp_path / "cache")), fmt="abspath")) == [
        "Simple-1.1-py3-none-any.whl",
        "tiny_requests-2.1-py3-none-any.whl",
    ]


def test_plain_http_is_cached_only_for_trusted_hosts(newest_pip: OraclePip, tmp_path: Path) -> None:
    with PackageIndex(tmp_path / "dists", tls=False) as index:
        assert index.url.startswith("http://127.0.0.1:")
        env = isolated_env(tmp_path)
        untrusted = tmp_path / "untrusted"
        newest_pip.run(
            "install",
            "--no-deps",
            "--cache-dir",
            str(untrusted),
            "--index-url",
            index.url,
            "--target",
            str(tmp_path / "t1"),
            "typing_tiny",
            env=env,
            check=True,
        )
        assert (tmp_path / "t1" / "typing_tiny.py").exists()
        assert pip_cache_info(newest_pip, env, "--cache-dir", str(untrusted)).http_files == 0
        trusted = tmp_path / "trusted"
        fill_cache(newest_pip, trusted, index, ["typing_tiny"], env=env)
        assert pip_cache_info(newest_pip, env, "--cache-dir", str(trusted)).http_files > 0


def test_pip_20_3_caches_trusted_hosts_over_https_only(oracle_pips: list[OraclePip], tmp_path: Path) -> None:
    """Why the index speaks HTTPS: pip 20.3.4 mounts its caching adapter for trusted hosts on https:// only."""
    pip = next((pip for pip in oracle_pips if pip.key < (21,)), None)
    if pip is None:
        pytest.skip("no pip < 21 here")
    env = isolated_env(tmp_path)
    with PackageIndex(tmp_path / "dists", tls=False) as index:
        fill_cache(pip, tmp_path / "plain", index, ["typing_tiny"], env=env)
    with PackageIndex(tmp_path / "dists", index.projects) as index:
        fill_cache(pip, tmp_path / "tls", index, ["typing_tiny"], env=env)
    assert pip_cache_info(pip, env, "--cache-dir", str(tmp_path / "plain")).http_files == 0
    assert pip_cache_info(pip, env, "--cache-dir", str(tmp_path / "tls")).http_files > 0


# ------------------------------------------------------------------------------------------------
# Isolation and running as another user


def test_isolated_env_hides_the_hosts_pip_configuration(newest_pip: OraclePip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_FIND_LINKS", "/nonexistent")
    env = isolated_env(tmp_path, PIP_TIMEOUT="7")
    assert {key for key in env if key.startswith("PIP_")} == {"PIP_TIMEOUT"}
    listed = newest_pip.run("config", "list", env=env, check=True).stdout.splitlines()
    # Only /etc/pip.conf can still be read (it sets the certificate bundle), and the override.
    assert all(line.startswith(("global.cert=", ":env:.timeout=")) for line in listed), listed
    debug = newest_pip.run("config", "debug", env=env, check=True).stdout
    assert str(tmp_path / "xdg-config" / "pip" / "pip.conf") in debug
    assert "/etc/xdg/pip/pip.conf" not in debug


def test_isolated_env_keeps_pip_off_the_network(oracle_pip: OraclePip, tmp_path: Path) -> None:
    """A pip run that forgets --index-url would go to PyPI: the dead proxy of isolated_env stops it at once."""
    proc = oracle_pip.run("download", "-vv", "--no-deps", "--retries", "0", "-d", str(tmp_path / "d"), "typing_tiny", env=isolated_env(tmp_path), timeout=60)
    assert proc.returncode != 0
    assert "proxy" in (proc.stdout + proc.stderr).lower()
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").iterdir())


def _nobody(pip: OraclePip) -> pwd.struct_passwd:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not pip.runnable_by_others():
        pytest.skip(f"other users cannot reach {pip.python}: move the checkout or set FLEET_CACHE_ORACLE_DIR")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody'")


def test_run_as_another_user(oracle_pip: OraclePip, shared_tmp: Path) -> None:
    _nobody(oracle_pip)
    home = shared_tmp / "nobody"
    env = isolated_env(home)
    chown_tree(home, "nobody")
    proc = oracle_pip.run("cache", "dir", env=env, user="nobody", cwd=home, check=True)
    assert proc.stdout.strip() == str(home / "xdg-cache" / "pip")
    with pytest.raises(OracleError, match="no such local user"):
        oracle_pip.run("--version", env=env, user="no-such-user-here")


def test_fill_cache_as_another_user(newest_pip: OraclePip, package_index: PackageIndex, shared_tmp: Path) -> None:
    nobody = _nobody(newest_pip)
    home = shared_tmp / "nobody"
    env = isolated_env(home)
    chown_tree(home, "nobody")
    cache = home / "cache"
    fill_cache(newest_pip, cache, package_index, ["Simple==1.1"], env=env, user="nobody")
    owners = {path.stat().st_uid for path in cache.rglob("*")}
    assert owners == {nobody.pw_uid}
    assert len(pip_cache_list(newest_pip, {**env, "PIP_CACHE_DIR": str(cache)}, user="nobody")) == 1
    # Real pip, as root, refuses a cache owned by someone else.
    with pytest.raises(OracleError, match="cache is disabled"):
        pip_cache_list(newest_pip, {**env, "PIP_CACHE_DIR": str(cache)})


def test_tree_snapshot_does_not_follow_symlinks(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"12345")
    (tmp_path / "link").symlink_to(tmp_path / "d")
    assert tree_snapshot(tmp_path) == {"d": ("d", 0), "d/f": ("f", 5), "link": ("l", len(str(tmp_path / "d")))}


def test_errors_name_the_command(newest_pip: OraclePip, tmp_path: Path) -> None:
    env = isolated_env(tmp_path, PIP_NO_CACHE_DIR="1")
    with pytest.raises(OracleError) as caught:
        pip_cache_info(newest_pip, env)
    message = str(caught.value)
    assert "cache info" in message and "returncode: 1" in message and "cache is disabled" in message
