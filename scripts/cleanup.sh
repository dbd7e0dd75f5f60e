#!/bin/bash
# Remove what a build leaves behind: apt lists and caches, pip caches, byte-code, sources,
# temporary files.
# Inputs: optional VENV.
set -euo pipefail

apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log \
    /root/.cache /tmp/* /var/tmp/*
if [ -n "${VENV:-}" ] && [ -d "$VENV" ]; then
    find "$VENV" -name __pycache__ -type d -prune -exec rm -rf {} +
fi
find /usr/lib/python3* -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
