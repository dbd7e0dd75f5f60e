#!/bin/bash
# Build the wheelhouse: a wheel for every planned requirement under upper-constraints.
# With uv in the venv (toolchain.uv pinned), uv resolves the whole set in seconds and the
# exact pins (WHEELS_DIR/resolved.txt) are fetched or built by parallel 'pip wheel --no-deps'
# runs; without it, one 'pip wheel' resolves and builds sequentially.
# Inputs: VENV, WHEELS_DIR, REQUIREMENTS (file), CONSTRAINTS (file); optional PIP_INDEX_URL,
# PIP_EXTRA_INDEX_URL, WHEEL_JOBS (parallel pip runs, default one per CPU and one more),
# BINARY (any: binary wheels where the index has them; none: every wheel built from its sdist;
# only-pinned: from sdists except ONLY_BINARY, comma-separated names), PREVIOUS_WHEELS (a
# wheelhouse to take the wheels of unchanged pins from). pip checks every download against the
# index's published sha256. Optional RESOLVED (a file of name==version pins, resolved by
# orchestrate on the host): exactly those are fetched or built, with no resolution here but a
# check that they are the whole resolution for this image's Python (with uv, offline, from the
# wheels built).
# Fails naming the distributions that could not be resolved or built.
set -euo pipefail

: "${VENV:?}" "${WHEELS_DIR:?}" "${REQUIREMENTS:?}" "${CONSTRAINTS:?}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
resolved="$WHEELS_DIR/resolved.txt"
binary_opts=()  # pip's
uv_binary_opts=()  # the same for uv's resolution: a version with no sdist is no candidate
case "${BINARY:-any}" in
    any) ;;
    none)
        binary_opts=(--no-binary :all:)
        uv_binary_opts=(--no-binary :all:) ;;
    only-pinned)
        binary_opts=(--no-binary :all: --only-binary "${ONLY_BINARY:?}")
        uv_binary_opts=(--no-binary :all:)
        IFS=, read -r -a allowed <<< "$ONLY_BINARY"
        for name in "${allowed[@]}"; do uv_binary_opts+=(--only-binary "$name"); done ;;
    *) echo "ERROR: BINARY=$BINARY is not any, none or only-pinned" >&2; exit 2 ;;
esac
# Wheels compiled here come out the same in every build: no debug info, which names the
# random folder pip builds in (-g0, and the linker drops what a build adding its own -g
# after ours, as uwsgi's does, still produced), and build dates from SOURCE_DATE_EPOCH (set
# by orchestrate; uwsgi embeds its build date, bdist_wheel dates the archive's entries).
export CFLAGS="${CFLAGS:-} -g0" CXXFLAGS="${CXXFLAGS:-} -g0"
export LDFLAGS="${LDFLAGS:-} -Wl,--strip-debug"
if [ "${#binary_opts[@]}" -gt 0 ]; then
    # From sources, every isolated build environment builds its backends (setuptools, pbr,
    # wheel, flit-core, hatchling...) from their sdists too. pip's wheel cache (keyed by the
    # sdist's URL and hash, and honoured with --no-binary since pip 23.1) builds each once
    # per wheels build instead of once per distribution. It lives under TMPDIR (the step's
    # tmpfs, see run-step.sh): not in the image.
    unset PIP_NO_CACHE_DIR
    export PIP_CACHE_DIR="${TMPDIR:-/tmp}/pip-build-cache"
    trap 'rm -f "$log"; rm -rf "$PIP_CACHE_DIR"' EXIT
    # Those environments get the toolchain's setuptools and wheel, not the index's newest:
    # a setup.py that still imports pkg_resources (xstatic's) builds, and every build uses
    # the same backend.
    mkdir -p "$PIP_CACHE_DIR"
    build_constraints="$PIP_CACHE_DIR/build-constraints.txt"
    "$VENV/bin/pip" list --format=freeze | grep -i -E '^(setuptools|wheel)==' \
        > "$build_constraints" || true
    if "$VENV/bin/pip" wheel --help | grep -q -- --build-constraint; then
        binary_opts+=(--build-constraint "$build_constraints")
    else
        echo "note: pip $("$VENV/bin/pip" --version | cut -d' ' -f2) has no --build-constraint" \
            "(25.3 and later): build environments take the index's newest setuptools"
    fi
