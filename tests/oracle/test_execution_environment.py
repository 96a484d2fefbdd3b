# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection in an execution environment (EE), as ansible-builder sees it.

- ``ansible-builder introspect`` on the built collection, installed from its tarball, lists exactly what
  meta/execution-environment.yml and the files it names declare (nothing: fleet.cache needs nothing beyond
  ansible-core), and a line added to those files in the installed copy shows up: ansible-builder follows them.
- That claim holds: every import in plugins/ is the standard library, ansible-core (or Jinja2, which it requires), the
  collection itself or a package meta/ee-requirements.txt names.
- ``ansible-builder create`` turns the documented example, docs/examples/execution-environment.yml, into a build
  context (no container runtime needed) that installs its galaxy requirements, fleet.cache among them; the guide
  shows the example as it is.

ansible-builder is pinned in requirements/docs.txt and runs from .build/docs-venv (test_docs.py's ``tools``).
"""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path
from typing import Any

import test_docs
import yaml
from engine import REPO_ROOT
from packaging.requirements import Requirement
from packaging.version import Version
from test_docs import _explain, _run, tool_env

# The docs tests' session fixtures: the tools' venv, the collection's copy and the artifact built from it.
tools = test_docs.tools
collection = test_docs.collection
artifact = test_docs.artifact

EXAMPLES = REPO_ROOT / "docs" / "examples"
GUIDE = REPO_ROOT / "docs" / "docsite" / "rst" / "guide_execution_environments.rst"
# Controller-side imports that need no requirement of the collection's own: ansible-core, and what it requires.
CORE = {"ansible", "jinja2"}


def requirement_lines(path: Path) -> list[str]:
    """The requirements a pip or bindep file declares: its lines, without blank ones and comments."""
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.strip().startswith("#")]


def ee_metadata(root: Path) -> dict[str, Path]:
    """meta/execution-environment.yml of the collection at ``root``: dependency kind -> the file it names."""
    meta = yaml.safe_load((root / "meta" / "execution-environment.yml").read_text())
    assert meta["version"] == 1, "the collection metadata format ansible-builder reads (version 1)"
    assert set(meta["dependencies"]) == {"python", "system"}, meta["dependencies"]
    return {kind: root / name for kind, name in meta["dependencies"].items()}


def introspect(tools: Path, collections: Path, tmp: Path) -> dict[str, Any]:
    proc = _run([tools / "ansible-builder", "introspect", "--sanitize", collections], env=tool_env(tmp, tools), cwd=tmp)
    assert proc.returncode == 0 and not proc.stderr.strip(), _explain(proc)
    data = yaml.safe_load(proc.stdout)
    assert isinstance(data, dict), _explain(proc)
    return data


def test_the_metadata_names_files_that_say_why_they_are_empty() -> None:
    files = ee_metadata(REPO_ROOT)
    assert [path.relative_to(REPO_ROOT).as_posix() for path in files.values()] == ["meta/ee-requirements.txt", "meta/ee-bindep.txt"]
    for kind, path in files.items():
        text = path.read_text()
        if not requirement_lines(path):
            assert "none" in text.lower() and text.lstrip().startswith("#"), f"{path.name} ({kind}): an empty file says why, in a comment"


def test_introspect_reads_the_installed_collections_requirements(tools: Path, artifact: Path, tmp_path: Path) -> None:
    collections = tmp_path / "collections"
    env = tool_env(tmp_path, tools, ANSIBLE_COLLECTIONS_PATH=str(collections))
    proc = _run([tools / "ansible-galaxy", "collection", "install", "--no-deps", "-p", collections, artifact], env=env, cwd=tmp_path)
    assert proc.returncode == 0, _explain(proc)
    installed = collections / "ansible_collections" / "fleet" / "cache"
    files = ee_metadata(installed)
    for kind, path in ee_metadata(REPO_ROOT).items():
        assert files[kind].read_text() == path.read_text(), f"the built collection ships {path.relative_to(REPO_ROOT)} as it is"

    # Exactly what the files declare, each line attributed to the collection (ansible-builder's own format).
    declared = {kind: [f"{line}  # from collection fleet.cache" for line in requirement_lines(path)] for kind, path in files.items()}
    assert introspect(tools, collections, tmp_path) == declared

    # ansible-builder reads these files through meta/execution-environment.yml: what is added to them is listed.
    probes = {"python": "fleet-cache-ee-probe==1.0", "system": "fleet-cache-ee-probe [platform:rpm]"}
    for kind, line in probes.items():
        with files[kind].open("a") as handle:
            handle.write(line + "\n")
    probed = introspect(tools, collections, tmp_path)
    assert probed == {kind: [*declared[kind], f"{probes[kind]}  # from collection fleet.cache"] for kind in probes}, probed


def _imported_modules(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module != "__future__":
            found.append(node.module)
    return found


def test_plugins_import_nothing_the_metadata_does_not_name() -> None:
    """meta/ee-requirements.txt is right to name nothing (or only what it names) for the controller."""
    named = {Requirement(line).name.lower().replace("-", "_") for line in requirement_lines(ee_metadata(REPO_ROOT)["python"])}
    unnamed = []
    for path in sorted((REPO_ROOT / "plugins").rglob("*.py")):
        for module in _imported_modules(path):
            top = module.split(".")[0]
            if module.startswith("ansible_collections."):
                if not module.startswith("ansible_collections.fleet.cache."):
                    unnamed.append(f"{path.relative_to(REPO_ROOT)}: {module} (another collection)")
            elif top not in sys.stdlib_module_names and top not in CORE and top.lower() not in named:
                unnamed.append(f"{path.relative_to(REPO_ROOT)}: {module}")
    assert not unnamed, "imports that an execution environment would lack (add them to meta/ee-requirements.txt):\n" + "\n".join(unnamed)


def test_the_example_definition_creates_a_build_context(tools: Path, tmp_path: Path) -> None:
    definition = yaml.safe_load((EXAMPLES / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    dependencies = definition["dependencies"]
    assert dependencies["galaxy"] == "requirements.yml"
    galaxy = yaml.safe_load((EXAMPLES / "requirements.yml").read_text())
    assert "fleet.cache" in [item["name"] for item in galaxy["collections"]]

    # The ansible-core releases it installs are the ones the collection supports, the controller's pins among them.
    core = Requirement(dependencies["ansible_core"]["package_pip"]).specifier
    requires = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text())["requires_ansible"]
    assert [Version(spec.version) for spec in core if spec.operator == ">="] == [Version(requires.removeprefix(">="))], (str(core), requires)
    pins = [Requirement(line) for line in requirement_lines(REPO_ROOT / "requirements" / "controller.txt") if line.startswith("ansible-core")]
    assert pins and all(spec.version in core for pin in pins for spec in pin.specifier), (str(core), [str(pin) for pin in pins])

    context = tmp_path / "context"
    cmd = [tools / "ansible-builder", "create", "--file", EXAMPLES / "execution-environment.yml", "--context", context, "--output-filename", "Containerfile"]
    proc = _run(cmd, env=tool_env(tmp_path, tools), cwd=tmp_path)
    assert proc.returncode == 0, _explain(proc)
    containerfile = (context / "Containerfile").read_text()
    assert yaml.safe_load((context / "_build" / "requirements.yml").read_text()) == galaxy
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert f'ARG EE_BASE_IMAGE="{definition["images"]["base_image"]["name"]}"' in containerfile
    assert f'ARG ANSIBLE_INSTALL_REFS="{dependencies["ansible_core"]["package_pip"]} {dependencies["ansible_runner"]["package_pip"]}"' in containerfile
    assert f'ARG PYCMD="{dependencies["python_interpreter"]["python_path"]}"' in containerfile
    # ansible-builder merges the collections' own requirements (introspect) with these when it builds the image.
    assert "introspect.py introspect --user-pip=requirements.txt --user-bindep=bindep.txt" in containerfile
    assert requirement_lines(context / "_build" / "requirements.txt") == dependencies["python"]
    assert requirement_lines(context / "_build" / "bindep.txt") == dependencies["system"]


def test_the_guide_shows_the_example_as_it_is() -> None:
    guide = GUIDE.read_text()
    for name in ("execution-environment.yml", "requirements.yml"):
        block = textwrap.indent((EXAMPLES / name).read_text(), "  ", lambda line: bool(line.strip()))
        assert block in guide, f"{GUIDE.name} shows docs/examples/{name} in a code block, as the file is"
