#!/bin/bash
# Create the virtualenv with the pinned build toolchain (pip, setuptools, wheel).
# Inputs: VENV, TOOLCHAIN (pip requirement specifiers); optional WHEELS_DIR: install the
# toolchain from that wheelhouse only (no index), as service images do.
set -euo pipefail

: "${VENV:?}" "${TOOLCHAIN:?}"
python3 -m venv "$VENV"
pip_opts=()
if [ -n "${WHEELS_DIR:-}" ]; then
    pip_opts+=(--no-index --find-links "$WHEELS_DIR")
fi
# shellcheck disable=SC2086
"$VENV/bin/pip" install "${pip_opts[@]}" $TOOLCHAIN
"$VENV/bin/pip" --version