fi
# PREVIOUS_WHEELS: the wheelhouse of the previous wheels image, built on the same base with
# the same toolchain and binary policy. A pin whose wheel is there is copied, not downloaded
# or built again; the pins file ($1) keeps only the others. Names and versions are compared
# as wheel file names write them (PEP 427: lower case, runs of -_. as one _).
reuse_previous() {
    "$VENV/bin/python" - "$1" "$PREVIOUS_WHEELS" "$WHEELS_DIR" <<'PY'
import re
import shutil
import sys
from pathlib import Path

pins, previous, wheels = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])


def norm(text: str) -> str:
    return re.sub(r"[-_.]+", "_", text).lower()


have = {}
for wheel in previous.glob("*.whl"):
    name, version = wheel.name.split("-")[:2]
    have.setdefault((norm(name), version.replace("-", "_")), wheel)
left, reused = [], 0
for pin in pins.read_text().splitlines():
    name, _, version = pin.partition("==")
    version = version.split(";")[0].strip().replace("-", "_")
    wheel = have.get((norm(name), version)) if version else None
    if wheel is None:
        left.append(pin)
        continue
    shutil.copy2(wheel, wheels / wheel.name)
    reused += 1
pins.write_text("".join(f"{pin}\n" for pin in left))
print(f"reused {reused} wheels of the previous wheels image; {len(left)} to fetch or build")
PY
}
# Fetch or build the wheel of every pin of the file $1 by parallel 'pip wheel --no-deps' runs,
# after copying those the previous wheels image has (the file keeps only the others). One run
# per job, each given an equal share of the pins, dealt in turn so that the sdists to compile
# spread over the runs: each pip run costs about 1.3 CPU-s more than the downloads it makes
# (the full stack's 260 wheels: 29 CPU-s in 22 runs of 12, 12 in 3 runs of 87).
build_pins() {
    if [ -n "${PREVIOUS_WHEELS:-}" ] && [ -d "$PREVIOUS_WHEELS" ]; then
        reuse_previous "$1" || return
    fi
    local jobs=${WHEEL_JOBS:-$(( $(nproc) + 1 ))} shares
    shares=$(mktemp -d)
    awk -v jobs="$jobs" -v dir="$shares" 'NF {print > (dir "/" (n++ % jobs) ".txt")}' "$1"
    find "$shares" -name '*.txt' -print0 | xargs -0 -r -P "$jobs" -I{} "$VENV/bin/pip" wheel \
        --no-deps "${binary_opts[@]}" --wheel-dir "$WHEELS_DIR" --requirement {}
}
# The pins as name==version, names in one spelling (PEP 503), sorted: to compare two lists.
pins_of() {
    grep -v -e '^#' -e '^[[:space:]]*$' "$1" \
        | awk -F'==' '{n = tolower($1); gsub(/[-_.]+/, "-", n); print n "==" $2}' | LC_ALL=C sort
}
if [ -n "${RESOLVED:-}" ]; then
    # Resolved on the host before planning (orchestrate's key holds these pins): fetch or
    # build exactly them, then check with the image's own Python that they are the whole
    # resolution of REQUIREMENTS, nothing missing and nothing more.
    if [ ! -x "$VENV/bin/uv" ]; then
        echo "ERROR: RESOLVED needs uv in the builder venv (toolchain.uv)" >&2
        exit 2
    fi
    echo "resolved on the host: $(pins_of "$RESOLVED" | wc -l) distributions"
    todo=$(mktemp)
    grep -v -e '^#' -e '^[[:space:]]*$' "$RESOLVED" > "$todo"
    build_pins "$todo" 2>&1 | tee "$log" || status=$?
    if [ "$status" -eq 0 ]; then
        check=$(mktemp)
        mismatch="ERROR: the wheel set resolved on the host is not what this image's Python"
        if ! UV_CACHE_DIR="${TMPDIR:-/tmp}/uv-cache" "$VENV/bin/uv" pip compile --offline \
                --no-index --find-links "$WHEELS_DIR" --python "$VENV/bin/python" --no-header \
                --no-annotate --quiet --constraint "$RESOLVED" --output-file "$check" \
                "$REQUIREMENTS" > "$todo" 2>&1; then
            # It needs a distribution the host's pins lack (no wheel of it was built).
            echo "$mismatch resolves from the wheels: $(grep -v '^[[:space:]]*$' "$todo" \
                | tail -n 4 | tr -s ' \n' ' ')" >&2
            exit 3
        fi
        if ! diff <(pins_of "$RESOLVED") <(pins_of "$check") > "$todo"; then
            echo "$mismatch resolves from the wheels (< host, > image):" \
                "$(grep -e '^<' -e '^>' "$todo" | tr '\n' ' ')" >&2
            exit 3
        fi
        rm -f "$check" "$todo"
    fi
