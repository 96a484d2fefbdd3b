# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ownership repair and relocation by descriptor: links never followed (even swapped in mid-walk), hard links to
root's files never given away, other file systems never entered, dry runs that change nothing, and the move done
as the user whose cache it is."""

from __future__ import annotations

import errno
import json
import os
import pwd
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import pytest

from ansible_collections.fleet.cache.plugins.module_utils import _cli as cli
from ansible_collections.fleet.cache.plugins.module_utils._core import folder as core_folder
from ansible_collections.fleet.cache.plugins.module_utils._core import ownership
from ansible_collections.fleet.cache.plugins.module_utils._core.errors import InvalidValue
from ansible_collections.fleet.cache.plugins.module_utils._core.fd import open_dir_nofollow
from ansible_collections.fleet.cache.plugins.module_utils._core.ownership import give_back
from ansible_collections.fleet.cache.plugins.module_utils._core.relocate import move_content, mover_of
from ansible_collections.fleet.cache.tests.unit.plugins.conftest import STANDARD_TREE, fingerprint

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="changing owners and acting as another user need root")
linux_fds = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="the simulated mount reads /proc/self/fd (Linux)")

UID = 54321  # no account needs to exist for give_back: it takes the uid and gid it gives back to
GID = 54321


def owners(root: Path) -> dict[str, tuple[int, int]]:
    """(uid, gid) of every entry under root and of root itself, links not followed."""
    found = {".": (root.lstat().st_uid, root.lstat().st_gid)}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            info = os.lstat(os.path.join(directory, name))
            found[os.path.relpath(os.path.join(directory, name), root)] = (info.st_uid, info.st_gid)
    return found


def state(root: Path) -> tuple[dict[str, tuple[object, ...]], dict[str, tuple[int, int]]]:
    return fingerprint(root), owners(root)


def build(root: Path, files: Optional[dict[str, tuple[int, int]]] = None) -> Path:
    for rel, (size, _age) in (STANDARD_TREE if files is None else files).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([len(rel) % 251]) * size)
    return root


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """Root's own folder outside any cache, with a secret: what an attacker wants root to give away or move."""
    folder = tmp_path / "victim"
    folder.mkdir(mode=0o700)
    (folder / "secret").write_text("root only")
    os.chmod(folder / "secret", 0o600)
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A user's home (uid 54321) holding a cache that `sudo pip` made: ~/.cache and everything below it root's."""
    folder = tmp_path / "home"
    folder.mkdir()
    if IS_ROOT:
        os.chown(folder, UID, GID)
    build(folder / ".cache" / "pip")
    return folder


@contextmanager
def tmpfs_at(mount_point: Path, options: str) -> Iterator[Path]:
    """A tmpfs (another file system) mounted on a new folder, unmounted afterwards; the test is skipped where none can be."""
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "fleet-cache-test", str(mount_point)], capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        (mount_point / "inside").write_text("another file system")
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def _give(home: Path, *, dry_run: bool, cache: Path | None = None) -> ownership.Ownership:
    return give_back(str(cache or home / ".cache" / "pip"), user="someone", uid=UID, gid=GID, home=str(home), dry_run=dry_run)


# open_dir_nofollow ----------------------------------------------------------------------------


def test_open_dir_nofollow_opens_the_folder_and_refuses_a_link_anywhere_on_the_way(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "a")
    (tmp_path / "file").write_text("x")
    fd = open_dir_nofollow(str(tmp_path / "a" / "b"))
    try:
        assert (os.fstat(fd).st_dev, os.fstat(fd).st_ino) == (os.stat(tmp_path / "a" / "b").st_dev, os.stat(tmp_path / "a" / "b").st_ino)
    finally:
        os.close(fd)
    for path in (tmp_path / "link", tmp_path / "link" / "b", tmp_path / "file"):
        with pytest.raises(OSError) as raised:
            open_dir_nofollow(str(path))
        assert raised.value.errno in (errno.ELOOP, errno.ENOTDIR)
        assert raised.value.filename in (str(tmp_path / "link"), str(tmp_path / "file")), "the error names the component that failed"
    with pytest.raises(FileNotFoundError):
        open_dir_nofollow(str(tmp_path / "missing" / "x"))
    for bad in ("relative/path", f"{tmp_path}/a/../a"):
        with pytest.raises(OSError) as raised:
            open_dir_nofollow(bad)
        assert raised.value.errno == errno.EINVAL


# give_back ------------------------------------------------------------------------------------


@needs_root
def test_dry_run_changes_nothing_and_the_real_run_gives_back_what_root_owns(home: Path) -> None:
    cache = home / ".cache"
    before = state(home)
    root_owned = sum(1 for uid, _gid in before[1].values() if uid == 0)
    dry = _give(home, dry_run=True)
    assert state(home) == before
    assert dry.entries == root_owned and dry.skipped is None and dry.errors.count == 0
    real = _give(home, dry_run=False)
    assert real.as_dict() == dry.as_dict(), "the dry run predicts the real run exactly"
    assert set(owners(cache).values()) == {(UID, GID)}, "~/.cache and everything below it are the user's"
    assert fingerprint(home) == before[0], "only owners changed"
    again = _give(home, dry_run=False)
    assert again.entries == 0


@needs_root
def test_a_hard_link_to_a_root_file_outside_the_cache_is_never_given_away(home: Path, victim: Path) -> None:
    cache = home / ".cache" / "pip"
    os.link(victim / "secret", cache / "wheels" / "looks-like-a-wheel.whl")
    result = _give(home, dry_run=False)
    assert (victim / "secret").stat().st_uid == 0 and stat.S_IMODE((victim / "secret").stat().st_mode) == 0o600
    assert [item["path"] for item in result.left_alone.items] == [str(cache / "wheels" / "looks-like-a-wheel.whl")]
    assert "hard links" in result.left_alone.items[0]["reason"]
    assert (cache / "wheels" / "ab" / "cd" / "ef" / "0123" / "origin.json").stat().st_uid == UID, "the user's real files are given back"


@needs_root
@pytest.mark.parametrize("where", ["bucket", "deep folder", "file", "intermediate ~/.cache", "the cache itself"])
def test_a_link_at_any_position_is_never_followed(home: Path, victim: Path, where: str) -> None:
    cache = home / ".cache" / "pip"
    if where == "bucket":
        shutil.rmtree(cache / "http")
        (cache / "http").symlink_to(victim)
    elif where == "deep folder":
        shutil.rmtree(cache / "wheels" / "ab" / "cd")
        (cache / "wheels" / "ab" / "cd").symlink_to(victim)
    elif where == "file":
        (cache / "selfcheck.json").unlink()
        (cache / "selfcheck.json").symlink_to(victim / "secret")
    elif where == "intermediate ~/.cache":
        shutil.move(str(home / ".cache"), str(victim / "moved"))
        (home / ".cache").symlink_to(victim / "moved")
    else:
        shutil.move(str(cache), str(victim / "pip"))
        cache.symlink_to(victim / "pip")
    before = owners(victim)
    _give(home, dry_run=False)
    assert owners(victim) == before, f"a link ({where}) led root into a folder that is not the user's"


@needs_root
def test_a_folder_swapped_for_a_link_between_listing_and_descent_is_not_entered(home: Path, victim: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = home / ".cache" / "pip"
    swapped = []
    real_list_dir = ownership.list_dir

    def list_then_swap(path: str, fd: int | None) -> list[os.DirEntry[str]]:
        entries = real_list_dir(path, fd)
        if path == str(cache / "wheels") and not swapped:
            # The attacker's move, right after root listed wheels/ and before it opens wheels/ab.
            os.rename(cache / "wheels" / "ab", cache / "wheels-ab-aside")
            (cache / "wheels" / "ab").symlink_to(victim)
            swapped.append(path)
        return entries

    monkeypatch.setattr(ownership, "list_dir", list_then_swap)
    before = owners(victim)
    result = _give(home, dry_run=False)
    assert swapped, "the swap happened while root walked"
    assert owners(victim) == before, "root followed the swapped-in link"
    assert (cache / "wheels" / "ab").is_symlink() and (cache / "wheels" / "ab").lstat().st_uid == 0, "the link itself is left as it is"
    assert str(cache / "wheels" / "ab") in [item["path"] for item in result.left_alone.items]


@needs_root
def test_a_cache_path_changed_after_it_was_resolved_is_left_alone(home: Path, victim: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Resolved while ~/.cache was a folder; by the time root opens it, it is a link to root's folder.
    shutil.move(str(home / ".cache"), str(victim / "moved"))
    (home / ".cache").symlink_to(victim / "moved")
    monkeypatch.setattr(ownership.os.path, "realpath", os.path.abspath)
    before = owners(victim)
    result = _give(home, dry_run=False)
    assert owners(victim) == before
    assert result.entries == 0 and "link" in (result.skipped or "")


@needs_root
def test_a_cache_outside_the_home_is_repaired_only_when_its_folder_is_the_users(tmp_path: Path, home: Path) -> None:
    shared = build(tmp_path / "shared")
    before = owners(shared)
    result = _give(home, dry_run=False, cache=shared)
    assert "shared cache is left alone" in (result.skipped or "") and owners(shared) == before
    os.chown(shared, UID, GID)
    result = _give(home, dry_run=False, cache=shared)
    assert result.skipped is None and set(owners(shared).values()) == {(UID, GID)}


@needs_root
def test_a_mounted_file_system_inside_the_cache_is_not_entered(home: Path) -> None:
    with tmpfs_at(home / ".cache" / "pip" / "wheels" / "mnt", "size=1m,mode=0755") as mount_point:
        result = _give(home, dry_run=False)
        assert mount_point.stat().st_uid == 0 and (mount_point / "inside").stat().st_uid == 0
        assert [item["path"] for item in result.left_alone.items] == [str(mount_point)]
        assert (home / ".cache" / "pip" / "wheels" / "ab").stat().st_uid == UID


@needs_root
@linux_fds
def test_another_device_number_is_not_entered_simulated(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = home / ".cache" / "pip" / "http" / "a"
    real_fstat = os.fstat

    def fstat(fd: int) -> os.stat_result:
        info = real_fstat(fd)
        try:
            where = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return info
        if where == str(other):
            values = list(info)[:10]
            values[2] = info.st_dev + 1
            return os.stat_result(values)
        return info

    monkeypatch.setattr(ownership.os, "fstat", fstat)
    result = _give(home, dry_run=False)
    monkeypatch.undo()
    assert [item["path"] for item in result.left_alone.items] == [str(other)]
    assert {uid for uid, _gid in owners(other).values()} == {0}, "nothing below the other file system changed"
    assert (home / ".cache" / "pip" / "http").stat().st_uid == UID


def test_give_back_leaves_root_alone_and_needs_no_root_to_report(tmp_path: Path) -> None:
    build(tmp_path / "cache")
    result = give_back(str(tmp_path / "cache"), user="root", uid=0, gid=0, home=str(tmp_path), dry_run=False)
    assert result.entries == 0 and "root's own" in (result.skipped or "")
    missing = give_back(str(tmp_path / "nope" / "pip"), user="someone", uid=UID, gid=GID, home=str(tmp_path), dry_run=True)
    assert missing.skipped == "does not exist"


# move_content ---------------------------------------------------------------------------------


@pytest.fixture
def two_caches(tmp_path: Path) -> tuple[Path, Path]:
    source = build(tmp_path / "old")
    destination = tmp_path / "new"
    (destination / "http-v2" / "0" / "1" / "2" / "3" / "4").mkdir(parents=True)
    (destination / "http-v2" / "0" / "1" / "2" / "3" / "4" / "k1").write_bytes(b"already there")
    return source, destination


def test_move_dry_run_changes_nothing_and_predicts_the_real_run(two_caches: tuple[Path, Path]) -> None:
    source, destination = two_caches
    before = (state(source), state(destination))
    dry = move_content(str(source), str(destination), dry_run=True)
    assert (state(source), state(destination)) == before
    real = move_content(str(source), str(destination), dry_run=False)
    assert real.as_dict() == dry.as_dict()
    assert real.duplicates == 1 and real.files == 11 and real.errors.count == 0
    assert (destination / "http-v2" / "0" / "1" / "2" / "3" / "4" / "k1").read_bytes() == b"already there", "the destination's copy wins"
    assert sorted(path.name for path in source.iterdir()) == ["notes.txt", "selfcheck.json"], "only pip's buckets move"
    assert (destination / "wheels" / "ab" / "cd" / "ef" / "0123" / "origin.json").exists()
    assert move_content(str(source), str(destination), dry_run=False).files == 0


def test_move_never_follows_a_link_and_moves_it_as_a_link(two_caches: tuple[Path, Path], victim: Path) -> None:
    source, destination = two_caches
    shutil.rmtree(source / "http")
    (source / "http").symlink_to(victim)  # a bucket that is a link: left alone
    (source / "wheels" / "to-victim").symlink_to(victim)  # a link inside: moved as a link
    before = state(victim)
    result = move_content(str(source), str(destination), dry_run=False)
    assert state(victim) == before
    assert (source / "http").is_symlink() and not (destination / "http").exists()
    assert (destination / "wheels" / "to-victim").is_symlink() and os.readlink(destination / "wheels" / "to-victim") == str(victim)
    assert result.errors.count == 0


def test_move_a_folder_swapped_for_a_link_after_it_was_checked_is_not_entered(
    two_caches: tuple[Path, Path], victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, destination = two_caches
    folder = source / "http-v2" / "0" / "1" / "2" / "3"
    swapped = []
    real_open_dir_at = core_folder.open_dir_at

    def swap_then_open(name: str, dir_fd: int) -> int:
        if name == "5" and not swapped and os.path.samestat(os.fstat(dir_fd), os.stat(folder)):
            # The attacker's move, after the move saw a folder named 5 and before it opens it.
            os.rename(folder / "5", source / "aside")
            (folder / "5").symlink_to(victim)
            swapped.append(name)
        return real_open_dir_at(name, dir_fd)

    monkeypatch.setattr(core_folder, "open_dir_at", swap_then_open)
    before = state(victim)
    result = move_content(str(source), str(destination), dry_run=False)
    assert swapped
    assert state(victim) == before, "root's files stayed where they were"
    assert not (destination / "http-v2" / "0" / "1" / "2" / "3" / "5").exists()
    assert (folder / "5").is_symlink(), "the link is left where it is"
    assert [item["path"] for item in result.errors.items] == [str(folder / "5")]


def test_move_a_link_put_in_place_of_a_folder_before_the_walk_moves_as_a_link(two_caches: tuple[Path, Path], victim: Path) -> None:
    source, destination = two_caches
    folder = source / "http-v2" / "0" / "1" / "2" / "3"
    shutil.rmtree(folder / "5")
    (folder / "5").symlink_to(victim)
    before = state(victim)
    move_content(str(source), str(destination), dry_run=False)
    assert state(victim) == before
    assert (destination / "http-v2" / "0" / "1" / "2" / "3" / "5").is_symlink()


@needs_root
def test_move_into_a_users_folder_does_not_give_away_a_hard_link_to_roots_file(two_caches: tuple[Path, Path], victim: Path) -> None:
    source, destination = two_caches
    os.chown(destination, UID, GID)
    os.chmod(destination, 0o700)
    os.link(victim / "secret", source / "wheels" / "x.whl")
    result = move_content(str(source), str(destination), dry_run=False)
    assert (victim / "secret").stat().st_uid == 0, "root's file did not become the user's"
    assert (destination / "wheels" / "x.whl").stat().st_uid == 0
    assert "hard links" in result.left_alone.items[0]["reason"]
    assert (destination / "wheels" / "ab" / "cd" / "ef" / "0123" / "origin.json").stat().st_uid == UID, "what is moved becomes the owner's"
    assert (destination / "wheels" / "ab").stat().st_uid == UID


@needs_root
def test_move_across_file_systems_copies_by_descriptor(two_caches: tuple[Path, Path], victim: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, destination = two_caches
    os.link(victim / "secret", source / "http" / "hard")
    (source / "wheels" / "link").symlink_to("ab")
    origin = source / "wheels" / "ab" / "cd" / "ef" / "0123" / "origin.json"
    os.chmod(origin, 0o640)
    mtime = origin.stat().st_mtime_ns

    def no_rename(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(ownership.os, "rename", no_rename)
    result = move_content(str(source), str(destination), dry_run=False)
    monkeypatch.undo()
    copied = destination / "wheels" / "ab" / "cd" / "ef" / "0123" / "origin.json"
    assert copied.read_text() == "\x18" * 20 or copied.stat().st_size == 20
    assert stat.S_IMODE(copied.stat().st_mode) == 0o640 and copied.stat().st_mtime_ns == mtime and not origin.exists()
    assert os.readlink(destination / "wheels" / "link") == "ab"
    assert (source / "http" / "hard").exists() and not (destination / "http" / "hard").exists(), "root copies no file with other hard links"
    assert "hard links" in result.left_alone.items[0]["reason"]


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="runs the path fallback on a platform that has the descriptor one")
def test_move_without_descriptors_takes_the_path_fallback(two_caches: tuple[Path, Path], victim: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, destination = two_caches
    (source / "wheels" / "to-victim").symlink_to(victim)
    monkeypatch.setattr(core_folder, "FD_SUPPORTED", False)
    before = state(victim)
    result = move_content(str(source), str(destination), dry_run=False)
    assert result.files == 12 and result.duplicates == 1 and result.errors.count == 0
    assert (destination / "wheels" / "to-victim").is_symlink() and state(victim) == before


@needs_root
def test_move_does_not_enter_a_mounted_file_system(two_caches: tuple[Path, Path]) -> None:
    source, destination = two_caches
    with tmpfs_at(source / "wheels" / "mnt", "size=1m") as mount_point:
        result = move_content(str(source), str(destination), dry_run=False)
        assert (mount_point / "inside").read_text() == "another file system" and not (destination / "wheels" / "mnt").exists()
        assert [item["path"] for item in result.left_alone.items] == [str(mount_point)]


def test_move_refuses_one_folder_inside_the_other_and_a_missing_destination(tmp_path: Path) -> None:
    source = build(tmp_path / "old")
    with pytest.raises(InvalidValue, match="one is inside the other"):
        move_content(str(source), str(source / "wheels"), dry_run=True)
    with pytest.raises(InvalidValue, match="does not exist"):
        move_content(str(source), str(tmp_path / "nowhere"), dry_run=False)
    assert move_content(str(source), str(tmp_path / "nowhere"), dry_run=True).files == 12


# Who moves ------------------------------------------------------------------------------------


@pytest.fixture
def local_user() -> Iterator[tuple[str, Path]]:
    if not IS_ROOT or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd to create a local user")
    base = Path(f"/tmp/fcmaint-{uuid.uuid4().hex[:8]}")
    base.mkdir(mode=0o755)
    name = f"fcmaint{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run(["useradd", "--create-home", "--home-dir", str(base / name), "--shell", "/bin/sh", name], check=True, capture_output=True)
        yield name, base / name
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@needs_root
def test_mover_is_the_owner_or_the_nearest_non_root_owner_above(tmp_path: Path, local_user: tuple[str, Path]) -> None:
    name, user_home = local_user
    entry = pwd.getpwnam(name)
    assert mover_of(str(tmp_path)) == (None, None), "root's all the way up: root moves it"
    sudo_left = user_home / ".cache" / "pip"
    sudo_left.mkdir(parents=True)  # made by root, inside the user's home
    identity, refusal = mover_of(str(sudo_left))
    assert refusal is None and identity is not None and (identity.name, identity.uid) == (name, entry.pw_uid)
    orphan = tmp_path / "orphan"
    orphan.mkdir()
    os.chown(orphan, 54329, 54329)
    try:
        pwd.getpwuid(54329)
        pytest.skip("uid 54329 has an account on this host")
    except KeyError:
        pass
    identity, refusal = mover_of(str(orphan))
    assert identity is None and "has no account" in (refusal or "")


@needs_root
def test_the_cli_moves_each_cache_as_its_user(local_user: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    name, user_home = local_user
    entry = pwd.getpwnam(name)
    source = build(user_home / ".cache" / "pip")
    destination = user_home / "relocated"
    destination.mkdir(mode=0o700)
    for path in [user_home / ".cache", *(user_home / ".cache").rglob("*"), destination]:
        os.lchown(path, entry.pw_uid, entry.pw_gid)
    # What the user cannot move: a folder and a file that root left, root's alone.
    (source / "wheels" / "rootonly").mkdir(mode=0o755)
    (source / "wheels" / "rootonly" / "kept.whl").write_text("root's")
    code = cli.main(["move", "--from", str(source), "--to", str(destination), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 1 and result["error_count"] >= 1, "what the user cannot move is reported"
    assert result["caches"][0]["moved_as"] == name
    assert (source / "wheels" / "rootonly" / "kept.whl").exists(), "root did not move it instead"
    assert (destination / "wheels" / "ab" / "cd" / "ef" / "0123" / "origin.json").exists(), "the user's own files moved"
    assert {path.stat().st_uid for path in destination.rglob("*")} == {entry.pw_uid}


def test_the_cli_refuses_an_unsafe_destination_before_anything_moves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = build(tmp_path / "old")
    before = state(source)
    for target in ("/etc", "/", "/usr"):
        assert cli.main(["move", "--from", str(source), "--to", target, "--dry-run", "--json"]) == 1
        err = capsys.readouterr().err
        assert "--to: refusing to move a cache into" in err and target in err
    assert state(source) == before


def test_fix_ownership_reports_a_user_it_could_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    ghost = SimpleNamespace(
        account=SimpleNamespace(name="ghost", uid=54330, gid=54330, home="/nonexistent"), resolution=None, failure="pip.conf: line 3: not valid"
    )
    monkeypatch.setattr(cli, "_targets", lambda _args: [ghost])
    result = cli.run_fix_ownership(cli.build_parser().parse_args(["fix-ownership", "--user", "ghost"]))
    assert result["failed_users"] == ["ghost"] and result["error_count"] == 1
    assert result["warnings"] == ["ghost: pip.conf: line 3: not valid; nothing is given back to this user, the others go on"]
