#!/bin/bash
# Create the virtualenv with the pinned build toolchain (pip, setuptools, wheel).
# Inputs: VENV, TOOLCHAIN (pip requirement specifiers); optional WHEELS_DIR: install the
# toolchain from that wheelhouse only (no index), as service images do; optional UV: the uv
# binary to install with. Byte-code is not compiled: cleanup.sh would delete it.
set -euo pipefail

: "${VENV:?}" "${TOOLCHAIN:?}"
if [ -n "${WHEELS_DIR:-}" ] && [ -n "${UV:-}" ]; then
    export UV_CACHE_DIR="${TMPDIR:-/tmp}/uv-cache" UV_LINK_MODE=copy UV_NO_PROGRESS=1
    "$UV" venv --quiet --python /usr/bin/python3 "$VENV"
    # shellcheck disable=SC2086
    "$UV" pip install --python "$VENV/bin/python" --no-index --find-links "$WHEELS_DIR" \
        $TOOLCHAIN
elif [ -n "${WHEELS_DIR:-}" ]; then
    # pip runs straight from its wheel: no ensurepip install of the distro's pip to replace.
    pip_wheel=$(find "$WHEELS_DIR" -maxdepth 1 -name 'pip-*.whl' | sort -V | tail -n1)
    python3 -m venv --without-pip "$VENV"
    # shellcheck disable=SC2086
    "$VENV/bin/python" "$pip_wheel/pip" install --no-compile --no-index \
        --find-links "$WHEELS_DIR" $TOOLCHAIN
else
    # The distro's own pip wheel (python3-venv's, for ensurepip) runs straight from the file
    # and installs the toolchain's: ensurepip would install that pip and its setuptools into
    # the venv, only for the toolchain's to replace them (2 CPU-s more, on the critical path).
    pip_wheel=$(find /usr/share/python-wheels -maxdepth 1 -name 'pip-*.whl' 2>/dev/null \
        | sort -V | tail -n1)
    if [ -n "$pip_wheel" ]; then
        python3 -m venv --without-pip "$VENV"
        # shellcheck disable=SC2086
        "$VENV/bin/python" "$pip_wheel/pip" install --no-compile $TOOLCHAIN
    else
        python3 -m venv "$VENV"
        # shellcheck disable=SC2086
        "$VENV/bin/pip" install --no-compile $TOOLCHAIN
    fi
fi
"$VENV/bin/pip" --version
