#!/bin/bash
# Build the wheelhouse: a wheel for every planned requirement under upper-constraints.
# Inputs: VENV, WHEELS_DIR, REQUIREMENTS (file), CONSTRAINTS (file).
# Fails naming the distributions that could not be built.
set -euo pipefail

: "${VENV:?}" "${WHEELS_DIR:?}" "${REQUIREMENTS:?}" "${CONSTRAINTS:?}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$VENV/bin/pip" wheel --wheel-dir "$WHEELS_DIR" --requirement "$REQUIREMENTS" \
    --constraint "$CONSTRAINTS" 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
    failed=$(sed -n -e 's/.*Failed to build \(.*\)$/\1/p' \
        -e 's/.*Building wheel for \([^ ]*\) .*error.*/\1/p' \
        -e 's/.*No matching distribution found for \(.*\)$/\1/p' \
        -e 's/.*Could not find a version that satisfies the requirement \([^ ]*\).*/\1/p' \
        "$log" | sort -u | tr '\n' ' ')
    echo "ERROR: could not build wheels for: ${failed:-see the pip output above}" >&2
    exit "$status"
fi
count=$(find "$WHEELS_DIR" -maxdepth 1 -name '*.whl' | wc -l)
echo "wheelhouse: $count wheels in $WHEELS_DIR"
