#!/bin/bash
# Run one step script inside a build container.
# Loads the build-time network settings (proxies, CA bundle, pip index, apt mirror) from the
# file orchestrate mounts for the duration of the step only, so they never reach the image.
# Usage: run-step.sh SCRIPT   (SCRIPT is a file name in this folder)
set -euo pipefail

here=$(dirname "$0")
step=${1:?usage: run-step.sh SCRIPT}
if [ -r /run/orchestrate/network.env ]; then
    set -a
    # shellcheck disable=SC1091
    . /run/orchestrate/network.env
    set +a
fi
export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
export PYTHONDONTWRITEBYTECODE=1
exec /bin/bash "$here/$step"
