# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Opening folders by descriptor without following links: a path walked one component at a time from ``/``.

Root acting in a tree a user can change never looks a path up again after it checked it: it holds a
descriptor of each folder, opened relative to its parent's with ``O_NOFOLLOW | O_DIRECTORY``, so a component
swapped for a link (or a file) fails the open instead of leading elsewhere. Standard library only.
"""

from __future__ import annotations

import errno
import os

# Where descriptor-relative walks are possible (Linux, macOS, the BSDs); not on Windows.
FD_SUPPORTED = (
    hasattr(os, "O_NOFOLLOW")
    and hasattr(os, "O_DIRECTORY")
    and os.open in os.supports_dir_fd
    and os.stat in os.supports_dir_fd
    and os.unlink in os.supports_dir_fd
    and os.rmdir in os.supports_dir_fd
    and os.scandir in os.supports_fd
)

DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def open_dir_at(name: str, dir_fd: int) -> int:
    """A descriptor of the folder ``name`` inside the folder ``dir_fd`` holds, never through a link.

    ``name`` is one path component. Raises OSError: ELOOP or ENOTDIR when it is a link or not a folder,
    ENOENT when it is gone.
    """
    if not name or name in (".", "..") or "/" in name:
        raise OSError(errno.EINVAL, "not a single path component", name)
    return os.open(name, DIR_FLAGS, dir_fd=dir_fd)


def open_dir_nofollow(path: str) -> int:
    """A descriptor of the folder at the absolute ``path``, each component opened from ``/`` without following links.

    The caller closes it. Raises OSError naming the path up to the component that failed: ELOOP or ENOTDIR when
    a component is a link or not a folder, ENOENT when one is missing, EINVAL for a relative path or a ``..``
    component, ENOSYS where the platform has no descriptor-relative opens.
    """
    if not FD_SUPPORTED:
        raise OSError(errno.ENOSYS, "folders cannot be opened by descriptor on this platform", path)
    if not path.startswith("/"):
        raise OSError(errno.EINVAL, "not an absolute path", path)
    fd = os.open("/", DIR_FLAGS)
    walked = ""
    try:
        for part in path.split("/"):
            if part in ("", "."):
                continue
            walked += "/" + part
            if part == "..":
                raise OSError(errno.EINVAL, "a '..' component is not followed", walked)
            try:
                child = open_dir_at(part, fd)
            except OSError as error:
                raise OSError(error.errno, error.strerror, walked) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd
