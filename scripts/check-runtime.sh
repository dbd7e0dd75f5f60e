#!/bin/bash
# Runtime completeness: every command the project's rootwrap filters and privsep code run
# is in the image (or accepted as absent by the catalog), and every configuration default
# naming a file under /etc/<project>/ finds it. Writes /etc/image_info/runtime.json.
# Inputs: VENV, PROJECT, DIST, ETC_DIR, ACCEPTED (see check-runtime.py).
set -euo pipefail

: "${VENV:?}" "${PROJECT:?}" "${DIST:?}"
exec "$VENV/bin/python" -B "$(dirname "$0")/check-runtime.py"
