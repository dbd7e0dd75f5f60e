"""scripts/installed-wheels.py: the wheels an image records, and the check of what a step
installed against the pins its key holds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "installed-wheels.py"
SUMS = "".join(
    f"{c * 64}  {name}\n"
    for c, name in (
        ("a", "oslo_db-18.0.0-py3-none-any.whl"),
        ("b", "SQLAlchemy-2.0.46-cp311-cp311-manylinux_2_17_x86_64.whl"),
        ("c", "unused-1.0-py3-none-any.whl"),
    )
)


def run(
    tmp_path: Path, installs: str | None, project: str = ""
) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site-packages"
    for folder in (
        "oslo_db-18.0.0.dist-info",
        "sqlalchemy-2.0.46.dist-info",
        "keystone-1.dist-info",
    ):
        (site / folder).mkdir(parents=True, exist_ok=True)
    before = tmp_path / "before"
    before.write_text("oslo_db-18.0.0.dist-info\n")
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(SUMS)
    env = {k: v for k, v in os.environ.items() if k not in ("INSTALLS", "PROJECT")}
    env["PROJECT"] = project
    if installs is not None:
        keyed = tmp_path / "installs.txt"
        keyed.write_text("".join(f"{pin}\n" for pin in installs.split()))
        env["INSTALLS"] = str(keyed)
    out = tmp_path / "etc" / "wheels.sha256"
    argv = [sys.executable, "-I", str(SCRIPT), str(site), str(before), str(sums), str(out)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def test_the_record_holds_the_wheels_the_venv_holds(tmp_path: Path) -> None:
    done = run(tmp_path, None)
    assert done.returncode == 0, done.stderr
    record = (tmp_path / "etc" / "wheels.sha256").read_text().splitlines()
    assert [line.split()[1] for line in record] == [
        "oslo_db-18.0.0-py3-none-any.whl",
        "SQLAlchemy-2.0.46-cp311-cp311-manylinux_2_17_x86_64.whl",
    ]


def test_what_a_step_adds_must_be_among_the_keyed_pins(tmp_path: Path) -> None:
    keyed = "oslo-db==18.0.0 sqlalchemy==2.0.46"
    assert run(tmp_path, keyed, project="keystone").returncode == 0
    # sqlalchemy was added by the step and the key does not hold it: exit 3, named.
    missed = run(tmp_path, "oslo-db==18.0.0", project="keystone")
    assert missed.returncode == 3
    assert "sqlalchemy" in missed.stderr and "keystone" not in missed.stderr
    assert len(missed.stderr.strip().splitlines()) == 1
    # The project itself is built here, from its source: never a pin of the wheel set.
    assert run(tmp_path, keyed).returncode == 3
