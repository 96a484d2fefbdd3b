# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as the Ansible ecosystem's own tools see it.

- (``antsibull-docs lint-collection-docs --plugin-docs``: the nox session docs-check.) The docsite's index and labels.
- ``antsibull-changelog lint``, and CHANGELOG.rst / CHANGELOG.md as ``antsibull-changelog generate`` renders them.
- galaxy-importer on the artifact ``ansible-galaxy collection build`` makes (its ansible-lint step is the nox session
  ansible-lint, on the whole collection).
- ``ansible-doc`` for every module, filter and role: renders without a warning, under its own name.
- Every module's EXAMPLES: the whole block passes ``ansible-playbook --syntax-check``, and the tasks that can run
  here run as written against a cache in a temporary home; those that cannot (root, files outside that home) are
  listed in NOT_RUN with the reason, and the test fails when that list and the EXAMPLES disagree.

The tools are pinned in requirements/docs.txt and installed into .build/docs-venv on first use (redone when the
pins or the interpreter change). The collection is checked as a copy of the files git sees, in
.build/docs/ansible_collections/fleet/cache, refreshed at the start of each session.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path
from typing import Any

import piporacle
import pytest
import yaml
from engine import REPO_ROOT

BUILD = REPO_ROOT / ".build"
DOCS_VENV = BUILD / "docs-venv"
TOOLS = DOCS_VENV / "bin"
COLLECTIONS = BUILD / "docs"
COLLECTION = COLLECTIONS / "ansible_collections" / "fleet" / "cache"
CONTROLLER = REPO_ROOT / ".venv" / "bin"
REQUIREMENTS = [REPO_ROOT / "requirements" / name for name in ("docs.txt", "controller.txt", "test.txt")]

MODULES = sorted(path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py") if not path.name.startswith("_"))
ROLES = sorted(path.parent.parent.name for path in (REPO_ROOT / "roles").glob("*/meta/argument_specs.yml"))

# Examples that cannot run on the test host as written, and why. Each is still syntax-checked with its whole block.
NOT_RUN = {
    ("pip_cache_info", "Report every user's cache, run as root"): "become: reads every user's cache as root",
    ("pip_cache", "Empty every user's cache like 'pip cache purge', and pip's version-check state too"): "become: purges every user's cache",
    ("pip_config", "Disable pip's cache for everybody on the host"): "become: writes the global file (/etc/pip.conf)",
    ("pip_config", 'Enable it again (pip reads any boolean as "disable", so the key goes)'): "become: writes the global file (/etc/pip.conf)",
    ("pip_config", "Move every user's cache to a scratch disk"): "become: writes the global file (/etc/pip.conf)",
    ("pip_config", "Only pip install of this virtual environment uses another cache"): "writes /srv/build/venv/pip.conf, outside the test's home",
    ("uv_cache_info", "Every user's uv cache, run as root, with the layout of the uv the CI image runs"): "become: reads every user's uv cache as root",
    ("uv_cache_info", "The cache a project's uv.toml chooses"): "needs the project folder /srv/app, outside the test's home",
    ("uv_cache", "On a CI runner, what uv cache prune --ci removes, for every user"): "become: prunes every user's uv cache",
}

# ansible-core 2.21's own internal collection ships without galaxy.yml or MANIFEST.json, and ansible-doc -t role says
# so for every role it documents, whichever collection the role is in. Nothing of this collection's.
CORE_OWN_WARNING = re.compile(r"^\[WARNING\]: Collection at '\S+/ansible/_internal/ansible_collections/ansible/_protomatter' does not have a MANIFEST\.json")


def _hash_inputs() -> str:
    sha = hashlib.sha256()
    sha.update(os.path.realpath(getattr(sys, "_base_executable", sys.executable)).encode())
    sha.update(sys.version.encode())
    for path in REQUIREMENTS:
        sha.update(path.read_bytes())
    return sha.hexdigest()


def _run(cmd: list[str | Path], *, env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def _explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-8000:]}\n--- stderr\n{proc.stderr[-4000:]}"


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.match(r"^\[(WARNING|DEPRECATION WARNING|ERROR)\]", line) and not CORE_OWN_WARNING.match(line)]


