#!/bin/bash
# Install distro packages with apt, without recommends.
# Inputs: PACKAGES (space-separated; may be empty), optional APT_MIRROR and APT_MIRROR_REPLACES
# (a build-time mirror substituted for the image's own, in a temporary sources list); with
# /run/orchestrate/apt-pins mounted (setting apt_pins), the recorded versions, held; with
# /run/orchestrate/apt-cache mounted (writable), the host's package cache; with
# /run/orchestrate/apt-lists mounted (read-only), the run's package lists.
# APT_LISTS_FETCH=yes: only update the package lists in /run/orchestrate/apt-lists (mounted
# writable: the host's, kept between runs, so apt downloads and parses only the suites that
# changed): what orchestrate runs once per run, in a container of the base image, before it
# copies them for every node's install-packages to read.
set -euo pipefail

lists=/run/orchestrate/apt-lists
if [ -z "${PACKAGES:-}" ] && [ "${APT_LISTS_FETCH:-}" != yes ]; then
    echo "install-packages: nothing to install"
    exit 0
fi
# force-unsafe-io: no fsync per file; a half-written build container is thrown away anyway.
# Languages=none: no Translation-en index (6 MB of the 16 MB bookworm's update fetches).
apt_opts=(-o Acquire::Retries=3 -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-unsafe-io
    -o Acquire::Languages=none)
# Under /run, the step's own tmpfs: never in the image.
if [ -n "${APT_MIRROR:-}" ] && [ -n "${APT_MIRROR_REPLACES:-}" ]; then
    tmp_sources=/run/orchestrate-sources.list
    sed "s|${APT_MIRROR_REPLACES%/}|${APT_MIRROR%/}|g" /etc/apt/sources.list > "$tmp_sources"
    apt_opts+=(-o "Dir::Etc::SourceList=$tmp_sources")
fi
# A rebuild held to the versions a build recorded (setting apt_pins).
pins=/run/orchestrate/apt-pins
if [ -r "$pins" ]; then
    bash "$(dirname "$0")/apt-pins.sh" preferences "$pins" > /run/orchestrate-preferences
    apt_opts+=(-o "Dir::Etc::Preferences=/run/orchestrate-preferences")
fi
if [ -r /run/orchestrate/ca.crt ]; then
    apt_opts+=(-o "Acquire::https::CaInfo=/run/orchestrate/ca.crt")
fi
# The .debs and apt's binary caches go to scratch (TMPDIR: the step's tmpfs, run-step.sh),
# not through the container's overlay only for cleanup.sh to delete them.
archives=/var/cache/apt/archives
if [ -n "${TMPDIR:-}" ]; then
    archives="$TMPDIR/apt-archives"
    mkdir -p "$archives/partial"
    apt_opts+=(-o "Dir::Cache::Archives=$archives/" -o "Dir::Cache::pkgcache=$TMPDIR/pkgcache.bin"
        -o "Dir::Cache::srcpkgcache=$TMPDIR/srcpkgcache.bin")
fi
if [ "${APT_LISTS_FETCH:-}" = yes ]; then
    # The lists and their parsed form (srcpkgcache.bin); the cache of what is installed
    # (pkgcache.bin) differs in every container and is made in each.
    # Error-Mode=any: a suite that cannot be fetched fails the update (apt would otherwise
    # warn, exit 0 and keep the old lists, or none, and a build would install from those).
    apt-get "${apt_opts[@]}" -o "Dir::State::Lists=$lists/" \
        -o "Dir::Cache::srcpkgcache=$lists/srcpkgcache.bin" -o Dir::Cache::pkgcache= \
        -o APT::Update::Error-Mode=any update
    echo "package lists: $(find "$lists" -maxdepth 1 -name '*_Packages*' | wc -l) indexes up to date"
    exit 0
fi
if [ -r "$lists/srcpkgcache.bin" ]; then
    # The run's lists (orchestrate fetched them once, in a container of the base image, with
    # these sources and options): read-only here, so apt must not set up folders in them.
    apt_opts+=(-o "Dir::State::Lists=$lists/" -o "Dir::Cache::srcpkgcache=$lists/srcpkgcache.bin"
        -o Debug::SetupAPTPartialDirectory::AssumeGood=true)
    echo "package lists: the run's, fetched once ($(stat -c %y "$lists/srcpkgcache.bin" | cut -c1-19))"
