#!/bin/bash
# Run one step script inside a build container.
# Loads the build-time network settings (proxies, CA bundle, pip index, apt mirror) from the
# file orchestrate mounts for the duration of the step only, so they never reach the image.
# Usage: run-step.sh SCRIPT...   (file names in this folder; several run one after the other,
# in one buildah run: each buildah run costs about 0.2 CPU-s to set up and tear down)
set -euo pipefail

here=$(dirname "$0")
step=${1:?usage: run-step.sh SCRIPT...}
if [ -r /run/orchestrate/network.env ]; then
    set -a
    # shellcheck disable=SC1091
    . /run/orchestrate/network.env
    set +a
fi
export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
export PYTHONDONTWRITEBYTECODE=1
# Scratch files on the step's own tmpfs (/run) where it has one: never in the image, and files
# written then deleted in the container's overlay cost the kernel several times more (the
# same build of keystone's wheel: 2.9 CPU-s with its scratch under /tmp, 0.9 under /run).
if [ "$(stat -f -c %T /run 2>/dev/null)" = tmpfs ]; then
    export TMPDIR=/run/orchestrate-tmp
    mkdir -p "$TMPDIR"
fi
if [ "$#" -eq 1 ]; then
    exec /bin/bash "$here/$step"
fi
for script in "$@"; do
    echo "--- $script"
    /bin/bash "$here/$script"
done
