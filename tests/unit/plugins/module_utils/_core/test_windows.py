# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Windows rules of the engine that run anywhere: accounts from the registry's profile list (a stand-in with
winreg's API), pip's case-insensitive matching against fnmatch as it behaves on Windows, files another
process holds open, and the walker's path-based mode (Windows has no dir_fd).
"""

from __future__ import annotations

import errno
import fnmatch
import os

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import accounts as core_accounts
from ansible_collections.fleet.cache.plugins.module_utils._core import walk as core_walk
from ansible_collections.fleet.cache.plugins.module_utils._core.errors import InvalidValue
from ansible_collections.fleet.cache.plugins.module_utils._core.windows import (
    PROFILE_LIST_KEY,
    USER_SHELL_FOLDERS_KEY,
    Profile,
    find_profile,
    profile_folders,
    profiles,
)
from ansible_collections.fleet.cache.plugins.module_utils._pip import targets as pip_targets
from ansible_collections.fleet.cache.plugins.module_utils._pip.matching import NameMatcher, is_wheel_file, pip_wheel_pattern
from ansible_collections.fleet.cache.plugins.module_utils._pip.remove import Request, remove
from ansible_collections.fleet.cache.plugins.module_utils._pip.resolve import resolve
from ansible_collections.fleet.cache.plugins.module_utils._pip.scan import scan
from ansible_collections.fleet.cache.tests.unit.plugins.conftest import NtOs

REG_SZ, REG_EXPAND_SZ = 1, 2


class FakeKey:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


class FakeRegistry:
    """winreg's calls the engine makes, over a dict: key path -> {value name: (data, type)}; subkeys by prefix."""

    HKEY_LOCAL_MACHINE = "HKLM"
    HKEY_USERS = "HKU"
    REG_EXPAND_SZ = REG_EXPAND_SZ

    def __init__(self, keys, environ):
        self.keys = {key.lower(): (key, values) for key, values in keys.items()}
        self.environ = environ
        self.opened = []

    def OpenKey(self, parent, sub):
        base = parent.path if isinstance(parent, FakeKey) else parent
        path = f"{base}\\{sub}"
        self.opened.append(path)
        if path.lower() not in self.keys and not any(key.startswith(path.lower() + "\\") for key in self.keys):
            raise FileNotFoundError(errno.ENOENT, "The system cannot find the file specified")
        return FakeKey(path)

    def EnumKey(self, key, index):
        prefix = key.path.lower() + "\\"
        children = sorted({name[len(prefix) :].split("\\")[0] for name in self.keys if name.startswith(prefix)})
        if index >= len(children):
            raise OSError(259, "No more data is available")
        original = next(self.keys[name][0] for name in self.keys if name.startswith(prefix + children[index]))
        return original[len(key.path) + 1 :].split("\\")[0]

    def QueryValueEx(self, key, name):
        values = self.keys.get(key.path.lower(), (None, {}))[1]
        if name not in values:
            raise FileNotFoundError(errno.ENOENT, "The system cannot find the file specified")
        return values[name]

    def ExpandEnvironmentStrings(self, value):
        for name, replacement in self.environ.items():
            value = value.replace(f"%{name}%", replacement)
        return value


PROFILES = "HKLM\\" + PROFILE_LIST_KEY
ALICE_SID = "S-1-5-21-1004336348-1177238915-682003330-1001"
BOB_SID = "S-1-5-21-1004336348-1177238915-682003330-1002"
CAROL_SID = "S-1-12-1-3171467590-1198403410-1624521906-2362811473"
HOST_ENV = {"SystemDrive": "C:", "SystemRoot": "C:\\Windows"}