def _python_string(path: Path, name: str) -> str | None:
    """The string assigned to a top-level name of a Python file (DOCUMENTATION, EXAMPLES), read without importing it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id == name for target in node.targets):
            return str(ast.literal_eval(node.value))
    return None


@pytest.fixture(scope="session")
def tools() -> Path:
    """The bin folder of .build/docs-venv, holding requirements/docs.txt (installed here when missing or stale)."""
    BUILD.mkdir(exist_ok=True)
    want = _hash_inputs()
    stamp = DOCS_VENV / ".stamp"
    with open(BUILD / "docs-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == want and (TOOLS / "antsibull-docs").exists():
            return TOOLS
        shutil.rmtree(DOCS_VENV, ignore_errors=True)
        log = BUILD / "docs-venv-install.log"
        steps = [
            [sys.executable, "-m", "venv", str(DOCS_VENV)],
            [str(TOOLS / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r", str(REQUIREMENTS[0])],
        ]
        with open(log, "w") as out:
            for step in steps:
                out.write(f"$ {' '.join(step)}\n")
                out.flush()
                proc = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT, check=False, timeout=900)
                if proc.returncode != 0:
                    pytest.fail(f"installing requirements/docs.txt into {DOCS_VENV} failed (exit {proc.returncode}); see {log}")
        stamp.write_text(want)
    return TOOLS


@pytest.fixture(scope="session")
def collection() -> Path:
    """A copy of the files git sees at .build/docs/ansible_collections/fleet/cache (the path ansible needs)."""
    spec = importlib.util.spec_from_file_location("fleet_cache_tree", REPO_ROOT / "hack" / "tree.py")
    assert spec is not None and spec.loader is not None
    tree = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tree)
    COLLECTION.mkdir(parents=True, exist_ok=True)
    tree.sync(str(COLLECTION), str(REPO_ROOT))
    return COLLECTION


def tool_env(tmp: Path, bin_dir: Path, **extra: str) -> dict[str, str]:
    """No configuration of this host: the copy is the only collection, ansible's state in tmp."""
    env = {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "ANSIBLE_HOME": str(tmp / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "NO_COLOR": "1",
    }
    env.update(extra)
    return env


def controller() -> Path:
    if not (CONTROLLER / "ansible-doc").exists():
        pytest.skip("the controller venv (.venv) is not set up; run hack/setup.sh")
    return CONTROLLER


# --- antsibull-docs ------------------------------------------------------------------------------


def test_docsite_lists_every_guide_and_links_load(collection: Path) -> None:
    docsite = collection / "docs" / "docsite"
    guides = sorted(path.stem for path in (docsite / "rst").glob("*.rst"))
    assert guides, "docs/docsite/rst holds no guide"
    index = yaml.safe_load((docsite / "extra-docs.yml").read_text())
    listed = [entry if isinstance(entry, str) else entry["ref"] for section in index["sections"] for entry in section["toctree"]]
    assert sorted(listed) == guides, "docs/docsite/extra-docs.yml must list every guide in docs/docsite/rst once, and nothing else"
    links = yaml.safe_load((docsite / "links.yml").read_text())
    galaxy = yaml.safe_load((collection / "galaxy.yml").read_text())
    assert links["edit_on_github"]["repository"] == galaxy["repository"].removeprefix("https://github.com/")
    for guide in guides:
        text = (docsite / "rst" / f"{guide}.rst").read_text()
        assert f".. _ansible_collections.fleet.cache.docsite.{guide}:" in text, f"{guide}.rst: no label of its own"


# --- antsibull-changelog -------------------------------------------------------------------------


def test_changelog_lint(tools: Path, collection: Path, tmp_path: Path) -> None:
    proc = _run([tools / "antsibull-changelog", "lint"], env=tool_env(tmp_path, tools), cwd=collection)
    assert proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip(), _explain(proc)


def test_changelog_covers_this_version_and_is_rendered(tools: Path, collection: Path, tmp_path: Path) -> None:
    galaxy = yaml.safe_load((collection / "galaxy.yml").read_text())
    changes = yaml.safe_load((collection / "changelogs" / "changelog.yaml").read_text())
    assert str(galaxy["version"]) in changes["releases"], f"changelogs/changelog.yaml has no release {galaxy['version']} (galaxy.yml's version)"
    work = tmp_path / "collection"
    work.mkdir()
    shutil.copy2(collection / "galaxy.yml", work)
    shutil.copytree(collection / "changelogs", work / "changelogs", ignore=shutil.ignore_patterns("fragments"))
    (work / "changelogs" / "fragments").mkdir()
    proc = _run([tools / "antsibull-changelog", "generate"], env=tool_env(tmp_path, tools), cwd=work)
    assert proc.returncode == 0, _explain(proc)
    for name in ("CHANGELOG.rst", "CHANGELOG.md"):
        rendered = (work / name).read_text()
        assert (collection / name).read_text() == rendered, f"{name} is not what antsibull-changelog generate renders from changelogs/changelog.yaml"


def _documented_version_added(collection: Path) -> dict[tuple[str, str], str]:
    """(kind, name) -> version_added of every module, filter and role, read from their documentation."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted((collection / "plugins" / "modules").glob("*.py")):
        doc = yaml.safe_load(_python_string(path, "DOCUMENTATION") or "{}")
        if doc.get("version_added") is not None:
            found[("module", doc["module"])] = str(doc["version_added"])
    for path in sorted((collection / "plugins" / "filter").glob("*")):
        text = _python_string(path, "DOCUMENTATION") if path.suffix == ".py" else path.read_text() if path.suffix in (".yml", ".yaml") else None
        doc = yaml.safe_load(text or "{}") or {}
        doc = doc.get("DOCUMENTATION", doc) if path.suffix != ".py" else doc
        if doc.get("version_added") is not None:
            found[("filter", doc["name"])] = str(doc["version_added"])
    for path in sorted((collection / "roles").glob("*/meta/argument_specs.yml")):
        spec = yaml.safe_load(path.read_text())["argument_specs"].get("main", {})
        if spec.get("version_added") is not None:
            found[("role", path.parent.parent.name)] = str(spec["version_added"])
    return found


def test_changelog_lists_what_this_version_adds(collection: Path) -> None:
    """Every module, filter and role documented as added in galaxy.yml's version is listed as new in that release."""
    version = str(yaml.safe_load((collection / "galaxy.yml").read_text())["version"])
    release = yaml.safe_load((collection / "changelogs" / "changelog.yaml").read_text())["releases"].get(version, {})
    listed = {("module", item["name"]) for item in release.get("modules", [])}
    listed |= {(kind, item["name"]) for kind, items in release.get("plugins", {}).items() for item in items}
    listed |= {(kind, item["name"]) for kind, items in release.get("objects", {}).items() for item in items}
    new = {key for key, added in _documented_version_added(collection).items() if added == version}
    assert new <= listed, (
        f"documented as added in {version} but not in changelogs/changelog.yaml: {sorted(new - listed)}; "
        f"run `antsibull-changelog release --version {version} --reload-plugins` (it updates the existing release)"
    )


# --- galaxy-importer -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def artifact(tools: Path, collection: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("artifact")
    proc = _run([tools / "ansible-galaxy", "collection", "build", "--output-path", out, collection], env=tool_env(out, tools), cwd=out)
    assert proc.returncode == 0, _explain(proc)
    (tarball,) = out.glob("fleet-cache-*.tar.gz")
    return tarball


def test_galaxy_importer(tools: Path, artifact: Path, tmp_path: Path) -> None:
    # ansible-test would need containers or the network; ansible-lint (production profile, the whole collection) is
    # the nox session of that name.
    config = tmp_path / "galaxy-importer.cfg"
    config.write_text(
        textwrap.dedent(
            f"""\
            [galaxy-importer]
            RUN_ANSIBLE_TEST = False
            RUN_ANSIBLE_LINT = False
            CHECK_CHANGELOG = True
            ANSIBLE_LOCAL_TMP = {tmp_path / "importer-tmp"}
            LOG_LEVEL_MAIN = INFO
            """
        )
    )
    env = tool_env(tmp_path, tools, GALAXY_IMPORTER_CONFIG=str(config))
    proc = _run([tools / "python", "-m", "galaxy_importer.main", artifact], env=env, cwd=tmp_path)
    output = proc.stdout + proc.stderr
    problems = [line for line in output.splitlines() if line.startswith(("WARNING", "ERROR", "CRITICAL"))]
    assert proc.returncode == 0 and not problems, "\n".join(problems) or _explain(proc)
    result = json.loads((tmp_path / "importer_result.json").read_text())
    documented = {(item["content_type"], item["content_name"]) for item in result["docs_blob"]["contents"] if item.get("doc_strings")}
    for module in MODULES:
        assert ("module", module) in documented, f"galaxy-importer found no documentation for module {module}"
    found = {(item["content_type"], item["name"]) for item in result["contents"]}
    for role in ROLES:
        assert ("role", role) in found, f"galaxy-importer did not find role {role}"


def test_licence_file_and_headers_agree(collection: Path, artifact: Path) -> None:
    """galaxy.yml's licence is the COPYING file's (the GPL v3 text), the built collection carries that file, and every
    program file says the same in its SPDX line."""
    galaxy = yaml.safe_load((collection / "galaxy.yml").read_text())
    assert galaxy.get("license") == ["GPL-3.0-or-later"], galaxy.get("license")
    licence = (collection / "COPYING").read_text()
    assert licence.lstrip().startswith("GNU GENERAL PUBLIC LICENSE") and "Version 3, 29 June 2007" in licence.split("\n", 3)[1]
    assert "How to Apply These Terms to Your New Programs" in licence, "COPYING holds the whole licence text"
    with tarfile.open(artifact) as archive:
        shipped = archive.extractfile("COPYING")
        assert shipped is not None and shipped.read().decode() == licence, "the built collection carries COPYING as it is"
    wrong = []
    for path in sorted(collection.rglob("*")):
        parts = path.relative_to(collection).parts
        if path.suffix not in (".py", ".sh", ".ps1") or not path.is_file() or parts[:2] == ("tests", "output"):
            continue
        head = path.read_text(errors="replace").splitlines()[:6]
        identifiers = [line.split("SPDX-License-Identifier:", 1)[1].strip() for line in head if "SPDX-License-Identifier:" in line]
        if identifiers != ["GPL-3.0-or-later"]:
            wrong.append(f"{path.relative_to(collection)}: {identifiers or 'no SPDX line in its first 6 lines'}")
    assert not wrong, "\n".join(wrong)


# --- ansible-doc ---------------------------------------------------------------------------------


def _return_keys_without_sample(returns: dict[str, Any], prefix: str = "") -> list[str]:
    missing = []
    for key, spec in returns.items():
        if "contains" in spec:
            missing += _return_keys_without_sample(spec["contains"], f"{prefix}{key}.")
        elif "sample" not in spec:
            missing.append(prefix + key)
    return missing


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_module(module: str, collection: Path, tmp_path: Path) -> None:
    bin_dir = controller()
    env = tool_env(tmp_path, bin_dir)
    proc = _run([bin_dir / "ansible-doc", "-t", "module", f"fleet.cache.{module}"], env=env, cwd=tmp_path)
    assert proc.returncode == 0 and f"fleet.cache.{module}" in proc.stdout, _explain(proc)
    assert not _warnings(proc.stderr), proc.stderr
    proc = _run([bin_dir / "ansible-doc", "-t", "module", "--json", f"fleet.cache.{module}"], env=env, cwd=tmp_path)
    assert proc.returncode == 0, _explain(proc)
    data = json.loads(proc.stdout)[f"fleet.cache.{module}"]
    doc = data["doc"]
    assert doc["module"] == module
    assert {"check_mode", "diff_mode", "platform", "idempotent"} <= set(doc["attributes"]), "attributes: check_mode, diff_mode, platform, idempotent"
    assert not [name for name, spec in doc["options"].items() if not spec.get("description") or "type" not in spec], "every option: description and type"
    assert not _return_keys_without_sample(data["return"]), "every return value without sub-keys has a sample"
    assert not [key for key, spec in data["return"].items() if "returned" not in spec], "every top-level return value says when it is returned"


def test_ansible_doc_filters(collection: Path, tmp_path: Path) -> None:
    """Every filter's documentation is its own (a filter file with several filters must not lend one its neighbour's)."""
    bin_dir = controller()
    env = tool_env(tmp_path, bin_dir)
    proc = _run([bin_dir / "ansible-doc", "-t", "filter", "-l", "--json", "fleet.cache"], env=env, cwd=tmp_path)
    assert proc.returncode == 0, _explain(proc)
    names = sorted(json.loads(proc.stdout))
    if not names:
        pytest.skip("the collection has no filter plugin")
    wrong = {}
    for name in names:
        proc = _run([bin_dir / "ansible-doc", "-t", "filter", "--json", name], env=env, cwd=tmp_path)
        assert proc.returncode == 0, _explain(proc)
        assert not _warnings(proc.stderr), proc.stderr
        documented = json.loads(proc.stdout)[name]["doc"]["name"]
        if f"fleet.cache.{documented}" != name:
            wrong[name] = documented
    assert not wrong, f"ansible-doc shows another filter's documentation (asked -> shown): {wrong}"


@pytest.mark.parametrize("role", ROLES or [pytest.param(None, marks=pytest.mark.skip(reason="no role with meta/argument_specs.yml yet"))])
def test_ansible_doc_role(role: str, collection: Path, tmp_path: Path) -> None:
    bin_dir = controller()
    proc = _run([bin_dir / "ansible-doc", "-t", "role", f"fleet.cache.{role}"], env=tool_env(tmp_path, bin_dir), cwd=tmp_path)
    assert proc.returncode == 0 and f"fleet.cache.{role}" in proc.stdout, _explain(proc)
    assert not _warnings(proc.stderr), proc.stderr


# --- EXAMPLES ------------------------------------------------------------------------------------


def examples(module: str) -> str:
    text = _python_string(REPO_ROOT / "plugins" / "modules" / f"{module}.py", "EXAMPLES")
    assert text, f"{module}: no EXAMPLES"
    return text


def example_tasks(module: str) -> list[tuple[str, dict[str, Any]]]:
    """Each task of EXAMPLES as written (its text) and as YAML reads it."""
    chunks: list[str] = []
    for line in examples(module).strip("\n").splitlines(keepends=True):
        if line.startswith("- ") or not chunks:
            chunks.append(line)
        else:
            chunks[-1] += line
    tasks = []
    for chunk in chunks:
        (task,) = yaml.safe_load(chunk)
        tasks.append((chunk, task))
    return tasks


def why_not_run(task: dict[str, Any]) -> str | None:
    """Why a task cannot run on the test host as written (None when it can)."""
    if task.get("become"):
        return "become"
    args = task.get("fleet.cache.pip_config")
    if isinstance(args, dict) and (args.get("scope", "user") != "user" or "path" in args):
        return "writes outside the test's home"
    uv_args = task.get("fleet.cache.uv_cache_info")
    if isinstance(uv_args, dict) and "project" in uv_args:
        return "needs a project folder outside the test's home"
    return None


def play(name: str, tasks_text: str) -> str:
    return f"- name: {name}\n  hosts: localhost\n  gather_facts: false\n  tasks:\n" + textwrap.indent(tasks_text, "    ")


def ansible_vars() -> list[str]:
    return ["-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={CONTROLLER / 'python'}"]


@pytest.mark.parametrize("module", MODULES)
def test_examples_syntax(module: str, collection: Path, tmp_path: Path) -> None:
    bin_dir = controller()
    path = tmp_path / "examples.yml"
    path.write_text(play(f"EXAMPLES of fleet.cache.{module}, as written", examples(module)))
    proc = _run([bin_dir / "ansible-playbook", "--syntax-check", *ansible_vars(), path], env=tool_env(tmp_path, bin_dir), cwd=tmp_path)
    assert proc.returncode == 0, _explain(proc)
    assert not _warnings(proc.stderr), proc.stderr


def test_not_run_list_matches_the_examples() -> None:
    """NOT_RUN names exactly the examples that cannot run here: a new one is declared, a fixed one runs."""
    unrunnable = {(module, task["name"]) for module in MODULES for _text, task in example_tasks(module) if why_not_run(task)}
    assert unrunnable == set(NOT_RUN)


@pytest.fixture
def example_home(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An isolated HOME whose pip cache (XDG_CACHE_HOME/pip) is a copy of what the newest oracle pip filled."""
    pip = piporacle.newest_pip()
    env = piporacle.isolated_env(tmp_path / "env")
    cache = Path(env["XDG_CACHE_HOME"]) / "pip"
    shutil.copytree(piporacle.template_cache(pip), cache, symlinks=True)
    return env, cache


@pytest.mark.parametrize("module", MODULES)
def test_examples_run(module: str, collection: Path, example_home: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    bin_dir = controller()
    tasks = example_tasks(module)
    runnable = [text for text, task in tasks if not why_not_run(task)]
    skipped = [f"{task['name']!r}: {NOT_RUN.get((module, task['name']), why_not_run(task))}" for _text, task in tasks if why_not_run(task)]
    if not runnable:
        pytest.skip("every example needs root or writes outside a temporary home; syntax-checked only: " + "; ".join(skipped))
    env, cache = example_home
    # A guard first: the cache the examples act on is the temporary one, or nothing runs.
    guard = textwrap.dedent(
        f"""\
        - name: Guard - the connecting user's cache is the temporary copy
          fleet.cache.pip_cache_info:
          register: example_guard
        - name: Guard - stop unless it is
          ansible.builtin.assert:
            that: example_guard.caches[0].cache_dir == {json.dumps(str(cache))}
        """
    )
    path = tmp_path / "examples.yml"
    path.write_text(play(f"Runnable EXAMPLES of fleet.cache.{module}, as written", guard + "".join(runnable)))
    proc = _run([bin_dir / "ansible-playbook", *ansible_vars(), path], env=tool_env(tmp_path, bin_dir, **env), cwd=tmp_path)
    assert proc.returncode == 0, _explain(proc)
    recap = re.search(r"^localhost\s+:\s+ok=(\d+)\s+changed=\d+\s+unreachable=0\s+failed=0\s+skipped=0", proc.stdout, re.M)
    assert recap and int(recap.group(1)) == 2 + len(runnable), _explain(proc)
    assert not _warnings(proc.stderr), proc.stderr
    assert cache.is_dir()
