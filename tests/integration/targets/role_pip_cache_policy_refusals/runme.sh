#!/usr/bin/env bash
# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# The role fleet.cache.pip_cache_policy refuses policies that contradict themselves before anything changes, with a
# message naming the variable: each run must fail (exit 2) in the role's checks, and the cache and the folder a refused
# relocation names are read back unchanged. The failing runs write no JUnit of their own (their failure is the test).
set -euxo pipefail

python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/cache/http-v2/a/b/c/d/e" "$work/cache/wheels/aa/bb/cc/dd" "$work/cache/selfcheck"
head -c 1500 /dev/zero > "$work/cache/http-v2/a/b/c/d/e/abcde.body"
printf 'cc=4,meta' > "$work/cache/http-v2/a/b/c/d/e/abcde"
head -c 900 /dev/zero > "$work/cache/wheels/aa/bb/cc/dd/proj-1.0-py3-none-any.whl"
printf '{}' > "$work/cache/selfcheck/state"
touch -d '2020-01-01 00:00' "$work"/cache/http-v2/a/b/c/d/e/* "$work"/cache/wheels/aa/bb/cc/dd/*

snapshot() { (cd "$work" && find cache -printf '%p %y %s %T@\n' | sort); }
before="$(snapshot)"

cat > "$work/play.yml" <<'PLAY'
- name: A policy
  hosts: localhost
  gather_facts: true
  roles:
    - role: fleet.cache.pip_cache_policy
PLAY

refuse() {
    local message="$1" policy="$2" status=0
    env -u ANSIBLE_CALLBACKS_ENABLED -u JUNIT_OUTPUT_DIR ansible-playbook -i localhost, -c local "$work/play.yml" \
        -e "{\"ansible_python_interpreter\": \"$python\", \"pip_cache_policy_users\": \"root\", \"pip_cache_policy_environment\": {\"PIP_CACHE_DIR\": \"$work/cache\"}}" \
        -e "$policy" > "$work/out" 2>&1 || status=$?
    cat "$work/out"
    [ "$status" = 2 ]
    grep -F "TASK [fleet.cache.pip_cache_policy : Check the policy]" "$work/out"
    grep -F "$message" "$work/out"
    if grep -F "TASK [fleet.cache.pip_cache_policy : Bring the caches to the state asked for]" "$work/out"; then
        exit 1
    fi
}

refuse "pip_cache_policy_state: state=limited needs max_size, max_age or ci" '{"pip_cache_policy_state": "limited"}'
refuse "pip_cache_policy_schedule_when: hourly, daily, weekly, monthly or HH:MM (got noon)" \
    '{"pip_cache_policy_max_age": "1d", "pip_cache_policy_schedule": true, "pip_cache_policy_schedule_when": "noon"}'
refuse "pip_cache_policy_cache_dir: a cache cannot be relocated with state=disabled" \
    "{\"pip_cache_policy_state\": \"disabled\", \"pip_cache_policy_cache_dir\": \"$work/elsewhere\"}"
refuse "pip_cache_policy_cache_dir: an absolute path (got pip-cache)" '{"pip_cache_policy_state": "purged", "pip_cache_policy_cache_dir": "pip-cache"}'

[ "$(snapshot)" = "$before" ]
[ ! -e "$work/elsewhere" ]
