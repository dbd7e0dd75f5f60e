#!/bin/bash
# Horizon: enable the default local settings, then compile translations, collect and compress
# static files, as the dashboard expects them at runtime.
# Inputs: VENV, SERVICE_USER (owns the local settings folder, where horizon keeps its
# generated secret key).
set -euo pipefail

: "${VENV:?}" "${SERVICE_USER:?}"
site=$("$VENV/bin/python" -c 'import openstack_dashboard, os; print(os.path.dirname(os.path.dirname(openstack_dashboard.__file__)))')
local_dir="$site/openstack_dashboard/local"
if [ ! -e "$local_dir/local_settings.py" ]; then
    cp "$local_dir/local_settings.py.example" "$local_dir/local_settings.py"
fi
# compress renders every {% compress %} block; with the default memcached cache and no
# memcached server, a block whose rendering touches the cache can fail, and django-compressor
# then leaves it out of the offline manifest. The build renders with an in-memory cache.
build_settings=$(mktemp -d)
cat > "$build_settings/horizon_build_settings.py" <<'PY'
from openstack_dashboard.settings import *  # noqa: F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
COMPRESS_OFFLINE = True
# The ?<hash> compress appends to url()s in CSS, of the file's content rather than of its
# modification time (collectstatic's copy time): the same build gives the same CSS.
COMPRESS_CSS_HASHING_METHOD = "content"
PY
export PYTHONPATH="$build_settings" DJANGO_SETTINGS_MODULE=horizon_build_settings
for app in horizon openstack_dashboard; do
    (cd "$site/$app" && "$VENV/bin/django-admin" compilemessages)
done
"$VENV/bin/django-admin" collectstatic --noinput --clear >/dev/null
"$VENV/bin/django-admin" compress --force
# The offline manifest lists its blocks in the order the template folders were walked, which
# depends on the filesystem: rewritten with sorted keys, the same on every build host.
manifest=$("$VENV/bin/python" -c 'from compressor.conf import settings; import os
print(os.path.join(settings.COMPRESS_ROOT, settings.COMPRESS_OUTPUT_DIR, settings.COMPRESS_OFFLINE_MANIFEST))')
"$VENV/bin/python" - "$manifest" <<'PY'
import json
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    blocks = json.load(f)
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(blocks, f, sort_keys=True)
PY
rm -rf "$build_settings"
# The build ran as root and generated a secret key: drop it, so the service user makes its
# own at first start in a folder it owns.
rm -f "$local_dir"/.secret_key_store "$local_dir"/*.secret_key_store.lock
chown "$SERVICE_USER:" "$local_dir"
echo "static files: $(find "$site/static" -type f 2>/dev/null | wc -l)"
