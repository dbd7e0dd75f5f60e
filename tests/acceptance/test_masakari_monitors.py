"""masakari-processmonitor run from its image with an operator's process list: it starts each
process with its start command, finds the running one in `ps -ef` and restarts the one that is
not running with its restart command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.acceptance.serving import Service, start, wait_for_log

# The monitor itself (always running), and a process that never is: its start and restart
# commands leave marks in the state folder.
PROCESS_LIST = """\
-
    process_name: masakari-processmonitor
    start_command: "true"
    pre_start_command:
    post_start_command:
    restart_command: "true"
    pre_restart_command:
    post_restart_command:
    run_as_root: False
-
    process_name: acceptance-absent-daemon
    start_command: touch /var/lib/masakarimonitors/started
    pre_start_command:
    post_start_command:
    restart_command: touch /var/lib/masakarimonitors/restarted
    pre_restart_command:
    post_restart_command:
    run_as_root: False
"""
# The monitors read /etc/masakarimonitors (the catalog's `etc`); they run as masakari.
MASAKARI_MONITORS = Service(
    name="masakarimonitors",
    user="masakari",
    uid=42485,
    wsgi="",  # an agent: nothing to serve
    files={
        "masakarimonitors.conf": """\
[DEFAULT]
debug = true
[process]
check_interval = 2
restart_interval = 1
restart_retries = 1
""",
        "process_list.yaml": PROCESS_LIST,
    },
)


@pytest.mark.full_stack
@pytest.mark.service("masakari-monitors")
def test_masakari_processmonitor_watches_an_operators_process_list(
    images: dict[str, str], workdir: Path
) -> None:
    image = images["masakari-monitors"]
    with start(MASAKARI_MONITORS, image, workdir, "masakari-processmonitor") as monitor:
        # Not found twice: the restart command of the first round has run.
        absent = "Process 'acceptance-absent-daemon' is not found."
        logs = wait_for_log(monitor, f"(?s){re.escape(absent)}.*{re.escape(absent)}", 120)
    tail = logs[-6000:]
    assert "Restart of process with executing command: touch" in logs, tail
    assert "Process 'masakari-processmonitor' is found." in logs, tail
    assert "Start of process with executing command: touch" in logs, tail
    assert "Monitoring command raised exception" not in logs, tail
    state = workdir / "state"
    assert (state / "started").exists(), tail
    assert (state / "restarted").exists(), tail
