#!/usr/bin/env bash
# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# The job the role fleet.cache.pip_cache_policy schedules: the role installs the job's launcher and the engine's
# archive (into a test folder only root can change; the job written into a test folder, not activated), then
# job.py starts the job as cron, systemd or launchd would and reads back from disk that the launcher refuses to start
# on whatever someone other than root could change (naming the path and why, exit 1, no cache touched), runs when
# nothing is, and never runs a .pth file others could write. job.py prints each check's outcome.
set -euxo pipefail

python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$python" "$here/job.py" vars "$work" "$python" > "$work/vars.json"
cat > "$work/install.yml" <<'PLAY'
---
- name: Install the scheduled job's launcher and engine
  hosts: all
  gather_facts: false
  roles:
    - role: fleet.cache.pip_cache_policy
PLAY
ansible-playbook -i localhost, -c local "$work/install.yml" -e "@$work/vars.json"

status=0
"$python" "$here/job.py" refusals "$work" "$python" || status=1
"$python" "$here/job.py" pth "$work" "$python" || status=1
exit "$status"