def registry(*, bob_logged_on=False):
    keys = {
        f"{PROFILES}\\S-1-5-18": {"ProfileImagePath": ("%systemroot%\\system32\\config\\systemprofile", REG_EXPAND_SZ)},
        f"{PROFILES}\\S-1-5-19": {"ProfileImagePath": ("%SystemRoot%\\ServiceProfiles\\LocalService", REG_EXPAND_SZ)},
        f"{PROFILES}\\S-1-5-20": {"ProfileImagePath": ("%SystemRoot%\\ServiceProfiles\\NetworkService", REG_EXPAND_SZ)},
        f"{PROFILES}\\{ALICE_SID}": {"ProfileImagePath": ("%SystemDrive%\\Users\\Alice", REG_EXPAND_SZ)},
        f"{PROFILES}\\{BOB_SID}": {"ProfileImagePath": ("C:\\Users\\bob.CORP", REG_SZ)},
        f"{PROFILES}\\{BOB_SID}.bak": {"ProfileImagePath": ("C:\\Users\\bob", REG_SZ)},
        f"{PROFILES}\\{CAROL_SID}": {"ProfileImagePath": ("C:\\Users\\Carol Gone", REG_SZ)},
        f"{PROFILES}\\S-1-5-21-1-2-3-1009": {"Flags": (0, 4)},  # no ProfileImagePath: not a usable profile
    }
    if bob_logged_on:
        keys[f"HKU\\{BOB_SID}\\{USER_SHELL_FOLDERS_KEY}"] = {
            "Local AppData": ("D:\\Redirected\\%USERNAME%\\Local", REG_EXPAND_SZ),
            "AppData": ("%USERPROFILE%\\AppData\\Roaming", REG_EXPAND_SZ),
        }
    # ExpandEnvironmentStrings uses the running account's variables (Alice's here); the names ignore case there.
    return FakeRegistry(keys, dict(HOST_ENV, systemroot="C:\\Windows", USERNAME="Alice"))


def test_profiles_lists_accounts_in_registry_order():
    found = profiles(registry=registry())
    assert found == [
        Profile("S-1-12-1-3171467590-1198403410-1624521906-2362811473", "C:\\Users\\Carol Gone", "Carol Gone"),
        Profile("S-1-5-18", "C:\\Windows\\system32\\config\\systemprofile", "SYSTEM"),
        Profile(ALICE_SID, "C:\\Users\\Alice", "Alice"),
        Profile(BOB_SID, "C:\\Users\\bob.CORP", "bob.CORP"),
    ]


def test_profile_list_key_is_a_parameter():
    reg = registry()
    with pytest.raises(FileNotFoundError):
        profiles(registry=reg, key_path="SOFTWARE\\Elsewhere")
    assert reg.opened == ["HKLM\\SOFTWARE\\Elsewhere"]


def test_folders_of_an_account_not_logged_on_are_its_profiles_layout():
    bob = find_profile("BOB.corp", profiles(registry=registry()))
    assert profile_folders(bob, common_appdata="C:\\ProgramData", registry=registry()) == {
        "LOCAL_APPDATA": "C:\\Users\\bob.CORP\\AppData\\Local",
        "APPDATA": "C:\\Users\\bob.CORP\\AppData\\Roaming",
        "COMMON_APPDATA": "C:\\ProgramData",
    }


def test_folders_of_a_logged_on_account_follow_its_redirection():
    reg = registry(bob_logged_on=True)
    bob = find_profile("bob.corp", profiles(registry=reg))
    folders = profile_folders(bob, common_appdata="C:\\ProgramData", registry=reg)
    # %USERPROFILE% and %USERNAME% are bob's own, not those of the account running the engine (Alice).
    assert folders["APPDATA"] == "C:\\Users\\bob.CORP\\AppData\\Roaming"
    assert folders["LOCAL_APPDATA"] == "D:\\Redirected\\bob.CORP\\Local"


def accounts(user, *, isdir=lambda path: "Gone" not in path, **extra):
    environ = {"USERPROFILE": "C:\\Users\\Alice", "USERNAME": "Alice"}
    return core_accounts.windows_accounts(user, environ=environ, registry=registry(**extra), isdir=isdir, common_appdata="C:\\ProgramData")


def test_accounts_current_user_by_default_and_by_name_in_any_case():
    for user in (None, "Alice", "ALICE"):
        (account,) = accounts(user)
        assert (account.name, account.home, account.current, account.folders) == ("Alice", "C:\\Users\\Alice", True, None)


def test_accounts_all_is_every_profile_with_a_folder():
    found = accounts("all")
    assert [(account.name, account.current) for account in found] == [("SYSTEM", False), ("Alice", True), ("bob.CORP", False)]
    assert found[0].folders["LOCAL_APPDATA"] == "C:\\Windows\\system32\\config\\systemprofile\\AppData\\Local"
    assert [account.uid for account in found] == [None, None, None]


