# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Import the collection's engine (plugins/module_utils) without an installed collection.

The engine is standard library only; it is imported as ansible_collections.fleet.cache... by
pointing a temporary ansible_collections tree at this checkout.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _install_path() -> None:
    try:
        import ansible_collections.fleet.cache.plugins.module_utils._pip.scan  # noqa: F401

        return
    except ImportError:
        pass
    root = Path(tempfile.mkdtemp(prefix="fleet-cache-engine-"))
    (root / "ansible_collections" / "fleet").mkdir(parents=True)
    (root / "ansible_collections" / "fleet" / "cache").symlink_to(REPO_ROOT)
    sys.path.insert(0, str(root))
    for name in [module for module in sys.modules if module == "ansible_collections" or module.startswith("ansible_collections.")]:
        del sys.modules[name]


_install_path()

from ansible_collections.fleet.cache.plugins.module_utils._core import budget, cache_root, entries, errors, largest, units, walk  # noqa: E402
from ansible_collections.fleet.cache.plugins.module_utils._core import remove as core_remove  # noqa: E402
from ansible_collections.fleet.cache.plugins.module_utils._pip import (  # noqa: E402
    config_read,
    count,
    host,
    http,
    layout,
    matching,
    names,
    remove,
    resolve,
    scan,
    version,
)

__all__ = [
    "REPO_ROOT",
    "budget",
    "cache_root",
    "config_read",
    "copy_engine",
    "core_remove",
    "count",
    "engine_names",
    "entries",
    "errors",
    "host",
    "http",
    "largest",
    "layout",
    "matching",
    "names",
    "remove",
    "resolve",
    "scan",
    "units",
    "version",
    "walk",
]

ENGINE_SOURCE = REPO_ROOT / "plugins" / "module_utils"


def engine_names(module_utils: Path = ENGINE_SOURCE) -> list[str]:
    """The engine's files relative to plugins/module_utils (``_entry.py``, ``_core/walk.py``, ...), as shipped."""
    return sorted(path.relative_to(module_utils).as_posix() for path in module_utils.rglob("*.py") if "__pycache__" not in path.parts)


def copy_engine(package: Path, module_utils: Path = ENGINE_SOURCE) -> None:
    """The engine as the role and the action plugins ship it: module_utils and its packages in ``package``."""
    for name in engine_names(module_utils):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_bytes((module_utils / name).read_bytes())
    (package / "__init__.py").write_text("")
