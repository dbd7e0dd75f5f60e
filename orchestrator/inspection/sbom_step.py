"""The ``sbom`` step of every node: the SBOM of a working container, written to a file.

The same document as ``orchestrate sbom --container``, through a lean entry point: a build
runs it once per node, and the whole command line (click, every command's modules) cost three
times the modules this needs (0.67 against 0.24 CPU-s to start, measured 2026-12-07).

Usage: ``python -m orchestrator.inspection.sbom_step CONTAINER OUTPUT NAME VERSION
[KEY=VALUE ...]`` (the properties).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from orchestrator.engine.runner import ShRunner
from orchestrator.engine.storage import Storage
from orchestrator.files import write_atomically
from orchestrator.inspection.sbom import sbom_json

MODULE = "orchestrator.inspection.sbom_step"


def main(args: Sequence[str]) -> int:
    if len(args) < 4 or any("=" not in prop for prop in args[4:]):
        print(f"usage: python -m {MODULE} CONTAINER OUTPUT NAME VERSION [KEY=VALUE ...]")
        return 2
    container, output, name, version = args[:4]
    props = dict(prop.split("=", 1) for prop in args[4:])
    with Storage(ShRunner()).mounted_container(container) as root:
        text = sbom_json(root, name=name, version=version, properties=props)
    write_atomically(Path(output), text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
