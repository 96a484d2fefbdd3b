# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's typed errors (_core/errors.py)."""

from __future__ import annotations

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import CacheError, ConfigError, InvalidValue, UnsafeCacheDir

# --- errors ---------------------------------------------------------------------------------------


def test_error_text_names_option_and_path():
    assert str(InvalidValue("bad", option="max_size")) == "max_size: bad"
    assert str(ConfigError("cannot load", path="/etc/pip.conf")) == "cannot load (path: /etc/pip.conf)"
    assert str(UnsafeCacheDir("refusing to delete from '/x'", option="cache_dir", path="/x")) == "cache_dir: refusing to delete from '/x'"
    error = CacheError("plain")
    assert (str(error), error.msg, error.option, error.path) == ("plain", "plain", None, None)
    assert issubclass(InvalidValue, CacheError) and issubclass(ConfigError, CacheError) and issubclass(UnsafeCacheDir, CacheError)


def test_a_message_that_names_its_option_is_not_prefixed_again():
    assert str(InvalidValue("state=pruned needs max_age, max_size or ci=true", option="state")) == "state=pruned needs max_age, max_size or ci=true"
    assert str(InvalidValue("state=absent needs a name", option="name")) == "name: state=absent needs a name"
    assert str(InvalidValue("python3 is not a file", option="python")) == "python: python3 is not a file"


def test_details_are_more_keys_of_the_failure():
    assert CacheError("plain").details == {}
    error = CacheError("none could be read", option="user", details={"failed_users": ["a"]})
    assert error.details == {"failed_users": ["a"]} and str(error) == "user: none could be read"
