"""What the benchmarks share: the CPU-seconds of the processes they waited for, one command
run and timed, and a folder removed with the image storage built under it."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds() -> float:
    """User + sys seconds of every child process waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(
    label: str, argv: list[str], env: dict[str, str], *, width: int = 52
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in the checkout; print its wall time, CPU-seconds and exit code (and its
    output's tail when it failed)."""
    cpu, started = cpu_seconds(), time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.monotonic() - started, cpu_seconds() - cpu
    print(f"{label:<{width}}{wall:>8.1f} s{cpu:>9.1f} CPU-s  exit {proc.returncode}", flush=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc


def remove_with_storage(folder: Path) -> None:
    """Remove ``folder``, first emptying the image storage of ``folder/storage`` (a
    ``storage_root``) if there is one."""
    conf = folder / "storage" / "storage.conf"
    if conf.is_file():
        env = dict(os.environ, CONTAINERS_STORAGE_CONF=str(conf))
        for argv in (["buildah", "rm", "--all"], ["buildah", "rmi", "--all", "--force"]):
            subprocess.run(argv, env=env, capture_output=True, check=False)
    shutil.rmtree(folder, ignore_errors=True)
