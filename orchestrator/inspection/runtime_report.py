"""The runtime completeness report (``scripts/check-runtime.py``): what a project's rootwrap
filters, privsep code and configuration defaults name, found in the image or absent.

The check writes it into the image (``/etc/image_info/runtime.json``) and a copy into the
node's run folder, read here for the run's summary."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.planning.builder import RUNTIME_PATH, RUNTIME_REPORT

__all__ = ["RUNTIME_PATH", "RUNTIME_REPORT", "runtime_absent"]


def runtime_absent(path: Path) -> tuple[str, ...]:
    """What the report at ``path`` lists as absent (and accepted: anything else failed the
    build); none when there is no report (not a service image, or an older build)."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    absent = report.get("absent", []) if isinstance(report, dict) else []
    names = [a.get("command", "") for a in absent if isinstance(a, dict)]
    files = [
        d.get("path", "")
        for d in report.get("config_defaults", [])
        if isinstance(d, dict) and not d.get("present", True)
    ]
    return tuple(sorted({n for n in [*names, *files] if n}))
