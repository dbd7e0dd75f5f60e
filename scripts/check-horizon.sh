#!/bin/bash
# Horizon's acceptance check, run as the service user in a throwaway container of the
# committed image before it is tagged:
# - the client library of the image's default cache backend imports (PyMemcacheCache needs
#   pymemcache);
# - with production local settings (DEBUG off, offline compression on, as an operator runs
#   it), the login page renders in every theme the image offers: every compressed block it
#   uses is in the offline manifest written at build time;
# - every static file the page references is in the image.
# The throwaway container's local_settings.py is replaced for the check (the service user
# owns that folder); the image keeps its own.
# Inputs: VENV.
set -euo pipefail

: "${VENV:?}"
export DJANGO_SETTINGS_MODULE=openstack_dashboard.settings
"$VENV/bin/python" -c 'import django; django.setup()
from django.core.cache import caches
caches["default"]  # imports the backend and its client library
print("check-horizon: default cache backend", type(caches["default"]).__name__, "loads")'

local_dir=$("$VENV/bin/python" -c 'import openstack_dashboard, os; print(os.path.join(os.path.dirname(openstack_dashboard.__file__), "local"))')
production=$(mktemp -p "$local_dir" .check-XXXXXX)
cat > "$production" <<'PY'
DEBUG = False
ALLOWED_HOSTS = ["*"]
COMPRESS_ENABLED = True
COMPRESS_OFFLINE = True
SECRET_KEY = "check-horizon"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PY
mv -f "$production" "$local_dir/local_settings.py"

"$VENV/bin/python" - <<'PY'
import os
import re
import sys

import django

django.setup()
from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

static = settings.STATIC_URL
checked = set()
for theme, _label, _path in settings.AVAILABLE_THEMES:
    client = Client(raise_request_exception=True)
    client.cookies[settings.THEME_COOKIE_NAME] = theme
    response = client.get("/auth/login/")  # a block missing from the manifest raises
    if response.status_code != 200:
        sys.exit(f"check-horizon: GET /auth/login/ ({theme}) answered {response.status_code}")
    urls = set(re.findall(r'(?:href|src)="(%s[^"?#]+)' % re.escape(static), response.content.decode()))
    missing = sorted(
        u for u in urls if not os.path.isfile(os.path.join(settings.STATIC_ROOT, u[len(static):]))
    )
    if not urls or missing:
        sys.exit(f"check-horizon: {theme}: static files missing: {missing or 'none referenced'}")
    checked |= urls
    print(f"check-horizon: login page ({theme} theme) 200, {len(urls)} static files present")
print(f"check-horizon: {len(checked)} static files in all")
PY
