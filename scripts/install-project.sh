#!/bin/bash
# Install the project and its pip packages into the venv from the wheels image only.
# The project's own sdist or tree is built into a wheel (its build backend also comes from the
# wheelhouse); every dependency is a binary wheel from WHEELS_DIR: no index is ever contacted.
# Then compiles the bytecode of what it installed (compile-bytecode.py: checked-hash .pyc, no
# tests) and installs the distro packages that the installed compiled wheels need at runtime
# (WHEELS_DIR/runtime-packages.txt, derived in the wheels image).
# Inputs: VENV, WHEELS_DIR, CONSTRAINTS, PROJECT (empty for the shared node: PIP_PACKAGES
# only), PROJECT_SRC (may be empty: install PROJECT from the wheelhouse), PIP_PACKAGES;
# optional PBR_VERSION for git sources; optional UV: the
# uv binary, which installs the same wheels several times faster than pip; optional
# PROJECT_ETC and ETC_DIR: copy the source's PROJECT_ETC folder (the project's default
# api-paste.ini, rootwrap files) to ETC_DIR, where the service looks for them; optional
# PROJECT_WHEEL_OUT (a folder the host stores from) and PROJECT_WHEELS (the host's cache of
# project wheels, read-only): an sdist's wheel is taken from PROJECT_WHEELS when one was built
# from the same sdist with the same build environment (project-wheel-key.py), else built and
# left in PROJECT_WHEEL_OUT/<fingerprint>/ for the host to keep; optional INSTALLS: a file of
# the pins of the wheel set the node's key holds (installed-wheels.py fails the step, exit 3,
# if it installs anything else).
set -euo pipefail

: "${VENV:?}" "${WHEELS_DIR:?}" "${CONSTRAINTS:?}"
PROJECT=${PROJECT:-}
# A wheels image keyed by its pins holds them (resolved.txt) and no upper-constraints file;
# one pulled from elsewhere (requirements.from) may hold either.
if [ ! -f "$CONSTRAINTS" ] && [ -f "$WHEELS_DIR/resolved.txt" ]; then
    CONSTRAINTS=$WHEELS_DIR/resolved.txt
fi
if [ ! -f "$CONSTRAINTS" ]; then
    echo "ERROR: the wheels image holds no constraints file ($CONSTRAINTS)" >&2
    exit 1
fi
if [ -z "$PROJECT" ] && [ -z "${PIP_PACKAGES// /}" ]; then
    echo "install-project: nothing to install" >&2
    exit 1
fi
# Also seen by the pip that installs the build backend (pbr) into the isolated build env.
export PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELS_DIR"
links=(--find-links "$WHEELS_DIR")
# The project's own pin in upper-constraints (horizon has one) would refuse any other version
# of it, e.g. a git master build: drop that line, as LOCI does.
constraints=$(mktemp)
if [ -n "$PROJECT" ]; then
    grep -v -i -E "^${PROJECT//[-_.]/[-_.]}(===|==)" "$CONSTRAINTS" > "$constraints" || true
else
    cp "$CONSTRAINTS" "$constraints"
fi
# The build environment's fingerprint (an sdist only; a tree has no sha256 to key it by).
fingerprint=""
if [ -n "${PROJECT_SRC:-}" ] && [ -f "$PROJECT_SRC" ] && [ -n "${PROJECT_WHEEL_OUT:-}" ]; then
    if [ -n "${UV:-}" ]; then
        frontend=$("$UV" --version)
    else
        frontend=$(cd "$VENV"/lib/python3*/site-packages && echo pip-*.dist-info)
    fi
    fingerprint=$("$VENV/bin/python" -I -S "$(dirname "$0")/project-wheel-key.py" \
        "$PROJECT_SRC" "$WHEELS_DIR" "$frontend") || fingerprint=""
fi
if [ -n "${PROJECT_SRC:-}" ]; then
    built=$(mktemp -d)
    cached=()
    if [ -n "$fingerprint" ] && [ -n "${PROJECT_WHEELS:-}" ]; then
        sdist_sha=$(sha256sum "$PROJECT_SRC" | cut -d' ' -f1)
        shopt -s nullglob
        cached=("$PROJECT_WHEELS/$sdist_sha/$fingerprint"/*.whl)
        shopt -u nullglob
    fi
    if [ "${#cached[@]}" -eq 1 ]; then
        cp "${cached[0]}" "$built/"
        echo "$fingerprint" > "$PROJECT_WHEEL_OUT/taken"
        echo "project wheel: ${cached[0]##*/} from the host's cache (the same sdist and" \
            "build environment, $fingerprint)"
    elif [ -n "${UV:-}" ]; then
        # uv sets up the isolated build environment (pbr, setuptools from the wheelhouse)
        # without a pip run: half the CPU of pip wheel for the same wheel.
        UV_CACHE_DIR="${TMPDIR:-/tmp}/uv-cache" UV_NO_PROGRESS=1 "$UV" build --wheel --no-index \
            --find-links "$WHEELS_DIR" --python "$VENV/bin/python" --out-dir "$built" \
            "$PROJECT_SRC"
    else
        "$VENV/bin/pip" wheel --no-deps --wheel-dir "$built" "$PROJECT_SRC"
    fi
    if [ -n "$fingerprint" ] && [ "${#cached[@]}" -ne 1 ]; then
        # For the host to keep (a pure-Python wheel only: it checks).
        mkdir -p "$PROJECT_WHEEL_OUT/$fingerprint"
        cp "$built"/*.whl "$PROJECT_WHEEL_OUT/$fingerprint/"
    fi
    # Installed by name from this folder, so pip freeze records PROJECT==VERSION, not a path.
    links+=(--find-links "$built")
fi
# What the venv holds before (its .dist-info folders, by the shell: a Python start costs
# 0.3 CPU-s): the bytecode is compiled for what this step adds.
before=$(mktemp)
for info in "$VENV"/lib/python3*/site-packages/*.dist-info; do
    if [ -d "$info" ]; then printf '%s\n' "${info##*/}"; fi
