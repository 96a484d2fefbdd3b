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
        import ansible_collections.fleet.cache.plugins.module_utils._cache_scan  # noqa: F401

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

from ansible_collections.fleet.cache.plugins.module_utils import _cache_common as common  # noqa: E402
from ansible_collections.fleet.cache.plugins.module_utils import _cache_http as http  # noqa: E402
from ansible_collections.fleet.cache.plugins.module_utils import _cache_remove as remove  # noqa: E402
from ansible_collections.fleet.cache.plugins.module_utils import _cache_resolve as resolve  # noqa: E402
from ansible_collections.fleet.cache.plugins.module_utils import _cache_scan as scan  # noqa: E402
from ansible_collections.fleet.cache.plugins.module_utils import _cache_version as version  # noqa: E402

__all__ = ["REPO_ROOT", "common", "http", "remove", "resolve", "scan", "version"]
