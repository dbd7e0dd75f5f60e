#!/bin/bash
# Check that every shared library the venv's compiled extensions and programs link to
# resolves in the image.
# Inputs: VENV. Fails listing each extension with a library ldd reports "not found".
set -euo pipefail

: "${VENV:?}"
missing=0
while IFS= read -r -d '' so; do
    # ELF files only (read by the shell itself): most executables in a venv are Python
    # scripts, and an ldd per script cost more than the libraries' checks.
    magic=""
    IFS= read -r -N 4 magic < "$so" 2>/dev/null || true
    if [ "$magic" != $'\x7fELF' ]; then
        continue
    fi
    if ldd "$so" 2>/dev/null | grep -q "not found"; then
        echo "ERROR: $so: $(ldd "$so" | awk '/not found/ {print $1}' | tr '\n' ' ')" >&2
        missing=1
    fi
# Libraries that auditwheel bundles under <dist>.libs/ are found through the RPATH of the
# extension that loads them, not on their own: they are checked through those extensions.
done < <(find "$VENV" -type f \( -name '*.so*' -o -perm -u+x \) -not -path '*.libs/*' -print0)
if [ "$missing" -ne 0 ]; then
    echo "ERROR: shared libraries are missing from the image (add them to dist_packages)" >&2
    exit 1
fi
echo "check-libs: every shared library resolves"
