"""freezer-agent run from its image with an operator's job files and openrc (the keystone
image): a folder backed up to local storage (tar, gzip), then restored elsewhere, byte for
byte."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.acceptance.serving import Service, run, serve
from tests.acceptance.test_keystone import PASSWORD
from tests.acceptance.test_skyline import keystone_with

# The agent's job files (`freezer-agent --config FILE`): the same backup name and host name
# (a container's host name changes with each run) in both, so the restore finds the backup.
COMMON = """\
[default]
hostname = acceptance-node
backup_name = acceptance-backup
storage = local
container = /var/lib/freezer/backups
mode = fs
engine_name = tar
compression = gzip
log_file = /var/lib/freezer/freezer-agent.log
"""


def freezer(keystone_url: str) -> Service:
    """The agent with an operator's openrc for keystone at ``keystone_url``: every job makes
    its OpenStack clients (and authenticates) first, even one on local storage."""
    return Service(
        name="freezer",
        user="freezer",
        uid=42414,
        wsgi="",  # an agent: nothing to serve
        env={
            "OS_AUTH_URL": f"{keystone_url}/v3",
            "OS_USERNAME": "admin",
            "OS_PASSWORD": PASSWORD,
            "OS_PROJECT_NAME": "admin",
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
        },
        files={
            "backup.ini": COMMON + "action = backup\npath_to_backup = /var/lib/freezer/data/\n",
            "restore.ini": COMMON
            + "action = restore\nrestore_abs_path = /var/lib/freezer/restored/\n",
        },
    )


# Every job also makes its compute, image and block-storage proxies (openstacksdk) from the
# catalog; a local backup calls none of them: versioned catalog entries (no discovery
# needed), nothing listening behind.
CLOUD_SERVICES = [
    ("compute", "nova", "http://127.0.0.1:9/compute/v2.1"),
    ("image", "glance", "http://127.0.0.1:9/image/v2"),
    ("block-storage", "cinder", "http://127.0.0.1:9/volume/v3"),
]


FILES = {"a.txt": b"acceptance data\n", "nested/b.bin": bytes(range(256)) * 64}


@pytest.mark.full_stack
@pytest.mark.service("freezer")
@pytest.mark.service("keystone")
def test_freezer_agent_backs_up_and_restores_a_folder(
    images: dict[str, str], workdir: Path
) -> None:
    image = images["freezer"]
    # What is backed up, in the state folder (the freezer user's home), as the user's own.
    state = workdir / "state"
    for name, content in FILES.items():
        (state / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        (state / "data" / name).write_bytes(content)
    (state / "restored").mkdir()
    for path in [state, *state.rglob("*")]:
        os.chown(path, 42414, 42414)  # freezer

    def log() -> str:
        path = state / "freezer-agent.log"
        return path.read_text()[-6000:] if path.exists() else "(no log)"

    keystone_service = keystone_with(CLOUD_SERVICES)
    with serve(keystone_service, images["keystone"], workdir / "keystone") as keystone:
        agent = freezer(keystone.url)
        backup = run(agent, image, workdir, "freezer-agent --config /etc/freezer/backup.ini")
        assert backup.returncode == 0, backup.stdout + backup.stderr + log()
        assert list((state / "backups").rglob("*")), f"nothing in the storage:\n{log()}"
        restore = run(agent, image, workdir, "freezer-agent --config /etc/freezer/restore.ini")
        assert restore.returncode == 0, restore.stdout + restore.stderr + log()
    for name, content in FILES.items():
        restored = state / "restored" / name
        assert restored.exists(), f"{name} not restored:\n{log()}"
        assert restored.read_bytes() == content, name
