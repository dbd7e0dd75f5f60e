"""build-wheels.sh with pins resolved on the host (RESOLVED): it builds exactly them, and
fails unless the image's own Python resolves the same pins from the wheels it built.

Run in a container of keystone's wheels image (its builder venv has uv, its wheelhouse the
wheels), offline: pip takes the wheels from a folder, uv checks with --offline."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import ROOT, run_in

CLOSURE = ("requests", "certifi", "charset-normalizer", "idna", "urllib3")


def _build(image: str, extra: str = "", drop: str = "") -> Any:
    """build-wheels.sh for ``requests`` with its pins from the image's resolved.txt, plus
    ``extra`` (a distribution of the wheelhouse requests does not need), less ``drop``."""
    names = "|".join(n for n in (*CLOSURE, extra) if n and n != drop)
    script = (ROOT / "scripts" / "build-wheels.sh").read_text()
    shell = f"""set -e
mkdir /tmp/links
for wheel in /wheels/*.whl; do cp "$wheel" /tmp/links/; done
printf 'requests\\n' > /tmp/requirements.txt
grep -i -E '^({names})==' /wheels/resolved.txt > /tmp/pins.txt
cat > /tmp/build-wheels.sh <<'SCRIPT'
{script}
SCRIPT
export PIP_NO_INDEX=1 PIP_FIND_LINKS=/tmp/links VENV=/var/lib/openstack WHEELS_DIR=/tmp/out
export REQUIREMENTS=/tmp/requirements.txt CONSTRAINTS=/tmp/pins.txt RESOLVED=/tmp/pins.txt
bash /tmp/build-wheels.sh
"""
    return run_in(image, "bash", "-c", shell)


def _wheels_image(summary: dict[str, object]) -> str:
    nodes: list[dict[str, Any]] = summary["nodes"]  # type: ignore[assignment]
    return next(str(n["image"]) for n in nodes if n["node"] == "requirements")


def test_the_pins_resolved_on_the_host_are_built_and_checked(
    keystone_run: dict[str, object],
) -> None:
    image = _wheels_image(keystone_run)
    exact = _build(image)
    assert exact.returncode == 0, exact.stdout[-2000:] + exact.stderr[-2000:]
    assert "resolved on the host: 5 distributions" in exact.stdout
    assert "wheelhouse: 5 wheels" in exact.stdout
    # One pin more than the set needs: the image's Python does not resolve it, so no image
    # could be keyed by pins that do not describe its wheels.
    more = _build(image, "six")
    assert more.returncode == 3, more.stdout[-2000:] + more.stderr[-2000:]
    assert "ERROR: the wheel set resolved on the host is not" in more.stderr
    assert "< six==" in more.stderr
    # One pin less: the image's Python needs it and finds no wheel of it.
    fewer = _build(image, drop="idna")
    assert fewer.returncode == 3, fewer.stdout[-2000:] + fewer.stderr[-2000:]
    assert "ERROR: the wheel set resolved on the host is not" in fewer.stderr
    assert "idna" in fewer.stderr


def _install(image: str, keyed: str) -> Any:
    """install-project.sh installing ``six`` into the wheels image's builder venv from its
    wheelhouse, offline, its key holding the pins ``keyed`` names (a grep of resolved.txt)."""
    scripts = ("install-project.sh", "installed-wheels.py", "compile-bytecode.py")
    copies = "".join(
        f"cat > /tmp/scripts/{name} <<'SCRIPT'\n{(ROOT / 'scripts' / name).read_text()}SCRIPT\n"
        for name in scripts
    )
    shell = f"""set -e
mkdir /tmp/scripts
{copies}
grep -i -E '^({keyed})==' /wheels/resolved.txt > /tmp/installs.txt || true
export VENV=/var/lib/openstack WHEELS_DIR=/wheels CONSTRAINTS=/wheels/resolved.txt
export PIP_PACKAGES=six INSTALLS=/tmp/installs.txt
bash /tmp/scripts/install-project.sh
echo "recorded: $(cut -d' ' -f3 /etc/image_info/wheels.sha256 | tr '\\n' ' ')"
"""
    return run_in(image, "bash", "-c", shell)


def test_an_install_step_fails_when_it_installs_what_its_key_does_not_hold(
    keystone_run: dict[str, object],
) -> None:
    """The images installing from the wheels are keyed by the pins they install (the
    closure of their lines in the wheel set's graph): a distribution installed beyond them
    fails the step, naming it, instead of reaching an image whose key does not hold it."""
    image = _wheels_image(keystone_run)
    held = _install(image, "six")
    assert held.returncode == 0, held.stdout[-2000:] + held.stderr[-2000:]
    # The record lists the wheels the venv holds (six's among them), not the whole set.
    recorded = next(line for line in held.stdout.splitlines() if line.startswith("recorded:"))
    assert "six-" in recorded and "requests-" not in recorded
    missed = _install(image, "pbr")
    assert missed.returncode == 3, missed.stdout[-2000:] + missed.stderr[-2000:]
    assert "not among the pins the image's key holds: six" in missed.stderr
