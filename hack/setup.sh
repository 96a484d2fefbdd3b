#!/usr/bin/env bash
# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Set up the controller virtualenv (.venv/) and build + install the collection (.build/).
#
#   hack/setup.sh          controller tools (requirements/controller.txt)
#   hack/setup.sh --test   also the test and lint tools (requirements/test.txt), and Chromium (hack/chromium.sh)
#
# Idempotent and quick when nothing changed: the venv is keyed by the interpreter's path and a hash
# of the requirements files, the collection build by a hash of the files git sees.
# Progress goes to stderr; nothing is printed on stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
BUILD="$ROOT/.build"
COPY="$BUILD/ansible_collections/fleet/cache"
INSTALLED="$BUILD/collections"

WITH_TEST=0
for arg in "$@"; do
    case "$arg" in
        --test) WITH_TEST=1 ;;
        -h | --help)
            sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "setup: unknown argument: $arg (use --test or nothing)" >&2
            exit 2
            ;;
    esac
done

say() { echo "setup: $*" >&2; }
die() {
    echo "setup: ERROR: $*" >&2
    exit 1
}

# Run a command quietly, keeping its output in a log that is shown when it fails.
quiet() {
    local log="$1"
    shift
    if ! "$@" >"$log" 2>&1; then
        grep -v 'is neither a file nor a directory' "$log" | tail -n 40 >&2 || true
        die "failed: $* (full log: $log)"
    fi
}

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# --- 1. an interpreter that can run hack/pythons.py (any Python >= 3.7) -------------------------
bootstrap_python() {
    local candidate
    for candidate in "$(command -v python3 || true)" /usr/bin/python3 /usr/local/bin/python3 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/python3; do
        if [ -z "$candidate" ] || [ ! -x "$candidate" ]; then
            continue
        fi
        if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 7) else 1)' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

# ansible-core pinned for Python X.Y in requirements/controller.txt (the line whose marker names it).
pinned_core() {
    local minor="$1"
    grep -E "^ansible-core==[^ ;]+ *; *python_version *== *[\"']${minor}[\"']" "$ROOT/requirements/controller.txt" | sed -E 's/^ansible-core==([^ ;]+).*/\1/' | sed -n 1p || true
}

# --- 2. the controller Python: newest >= 3.12, else newest >= 3.10 -------------------------------
find_controller() {
    local boot py
    boot="$(bootstrap_python)" || die "no working python3 (>= 3.7) to start from; install Python >= 3.12 (on PATH or in ~/.pyenv/versions)"
    if py="$("$boot" "$ROOT/hack/pythons.py" --min 3.12)"; then
        echo "$py"
        return 0
    fi
    if py="$("$boot" "$ROOT/hack/pythons.py" --min 3.10)"; then
        local minor core
        minor="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        core="$(pinned_core "$minor")"
        say "no Python >= 3.12 found: using Python $minor ($py) with ansible-core ${core:-?}; ansible-core 2.21 needs Python 3.12+" >&2
        echo "$py"
        return 0
    fi
    die "no Python >= 3.10 found on PATH or in ${PYENV_ROOT:-$HOME/.pyenv}/versions (found: $("$boot" "$ROOT/hack/pythons.py" | cut -d' ' -f1 | tr '\n' ' ')). Install Python >= 3.12 (ansible-core 2.21's controller minimum; 3.10/3.11 get an older ansible-core), e.g. 'pyenv install 3.13'."
}

CONTROLLER="$(find_controller)"

# --- 3. the virtualenv ---------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.stamp-python" 2>/dev/null || true)" != "$CONTROLLER" ] || ! "$VENV/bin/python" -c '' 2>/dev/null; then
    say "creating .venv with $CONTROLLER"
    rm -rf "$VENV"
    mkdir -p "$BUILD"
    quiet "$BUILD/venv-create.log" "$CONTROLLER" -m venv "$VENV"
    echo "$CONTROLLER" >"$VENV/.stamp-python"
fi

REQS=("$ROOT/requirements/controller.txt")
STAMP="$VENV/.stamp-controller"
if [ "$WITH_TEST" = 1 ]; then
    REQS+=("$ROOT/requirements/test.txt")
    STAMP="$VENV/.stamp-test"
fi
WANT="$( (echo "$CONTROLLER"; cat "${REQS[@]}") | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
    say "installing $(basename -a "${REQS[@]}" | tr '\n' ' ')into .venv"
    PIP_ARGS=(install --disable-pip-version-check --no-input)
    for req in "${REQS[@]}"; do PIP_ARGS+=(-r "$req"); done
    quiet "$VENV/pip-install.log" "$VENV/bin/python" -m pip "${PIP_ARGS[@]}"
    echo "$WANT" >"$STAMP"
fi

# --- 4. the collection: a clean copy, built and installed ---------------------------------------
DIGEST="$(hash_of "$VENV/.stamp-python")-$("$VENV/bin/python" "$ROOT/hack/tree.py" digest)"
if [ "$(cat "$BUILD/.stamp-collection" 2>/dev/null || true)" != "$DIGEST" ] || [ ! -f "$INSTALLED/ansible_collections/fleet/cache/MANIFEST.json" ]; then
    say "building and installing the collection into .build/collections"
    mkdir -p "$COPY"
    "$VENV/bin/python" "$ROOT/hack/tree.py" sync "$COPY" >/dev/null
    rm -f "$BUILD"/fleet-cache-*.tar.gz
    quiet "$BUILD/galaxy-build.log" "$VENV/bin/ansible-galaxy" collection build --force --output-path "$BUILD" "$COPY"
    TARBALL="$(ls "$BUILD"/fleet-cache-*.tar.gz)"
    rm -rf "$INSTALLED/ansible_collections/fleet/cache"
    quiet "$BUILD/galaxy-install.log" env ANSIBLE_COLLECTIONS_PATH="$INSTALLED" "$VENV/bin/ansible-galaxy" collection install --force --no-deps -p "$INSTALLED" "$TARBALL"
    echo "$DIGEST" >"$BUILD/.stamp-collection"
fi

# --- 5. tests only: a headless Chromium for the HTML report test (never fails the set-up) --------
if [ "$WITH_TEST" = 1 ]; then
    "$ROOT/hack/chromium.sh"
fi
