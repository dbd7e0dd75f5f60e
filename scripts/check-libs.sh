#!/bin/bash
# Check that every shared library the venv's compiled extensions and programs link to
# resolves in the image.
# Inputs: VENV. Fails listing each extension with a library ldd reports "not found".
set -euo pipefail

: "${VENV:?}"
elf=$(mktemp)
trap 'rm -f "$elf"' EXIT
while IFS= read -r -d '' so; do
    # ELF files only (read by the shell itself): most executables in a venv are Python
    # scripts, and an ldd per script cost more than the libraries' checks.
    magic=""
    IFS= read -r -N 4 magic < "$so" 2>/dev/null || true
    if [ "$magic" = $'\x7fELF' ]; then
        printf '%s\0' "$so"
    fi
# Libraries that auditwheel bundles under <dist>.libs/ are found through the RPATH of the
# extension that loads them, not on their own: they are checked through those extensions.
done < <(find "$VENV" -type f \( -name '*.so*' -o -perm -u+x \) -not -path '*.libs/*' -print0) \
    > "$elf"
# One ldd for many files: ldd is a shell script, whose start cost more than the check of one
# file (keystone's 128: 0.7 s one by one, 0.3 s at once). Given several files, it names each
# before its libraries; /bin/true first makes every batch several. Its exit status says only
# that some file is not dynamically linked (a static program): the "not found" lines decide.
missing=$(xargs -0 -r ldd /bin/true < "$elf" 2>/dev/null \
    | awk '/^[^\t].*:$/ {file = substr($0, 1, length($0) - 1); next}
           /not found/ {libs[file] = libs[file] " " $1}
           END {for (file in libs) print file ":" libs[file]}' | LC_ALL=C sort) || true
if [ -n "$missing" ]; then
    while IFS= read -r line; do
        echo "ERROR: $line" >&2
    done <<< "$missing"
    echo "ERROR: shared libraries are missing from the image (add them to dist_packages)" >&2
    exit 1
fi
echo "check-libs: every shared library resolves ($(tr -cd '\0' < "$elf" | wc -c) ELF files)"
