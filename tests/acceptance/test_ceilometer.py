"""ceilometer-polling run from its image as the compute agent: it reads an operator's
ceilometer.conf, polling.yaml and a dynamic pollster definition, polls it (a host command) and
publishes the sample."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.acceptance.serving import Service, start, wait_for_log

METER = "acceptance.host.value"
SAMPLES = {
    "samples": [
        {
            "id": "acceptance-resource",
            "user_id": "acceptance-user",
            "project_id": "acceptance-project",
            "value": 42,
        }
    ]
}
# A dynamic pollster on a host command (no OpenStack API to discover): its JSON output is
# the sample (a JSON string is a YAML double-quoted one). Host commands poll the node the agent
# runs on (discovery local_node): the compute namespace.
POLLSTER = f"""\
---
- name: "{METER}"
  sample_type: "gauge"
  unit: "item"
  value_attribute: "value"
  response_entries_key: "samples"
  namespaces: compute
  host_command: {json.dumps("echo '" + json.dumps(SAMPLES) + "'")}
"""
CEILOMETER = Service(
    name="ceilometer",
    user="ceilometer",
    uid=42405,
    wsgi="",  # an agent: nothing to serve
    files={
        "ceilometer.conf": """\
[DEFAULT]
debug = true
host = acceptance-node
# Samples go to the notification agent over oslo.messaging: in memory here.
transport_url = fake://
[polling]
batch_size = 10
""",
        "polling.yaml": f"""\
---
sources:
  - name: acceptance_source
    interval: 600
    meters:
      - {METER}
""",
        "acceptance-pollster.yaml": POLLSTER,
    },
    # The default pollsters_definitions_dirs.
    paths={"acceptance-pollster.yaml": "/etc/ceilometer/pollsters.d/acceptance.yaml"},
)


@pytest.mark.full_stack
@pytest.mark.service("ceilometer")
def test_ceilometer_polling_polls_an_operators_dynamic_pollster(
    images: dict[str, str], workdir: Path
) -> None:
    command = "ceilometer-polling --polling-namespaces compute"
    with start(CEILOMETER, images["ceilometer"], workdir, command) as agent:
        logs = wait_for_log(agent, f"Finished polling pollster {re.escape(METER)}", 120)
    tail = logs[-6000:]
    # The operator's files were read: the pollster definition, and polling.yaml's source.
    assert f"Loading dynamic pollster [{METER}]" in logs, tail
    assert f"Polling pollster {METER} in the context of acceptance_source" in logs, tail
    # The command ran on the configured host's resource and its sample was published.
    assert re.search(r"Host command \[echo .*\] result: \[.*\"value\": 42", logs), tail
    assert "Continue after error" not in logs, tail
    assert "acceptance-node" in logs, tail  # [DEFAULT] host, the local_node resource