def test_accounts_another_user_by_name_or_a_clear_error():
    (bob,) = accounts("bob.corp")
    assert (bob.name, bob.current, bob.home) == ("bob.CORP", False, "C:\\Users\\bob.CORP")
    for missing in ("bob", "Carol Gone", "LocalService"):
        with pytest.raises(InvalidValue, match="no user profile named") as raised:
            accounts(missing)
        assert raised.value.option == "user"


def test_unreadable_profile_list_is_an_option_error():
    class Broken(FakeRegistry):
        def OpenKey(self, parent, sub):
            raise PermissionError(errno.EACCES, "Access is denied")

    with pytest.raises(InvalidValue, match="Access is denied"):
        core_accounts.windows_accounts("all", environ={"USERPROFILE": "C:\\Users\\Alice"}, registry=Broken({}, {}), common_appdata="C:\\ProgramData")


def test_another_accounts_pip_resolves_from_its_own_folders(monkeypatch):
    monkeypatch.setattr(pip_targets, "host_platform", lambda: "win32")
    (bob,) = accounts("bob.CORP", bob_logged_on=True)
    context = pip_targets.context_for(bob, environment={"PIP_NO_INPUT": "1"}, prefixes=("C:\\Python312", "C:\\Python312"))
    assert context.environ["USERPROFILE"] == "C:\\Users\\bob.CORP" and context.environ["USERNAME"] == "bob.CORP"
    assert "HOME" not in context.environ and context.environ["PIP_NO_INPUT"] == "1"
    offline = type(context)(**dict(vars(context), live=False))  # paths of a Windows host: not on this disk
    resolution = resolve(offline)
    assert resolution.cache_dir == "d:\\redirected\\bob.corp\\local\\pip\\cache"  # pip's normcase lowercases on Windows
    assert [item.path for item in resolution.config_files] == [
        "C:\\ProgramData\\pip\\pip.ini",
        "C:\\Users\\bob.CORP\\pip\\pip.ini",
        "C:\\Users\\bob.CORP\\AppData\\Roaming\\pip\\pip.ini",
        "C:\\Python312\\pip.ini",
    ]


# --- matching: pip's fnmatch.filter as it runs on Windows ---------------------------------------------


NAMES = [
    "PyYAML-6.0.2-cp312-cp312-win_amd64.whl",
    "pyyaml-6.0.2-cp312-cp312-win_amd64.whl",
    "Foo_Bar-2.0-py3-none-any.whl",
    "foo_bar-1.0-py3-none-any.WHL",
    "numpy-1.26.4-cp312-cp312-win_amd64.whl",
    "NumPy-2.0.0-cp312-cp312-win_amd64.Whl",
    "tiny-1.0-py3-none-any.whl",
    "tiny.whl",
    "\u00c5ngstr\u00f6m-1.0-py3-none-any.whl",
    "origin.json",
]
PATTERNS = ["pyyaml", "PyYAML", "PYYAML-6", "foo_bar", "FOO_BAR-1.0", "numpy-1.*", "NUMPY-[12]*", "*", "tiny", "\u00e5ngstr\u00d6m", "?iny"]


def test_case_insensitive_matching_is_fnmatch_on_windows(monkeypatch):
    """pip's find_files: fnmatch.filter, which on Windows normcases (lowercases) names and pattern alike."""
    monkeypatch.setattr(fnmatch, "os", NtOs())
    fnmatch._compile_pattern.cache_clear()
    try:
        for pattern in PATTERNS:
            windows = fnmatch.filter(NAMES, pip_wheel_pattern(pattern))
            ours = [name for name in NAMES if NameMatcher(glob=pattern, case_insensitive=True).matches_filename(name)]
            assert ours == windows, pattern
            posix = [name for name in NAMES if NameMatcher(glob=pattern).matches_filename(name)]
            assert posix == [name for name in NAMES if fnmatch.fnmatchcase(name, pip_wheel_pattern(pattern))], pattern
    finally:
        fnmatch._compile_pattern.cache_clear()
    assert NameMatcher(glob="pyyaml", case_insensitive=True).matches_filename("PyYAML-6.0.2-cp312-cp312-win_amd64.whl")
    assert not NameMatcher(glob="pyyaml").matches_filename("PyYAML-6.0.2-cp312-cp312-win_amd64.whl")


def test_wheel_files_in_any_case_count_on_windows_only(tmp_path, build_tree):
    root = build_tree(
        str(tmp_path / "cache"),
        {
            "wheels/aa/bb/cc/dd/Upper-1.0-py3-none-any.WHL": (10, 100),
            "wheels/aa/bb/cc/dd/origin.json": (5, 100),
            "wheels/ee/ff/00/11/low-1.0-py3-none-any.whl": (10, 100),
        },
    )
    assert is_wheel_file("X-1.0-py3-none-any.WHL", case_insensitive=True) and not is_wheel_file("X-1.0-py3-none-any.WHL")
    assert scan(root).buckets["wheels"].entries == 1
    assert scan(root, case_insensitive=True).buckets["wheels"].entries == 2
    posix = remove(root, Request(mode="purged", matcher=NameMatcher(glob="*"), now=build_tree.now), dry_run=True)
    assert posix.entries == 1
    windows = remove(
        root, Request(mode="purged", matcher=NameMatcher(glob="*", case_insensitive=True), now=build_tree.now, case_insensitive=True), dry_run=False
    )
    assert (windows.entries, windows.files, windows.extra_files) == (2, 2, 1)
    assert not os.path.exists(os.path.join(root, "wheels"))


# --- files held open by another process (Windows: PermissionError, ERROR_SHARING_VIOLATION) ------------

SHARING_VIOLATION = "The process cannot access the file because it is being used by another process"


@pytest.fixture(params=[True, False], ids=["dir_fd", "paths (as on Windows)"])
def walker_mode(request, monkeypatch):
    """Both of the walker's modes; Windows has no dir_fd, so there it always works by path."""
    if request.param and not core_walk._FD_MODE:
        pytest.skip("this platform has no dir_fd")
    monkeypatch.setattr(core_walk, "_FD_MODE", request.param)
    return request.param


def hold_open(monkeypatch, names):
    """os.unlink fails for these file names as Windows fails it for a file another process has open."""
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if os.path.basename(os.fspath(path)) in names:
            error = PermissionError(errno.EACCES, SHARING_VIOLATION, os.fspath(path))
            error.winerror = 32  # what Windows sets; read by nothing, kept for realism
            raise error
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)


def test_files_held_open_are_skipped_and_reported_once(walker_mode, cache, build_tree, monkeypatch, tree_fingerprint):
    held = {"k2.body": "http-v2/0/1/2/3/5/k2.body", "tiny-1.0-py3-none-any.whl": "wheels/ab/cd/ef/0123/tiny-1.0-py3-none-any.whl"}
    hold_open(monkeypatch, set(held))
    outcome = remove(
        cache, Request(mode="purged", matcher=NameMatcher(glob="*", case_insensitive=True), now=build_tree.now, case_insensitive=True), dry_run=False
    )
    monkeypatch.undo()
    # One error per file held open, nothing about the folders that keep them.
    assert sorted(outcome.errors.items, key=lambda item: item["path"]) == [
        {"path": os.path.join(cache, rel), "error": SHARING_VIOLATION} for rel in sorted(held.values())
    ]
    left = sorted(rel for rel, info in tree_fingerprint(cache).items() if info[0] != "dir")
    # The held files stay with what belongs to their entry (k2's metadata went: only the body was held);
    # everything else is gone as after a purge.
    assert left == [
        "http-v2/0/1/2/3/5/k2.body",
        "notes.txt",
        "selfcheck/5a5a",
        "wheels/ab/cd/ef/0123/origin.json",
        "wheels/ab/cd/ef/0123/tiny-1.0-py3-none-any.whl",
    ]
    # Neither entry counts as removed; every other one does (7 in this tree).
    assert outcome.entries == 5
    assert os.path.join(cache, held["k2.body"][: -len(".body")]) not in [item["path"] for item in outcome.gone.items()] and len(outcome.gone.items()) == 5


def test_a_second_run_takes_what_was_held(walker_mode, cache, build_tree, monkeypatch):
    hold_open(monkeypatch, {"Foo_Bar-2.0-py3-none-any.whl"})
    first = remove(cache, Request(mode="purged", matcher=NameMatcher(glob="*"), now=build_tree.now), dry_run=False)
    monkeypatch.undo()
    assert first.errors.count == 1
    second = remove(cache, Request(mode="purged", matcher=NameMatcher(glob="*"), now=build_tree.now), dry_run=False)
    assert (second.errors.count, second.entries, second.files, second.extra_files) == (0, 1, 1, 1)
    assert sorted(os.listdir(cache)) == ["notes.txt", "selfcheck"]
