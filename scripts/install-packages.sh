#!/bin/bash
# Install distro packages with apt, without recommends.
# Inputs: PACKAGES (space-separated; may be empty), optional APT_MIRROR and APT_MIRROR_REPLACES
# (a build-time mirror substituted for the image's own, in a temporary sources list).
set -euo pipefail

if [ -z "${PACKAGES:-}" ]; then
    echo "install-packages: nothing to install"
    exit 0
fi
# force-unsafe-io: no fsync per file; a half-written build container is thrown away anyway.
apt_opts=(-o Acquire::Retries=3 -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-unsafe-io)
if [ -n "${APT_MIRROR:-}" ] && [ -n "${APT_MIRROR_REPLACES:-}" ]; then
    tmp_sources=$(mktemp /tmp/orchestrate-sources.XXXXXX)
    sed "s|${APT_MIRROR_REPLACES%/}|${APT_MIRROR%/}|g" /etc/apt/sources.list > "$tmp_sources"
    apt_opts+=(-o "Dir::Etc::SourceList=$tmp_sources")
    trap 'rm -f "$tmp_sources"' EXIT
fi
if [ -r /run/orchestrate/ca.crt ]; then
    apt_opts+=(-o "Acquire::https::CaInfo=/run/orchestrate/ca.crt")
fi
# Lists are fetched once per container; cleanup.sh removes them before commit.
if [ ! -e /var/lib/apt/lists/orchestrate.stamp ]; then
    apt-get "${apt_opts[@]}" update
    touch /var/lib/apt/lists/orchestrate.stamp
fi
# shellcheck disable=SC2086
apt-get "${apt_opts[@]}" install -y --no-install-recommends $PACKAGES
