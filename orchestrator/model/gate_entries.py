"""The ``gate:`` list of a pipeline file: the checks its images must pass before release.

Each entry names a check and the shell command that runs it; errors name the file and the
key path (``gate[1].timeout``).
"""

from __future__ import annotations

from orchestrator.model.pipeline import GateCheck
from orchestrator.model.yamlfile import Field

GATE_KEYS = ("name", "run", "timeout")
# A check that runs a cloud takes minutes; a day is surely a mistake.
MAX_TIMEOUT = 86400


def load_gate(node: Field) -> tuple[GateCheck, ...]:
    """``gate: [{name, run, timeout}]``: at least one check, each name once."""
    checks: list[GateCheck] = []
    items = node.items()
    if not items:
        raise node.error("list at least one check, or leave 'gate' out")
    for item in items:
        m = item.mapping(GATE_KEYS, required=("name", "run"))
        name = m["name"].name()
        if any(check.name == name for check in checks):
            raise m["name"].error(f"check {name!r} is listed twice")
        checks.append(
            GateCheck(
                name=name,
                run=m["run"].string(),
                timeout=(
                    m["timeout"].integer(minimum=1, maximum=MAX_TIMEOUT)
                    if "timeout" in m
                    else GateCheck.timeout
                ),
            )
        )
    return tuple(checks)
