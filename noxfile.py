"""Sessions: tests (unit, integration, keystone acceptance, the cloud's backing services),
unit, integration, acceptance (all thirty services served), cloud (the images together on
MariaDB, RabbitMQ and memcached behind keystone), multiarch (amd64 and arm64 behind one tag,
served), scale_out (registry hand-off between build hosts, the GitLab export under
gitlab-ci-local), provenance (the full stack released with signed provenance, each node
verified), carry_over, reproducible (bit-identical rebuilds), lint, typecheck, docs (the
documentation site: generated pages checked, mkdocs build --strict into site/, opened in
headless Chromium), full_stack, rebuilds, scale_out_bench, wheels_elsewhere, bench."""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True

LINT_DEPS = ["ruff==0.17.6"]
# The documentation site (nox -s docs): mkdocs and its Material theme, pinned.
DOCS_DEPS = ["mkdocs==1.6.1", "mkdocs-material==9.8.2"]
LINTED = ("orchestrator", "tests", "benchmarks", "docs", "noxfile.py")
# Runs the GitLab export (nox -s scale_out): 4.65 is the last release for Node 20 (Debian 12's).
GITLAB_CI_LOCAL = "gitlab-ci-local@4.65.0"
TYPE_DEPS = ["mypy==2.4.1", "types-PyYAML"]


@nox.session
def tests(session: nox.Session) -> None:
    """Unit, integration, the keystone acceptance tests (real buildah) and the cloud
    scenario's backing services."""
    session.install("-e", ".[test]")
    session.run(
        "pytest",
        "-m",
        "(cloud_fast or not cloud) and not full_stack and not scale_out and not carry_over"
        " and not reproducible and not multiarch and not security_updates"
        " and not provenance_release and not rebuild_chain and not proxy_rebuild",
        "--durations=12",  # the slowest tests, for keeping the run under 15 minutes
        "tests",
        *session.posargs,
    )


@nox.session
def unit(session: nox.Session) -> None:
    """Unit tests only: no buildah, no network."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "not integration", "tests/unit", *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    """Integration tests only (real buildah, root, network to PyPI and the Debian mirror)."""
    session.install("-e", ".[test]")
    session.run(
        "pytest",
        "-m",
        "integration and not scale_out and not carry_over and not reproducible and not multiarch"
        " and not security_updates and not provenance_release",
        "tests/integration",
        *session.posargs,
    )


@nox.session
def acceptance(session: nox.Session) -> None:
    """Every service of pipelines/loci-all.yaml (the thirty) served from its image and
    driven by real clients (after `orchestrate build pipelines/loci-all.yaml`, whose images it
    reuses; else it builds them)."""
    session.install("-e", ".[test]")
    session.env.setdefault("ORCHESTRATE_ACCEPTANCE_NAMESPACE", "localhost/orchestrate")
    session.run(
        "pytest", "-m", "acceptance and not multiarch", "tests/acceptance", *session.posargs
    )


@nox.session
def cloud(session: nox.Session) -> None:
    """The images together on a private MariaDB, RabbitMQ and memcached, every API behind
    keystone (tests/cloud; reuses the images `orchestrate build pipelines/loci-all.yaml`
    made, else builds them)."""
    session.install("-e", ".[test]")
    session.env.setdefault("ORCHESTRATE_ACCEPTANCE_NAMESPACE", "localhost/orchestrate")
    session.run("pytest", "-m", "cloud", "tests/cloud", *session.posargs)


@nox.session
def scale_out(session: nox.Session) -> None:
    """Build hosts sharing work through a TLS registry, the GitLab CI export run by
    gitlab-ci-local, and a registry refusing pushes then resume pushing what was built (real
    pulls, builds and pushes: minutes)."""
    session.install("-e", ".[test]")
    if shutil.which("npm") is None:  # gitlab-ci-local runs on Node (Debian's nodejs)
        session.run("apt-get", "install", "-y", "-qq", "nodejs", "npm", external=True)
    ca = "/etc/ssl/certs/ca-certificates.crt"
    env = {"NODE_EXTRA_CA_CERTS": ca} if Path(ca).exists() else {}
    session.run(
        "npm", "install", "--no-audit", "--no-fund", "--prefix", ".nox/gitlab-ci-local",
        GITLAB_CI_LOCAL, external=True, env=env,
    )  # fmt: skip
    session.run("pytest", "-m", "scale_out", "tests", *session.posargs)


@nox.session
def multiarch(session: nox.Session) -> None:
    """keystone for linux/amd64 and linux/arm64 (emulated here) from nothing, pushed to a TLS
    docker-registry on 127.0.0.1 as manifest lists, with its figures per node and platform;
    then each architecture pulled from the one tag and served (half an hour and more)."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/multiarch.py", *session.posargs)
    session.run("pytest", "-m", "multiarch", "tests/acceptance/test_multiarch.py")


@nox.session
def carry_over(session: nox.Session) -> None:
    """What LOCI users carry over, on real builds: LOCI's bindep and pydep files build keystone
    and nova; services from a wheels image pulled by digest and from an exported index;
    constraints and keystone from git; the keystone stack from sources; a project of their
    own outside the catalog (minutes)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "carry_over", "tests", *session.posargs)


@nox.session
def security_updates(session: nox.Session) -> None:
    """``refresh: updates`` on real builds: a site's Debian repository on loopback, a fix
    published in it rebuilding exactly the images that install the package (minutes)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "security_updates", "tests", *session.posargs)


