"""The SBOM a real build writes into its images, checked against CycloneDX's schema and
against what the image holds."""

from __future__ import annotations

import json
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.integration.conftest import orchestrate, run_in


def test_each_image_carries_a_valid_sbom_of_what_it_holds(
    keystone_run: dict[str, object], state_dir: Path
) -> None:
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    # The session's images by their key tags (a release tag may move under another build).
    images = {n["node"]: n["image"] for n in keystone_run["nodes"]}  # type: ignore[attr-defined]
    documents = {}
    for node in ("base", "requirements", "keystone"):
        image = images[node]
        shown = run_in(image, "cat", "/etc/image_info/sbom.cdx.json")
        assert shown.returncode == 0, shown.stderr
        assert validator.validate_str(shown.stdout) is None, node
        documents[node] = json.loads(shown.stdout)
    keystone = {c["name"]: c for c in documents["keystone"]["components"]}
    # The project, by the sdist's sha256; a distribution with its wheel's; a dpkg package.
    project = next(c for c in documents["keystone"]["components"] if c["bom-ref"] == "project")
    assert project["hashes"][0]["content"] == (
        "9090a34976c48b518dec21d73260d3af76029c05bd40bfe2cb097dfd7d343bc1"
    )
    assert keystone["oslo-utils"]["hashes"][0]["alg"] == "SHA-256"
    assert keystone["libc6"]["purl"].startswith("pkg:deb/debian/libc6@")
    freeze = run_in(images["keystone"], "/var/lib/openstack/bin/pip", "freeze")
    pinned = dict(line.split("==") for line in freeze.stdout.split() if "==" in line)
    assert keystone["oslo-utils"]["version"] == pinned["oslo.utils"]
    wheels = [c for c in documents["requirements"]["components"] if c["type"] == "file"]
    assert len(wheels) > 90 and all(c["hashes"] for c in wheels)
    # Derived from the image, not typed: generated again from the committed image, the same.
    props = {
        p["name"]: p["value"] for p in documents["keystone"]["metadata"]["component"]["properties"]
    }
    again = orchestrate(
        "sbom", images["keystone"], "--name", "keystone", "--version",
        documents["keystone"]["metadata"]["component"]["version"],
        *(a for k, v in props.items() for a in ("--property", f"{k.split(':', 1)[1]}={v}")),
        state_dir=state_dir,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == documents["keystone"]
