#!/bin/bash
# Horizon's acceptance check, run as the service user in a throwaway container of the
# committed image before it is tagged: with production settings (DEBUG off, offline
# compression on, as an operator runs it), the login page renders (every compressed block it
# uses is in the offline manifest written at build time) and every static file it references
# is in the image.
# Inputs: VENV.
set -euo pipefail

: "${VENV:?}"
settings=$(mktemp -d)
trap 'rm -rf "$settings"' EXIT
cat > "$settings/horizon_check_settings.py" <<'PY'
from openstack_dashboard.settings import *  # noqa: F403

DEBUG = False
COMPRESS_ENABLED = True
COMPRESS_OFFLINE = True
ALLOWED_HOSTS = ["*"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PY
PYTHONPATH="$settings" DJANGO_SETTINGS_MODULE=horizon_check_settings "$VENV/bin/python" - <<'PY'
import os
import re
import sys

import django

django.setup()
from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

response = Client(raise_request_exception=True).get("/auth/login/")
if response.status_code != 200:
    sys.exit(f"check-horizon: GET /auth/login/ answered {response.status_code}")
page = response.content.decode()
urls = sorted(set(re.findall(r'(?:href|src)="(%s[^"?#]+)' % re.escape(settings.STATIC_URL), page)))
missing = [
    url for url in urls
    if not os.path.isfile(os.path.join(settings.STATIC_ROOT, url[len(settings.STATIC_URL):]))
]
if not urls or missing:
    sys.exit(f"check-horizon: static files missing from the image: {missing or 'none referenced'}")
compressed = [u for u in urls if "/dashboard/" in u]
print(f"check-horizon: login page 200, {len(urls)} static files ({len(compressed)} compressed)")
PY
