"""What ``orchestrate diff`` reads from an image's root and how it compares two."""

from __future__ import annotations

from pathlib import Path

from orchestrator.inspection.image_diff import (
    diff_inventories,
    dpkg_packages,
    inventory,
    python_distributions,
    render,
)

STATUS = """Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u14

Package: removed-one
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2025b-0+deb12u2
Description: time zone
 and daylight-saving time data
"""


def tree(root: Path, *, version: str, config: str) -> Path:
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(STATUS.replace("2025b", version))
    site = root / "var/lib/openstack/lib/python3.11/site-packages"
    (site / "oslo_utils-9.1.0.dist-info").mkdir(parents=True)
    (site / "oslo_utils-9.1.0.dist-info/METADATA").write_text(
        "Metadata-Version: 2.1\nName: oslo.utils\nVersion: 9.1.0\n\nlong text\n"
    )
    (root / "etc/keystone").mkdir(parents=True)
    (root / "etc/keystone/keystone.conf").write_text(config)
    (root / "proc").mkdir()
    (root / "proc/ignored").write_text("a running container's")
    (root / "bin").mkdir()
    (root / "bin/sh").symlink_to("dash")
    return root


def test_only_installed_packages_count_with_their_architecture(tmp_path: Path) -> None:
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_text(STATUS)
    assert dpkg_packages(tmp_path) == {
        "libc6:amd64": "2.36-9+deb12u14",
        "tzdata": "2025b-0+deb12u2",
    }
    assert dpkg_packages(tmp_path / "absent") == {}


def test_distributions_are_named_canonically_per_site_folder(tmp_path: Path) -> None:
    root = tree(tmp_path / "a", version="2025b", config="")
    assert python_distributions(root) == {
        "oslo-utils (/var/lib/openstack/lib/python3.11/site-packages)": "9.1.0"
    }


def test_two_images_differ_by_package_version_and_file_content(tmp_path: Path) -> None:
    a = inventory(tree(tmp_path / "a", version="2025b", config="[DEFAULT]\n"))
    b = inventory(tree(tmp_path / "b", version="2026a", config="[DEFAULT]\ndebug = true\n"))
    diff = diff_inventories(a, b, names=("keystone:yesterday", "keystone:today"))
    assert not diff.identical
    assert diff.packages.changed == {"tzdata": ("2025b-0+deb12u2", "2026a-0+deb12u2")}
    assert not diff.distributions
    assert list(diff.files.changed) == ["/etc/keystone/keystone.conf", "/var/lib/dpkg/status"]
    assert "/proc/ignored" not in a.files  # mount points of a running container
    kind, mode, _, target = a.files["/bin/sh"].split()
    assert (kind, mode, target) == ("link", "0777", "dash")
    text = render(diff, limit=1)
    assert "packages: 1 differ (0 added, 0 removed, 1 changed)" in text
    assert "  ~ tzdata 2025b-0+deb12u2 -> 2026a-0+deb12u2" in text
    assert "... and 1 more (--limit 0 for all)" in text


def test_the_same_tree_twice_is_identical(tmp_path: Path) -> None:
    a = inventory(tree(tmp_path / "a", version="2025b", config="x"))
    b = inventory(tree(tmp_path / "b", version="2025b", config="x"))
    diff = diff_inventories(a, b, names=("a", "b"))
    assert diff.identical
    assert render(diff, limit=10).startswith("identical: a and b")
