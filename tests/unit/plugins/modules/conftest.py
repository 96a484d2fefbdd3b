# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's main() with given arguments and read the JSON it prints, as Ansible would."""

from __future__ import annotations

import json

import pytest

from ansible_collections.fleet.cache.tests.unit.plugins.conftest import patch_module_args


class ModuleRun:
    def __init__(self, capsys):
        self.capsys = capsys

    def __call__(self, module, args):
        """main() with these arguments -> (exit code, the result it printed). Any exception is a crash: it propagates."""
        self.capsys.readouterr()
        with patch_module_args(args), pytest.raises(SystemExit) as stopped:
            module.main()
        out = self.capsys.readouterr().out
        lines = [line for line in out.splitlines() if line.strip().startswith("{")]
        assert lines, f"the module printed no JSON result: {out!r}"
        result = json.loads(lines[-1])
        code = stopped.value.code or 0
        assert (code != 0) == bool(result.get("failed")), result
        return code, result

    def info(self, args):
        """pip_cache_info's main() -> (exit code, result), with a single cache's entry lifted beside the task-level
        keys for the tests' convenience, once it is checked that the module itself says nothing twice."""
        from ansible_collections.fleet.cache.plugins.modules import pip_cache_info

        code, result = self(pip_cache_info, args)
        if code != 0:
            return code, result
        task_level = {"changed", "caches", "totals", "about", "failed_users", "warnings", "deprecations", "invocation"}
        assert set(result) <= task_level, f"pip_cache_info repeats an entry's keys at the top: {sorted(set(result) - task_level)}"
        assert result["totals"]["users"] == len(result["caches"]) and isinstance(result["about"], list), result
        if len(result["caches"]) == 1:
            result = dict(result["caches"][0], **result)
        return code, result

    def uv_info(self, args):
        """uv_cache_info's main() -> (exit code, result), checked and lifted as ``info`` does for pip_cache_info."""
        from ansible_collections.fleet.cache.plugins.modules import uv_cache_info

        code, result = self(uv_cache_info, args)
        if code != 0:
            return code, result
        task_level = {"changed", "caches", "totals", "about", "failed_users", "warnings", "deprecations", "invocation"}
        assert set(result) <= task_level, f"uv_cache_info repeats an entry's keys at the top: {sorted(set(result) - task_level)}"
        assert result["changed"] is False and result["totals"]["users"] == len(result["caches"]) and isinstance(result["about"], list), result
        if len(result["caches"]) == 1:
            result = dict(result["caches"][0], **result)
        return code, result


@pytest.fixture
def run_module(capsys, no_pip_config):
    # The modules read pip's configuration of the user running the tests: no_pip_config keeps the host's out of it.
    return ModuleRun(capsys)
