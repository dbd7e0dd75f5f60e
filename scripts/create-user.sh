#!/bin/bash
# Create the service's system user and group with a fixed uid/gid.
# Inputs: SERVICE_USER, SERVICE_UID, SERVICE_GID.
set -euo pipefail

: "${SERVICE_USER:?}" "${SERVICE_UID:?}" "${SERVICE_GID:?}"
home="/var/lib/${SERVICE_USER}"
if ! getent group "$SERVICE_USER" >/dev/null; then
    groupadd --system --gid "$SERVICE_GID" "$SERVICE_USER"
fi
if ! getent passwd "$SERVICE_USER" >/dev/null; then
    useradd --system --uid "$SERVICE_UID" --gid "$SERVICE_GID" --home-dir "$home" \
        --shell /usr/sbin/nologin --no-create-home "$SERVICE_USER"
fi
install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0750 "$home" \
    "/etc/${SERVICE_USER}" "/var/log/${SERVICE_USER}"
id "$SERVICE_USER"
