#!/bin/bash
# Remove what a build leaves behind: apt lists and caches, pip caches, stray byte-code, sources,
# temporary files, and what would make two builds of the same files differ.
# Inputs: optional VENV.
set -euo pipefail

apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log \
    /root/.cache /tmp/* /var/tmp/*
# Bytecode (sweep-bytecode.py): in the venv, only the checked-hash files install-project.sh
# compiled stay; in the system Python's library, only what compile-stdlib.sh compiled in the
# base. A folder the sweep empties goes too. In the same walk, uv's record of when and from
# which cache entry it installed each distribution (uv_cache.json, different in every build,
# and hashed in RECORD) goes, with its RECORD line.
system=()
for root in /usr/lib/python3*/; do system+=("${root%/}"); done
python=/usr/bin/python3
if [ -n "${VENV:-}" ] && [ -x "$VENV/bin/python" ]; then python=$VENV/bin/python; fi
if [ -x "$python" ]; then
    "$python" -I -B "$(dirname "$0")/sweep-bytecode.py" "${SOURCE_DATE_EPOCH:--1}" "${VENV:-}" \
        "${system[@]}"
else
    find /usr/lib/python3* -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
fi
# What two builds of the same files would still differ by: ldconfig's cache of inode numbers
# and times, logs of when things ran (the image is dated by its build's epoch instead).
rm -f /var/cache/ldconfig/aux-cache /var/log/alternatives.log /var/log/bootstrap.log
# A machine id a package's postinst generated (dbus's, seen in nova): random, and the base
# has none; a running container gets its own.
rm -f /etc/machine-id /var/lib/dbus/machine-id
