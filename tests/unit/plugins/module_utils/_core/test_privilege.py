# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""run_as: in this process when no switch is needed; as root, in a child that holds a real throwaway account's
uid, gid and groups, whose errors come back typed (engine errors) or by kind only (anything else)."""

from __future__ import annotations

import functools
import grp
import inspect
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import errors as core_errors
from ansible_collections.fleet.cache.plugins.module_utils._core import privilege as core_privilege
from ansible_collections.fleet.cache.plugins.module_utils._core.errors import CacheDisabled, CacheError, ConfigError, InvalidValue, UnsafeCacheDir
from ansible_collections.fleet.cache.plugins.module_utils._core.privilege import Identity, identity_of, run_as, switches
from ansible_collections.fleet.cache.plugins.module_utils._pip.config_read import default_reader

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
TOOLS = ("useradd", "userdel", "groupadd", "groupdel")


def open_fds():
    return sorted(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


# --- no switch: the work runs in this process ------------------------------------------------------


def in_process_probe():
    """work() that leaves a mark in the caller's memory and returns what only this process could return."""
    marks = []

    def work():
        marks.append(os.getpid())
        return {1, 2}  # a set: no JSON round trip could carry it back

    return marks, work


def test_no_identity_runs_in_process():
    marks, work = in_process_probe()
    assert run_as(None, work) == {1, 2}
    assert marks == [os.getpid()]


def test_not_root_runs_in_process(monkeypatch):
    monkeypatch.setattr(core_privilege, "is_root", lambda: False)
    identity = Identity("someone", 54321, 54321, (54321,))
    assert switches(identity) is False
    marks, work = in_process_probe()
    assert run_as(identity, work) == {1, 2}
    assert marks == [os.getpid()]


def test_root_identity_runs_in_process():
    identity = identity_of("root", 0, 0)
    assert identity is not None
    assert switches(identity) is False
    marks, work = in_process_probe()
    assert run_as(identity, work) == {1, 2}
    assert marks == [os.getpid()]


def test_errors_in_process_are_the_works_own():
    with pytest.raises(InvalidValue) as caught:
        run_as(None, functools.partial(_raise, InvalidValue("bad", option="limit")))
    assert caught.value.option == "limit"


def _raise(error):
    raise error


def test_identity_of():
    assert identity_of("x", None, 5) is None
    assert identity_of("x", 5, None) is None
    found = identity_of("no-such-account-fleet-cache", 4242, 4343)
    assert found is not None
    assert (found.name, found.uid, found.gid) == ("no-such-account-fleet-cache", 4242, 4343)
    assert 4343 in found.groups


@pytest.mark.skipif(not IS_ROOT, reason="switches() is True only when this process is root")
def test_switches_as_root():
    assert switches(None) is False
    assert switches(Identity("root", 0, 0)) is False
    assert switches(Identity("someone", 54321, 54321)) is True


def test_every_engine_error_class_can_come_back():
    """A CacheError subclass run_as does not know would come back as a plain CacheError: the map must hold them all."""
    defined = {cls for _name, cls in inspect.getmembers(core_errors, inspect.isclass) if issubclass(cls, CacheError)}
    assert defined == set(core_privilege._ERRORS.values())
    assert all(core_privilege._ERRORS[cls.__name__] is cls for cls in defined)


# --- as root, for a real account -------------------------------------------------------------------


def _run(command):
    """Run an account tool, again while another process holds the passwd lock (exit code 10)."""
    for _attempt in range(20):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 10:
            return done
        time.sleep(0.25)
    return done


@pytest.fixture
def account():
    """A throwaway account (no home) in its own group plus a second, supplementary group; removed afterwards.

    One per test: ansible-test may run each test in a process of its own, where a module's teardown never runs."""
    if not IS_ROOT:
        pytest.skip("needs root: run_as switches identity only when this process is root")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} to make a throwaway account")
    suffix = secrets.token_hex(4)
    name, extra = f"fcpu{suffix}", f"fcpg{suffix}"
    done = _run([shutil.which("groupadd"), extra])
    if done.returncode != 0:
        pytest.skip(f"groupadd failed: {done.stderr.strip()}")
    try:
        done = _run([shutil.which("useradd"), "-M", "-U", "-G", extra, "-d", "/nonexistent", "-s", "/bin/false", name])
        if done.returncode != 0:
            pytest.skip(f"useradd failed: {done.stderr.strip()}")
        try:
            entry = pwd.getpwnam(name)
            identity = identity_of(name, entry.pw_uid, entry.pw_gid)
            assert identity is not None
            yield identity, extra
        finally:
            _run([shutil.which("userdel"), "--force", name])  # --force: a child of run_as may still be exiting
            _run([shutil.which("groupdel"), name])  # when userdel kept the user's own group
    finally:
        _run([shutil.which("groupdel"), extra])


@pytest.fixture
def identity(account):
    return account[0]


@pytest.fixture
def shared_dir():
    """A folder every account can traverse (pytest's tmp_path is root's, mode 0700)."""
    path = tempfile.mkdtemp(prefix="fleet-cache-priv-", dir="/tmp")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def _who():
    return {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "egid": os.getegid(), "groups": sorted(os.getgroups()), "pid": os.getpid()}


