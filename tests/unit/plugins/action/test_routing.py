# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which plugin runs a task, asked of the real plugin loaders and the task executor's own choice, per connection.

The collection ships one implementation: a Python module and an action plugin of the same name, no .ps1.
A POSIX connection (no .ps1 preference) resolves the .py module; a Windows connection resolves it too,
which is why the action plugin, chosen for every connection, must not run it there.
"""

from __future__ import annotations

import os

import pytest
import yaml
from ansible.executor.task_executor import TaskExecutor
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.task import Task
from ansible.plugins import loader as plugin_loader
from ansible.plugins.loader import action_loader, module_loader
from ansible.template import Templar

from ansible_collections.fleet.cache.plugins.plugin_utils._engine_action import EngineAction

from .conftest import connection_for, make_action

MODULES = ["pip_cache_info", "pip_cache", "pip_config", "uv_cache_info"]
POSIX = [("local", "sh"), ("ssh", "sh")]
WINDOWS = [("winrm", "cmd"), ("psrp", "powershell"), ("ssh", "powershell"), ("ssh", "cmd")]


class _Executor(TaskExecutor):
    """The task executor's handler choice, without a worker process around it."""

    _task = property(lambda self: self._routed_task, lambda self, value: setattr(self, "_routed_task", value))


def chosen_handler(module, connection):
    loader = DataLoader()
    executor = _Executor.__new__(_Executor)
    executor._task = Task.load({"action": f"fleet.cache.{module}", "args": {}}, loader=loader)
    executor._connection = connection
    executor._play_context = connection._play_context
    executor._loader = loader
    executor._shared_loader_obj = plugin_loader
    templar = Templar(loader=loader)
    return executor._get_action_handler_with_module_context(getattr(templar, "_engine", templar))


def module_file_for(module, connection):
    """What _execute_module would send: the first file found in the connection's order of preference."""
    for suffix in connection.module_implementation_preferences:
        context = module_loader.find_plugin_with_context(f"fleet.cache.{module}", suffix)
        if context.resolved:
            return context.plugin_resolved_path
    return None


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("pair", POSIX + WINDOWS, ids="-".join)
def test_the_action_plugin_handles_every_connection(module, pair):
    connection = connection_for(*pair)
    handler, module_context = chosen_handler(module, connection)
    assert isinstance(handler, EngineAction)
    assert type(handler).__module__ == f"ansible_collections.fleet.cache.plugins.action.{module}"
    assert module == handler.MODULE
    assert module_context is None  # no module names an action of its own: the same-named action plugin wins
    assert handler.windows_host() == (pair in WINDOWS)


@pytest.mark.parametrize("module", MODULES)
def test_modules_resolve_to_python_only(module):
    for suffix in ("", ".py"):
        context = module_loader.find_plugin_with_context(f"fleet.cache.{module}", suffix)
        assert context.resolved and context.plugin_resolved_path.endswith(f"plugins/modules/{module}.py")
    for suffix in (".ps1", ".exe"):
        assert not module_loader.find_plugin_with_context(f"fleet.cache.{module}", suffix).resolved
    for pair in POSIX + WINDOWS:
        found = module_file_for(module, connection_for(*pair))
        assert found is not None and found.endswith(".py"), (pair, found)
    assert action_loader.has_plugin(f"fleet.cache.{module}")


def test_no_powershell_module_and_no_redirect_is_shipped():
    context = module_loader.find_plugin_with_context("fleet.cache.pip_cache", "")
    root = os.path.dirname(os.path.dirname(os.path.dirname(context.plugin_resolved_path)))
    assert [name for name in os.listdir(os.path.join(root, "plugins", "modules")) if not name.endswith(".py")] == []
    with open(os.path.join(root, "meta", "runtime.yml")) as handle:
        runtime = yaml.safe_load(handle)
    assert "modules" not in (runtime.get("plugin_routing") or {})


@pytest.mark.parametrize("pair", POSIX, ids="-".join)
def test_posix_runs_the_module(pair, monkeypatch):
    calls = []

    def execute_module(self, module_name=None, module_args=None, task_vars=None, wrap_async=False, **kwargs):
        calls.append((module_name, module_args, wrap_async))
        return {"changed": False, "ran": module_name}

    monkeypatch.setattr(EngineAction, "_execute_module", execute_module)
    monkeypatch.setattr(EngineAction, "run_engine", lambda *args, **kwargs: pytest.fail("the engine transport ran on a POSIX host"))
    connection = connection_for(*pair)
    result = make_action("pip_cache", {"state": "purged"}, connection).run(task_vars={})
    assert result["ran"] == "fleet.cache.pip_cache"
    assert calls == [("fleet.cache.pip_cache", None, False)]


@pytest.mark.parametrize("pair", WINDOWS, ids="-".join)
def test_windows_never_runs_the_module(pair, monkeypatch):
    monkeypatch.setattr(EngineAction, "_execute_module", lambda *args, **kwargs: pytest.fail("a Python module was sent to a Windows host"))
    monkeypatch.setattr(EngineAction, "run_engine", lambda self, task_vars, windows: {"changed": False, "engine": windows})
    result = make_action("pip_cache", {"state": "purged"}, connection_for(*pair)).run(task_vars={})
    assert result["engine"] is True