elif [ ! -e /var/lib/apt/lists/orchestrate.stamp ]; then
    # Lists are fetched once per container; cleanup.sh removes them before commit.
    apt-get "${apt_opts[@]}" update
    touch /var/lib/apt/lists/orchestrate.stamp
fi
# Every name must be installable in this release (a version, or a package providing it):
# name all that are not at once, where apt would stop at the first.
# One apt-cache call for all names (each call loads the whole package cache).
names=()
for pkg in $PACKAGES; do
    names+=("${pkg%%=*}")
done
declare -A candidates=()
while read -r name candidate; do
    candidates[$name]=$candidate
done < <(apt-cache "${apt_opts[@]}" policy "${names[@]}" 2>/dev/null \
    | awk '/^[^ ].*:$/ {name = substr($0, 1, length($0) - 1)} /^  Candidate:/ {print name, $2}')
missing=()
for name in "${names[@]}"; do
    candidate=${candidates[$name]:-}
    if [ -n "$candidate" ] && [ "$candidate" != "(none)" ]; then
        continue
    fi
    if apt-cache "${apt_opts[@]}" showpkg "$name" 2>/dev/null \
            | sed -n '/^Reverse Provides:/,$p' | tail -n +2 | grep -q .; then
        continue
    fi
    missing+=("$name")
done
if [ "${#missing[@]}" -gt 0 ]; then
    # shellcheck disable=SC1091
    . /etc/os-release
    echo "install-packages: not in ${ID} ${VERSION_CODENAME:-}: ${missing[*]}" \
        "(a bindep rename file maps or drops names written for another distro)" >&2
    exit 100
fi
# The host's package cache (/run/orchestrate/apt-cache, shared by every node and run): the
# .debs it has are taken after checking their sha256 against the (signed) package index, the
# others downloaded once, by one node at a time, and added. A corrupt or foreign file is
# never used; it is replaced by the download.
cache=/run/orchestrate/apt-cache
if [ -d "$cache" ] && [ -w "$cache" ]; then
    (
        flock 9
        taken=0 fetched=0
        # shellcheck disable=SC2086
        # (apt prints MD5Sum here unless asked for SHA256.)
        apt-get "${apt_opts[@]}" install -y --no-install-recommends --print-uris -qq \
                -o Acquire::ForceHash=SHA256 $PACKAGES \
            | sed -n "s/^'[^']*' \([^ ]*\) [0-9]* SHA256:\([0-9a-f]*\)$/\2  \1/p" > /run/orchestrate-debs
        while read -r sha file; do
            if [ -f "$cache/$file" ] && echo "$sha  $cache/$file" | sha256sum --check --status; then
                cp "$cache/$file" "$archives/$file"
                taken=$((taken + 1))
            fi
        done < /run/orchestrate-debs
        # Every one taken: nothing to download or add (a whole apt run spared).
        if [ "$taken" -lt "$(wc -l < /run/orchestrate-debs)" ]; then
            # shellcheck disable=SC2086
            apt-get "${apt_opts[@]}" install -y --no-install-recommends --download-only -qq $PACKAGES
            while read -r sha file; do
                if [ -f "$archives/$file" ] \
                        && ! echo "$sha  $cache/$file" | sha256sum --check --status 2>/dev/null; then
                    cp "$archives/$file" "$cache/.$file.part" && mv -f "$cache/.$file.part" "$cache/$file"
                    fetched=$((fetched + 1))
                fi
            done < /run/orchestrate-debs
        fi
        echo "package cache: $taken of $(wc -l < /run/orchestrate-debs) packages taken," \
            "$fetched downloaded and added"
    ) 9> "$cache/.lock"
fi
# shellcheck disable=SC2086
apt-get "${apt_opts[@]}" install -y --no-install-recommends $PACKAGES
if [ -r "$pins" ]; then
    bash "$(dirname "$0")/apt-pins.sh" check "$pins"
fi
