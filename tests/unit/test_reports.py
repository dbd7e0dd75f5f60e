"""The machine-readable results: the JSON summary against its schema, and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from orchestrator.model.results import Attempt, NodeResult, RunResult
from orchestrator.model.states import Status
from orchestrator.reporting import summary
from orchestrator.reporting.junit import to_junit, write_junit

SCHEMA = summary.SCHEMA_PATH
ORDER = ["base", "requirements", "keystone", "nova", "glance", "octavia"]


def a_run() -> RunResult:
    def tries(start: float, *ends: float, error: str = "") -> tuple[Attempt, ...]:
        out, begin = [], start
        for n, end in enumerate(ends, 1):
            out.append(Attempt(number=n, started=begin, finished=end, error=error))
            begin = end
        return tuple(out)

    result = RunResult(run_id="20261126-120000-abcd", started=1000.0, finished=1300.0)
    for r in (
        NodeResult(
            node="base",
            status=Status.REUSED,
            attempts=tries(1000, 1000.2),
            reason="cache key matches",
            image="ns/base:k",
            image_id="sha256:b" * 2,
            size=178_000_000,
            log_path="/s/base.log",
        ),
        NodeResult(
            node="requirements",
            status=Status.BUILT,
            attempts=tries(1000.2, 1080),
            reason="no earlier build",
            image="ns/req:k",
            image_id="sha256:r",
            size=794_000_000,
            log_path="/s/requirements.log",
        ),
        NodeResult(
            node="keystone",
            status=Status.FAILED,
            attempts=tries(1001, 1050, 1100),
            image="ns/keystone:k",
            log_path="/s/keystone.log",
            error="step 'smoke' exited 1 (log: /s/keystone.log)",
            error_tail="\x1b[31mTraceback\x1b[0m\nImportError: no module named ldap",
        ),
        NodeResult(node="nova", status=Status.SKIPPED, reason="parent failed: requirements"),
        NodeResult(
            node="glance",
            status=Status.CANCELLED,
            attempts=tries(1001, 1200),
            reason="interrupted",
            image="ns/glance:k",
            log_path="/s/glance.log",
        ),
        NodeResult(
            node="octavia", status=Status.CANCELLED, reason="run cancelled before it started"
        ),
    ):
        result.results[r.node] = r
    return result


def test_summary_json_validates_against_its_documented_schema(tmp_path: Path) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    document = summary.to_json(a_run(), ORDER, pipeline="p.yaml", log_dir=Path("/s"))
    path = tmp_path / "summary.json"
    summary.write_json(path, document)
    jsonschema.validate(json.loads(path.read_text()), schema)
    assert [n["node"] for n in document["nodes"]] == ORDER
    broken = dict(document, nodes=[dict(document["nodes"][0], status="done")])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_junit_has_one_testcase_per_node_and_parses(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(path, to_junit(a_run(), ORDER, suite="orchestrate.full-stack"))
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (
        suite.get("tests"),
        suite.get("failures"),
        suite.get("skipped"),
        suite.get("errors"),
    ) == ("6", "1", "1", "2")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == ORDER
    failure = cases["keystone"].find("failure")
    assert failure is not None and "ImportError: no module named ldap" in (failure.text or "")
    assert "\x1b" not in path.read_text()
    assert cases["keystone"].get("time") == "99.000"
    skipped = cases["nova"].find("skipped")
    assert skipped is not None and skipped.get("message") == "parent failed: requirements"
    assert cases["base"].find("failure") is None and cases["base"].find("skipped") is None
    out = cases["requirements"].find("system-out")
    assert out is not None and "log: /s/requirements.log" in (out.text or "")


def test_what_the_runtime_check_accepted_as_absent_is_in_the_summary(tmp_path: Path) -> None:
    from orchestrator.inspection.runtime_report import runtime_absent

    report = tmp_path / "runtime.json"
    report.write_text(
        json.dumps(
            {
                "absent": [{"command": f"mm{i}", "accepted": True} for i in range(10)],
                "config_defaults": [
                    {"path": "/etc/cinder/nfs_shares", "present": False},
                    {"path": "/etc/cinder/api-paste.ini", "present": True},
                ],
            }
        )
    )
    absent = runtime_absent(report)
    assert absent[0] == "/etc/cinder/nfs_shares" and len(absent) == 11
    assert runtime_absent(tmp_path / "none.json") == ()
    result = a_run()
    base = result.results["requirements"]
    result.results["requirements"] = NodeResult(
        node=base.node, status=base.status, attempts=base.attempts, absent=absent
    )
    text = summary.table(result, ORDER)
    assert "requirements: absent, as its catalog entry accepts: /etc/cinder/nfs_shares, " in text
    assert "and 3 more" in text
    document = summary.to_json(result, ORDER, pipeline="p.yaml", log_dir=Path("/s"))
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    assert document["nodes"][1]["absent"] == list(absent)
