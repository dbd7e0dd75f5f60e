"""cinder as operators run it, from the cinder image (user ``cinder``, its configuration in
``/etc/cinder``): cinder-api served by uwsgi behind keystonemiddleware, cinder-scheduler and
cinder-volume over the scenario's RabbitMQ, on its MariaDB, migrated with ``cinder-manage db
sync``; registered in keystone as the install guide does (service ``cinderv3`` of type
``volumev3``, endpoints ``http://HOST:PORT/v3/%(project_id)s``).

cinder-volume's one backend is cinder's own ``cinder.tests.fake_driver.FakeLoggingVolumeDriver``
(the wheel in the image ships it): like nova's ``fake.FakeDriver``, no storage is touched. It
logs each call instead of running it (its LVM commands go to a fake ``execute``), reports an
infinite pool, and answers ``initialize_connection`` with an iSCSI-looking connection (no
target, no portal) that nova's fake driver takes as it is: a volume becomes ``available``, is
attached (``in-use``), detached and deleted without a volume group, a target daemon, root or
privsep.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

from openstack.connection import Connection

from tests.acceptance.serving import Served, Service, serve, start, wait_for_log

VOLUME_HOST = "cloud-block-1"
BACKEND = "fake"


def cinder_service(db_url: str, transport: str, auth: str) -> Service:
    """cinder's configuration, the same file for its three processes."""
    return Service(
        name="cinder",
        user="cinder",
        uid=42407,
        wsgi="cinder.wsgi.api:application",
        files={
            "cinder.conf": f"""\
[DEFAULT]
auth_strategy = keystone
transport_url = {transport}
state_path = /var/lib/cinder
host = {VOLUME_HOST}
my_ip = 127.0.0.1
enabled_backends = {BACKEND}
# The backend's capabilities reported every 10 s, not every minute; the scheduler waits
# 20 s at most for the first report as it starts, not a minute.
periodic_interval = 10
scheduler_driver_init_wait_time = 20
[database]
connection = {db_url}
[{BACKEND}]
volume_driver = cinder.tests.fake_driver.FakeLoggingVolumeDriver
volume_backend_name = {BACKEND}
[oslo_concurrency]
lock_path = /var/lib/cinder/lock
{auth}"""
        },
        setup=("mkdir -p /var/lib/cinder/lock",),
    )


@dataclasses.dataclass(frozen=True)
class BlockStorage:
    api: Served
    scheduler: Served
    volume: Served


@contextlib.contextmanager
def cinder(service: Service, image: str, folder: Path) -> Iterator[BlockStorage]:
    """cinder-api (its set-up migrates the database first), then cinder-volume, then
    cinder-scheduler (which asks the volume services for their capabilities as it starts),
    each a container of ``image``; all removed when the block ends."""
    api_service = dataclasses.replace(service, setup=(*service.setup, "cinder-manage db sync"))
    with (
        serve(api_service, image, folder) as api,
        start(service, image, folder, "cinder-volume") as volume,
    ):
        wait_for_log(volume, r"Driver initialization completed successfully", seconds=180)
        with start(service, image, folder, "cinder-scheduler") as scheduler:
            wait_for_log(scheduler, r"Starting cinder-scheduler node", seconds=180)
            yield BlockStorage(api=api, scheduler=scheduler, volume=volume)


def wait_until_up(admin: Connection, cinder: BlockStorage, seconds: int = 120) -> None:
    """Return once the admin sees cinder-scheduler and the backend's cinder-volume ``up``."""
    wanted = {("cinder-scheduler", VOLUME_HOST), ("cinder-volume", f"{VOLUME_HOST}@{BACKEND}")}
    deadline = time.monotonic() + seconds
    while True:
        up = {(s.binary, s.host) for s in admin.block_storage.services() if s.state == "up"}
        if wanted <= up:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"cinder services up: {sorted(up)}\n{cinder.volume.logs()}\n"
                f"{cinder.scheduler.logs()}"
            )
        time.sleep(2)
