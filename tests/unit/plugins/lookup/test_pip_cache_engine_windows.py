# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pip_cache_engine lookup with windows=true: ansible.windows (an optional dependency) is looked for on the
controller first, and its absence is told by name before the role changes anything on a Windows host."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader

from ansible_collections.fleet.cache.plugins.lookup import pip_cache_engine

COLLECTION_ROOT = Path(__file__).resolve().parents[4]
ROLE_TASKS = COLLECTION_ROOT / "roles" / "pip_cache_policy" / "tasks"
EVERY_MODULE = [f"ansible.windows.{name}" for name in pip_cache_engine.WINDOWS_MODULES]
NOT_INSTALLED = (
    "fleet.cache.pip_cache_policy: Windows hosts need the ansible.windows collection on the controller: ansible-galaxy collection install ansible.windows"
)


class Finder:
    """A plugin loader's find_plugin_with_context that resolves the names given, and records what it was asked."""

    def __init__(self, found: set[str]) -> None:
        self.found = found
        self.asked: list[str] = []

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> types.SimpleNamespace:
        self.asked.append(name)
        return types.SimpleNamespace(resolved=name in self.found)


@pytest.fixture
def controller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Finder]:
    """The controller's action and module loaders, finding nothing until a test says what they find; the archive is
    written into tmp_path."""
    monkeypatch.setattr(pip_cache_engine.C, "DEFAULT_LOCAL_TMP", str(tmp_path))
    finders = {"action": Finder(set()), "module": Finder(set())}
    monkeypatch.setattr(pip_cache_engine.action_loader, "find_plugin_with_context", finders["action"])
    monkeypatch.setattr(pip_cache_engine.module_loader, "find_plugin_with_context", finders["module"])
    return finders


def engine(**options: Any) -> dict[str, str]:
    lookup = lookup_loader.get("fleet.cache.pip_cache_engine")
    assert lookup is not None
    (result,) = lookup.run([], {}, **options)
    return result


def test_without_ansible_windows_the_lookup_fails_naming_it(controller: dict[str, Finder], tmp_path: Path) -> None:
    with pytest.raises(AnsibleLookupError) as failure:
        engine(check=False, windows=True)
    assert str(failure.value) == NOT_INSTALLED
    assert controller["action"].asked == EVERY_MODULE and controller["module"].asked == EVERY_MODULE
    assert list(tmp_path.iterdir()) == [], "it fails before the archive is built"


def test_an_ansible_windows_without_a_module_the_role_uses_is_named_and_upgraded(controller: dict[str, Finder]) -> None:
    controller["module"].found = set(EVERY_MODULE) - {"ansible.windows.win_powershell"}
    with pytest.raises(AnsibleLookupError) as failure:
        engine(check=False, windows=True)
    assert str(failure.value) == (
        "fleet.cache.pip_cache_policy: Windows hosts need a newer ansible.windows collection on the controller"
        " (the one installed has no ansible.windows.win_powershell): ansible-galaxy collection install --upgrade ansible.windows"
    )


# A task finds a module by its action plugin or by the module itself: ansible.windows ships win_copy as both and the
# others as modules; the stand-ins of the role's Windows tests are action plugins only.
@pytest.mark.parametrize("loader", ["module", "action"])
def test_with_ansible_windows_the_lookup_gives_the_engine(controller: dict[str, Finder], loader: str) -> None:
    controller[loader].found = set(EVERY_MODULE)
    windows = engine(check=False, windows=True)
    assert controller[loader].asked, "the controller's loader was asked"
    asked = controller["action"].asked + controller["module"].asked
    assert set(asked) == set(EVERY_MODULE)
    assert windows == engine(check=False), "the same engine as without the check"
    assert "ENGINE_SHA256" not in windows["launcher"]


@pytest.mark.parametrize("options", [{}, {"check": True}, {"check": False, "windows": False}])
def test_posix_hosts_never_look_for_ansible_windows(controller: dict[str, Finder], options: dict[str, bool]) -> None:
    assert engine(**options)["archive_name"] == "fleet_cache_engine.zip"
    assert controller["action"].asked == [] and controller["module"].asked == []


def test_the_modules_looked_for_are_those_the_role_uses() -> None:
    used = {match for path in ROLE_TASKS.glob("*.yml") for match in re.findall(r"^\s*ansible\.windows\.(\w+):", path.read_text(), re.MULTILINE)}
    assert used, f"no ansible.windows task found in {ROLE_TASKS}"
    assert used == set(pip_cache_engine.WINDOWS_MODULES)


def test_the_role_looks_before_it_includes_anything_for_a_windows_host() -> None:
    """main.yml asks the lookup with windows=true for Windows hosts only, before the policy's task files (which hold
    every ansible.windows task) are included."""
    tasks = yaml.safe_load((ROLE_TASKS / "main.yml").read_text())
    checks = [index for index, task in enumerate(tasks) if "windows=true" in str(task.get("ansible.builtin.assert", {}).get("that", ""))]
    includes = [index for index, task in enumerate(tasks) if "ansible.builtin.include_tasks" in task]
    assert len(checks) == 1 and includes, (checks, includes)
    (check,) = checks
    assert check < min(includes)
    assert tasks[check]["when"] == "_pip_cache_policy_windows"
    assert "fleet.cache.pip_cache_engine" in tasks[check]["ansible.builtin.assert"]["that"]
