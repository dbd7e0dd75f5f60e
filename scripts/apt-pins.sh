#!/bin/bash
# Hold apt to the package versions a build recorded (setting apt_pins, as 'orchestrate verify'
# gives them), so a rebuild installs exactly those or fails naming what the mirror no longer
# serves, instead of silently installing newer versions.
# Usage:
#   apt-pins.sh preferences PINS        apt preferences (Pin-Priority 1001: chosen, even a
#                                       downgrade) for every 'package=version' line of PINS
#   apt-pins.sh check PINS [ROOT]       after installing: every recorded package installed
#                                       in ROOT (default /) must be at its recorded version
set -euo pipefail

mode=${1:?usage: apt-pins.sh preferences|check PINS [ROOT]}
pins=${2:?usage: apt-pins.sh preferences|check PINS [ROOT]}
root=${3:-/}

case "$mode" in
    preferences)
        # Packages of another architecture are written name:arch by dpkg; apt pins by name.
        awk -F= 'NF >= 2 && $1 != "" {
            name = $1; sub(/:.*/, "", name); version = substr($0, length($1) + 2)
            printf "Package: %s\nPin: version %s\nPin-Priority: 1001\n\n", name, version
        }' "$pins" ;;
    check)
        installed=$(mktemp)
        trap 'rm -f "$installed"' EXIT
        dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Package}=${Version}\n' \
            | LC_ALL=C sort -t= -k1,1 > "$installed"
        # Recorded packages installed here at another version. (Packages the recorded image
        # does not hold are not judged: build dependencies removed before its commit.)
        report=$(LC_ALL=C sort -t= -k1,1 "$pins" | LC_ALL=C join -t= -o 0,1.2,2.2 \
            "$installed" - | awk -F= '$2 != $3 { printf " %s %s (recorded %s);", $1, $2, $3 }')
        if [ -n "$report" ]; then
            echo "apt-pins: installed versions differ from the recorded build's, so this" \
                "rebuild cannot be identical (the mirror no longer serves them?):${report%;}" >&2
            exit 101
        fi
        echo "apt-pins: $(wc -l < "$installed") packages at their recorded versions" ;;
    *)
        echo "apt-pins: unknown mode $mode (preferences or check)" >&2
        exit 2 ;;
esac