elif [ -x "$VENV/bin/uv" ]; then
    uv_opts=(--python "$VENV/bin/python" --no-header --no-annotate --quiet)
    if [ -n "${PIP_INDEX_URL:-}" ]; then uv_opts+=(--index-url "$PIP_INDEX_URL"); fi
    for url in ${PIP_EXTRA_INDEX_URL:-}; do uv_opts+=(--extra-index-url "$url"); done
    export UV_CACHE_DIR="${TMPDIR:-/tmp}/uv-cache"
    "$VENV/bin/uv" pip compile "${uv_opts[@]}" "${uv_binary_opts[@]}" --constraint "$CONSTRAINTS" \
        --output-file "$resolved" "$REQUIREMENTS" 2>&1 | tee "$log" || status=$?
    if [ "$status" -eq 0 ]; then
        echo "resolved $(grep -c '==' "$resolved") distributions with uv"
        todo=$(mktemp)
        grep -v -e '^#' -e '^$' "$resolved" > "$todo"
        build_pins "$todo" 2>&1 | tee -a "$log" || status=$?
    fi
else
    "$VENV/bin/pip" wheel "${binary_opts[@]}" --wheel-dir "$WHEELS_DIR" \
        --requirement "$REQUIREMENTS" --constraint "$CONSTRAINTS" 2>&1 | tee "$log" || status=$?
fi
if [ "$status" -ne 0 ]; then
    failed=$(sed -n -e 's/.*Failed to build \(.*\)$/\1/p' \
        -e 's/.*Building wheel for \([^ ]*\) .*error.*/\1/p' \
        -e 's/.*No matching distribution found for \(.*\)$/\1/p' \
        -e 's/.*Could not find a version that satisfies the requirement \([^ ]*\).*/\1/p' \
        -e 's/.*Because \([^ ]*\) was not found in the package registry.*/\1/p' \
        -e 's/.*Because there are no versions of \([^ ]*\) .*/\1/p' \
        "$log" | tr -d "'" | sort -u | tr '\n' ' ')
    echo "ERROR: could not build wheels for: ${failed:-see the output above}" >&2
    if grep -q -e 'crates\.io' -e 'index\.crates' "$log"; then
        echo "ERROR: building Rust code fetches crates from crates.io, which is unreachable:" \
            "allow it (or a crates mirror), or list those distributions in" \
            "requirements.only_binary with 'binary: only-pinned'" >&2
    fi
    exit "$status"
fi
count=$(find "$WHEELS_DIR" -maxdepth 1 -name '*.whl' | wc -l)
echo "wheelhouse: $count wheels in $WHEELS_DIR"
# The sha256 of every wheel, once, for each service's SBOM (install-project.sh copies it).
(cd "$WHEELS_DIR" && find . -maxdepth 1 -name '*.whl' -printf '%f\n' | LC_ALL=C sort \
    | xargs -r sha256sum --) > "$WHEELS_DIR/SHA256SUMS"
