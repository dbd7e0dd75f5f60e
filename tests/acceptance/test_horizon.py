"""horizon served from its image with production settings: the login page and every static
file it references answer 200."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve, site_packages

# An operator's local settings: production mode, offline compression as built, the simplest
# real cache (in memory) instead of a memcached server.
LOCAL_SETTINGS = """\
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
COMPRESS_OFFLINE = True
SECRET_KEY = "acceptance-not-secret"
OPENSTACK_KEYSTONE_URL = "http://127.0.0.1:5000/v3"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
"""


def horizon(site: str) -> Service:
    """horizon as an operator serves it, for an image whose site-packages is ``site``."""
    return Service(
        name="horizon",
        user="horizon",
        uid=42420,
        wsgi="openstack_dashboard.wsgi:application",
        files={"local_settings.py": LOCAL_SETTINGS},
        # Where horizon reads an operator's settings (its wsgi module fixes the module).
        paths={"local_settings.py": f"{site}/openstack_dashboard/local/local_settings.py"},
        uwsgi=("--static-map", f"/static={site}/static"),
        ready_path="/auth/login/",
    )


# Its set-up builds horizon's wheels and image (~3 minutes cold): nox -s acceptance, not the
# default run, whose 15 minutes the gate's keystone test needs more.
@pytest.mark.full_stack
@pytest.mark.service("horizon")
def test_horizon_serves_the_login_page_and_its_static_files(
    images: dict[str, str], workdir: Path
) -> None:
    image = images["horizon"]
    with serve(horizon(site_packages(image)), image, workdir) as served:
        page = requests.get(f"{served.url}/auth/login/", timeout=30)
        assert page.status_code == 200, served.logs()
        assert 'name="username"' in page.text
        assets = sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)))
        assert any("/static/dashboard/" in a for a in assets), assets  # compressed bundles
        for asset in assets:
            answer = requests.get(f"{served.url}{asset}", timeout=30)
            assert answer.status_code == 200, asset