done > "$before"
if [ -n "${UV:-}" ]; then
    export UV_CACHE_DIR="${TMPDIR:-/tmp}/uv-cache" UV_LINK_MODE=copy UV_NO_PROGRESS=1
    uv_install() {
        # shellcheck disable=SC2086
        "$UV" pip install --python "$VENV/bin/python" --no-index "${links[@]}" \
            --only-binary :all: --constraint "$constraints" $PROJECT ${PIP_PACKAGES:-}
    }
    # uv 0.13.9 was seen to crash (SIGSEGV) once on its way out after a complete install; an
    # install from local wheels is idempotent, so a crash (not a failure) is tried once more.
    status=0
    uv_install || status=$?
    if [ "$status" -gt 128 ]; then
        echo "install-project: uv died of signal $((status - 128)); trying once more" >&2
        uv_install
    elif [ "$status" -ne 0 ]; then
        exit "$status"
    fi
else
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install --no-compile --no-index "${links[@]}" --only-binary :all: \
        --constraint "$constraints" $PROJECT ${PIP_PACKAGES:-}
fi
# The wheels the venv now holds, with their sha256 (the image's SBOM gives each installed
# distribution the hash of its wheel), computed once by the wheels image, or here from a
# wheels image that has no SHA256SUMS; with INSTALLS (the pins the node's key holds), the
# check that the step added nothing else (exit 3).
sums="$WHEELS_DIR/SHA256SUMS"
if [ ! -f "$sums" ]; then
    sums=$(mktemp)
    (cd "$WHEELS_DIR" && find . -maxdepth 1 -name '*.whl' -printf '%f\n' | LC_ALL=C sort \
        | xargs -r sha256sum --) > "$sums"
fi
site=$(echo "$VENV"/lib/python3*/site-packages)
PROJECT="$PROJECT" "$VENV/bin/python" -I -S "$(dirname "$0")/installed-wheels.py" "$site" \
    "$before" "$sums" /etc/image_info/wheels.sha256
# -s, not -I: -I ignores every PYTHON* variable, PYTHONHASHSEED too.
PYTHONHASHSEED=0 "$VENV/bin/python" -s "$(dirname "$0")/compile-bytecode.py" "$before"

if [ -n "${PROJECT_ETC:-}" ] && [ -n "${PROJECT_SRC:-}" ]; then
    : "${ETC_DIR:?}"
    source_root=$PROJECT_SRC
    if [ -f "$PROJECT_SRC" ]; then
        # An sdist: <name>-<version>/<PROJECT_ETC>/..., whatever its compression. A missing
        # folder is reported below, by name.
        source_root=$(mktemp -d)
        tar -xf "$PROJECT_SRC" -C "$source_root" --strip-components=1 --wildcards \
            --no-wildcards-match-slash "*/$PROJECT_ETC" 2>/dev/null || true
    fi
    if [ ! -d "$source_root/$PROJECT_ETC" ]; then
        if [ "${PROJECT_ETC_OPTIONAL:-}" = yes ]; then
            echo "the source has no folder $PROJECT_ETC: no default configuration copied"
        else
            echo "ERROR: the source has no folder $PROJECT_ETC (catalog 'config')" >&2
            exit 1
        fi
    else
        install -d -m 0755 "$ETC_DIR"
        cp -R "$source_root/$PROJECT_ETC/." "$ETC_DIR/"
        chown -R root:root "$ETC_DIR"
        chmod -R u=rwX,go=rX "$ETC_DIR"
        echo "default configuration in $ETC_DIR: $(cd "$ETC_DIR" && find . -type f | sort | tr '\n' ' ')"
    fi
fi

runtime="$WHEELS_DIR/runtime-packages.txt"
if [ -s "$runtime" ]; then
    # Read from the venv's metadata directly: a pip start costs 0.6 CPU-s.
    installed=$("$VENV/bin/python" -I -c 'from importlib import metadata
for d in metadata.distributions(): print(d.metadata["Name"])' | tr 'A-Z-' 'a-z_')
    needed=""
    while read -r dist packages; do
        norm=$(echo "$dist" | tr 'A-Z-' 'a-z_')
        if echo "$installed" | grep -qx "$norm" && [ -n "$packages" ]; then
            needed="$needed $packages"
        fi
    done < "$runtime"
    # Those the parent image (the shared node) has already are not asked for again.
    missing=""
    for package in $needed; do
        if ! dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q ' installed$'; then
            missing="$missing $package"
        fi
    done
    if [ -n "${missing// /}" ]; then
        echo "runtime packages for compiled wheels:$missing"
        PACKAGES="$missing" bash "$(dirname "$0")/install-packages.sh"
    fi
fi
