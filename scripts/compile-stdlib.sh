#!/bin/bash
# Checked-hash bytecode (PEP 552) for the system Python's own library: the standard library
# and /usr/lib/python3/dist-packages, in place of the timestamp bytecode dpkg wrote there.
# Run once, in the base node. Timestamp bytecode is stale in an image whose files all carry the
# build's date, so every Python start in every image (each build step, each service process)
# compiled the standard library modules it imports anew; checked-hash files are validated
# against the source's hash, not its date, and are the same in two builds (one process,
# files in path order, PYTHONHASHSEED=0). cleanup.sh keeps them and removes any other .pyc.
# Inputs: none.
set -euo pipefail

python=/usr/bin/python3
if [ ! -x "$python" ]; then
    echo "compile-stdlib: no $python in this image: nothing to compile"
    exit 0
fi
roots=()
for root in /usr/lib/python3*/; do
    roots+=("${root%/}")
done
# dpkg's timestamp bytecode goes first: compile-bytecode.py leaves tests out, and a stale file
# there would be removed by a later node's cleanup (a whiteout in its layer).
find "${roots[@]}" -name __pycache__ -type d -prune -exec rm -rf {} +
# -s, not -I: -I ignores every PYTHON* variable, PYTHONHASHSEED too.
PYTHONHASHSEED=0 "$python" -s "$(dirname "$0")/compile-bytecode.py" --tree "${roots[@]}"
