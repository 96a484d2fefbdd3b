# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for the get-pip.py that ansible-test downloads to bootstrap pip in its virtualenvs.

ansible-test (ansible_test/_util/target/setup/requirements.py, bootstrap()) runs
    python get_pip_X_Y.py [pip options] pip==X.Y --no-setuptools --no-wheel
from ~/.ansible/test/cache/ and downloads the script first when it is not there. Where that download
is not reachable, noxfile.py puts this file there instead, in the home it gives ansible-test. It installs
the interpreter's bundled pip with ensurepip, then lets that pip install the requested packages from
the package index (so the pip version ansible-test asked for is the one that ends up installed).
Standard library only, Python >= 3.9 (the oldest target ansible-test supports).
"""

import os
import subprocess
import sys

IGNORED = ("--no-setuptools", "--no-wheel", "--no-pip")


def main():
    args = [arg for arg in sys.argv[1:] if arg not in IGNORED]
    env = dict(os.environ)
    env.pop("GET_PIP", None)
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    try:
        import ensurepip  # noqa: F401  (only checking that it exists)
    except ImportError:
        sys.stderr.write(f"get_pip: {sys.executable} has no ensurepip module; cannot bootstrap pip offline\n")
        return 1
    check = subprocess.call([sys.executable, "-c", "import pip"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if check != 0:
        status = subprocess.call([sys.executable, "-m", "ensurepip", "--default-pip"], env=env, stdout=subprocess.DEVNULL)
        if status != 0:
            sys.stderr.write(f"get_pip: ensurepip failed for {sys.executable}\n")
            return status
    if not any(not arg.startswith("-") for arg in args):
        return 0
    return subprocess.call([sys.executable, "-m", "pip", "install", *args], env=env)


if __name__ == "__main__":
    sys.exit(main())