def test_child_holds_the_users_identity(account):
    identity, extra = account
    extra_gid = grp.getgrnam(extra).gr_gid
    seen = run_as(identity, _who)
    assert seen["pid"] != os.getpid()
    assert (seen["uid"], seen["euid"], seen["gid"], seen["egid"]) == (identity.uid, identity.uid, identity.gid, identity.gid)
    assert set(seen["groups"]) == set(identity.groups) == {identity.gid, extra_gid}
    assert 0 not in seen["groups"]
    assert os.geteuid() == 0  # the parent kept its own identity


def _try_root():
    try:
        os.setuid(0)
    except PermissionError:
        return "refused"
    return "root again"


def test_child_cannot_take_root_back(identity):
    assert run_as(identity, _try_root) == "refused"


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def test_child_cannot_read_a_root_only_file(identity, shared_dir):
    token = "TOPSECRET-" + secrets.token_hex(8)
    secret = os.path.join(shared_dir, "secret")
    public = os.path.join(shared_dir, "public")
    for path, text, mode in ((secret, token, 0o600), (public, "public text", 0o644)):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(path, mode)
    assert run_as(identity, functools.partial(_read, public)) == "public text"  # the folder is reachable
    assert run_as(None, functools.partial(_read, secret)) == token  # and root itself can read the file
    with pytest.raises(CacheError) as caught:
        run_as(identity, functools.partial(_read, secret))
    assert caught.type is CacheError
    assert "Permission denied" in str(caught.value)
    assert identity.name in str(caught.value)
    assert token not in str(caught.value)
    # The engine's own reader, in the child: a ConfigError naming the file, never its text.
    with pytest.raises(ConfigError) as caught_config:
        run_as(identity, functools.partial(default_reader, secret))
    assert caught_config.value.path == secret
    assert "permission denied" in caught_config.value.msg
    assert token not in str(caught_config.value)


def _raise_as_child(cls):
    raise cls(f"raised by uid {os.getuid()}", option="cache_dir", path="/some/where")


@pytest.mark.parametrize("cls", [CacheError, CacheDisabled, ConfigError, InvalidValue, UnsafeCacheDir])
def test_engine_errors_come_back_typed(identity, cls):
    with pytest.raises(CacheError) as caught:
        run_as(identity, functools.partial(_raise_as_child, cls))
    error = caught.value
    assert caught.type is cls
    assert (error.msg, error.option, error.path) == (f"raised by uid {identity.uid}", "cache_dir", "/some/where")


def _raise_secret(error):
    raise error


SECRET = "hunter2-" + secrets.token_hex(6)


@pytest.mark.parametrize(
    "error, kind",
    [
        (ValueError(f"root:$6${SECRET}:19000:0:99999:7:::"), "ValueError"),
        (KeyError(SECRET), "KeyError"),
        (UnicodeDecodeError("utf-8", SECRET.encode(), 0, 1, SECRET), "UnicodeDecodeError"),
        (FileNotFoundError(2, "No such file or directory", f"/etc/{SECRET}"), "No such file or directory"),
        (SystemExit(SECRET), "SystemExit"),
    ],
    ids=["ValueError", "KeyError", "UnicodeDecodeError", "OSError-with-filename", "SystemExit"],
)
def test_other_errors_come_back_without_their_text(identity, error, kind):
    with pytest.raises(CacheError) as caught:
        run_as(identity, functools.partial(_raise_secret, error))
    assert caught.type is CacheError
    text = str(caught.value)
    assert SECRET not in text
    assert (caught.value.option, caught.value.path) == (None, None)
    assert kind in text
    assert identity.name in text


def _kill_self(signum):
    os.kill(os.getpid(), signum)
    time.sleep(30)
    return "not killed"


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGUSR1], ids=lambda signum: signal.Signals(signum).name)
def test_child_ended_by_a_signal(identity, signum):
    with pytest.raises(CacheError) as caught:
        run_as(identity, functools.partial(_kill_self, signum))
    assert caught.type is CacheError
    assert signal.Signals(signum).name in str(caught.value)
    assert identity.name in str(caught.value)


def _exit_silently():
    os._exit(0)


@pytest.mark.parametrize(
    "work",
    [lambda: {1, 2}, object, lambda: {(1, 2): "tuple key"}, lambda: b"bytes", _exit_silently],
    ids=["set", "object", "tuple-key", "bytes", "exit-without-writing"],
)
def test_no_json_result_is_refused(identity, work):
    with pytest.raises(CacheError) as caught:
        run_as(identity, work)
    assert caught.type is CacheError
    assert "without a result" in str(caught.value)
    assert identity.name in str(caught.value)


def test_large_results_come_back_whole(identity):
    blob = secrets.token_hex(3 * 1024 * 1024)  # 6 MiB of text
    numbers = list(range(300_000))
    accented = "é€" * 500_000  # sent as \\u escapes: 6 MB on the pipe

    def work():
        return {"blob": blob, "numbers": numbers, "accented": accented, "pair": (1, "two"), "uid": os.getuid()}

    found = run_as(identity, work)
    assert found["blob"] == blob
    assert found["numbers"] == numbers
    assert found["accented"] == accented
    assert found["pair"] == [1, "two"]  # tuples come back as lists
    assert found["uid"] == identity.uid


def test_no_descriptor_is_left_open(identity):
    before = open_fds()
    if before is None:
        pytest.skip("needs /proc/self/fd")
    run_as(identity, _who)
    with pytest.raises(CacheError):
        run_as(identity, functools.partial(_kill_self, signal.SIGKILL))
    with pytest.raises(CacheError):
        run_as(identity, functools.partial(_raise_as_child, ConfigError))
    assert open_fds() == before
