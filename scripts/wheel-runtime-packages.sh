#!/bin/bash
# Derive the distro packages that the locally compiled wheels need at runtime.
# For each wheel built here (platform tag linux_*, not manylinux, whose libraries are bundled),
# list the shared libraries its extensions and programs (uwsgi ships one) link to and the Debian package owning each one.
# Writes WHEELS_DIR/runtime-packages.txt: "<distribution> <package> <package>..." per line.
# Inputs: VENV, WHEELS_DIR.
set -euo pipefail

: "${VENV:?}" "${WHEELS_DIR:?}"
out="$WHEELS_DIR/runtime-packages.txt"
: > "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for wheel in "$WHEELS_DIR"/*-linux_*.whl; do
    [ -e "$wheel" ] || continue
    dist=$(basename "$wheel" | cut -d- -f1)
    rm -rf "${work:?}"/*
    "$VENV/bin/python" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
        "$wheel" "$work"
    # Every file: zipfile does not keep the exec bit, and ldd skips what is not ELF.
    packages=$(find "$work" -type f -print0 \
        | xargs -0 -r ldd 2>/dev/null \
        | awk '/=> \// {print $3}' | sort -u \
        | xargs -r -n1 readlink -f \
        | xargs -r dpkg -S 2>/dev/null \
        | cut -d: -f1 | sort -u \
        | grep -v -E '^(libc6|libgcc-s1|libstdc\+\+6)$' | tr '\n' ' ' || true)
    echo "$dist $packages" >> "$out"
    echo "runtime packages for $dist: ${packages:-none}"
done
