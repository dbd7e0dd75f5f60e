"""The sbom step's lean entry point: its arguments (the document itself: test_sbom.py)."""

from __future__ import annotations

import subprocess
import sys

from orchestrator.inspection import sbom_step


def test_wrong_arguments_print_usage_and_exit_2(capsys):
    assert sbom_step.main(["ctr", "out.json", "name"]) == 2
    assert sbom_step.main(["ctr", "out.json", "name", "1.0", "no-equals-sign"]) == 2
    assert "usage: python -m orchestrator.inspection.sbom_step" in capsys.readouterr().out


def test_it_does_not_import_the_command_line():
    code = (
        "import sys, orchestrator.inspection.sbom_step; "
        "print(any(m.startswith(('click', 'orchestrator.cli')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
