#!/usr/bin/env bash
# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# `make test`: set up (hack/setup.sh --test), then every test stage (hack/run_tests.py).
# Keeps going after a failed stage; the last line is "N passed, N failed, N skipped";
# exits non-zero when anything failed. See README.md, "Testing".
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

echo "== setup"
start=$SECONDS
if ! "$ROOT/hack/setup.sh" --test; then
    echo "   setup failed: no test could run (see the messages above)"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
fi
echo "   -> .venv ($("$ROOT/.venv/bin/python" -c "import sys, ansible.release as r; print(\"Python %s, ansible-core %s\" % (sys.version.split()[0], r.__version__))")) and .build/collections ready ($((SECONDS - start))s)"

exec "$ROOT/.venv/bin/python" "$ROOT/hack/run_tests.py" "$@"
