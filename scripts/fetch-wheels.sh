#!/bin/bash
# Fill the wheels folder from a package index another build published (orchestrate wheels
# export, or any PEP 503 index): exactly the pinned versions, binary wheels only, no
# dependencies resolved here. pip checks every file against the index's #sha256= fragment.
# Inputs: VENV (the builder venv with pip), WHEELS_DIR, WHEELS_INDEX (URL), PINS (the
# name==version file, already in WHEELS_DIR).
set -euo pipefail

: "${VENV:?}" "${WHEELS_DIR:?}" "${WHEELS_INDEX:?}" "${PINS:?}"
"$VENV/bin/pip" download --no-deps --only-binary :all: --no-cache-dir \
    --index-url "$WHEELS_INDEX" --dest "$WHEELS_DIR" --requirement "$PINS"
count=$(find "$WHEELS_DIR" -maxdepth 1 -name '*.whl' | wc -l)
echo "fetch-wheels: $count wheels from $WHEELS_INDEX"
# The sha256 of every wheel, once, for each service's SBOM (install-project.sh copies it).
(cd "$WHEELS_DIR" && find . -maxdepth 1 -name '*.whl' -printf '%f\n' | LC_ALL=C sort \
    | xargs -r sha256sum --) > "$WHEELS_DIR/SHA256SUMS"
