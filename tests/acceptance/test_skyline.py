"""skyline-apiserver served from its image by gunicorn's uvicorn workers, in front of the
keystone and neutron images: its OpenAPI document, public config and regions, then a login
through keystone and the profile and settings (its own database) read back with the session
cookie."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import requests

from tests.acceptance.serving import Service, serve, site_packages, start, wait_for_http
from tests.acceptance.test_keystone import KEYSTONE, PASSWORD
from tests.acceptance.test_neutron import NEUTRON

# An operator's gunicorn.py: the shipped one (etc/gunicorn.py) bound to a TCP port instead of
# a unix socket, one worker, its logs to the console instead of /var/log/skyline files.
GUNICORN = """\
bind = "127.0.0.1:{port}"
workers = 1
worker_class = "uvicorn.workers.UvicornWorker"
timeout = 300
keepalive = 5
proc_name = "skyline"
accesslog = "-"
errorlog = "-"
loglevel = "debug"
"""


def skyline(keystone_url: str, site: str) -> Service:
    """skyline for keystone at ``keystone_url``, its site-packages ``site``. Its system user
    (the one it reads the catalog and projects with) is keystone's admin here."""
    return Service(
        name="skyline",
        user="skyline",
        uid=42491,
        wsgi="skyline_apiserver.main:app",  # ASGI: served by gunicorn (start()), not uwsgi
        files={
            "gunicorn.py": GUNICORN,
            "skyline.yaml": f"""\
default:
  debug: true
  database_url: sqlite:////var/lib/skyline/skyline.db
  log_dir: /var/lib/skyline
  log_file: skyline.log
  secret_key: acceptance-not-secret-acceptance-not-secret
  ssl_enabled: false
openstack:
  keystone_url: {keystone_url}/v3/
  default_region: RegionOne
  interface_type: public
  system_user_name: admin
  system_user_domain: Default
  system_user_password: {PASSWORD}
  system_project: admin
  system_project_domain: Default
""",
        },
        # The schema, as kolla's bootstrap does (`make db_sync`: alembic upgrade head).
        setup=(f"alembic -c {site}/skyline_apiserver/db/alembic/alembic.ini upgrade head",),
    )


# keystone's API does not take a second catalog write on SQLite under uwsgi's threads
# ("database is locked"): add services to the catalog before it serves, with keystone's own
# catalog API, as keystone-manage bootstrap adds the identity service.
CATALOG = """\
python - <<'EOF'
import uuid

import keystone.conf
from keystone.common import provider_api, sql
from keystone.server import backends

keystone.conf.configure()
sql.initialize()
keystone.conf.CONF([], project="keystone")
backends.load_backends()
catalog = provider_api.ProviderAPIs.catalog_api
for kind, name, url in {services}:
    service = {{"id": uuid.uuid4().hex, "type": kind, "name": name, "enabled": True}}
    catalog.create_service(service["id"], service)
    endpoint = {{
        "id": uuid.uuid4().hex,
        "service_id": service["id"],
        "interface": "public",
        "region_id": "RegionOne",
        "url": url,
        "enabled": True,
    }}
    catalog.create_endpoint(endpoint["id"], endpoint)
EOF"""


def keystone_with(services: list[tuple[str, str, str]]) -> Service:
    """The keystone of test_keystone with ``services`` ((type, name, public URL)) in its
    catalog, in RegionOne."""
    step = CATALOG.format(services=repr(services))
    return dataclasses.replace(KEYSTONE, setup=(*KEYSTONE.setup, step))


@pytest.mark.full_stack
@pytest.mark.service("skyline")
@pytest.mark.service("keystone")
@pytest.mark.service("neutron")
def test_skyline_serves_its_api_and_logs_in_through_keystone(
    images: dict[str, str], workdir: Path
) -> None:
    image = images["skyline"]
    with serve(NEUTRON, images["neutron"], workdir / "neutron") as neutron:
        # A login reads the catalog's network endpoint (skyline lists neutron's extensions).
        keystone_service = keystone_with([("network", "neutron", neutron.url)])
        with serve(keystone_service, images["keystone"], workdir / "keystone") as keystone:
            service = skyline(keystone.url, site_packages(image))
            command = "gunicorn -c /etc/skyline/gunicorn.py skyline_apiserver.main:app"
            with start(service, image, workdir / "skyline", command) as api:
                wait_for_http(api, "/api/v1/openapi.json")

                def logs() -> str:  # gunicorn's, then skyline's own (log_dir)
                    own = workdir / "skyline/state/skyline.log"
                    return api.logs() + (own.read_text()[-6000:] if own.exists() else "")

                openapi = requests.get(f"{api.url}/api/v1/openapi.json", timeout=30)
                assert openapi.status_code == 200, logs()
                assert openapi.json()["info"]["title"] == "Skyline API"
                assert {"/api/v1/login", "/api/v1/profile"} <= set(openapi.json()["paths"])
                config = requests.get(f"{api.url}/api/v1/config", timeout=30)
                assert config.status_code == 200, logs()
                assert config.json() == {"default_domain": "Default"}
                regions = requests.get(f"{api.url}/api/v1/contrib/regions", timeout=60)
                assert regions.status_code == 200, f"{regions.text}\n{logs()}"
                assert regions.json() == ["RegionOne"]  # keystone's catalog, as skyline's user
                refused = requests.get(f"{api.url}/api/v1/profile", timeout=30)
                assert refused.status_code == 401, logs()

                credential = {"domain": "Default", "username": "admin", "password": PASSWORD}
                session = requests.Session()
                login = session.post(f"{api.url}/api/v1/login", json=credential, timeout=60)
                assert login.status_code == 200, f"{login.text}\n{logs()}\n{keystone.logs()}"
                profile = login.json()
                assert profile["user"]["name"] == "admin"
                assert profile["project"]["name"] == "admin"
                assert profile["version"].startswith("8.0"), profile["version"]
                assert profile["endpoints"]["keystone"] == "/api/openstack/regionone/keystone"
                assert profile["endpoints"]["neutron"] == "/api/openstack/regionone/neutron"
                assert "session" in session.cookies
                again = session.get(f"{api.url}/api/v1/profile", timeout=60)
                assert again.status_code == 200, f"{again.text}\n{logs()}"
                assert again.json()["user"]["id"] == profile["user"]["id"]
                settings = session.get(f"{api.url}/api/v1/settings", timeout=30)
                assert settings.status_code == 200, f"{settings.text}\n{logs()}"
                keys = {s["key"] for s in settings.json()["settings"]}
                assert {"flavor_families", "gpu_models", "usb_models"} <= keys, settings.text
    assert (workdir / "skyline/state/skyline.db").stat().st_size > 0
