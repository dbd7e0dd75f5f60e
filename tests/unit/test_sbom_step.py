"""The sbom step's lean entry point: its arguments (the document itself: test_sbom.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from orchestrator.inspection import sbom_step
from orchestrator.inspection.image_files import read_root


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


def test_the_wheel_records_are_kept_as_in_the_image_and_a_stale_copy_removed(tmp_path):
    root, documents = tmp_path / "root", tmp_path / "documents"
    record = root / "etc/image_info/wheels.sha256"
    record.parent.mkdir(parents=True)
    record.write_text(f"{'a' * 64}  keystone-29.1.0-py3-none-any.whl\n")
    stale = documents / "wheels/SHA256SUMS"  # an earlier attempt's, of a file now absent
    stale.parent.mkdir(parents=True)
    stale.write_text("old\n")

    sbom_step.keep_documents(root, documents)

    assert (documents / "etc/image_info/wheels.sha256").read_text() == record.read_text()
    assert not stale.exists()
    assert read_root(documents).wheels_record == read_root(root).wheels_record != {}


def test_run_is_settled_but_never_made_or_followed_out_of_the_image(tmp_path):
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    os.utime(root / "run", (0, 0))
    sbom_step.settle_run(root)
    assert (root / "run").stat().st_mtime > 0
    # touch -c: an image without /run gets none.
    bare = tmp_path / "bare"
    bare.mkdir()
    sbom_step.settle_run(bare)
    assert not (bare / "run").exists()
    # A link is followed as the image sees it: relative, or absolute from the image's root.
    for target in ("var/run", "/var/run"):
        linked = tmp_path / f"linked-{len(target)}"
        (linked / "var" / "run").mkdir(parents=True)
        os.utime(linked / "var" / "run", (0, 0))
        (linked / "run").symlink_to(target)
        sbom_step.settle_run(linked)
        assert (linked / "var" / "run").stat().st_mtime > 0, target
    # Never to the host's own folders: an absolute path is the image's, ".." stops at its root.
    outside = tmp_path / "outside"
    outside.mkdir()
    os.utime(outside, (0, 0))
    for target in (str(outside), "../outside", "../../../outside"):
        escaping = tmp_path / f"escaping-{len(target)}"
        escaping.mkdir()
        (escaping / "run").symlink_to(target)
        sbom_step.settle_run(escaping)
        assert outside.stat().st_mtime == 0, target
    # Links that loop give up.
    looping = tmp_path / "looping"
    looping.mkdir()
    (looping / "run").symlink_to("/run")
    sbom_step.settle_run(looping)
    assert sbom_step.in_image(looping, "/run") is None