@nox.session
def provenance(session: nox.Session) -> None:
    """The full stack pushed to a TLS registry with a site key (keystone rebuilt, the rest
    reused from localhost/orchestrate), then every node's key and release tag verified from
    the registry by `orchestrate provenance verify`; an envelope replaced when the key
    changes, a replaced SBOM refused, promote refusing a downgrade (minutes)."""
    session.install("-e", ".[test]")
    session.env.setdefault("ORCHESTRATE_ACCEPTANCE_NAMESPACE", "localhost/orchestrate")
    session.run("pytest", "-s", "-m", "provenance_release", "tests", *session.posargs)


@nox.session
def scale_out_bench(session: nox.Session) -> None:
    """The full stack through a TLS registry: pushed from here, a no-op on an empty host,
    keystone alone rebuilt on an empty host; wall, CPU-seconds, bytes downloaded."""
    session.install("-e", ".")
    session.run("python", "benchmarks/scale_out.py", *session.posargs)


@nox.session
def wheels_elsewhere(session: nox.Session) -> None:
    """The full stack's nine services built from another site's wheels: an exported index
    (and every pin pip-installed from it) and the wheels image pulled from a registry by
    digest; wall and CPU-seconds, each node's status."""
    session.install("-e", ".")
    session.run("python", "benchmarks/wheels_elsewhere.py", *session.posargs)


@nox.session
def reproducible(session: nox.Session) -> None:
    """Bit-identical rebuilds: the keystone run verified node by node and a deliberately
    unreproducible build's file named (pytest -m reproducible), then two cold builds of the
    full stack compared by orchestrate verify (benchmarks/reproducible.py; --pipeline to
    choose another)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "reproducible", "tests/integration", "--durations=5")
    session.run("python", "benchmarks/reproducible.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, shellcheck on scripts/."""
    session.install(*LINT_DEPS)
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)
    scripts = sorted(str(p) for p in Path("scripts").glob("*.sh"))
    session.run("shellcheck", *scripts, "setup-host", ".ci/run", external=True)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the orchestrator package and docs/generate.py."""
    session.install("-e", ".", *TYPE_DEPS)
    session.run("mypy", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site: the generated reference pages checked against the code
    (python docs/generate.py --check), mkdocs build --strict into site/, then site/index.html
    opened in headless Chromium; fails if no screenshot comes out."""
    session.install("-e", ".", *DOCS_DEPS)
    session.run("python", "docs/generate.py", "--check")
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", "site", env={"NO_MKDOCS_2_WARNING": "1"}
    )
    index = Path("site/index.html").resolve()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        session.error("chromium is not installed (./setup-host installs it)")
    tmp = Path(session.create_tmp()).resolve()
    screenshot = tmp / "docs-index.png"
    screenshot.unlink(missing_ok=True)
    session.run(
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--log-level=3",
        f"--user-data-dir={tmp / 'chromium'}", f"--screenshot={screenshot}",
        "--window-size=1280,900", index.as_uri(), external=True,
    )  # fmt: skip
    if not screenshot.is_file() or screenshot.stat().st_size == 0:
        session.error(f"headless Chromium wrote no screenshot of {index}")
    session.log(f"site: {index}")
    session.log(f"screenshot of its index: {screenshot}")


@nox.session
def full_stack(session: nox.Session) -> None:
    """Build pipelines/full-stack.yaml with --parallel 9; print durations and image sizes."""
    session.install("-e", ".")
    session.run("python", "benchmarks/full_stack.py", *session.posargs)


@nox.session(name="scale")
@nox.session
def loci_all(session: nox.Session) -> None:
    """Build pipelines/loci-all.yaml (the thirty projects LOCI builds) with --parallel 9, cold
    (--no-cache; pass --warm for a no-op rebuild): wall and CPU-seconds against the goals
    (<= 600 s, <= 900 CPU-s), each node's size and own layer, distinct layers. Also `scale`."""
    session.install("-e", ".")
    session.run(
        "python",
        "benchmarks/full_stack.py",
        "--pipeline",
        "pipelines/loci-all.yaml",
        *session.posargs,
    )


@nox.session
def rebuilds(session: nox.Session) -> None:
    """Cold, no-op (offline), one-version-changed and two typical nightlies (a service's
    source and a constraint changed: one every service holds, one no image holds) of the
    full stack, timed."""
    session.install("-e", ".")
    session.run("python", "benchmarks/rebuilds.py", *session.posargs)


@nox.session
def service_cost(session: nox.Session) -> None:
    """One service rebuilt on its cached parents (default keystone; ``-- --all``: the nine),
    each step's wall and busy CPU-seconds and its marginal cost (minus the same run with
    nothing built); build the full stack first."""
    session.install("-e", ".")
    session.run("python", "benchmarks/service_cost.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Scheduler benchmark: a synthetic 1,000-node DAG through a no-op executor."""
    session.install("-e", ".")
    session.run("python", "benchmarks/scheduler.py", *session.posargs)


@nox.session
def controller_pull(session: nox.Session) -> None:
    """What a fresh host downloads to run keystone, glance, placement, nova and neutron, with
    gzip and with zstd layers (pushed to a loopback TLS registry, pulled with podman): bytes,
    pull wall and CPU-seconds. Build pipelines/loci-all.yaml first."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/controller_pull.py", *session.posargs)
