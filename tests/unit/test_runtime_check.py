"""The runtime completeness check's reading of rootwrap filters and privsep code (pure logic;
the check itself runs in every service build, see the integration suite)."""

from __future__ import annotations

import importlib.util
import os
import stat
from pathlib import Path
from types import ModuleType

from tests.conftest import ROOT


def load_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_runtime", ROOT / "scripts/check-runtime.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = load_check()

FILTERS = """\
# nova-rootwrap command filters for compute nodes
[Filters]
mkfs: CommandFilter, mkfs, root
ip: IpFilter, ip, root
cat_proc: ReadFileFilter, /proc/net/dev
kill_dnsmasq: KillFilter, root, /usr/sbin/dnsmasq, -9, -HUP
ovs: EnvFilter, env, root, OVS_RUNDIR=, ovs-vsctl
iscsiadm: CommandFilter, /sbin/iscsiadm, root
regexp: RegExpFilter, lvs, root, lvs, --noheadings
"""


def test_every_filter_kind_names_the_command_rootwrap_runs(tmp_path: Path) -> None:
    path = tmp_path / "compute.filters"
    path.write_text(FILTERS)
    assert check.filter_commands(path) == [
        ("mkfs", "mkfs"),
        ("ip", "ip"),
        ("cat", "cat_proc"),
        ("kill", "kill_dnsmasq"),
        ("env", "ovs"),
        ("ovs-vsctl", "ovs"),
        ("/sbin/iscsiadm", "iscsiadm"),
        ("lvs", "regexp"),
    ]


def test_a_command_is_found_by_path_else_by_name_in_exec_dirs(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "iscsiadm"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    dirs = [str(bin_dir)]
    # rootwrap runs /sbin/iscsiadm from exec_dirs when that path does not exist.
    assert check.locate("/nonexistent/iscsiadm", dirs) == str(tool)
    assert check.locate("iscsiadm", dirs) == str(tool)
    assert check.locate("multipath", dirs) == ""
    (bin_dir / "plain").write_text("not executable")
    assert check.locate("plain", dirs) == ""


def test_exec_dirs_come_from_rootwrap_conf_and_the_venv(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    venv = tmp_path / "venv"
    assert check.exec_dirs(etc, venv)[-1] == str(venv / "bin")
    (etc / "rootwrap.conf").write_text("[DEFAULT]\nexec_dirs=/sbin,/opt/x/bin\n")
    assert check.exec_dirs(etc, venv) == ["/sbin", "/opt/x/bin", str(venv / "bin")]


PRIVSEP = """\
import oslo_privsep
from oslo_concurrency import processutils

@sys_admin_pctxt.entrypoint
def mkfs(fs, path):
    processutils.execute('mkfs', '-t', fs, path)
    processutils.execute('env', 'LC_ALL=C', 'blkid', path)
    processutils.execute(*cmd)
    processutils.execute(command_name, path)
    processutils.trycmd('/usr/sbin/cryptsetup', 'status')
    processutils.execute('not a command; rm -rf')
"""


def test_privsep_commands_are_the_literals_given_to_execute(tmp_path: Path) -> None:
    module = tmp_path / "proj" / "privsep" / "fs.py"
    module.parent.mkdir(parents=True)
    module.write_text(PRIVSEP)
    other = tmp_path / "proj" / "api.py"
    other.write_text("processutils.execute('ignored-outside-privsep')\n")

    class Dist:
        files = (Path("proj/privsep/fs.py"), Path("proj/api.py"))

        def locate_file(self, name: Path) -> str:
            return os.path.join(tmp_path, name)

    found = [c for c, _ in check.privsep_commands(Dist())]
    assert found == ["mkfs", "blkid", "/usr/sbin/cryptsetup"]
