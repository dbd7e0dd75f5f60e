"""``--junit FILE``: the run as JUnit XML, one testcase per node, for Jenkins, GitLab and Zuul.

Built and reused nodes pass; a failed node carries its error and log tail in ``<failure>``; a
skipped node is ``<skipped>`` with its reason; a cancelled node is an ``<error>`` (the run did
not finish). Every testcase names its log in ``<system-out>``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.files import write_atomically
from orchestrator.model.results import RunResult
from orchestrator.model.states import Status

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def to_junit(result: RunResult, order: list[str], *, suite: str) -> ET.Element:
    """The run as a ``<testsuites>`` document with one ``<testsuite>`` named ``suite``."""
    nodes = [r for node in order if (r := result.results.get(node)) is not None]
    wall = (result.finished or result.started) - result.started
    root = ET.Element("testsuites", name="orchestrate", time=f"{wall:.3f}")
    testsuite = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(nodes)),
        failures=str(sum(r.status is Status.FAILED for r in nodes)),
        errors=str(sum(r.status is Status.CANCELLED for r in nodes)),
        skipped=str(sum(r.status is Status.SKIPPED for r in nodes)),
        time=f"{wall:.3f}",
        timestamp=_iso(result.started),
    )
    ET.SubElement(
        ET.SubElement(testsuite, "properties"), "property", name="run_id", value=result.run_id
    )
    for r in nodes:
        case = ET.SubElement(
            testsuite, "testcase", classname=suite, name=r.node, time=f"{r.duration:.3f}"
        )
        if r.status is Status.FAILED:
            failure = ET.SubElement(case, "failure", message=_xml_text(r.error), type="BuildFailed")
            failure.text = _xml_text(r.error_tail or r.error)
        elif r.status is Status.SKIPPED:
            ET.SubElement(case, "skipped", message=r.reason or "skipped")
        elif r.status is Status.CANCELLED:
            ET.SubElement(case, "error", message=r.reason or "cancelled", type="Cancelled")
        out = [f"{r.status.value}" + (f" ({r.reason})" if r.reason else "")]
        if r.image_id:
            out.append(f"image: {r.image} ({r.image_id[:12]})")
        if r.log_path:
            out.append(f"log: {r.log_path}")
        ET.SubElement(case, "system-out").text = _xml_text("\n".join(out))
    ET.indent(root)
    return root


def write_junit(path: Path, root: ET.Element) -> None:
    """Write the document atomically."""
    body = ET.tostring(root, encoding="unicode")
    write_atomically(path, f'<?xml version="1.0" encoding="utf-8"?>\n{body}\n')


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _xml_text(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (terminal escapes in a tool's output)."""
    return _NOT_XML.sub("", text)
