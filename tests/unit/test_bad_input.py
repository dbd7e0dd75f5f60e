"""Bad input, tried as a careless or hostile user would: every case gets one clear line naming
the file and field or the setting, its own exit code, and no traceback.

Each case runs the real entry point (``orchestrator.cli.main``) in-process, offline: pipeline
cases through ``validate``, settings and flag cases through ``plan`` of a pipeline with a
local source, state cases through the commands that read the state directory.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.errors import EXIT_USAGE
from tests.conftest import HEADER, UPPER

LOCAL = """\
images:
  keystone:
    source: {local: src}
"""


@dataclass(frozen=True)
class Case:
    """One bad input: the command line, the pipeline body (after the standard header),
    environment, the message expected on the single error line."""

    argv: tuple[str, ...]
    message: str
    body: str = LOCAL
    raw: bool = False  # the body is the whole file
    env: dict[str, str] = field(default_factory=dict)
    code: int = EXIT_USAGE


def pipeline_case(body: str, message: str, *, raw: bool = False) -> Case:
    return Case(("validate", "{pipeline}"), message, body=body, raw=raw)


def image_case(entry: str, message: str) -> Case:
    """An ``images.keystone`` entry (indented body lines after ``keystone:``)."""
    body = "images:\n  keystone:\n" + textwrap.indent(textwrap.dedent(entry), "    ")
    return pipeline_case(body, message)


def plan_case(*flags: str, message: str, env: dict[str, str] | None = None) -> Case:
    return Case(("plan", "{pipeline}", *flags), message, env=env or {})


SRC = "source: {local: src}\n"
CASES: dict[str, Case] = {
    # -- the pipeline file as a file ---------------------------------------------------------
    "missing-file": Case(("validate", "{dir}/nope.yaml"), r"nope.yaml: file not found"),
    "a-folder": Case(("validate", "{dir}"), r": not a file"),
    "empty": pipeline_case("", r"p.yaml: file is empty", raw=True),
    "only-comments": pipeline_case("# nothing\n", r"p.yaml: file is empty", raw=True),
    "not-utf8": pipeline_case("images: \udcff\n", r"p.yaml: not UTF-8 text \(byte \d+\)"),
    "nested-3000": pipeline_case("images: " + "[" * 3000 + "]" * 3000, r"invalid YAML"),
    "unclosed-list": pipeline_case("images: [a\n", r"p.yaml: invalid YAML at line \d+"),
    "tab-indent": pipeline_case("images:\n\tkeystone: {}\n", r"invalid YAML at line"),
    "a-list": pipeline_case("- a\n- b\n", r"p.yaml: \(top level\): expected a mapping", raw=True),
    "a-string": pipeline_case("just text\n", r"expected a mapping, got string", raw=True),
    "dup-image": pipeline_case(
        LOCAL + "  keystone:\n    source: {local: src}\n", r"duplicate key 'keystone'"
    ),
    "dup-section": pipeline_case(LOCAL + "images: {}\n", r"duplicate key 'images'"),
    "dup-source-key": image_case("source: {local: src, local: other}\n", r"duplicate key 'local'"),
    "unknown-top-key": pipeline_case(LOCAL + "colour: red\n", r"unknown key 'colour'"),
    "no-images": pipeline_case("", r"missing required key 'images'"),
    "empty-images": pipeline_case("images: {}\n", r"images: declare at least one image"),
    "images-a-list": pipeline_case("images: [keystone]\n", r"images: expected a mapping"),
    "no-toolchain": pipeline_case(
        f"constraints: {{upper: {UPPER}}}\n" + LOCAL, r"missing required key 'toolchain'", raw=True
    ),
    "toolchain-loose": pipeline_case(
        'toolchain: {pip: ">=25", setuptools: "80", wheel: "0.45"}\n'
        f"constraints: {{upper: {UPPER}}}\n" + LOCAL,
        r"toolchain.pip: '>=25' is not an exact version",
        raw=True,
    ),
    "toolchain-number": pipeline_case(
        "toolchain: {pip: 25, setuptools: '80', wheel: '0.45'}\n"
        f"constraints: {{upper: {UPPER}}}\n" + LOCAL,
        r"toolchain.pip: expected a string, got integer",
        raw=True,
    ),
    "constraints-missing": pipeline_case(
        'toolchain: {pip: "25.3", setuptools: "80.9.0", wheel: "0.45.1"}\n'
        "constraints: {upper: nowhere.txt}\n" + LOCAL,
        r"constraints.upper: file not found",
        raw=True,
    ),
    "release-number": pipeline_case(
        HEADER.replace('release: "2026.1"', "release: 2026.1") + LOCAL,
        r"release: expected a string",
        raw=True,
    ),
    "name-upper": pipeline_case(
        HEADER.replace("name: test", "name: Full") + LOCAL, r"name: invalid name 'Full'", raw=True
    ),
    # -- names and tags (the OCI reference grammar) ------------------------------------------
    "image-trailing-dash": pipeline_case(
        "images:\n  keystone-:\n    project: keystone\n    " + SRC,
        r"'keystone-' is not a valid image name",
    ),
    "image-upper": pipeline_case("images:\n  Keystone:\n    " + SRC, r"invalid name 'Keystone'"),
    "image-300-chars": pipeline_case(
        "images:\n  " + "k" * 300 + ":\n    project: keystone\n    " + SRC,
        r"is 300 characters: image names have at most 128",
    ),
    "image-reserved": pipeline_case("images:\n  base:\n    " + SRC, r"'base' is reserved"),
    "tag-space": pipeline_case("tags: ['bad tag!']\n" + LOCAL, r"'bad tag!' is not a valid tag"),
    "tag-200": pipeline_case(f"tags: ['{'t' * 200}']\n" + LOCAL, r"is not a valid tag"),
    "tag-unknown-field": pipeline_case("tags: ['{nope}']\n" + LOCAL, r"cannot be filled"),
    "tag-attribute": pipeline_case(
        "tags: ['{release.foo}']\n" + LOCAL, r"tag template '\{release.foo\}' cannot be filled"
    ),
    "tag-index": pipeline_case("tags: ['{release[30]}']\n" + LOCAL, r"cannot be filled"),
    "tag-unbalanced": pipeline_case("tags: ['{release']\n" + LOCAL, r"cannot be filled"),
    "tag-leading-dot": pipeline_case("tags: ['.x']\n" + LOCAL, r"'.x' is not a valid tag"),
    "tag-dup": pipeline_case("tags: [a, a]\n" + LOCAL, r"tags\[1\]: duplicate entry 'a'"),
    "image-tag-bad": image_case(SRC + "tags: ['x y']\n", r"images.keystone.tags\[0\]: tag"),
    "image-tags-not-list": image_case(SRC + "tags: latest\n", r"tags: expected a list"),
    # -- an image entry ----------------------------------------------------------------------
    "image-unknown-key": image_case(SRC + "colour: red\n", r"unknown key 'colour' \(allowed:"),
    "image-no-source": image_case("profiles: []\n", r"missing required key 'source'"),
    "image-not-mapping": pipeline_case("images:\n  keystone: [1]\n", r"expected a mapping"),
    "project-not-a-user": image_case(
        "project: swift_x.2\n" + SRC, r"keystone\.project: .swift_x.2. is not in the catalog"
    ),
    "site-project-bad-field": pipeline_case(
        "projects:\n  zun: {uid: abc}\nimages:\n  zun:\n    " + SRC,
        r"projects\.zun\.uid: expected an integer",
    ),
    "site-project-unknown-key": pipeline_case(
        "projects:\n  zun: {colour: red}\nimages:\n  zun:\n    " + SRC,
        r"projects\.zun\.colour: unknown key 'colour'",
    ),
    "site-project-taken-uid": pipeline_case(
        "projects:\n  zun: {uid: 42425}\nimages:\n  zun:\n    " + SRC,
        r"projects\.zun\.uid: 42425 is the uid of project 'keystone'",
    ),
    "site-project-bad-name": pipeline_case(
        "projects:\n  zun_x: {}\nimages:\n  keystone:\n    " + SRC,
        r"projects\.zun_x: 'zun_x' is not a project name",
    ),
    "site-catalog-missing": pipeline_case(
        "catalog: nope.yaml\nimages:\n  keystone:\n    " + SRC, r"catalog: file not found"
    ),
    "site-project-venv-user": pipeline_case(
        "projects:\n  zun: {user: openstack}\nimages:\n  zun:\n    " + SRC,
        r"projects\.zun\.user: 'openstack' cannot be a service user",
    ),
    "site-project-empty-smoke": pipeline_case(
        "projects:\n  zun: {smoke: []}\nimages:\n  zun:\n    " + SRC,
        r"projects\.zun\.smoke: must name a command",
    ),
    "unknown-profile": image_case(SRC + "profiles: [nope]\n", r"unknown profile 'nope'"),
    "profile-not-for": image_case(SRC + "profiles: [tftp]\n", r"does not apply to project"),
    "profiles-dup": image_case(SRC + "profiles: [ldap, ldap]\n", r"duplicate entry 'ldap'"),
    "uid-zero": image_case(SRC + "uid: 0\n", r"uid: must be >= 1, got 0"),
    "uid-huge": image_case(SRC + "uid: 70000\n", r"uid: must be <= 65533, got 70000"),
    "uid-string": image_case(SRC + "uid: '42'\n", r"uid: expected an integer, got string"),
    "uid-bool": image_case(SRC + "uid: true\n", r"uid: expected an integer, got boolean"),
    "plugin-no-parent": image_case(SRC + "plugin: true\n", r"a plugin image needs 'parent'"),
    "parent-no-plugin": image_case(SRC + "parent: nova\n", r"'parent' is only for plugin"),
    "plugin-not-bool": image_case(SRC + "plugin: yes please\n", r"expected true or false"),
    "extras-bad": image_case(SRC + "extras: ['LDAP']\n", r"invalid name 'LDAP'"),
    "dist-packages-int": image_case(SRC + "dist_packages: [vim, 3]\n", r"\[1\]: expected a str"),
    "dist-packages-empty": image_case(SRC + "dist_packages: ['']\n", r"must not be empty"),
    "pip-option": image_case(
        SRC + "pip_packages: ['--index-url=https://evil.example/simple']\n",
        r"pip_packages\[0\]: '--index-url=https://evil.example/simple' is not a requirement",
    ),
    "pip-garbage": image_case(SRC + "pip_packages: ['foo bar baz']\n", r"is not a requirement"),
    "pip-single-equals": image_case(SRC + "pip_packages: ['foo=1.0']\n", r"is not a requirement"),
    "pip-url": image_case(SRC + "pip_packages: ['$(touch /tmp/x)']\n", r"is not a requirement"),
    # -- sources -----------------------------------------------------------------------------
    "source-two-kinds": image_case(
        "source: {local: src, pypi: keystone==1}\n", r"set exactly one of 'pypi', 'git'"
    ),
    "source-none": image_case("source: {}\n", r"set exactly one of"),
    "source-list": image_case("source: [pypi]\n", r"source: expected a mapping, got list"),
    "pypi-no-version": image_case("source: {pypi: keystone}\n", r"not of the form 'name==ver"),
    "pypi-sha-short": image_case(
        "source: {pypi: keystone==1, sha256: abc}\n", r"expected 64 hexadecimal digits"
    ),
    "pypi-sha-not-hex": image_case(
        "source: {pypi: keystone==1, sha256: " + "z" * 64 + "}\n", r"64 hexadecimal"
    ),
    "url-no-sha": image_case(
        "source: {url: 'https://x.example/k.tar.gz'}\n", r"a url source needs 'sha256'"
    ),
    "url-ftp": image_case(
        "source: {url: 'ftp://x/k.tar.gz', sha256: " + "a" * 64 + "}\n", r"not an http"
    ),
    "git-ref-option": image_case(
        "source: {git: 'https://opendev.org/openstack/keystone', ref: '--upload-pack=touch x'}\n",
        r"'--upload-pack=touch x' is not a git ref",
    ),
    "git-ref-newline": image_case(
        "source: {git: 'https://opendev.org/openstack/keystone', ref: \"a\\nb\"}\n",
        r"is not a git ref",
    ),
    "git-url-option": image_case("source: {git: '--config=x'}\n", r"is not a git URL"),
    "ref-not-git": image_case("source: {local: src, ref: main}\n", r"'ref' applies to git"),
    "sha-on-git": image_case(
        "source: {git: 'https://o/k', sha256: " + "a" * 64 + "}\n", r"'sha256' does not apply"
    ),
    "local-missing": image_case("source: {local: nowhere}\n", r"path not found"),
    "local-etc": image_case("source: {local: /etc}\n", r"/etc is not a Python project"),
    "local-dev": image_case("source: {local: /dev}\n", r"/dev is not a Python project"),
    "local-not-sdist": image_case(
        "source: {local: /etc/hostname}\n", r"neither a project folder nor an sdist"
    ),
    # -- steps -------------------------------------------------------------------------------
    "step-both": image_case(
        SRC + "steps: [{name: x, run: 'true', script: s.sh}]\n", r"set exactly one of 'run'"
    ),
    "step-no-name": image_case(SRC + "steps: [{run: 'true'}]\n", r"missing required key 'name'"),
    "step-bad-name": image_case(SRC + "steps: [{name: 'a b', run: x}]\n", r"invalid name 'a b'"),
    "step-script-missing": image_case(
        SRC + "steps: [{name: x, script: nope.sh}]\n", r"file not found"
    ),
    "step-script-outside": image_case(
        SRC + "steps: [{name: x, script: /etc/hostname}]\n", r"is outside the pipeline's folder"
    ),
    "step-script-dotdot": image_case(
        SRC + "steps: [{name: x, script: ../outside.sh}]\n", r"is outside the pipeline's folder"
    ),
    # -- base, requirements, children, settings sections -------------------------------------
    "base-both": pipeline_case(
        "base: {bootstrap: mmdebstrap, from: 'debian:12'}\n" + LOCAL, r"set exactly one of"
    ),
    "base-bootstrap-other": pipeline_case(
        "base: {bootstrap: debootstrap}\n" + LOCAL, r"'debootstrap' is not one of: mmdebstrap"
    ),
    "base-refresh": pipeline_case(
        "base: {bootstrap: mmdebstrap, refresh: hourly}\n" + LOCAL, r"'hourly' is not one of"
    ),
    "base-mirror": pipeline_case(
        "base: {bootstrap: mmdebstrap, mirror: 'deb.debian.org'}\n" + LOCAL, r"not an http"
    ),
    "base-suite-for-image": pipeline_case(
        "base: {from: 'debian:12', suite: trixie}\n" + LOCAL, r"applies to 'bootstrap"
    ),
    "requirements-scope": pipeline_case(
        "requirements: {scope: some}\n" + LOCAL, r"'some' is not one of: pipeline, selected, all"
    ),
    "requirements-pip-option": pipeline_case(
        "requirements: {pip_packages: ['-e .']}\n" + LOCAL, r"'-e .' is not a requirement"
    ),
    "child-unknown-parent": pipeline_case(
        LOCAL + "children:\n  site:\n    from: nova\n    containerfile: Containerfile\n",
        r"parent 'nova' is not a node",
    ),
    "child-no-containerfile": pipeline_case(
        LOCAL + "children:\n  site:\n    from: keystone\n    containerfile: nope\n",
        r"containerfile: file not found",
    ),
    "child-same-name": pipeline_case(
        LOCAL + "children:\n  keystone:\n    from: base\n    containerfile: Containerfile\n",
        r"same name as an image",
    ),
    "settings-unknown": pipeline_case("settings: {parralel: 2}\n" + LOCAL, r"unknown key"),
    "settings-type": pipeline_case(
        "settings: {parallel: many}\n" + LOCAL, r"settings.parallel: expected an integer"
    ),
    "settings-zero": pipeline_case("settings: {parallel: 0}\n" + LOCAL, r"must be >= 1"),
    "settings-isolation": pipeline_case(
        "settings: {isolation: vm}\n" + LOCAL, r"'vm' is not one of"
    ),
    "network-in-settings": pipeline_case(
        "settings: {http_proxy: 'http://p:3128'}\n" + LOCAL, r"unknown key 'http_proxy'"
    ),
    # -- outdated and registry prune ----------------------------------------------------------
    "outdated-pipeline-and-image": Case(
        ("outdated", "{pipeline}", "some/image:1"), r"give one PIPELINE or IMAGEs, not both"
    ),
    "outdated-selecting-images": Case(
        ("outdated", "some/image:1", "--only", "keystone"), r"select nodes of a PIPELINE, not"
    ),
    "prune-without-registry": Case(
        ("registry", "prune", "{pipeline}", "--keep", "2"), r"registry: no registry to prune"
    ),
    "prune-keep-zero": Case(("registry", "prune", "{pipeline}", "--keep", "0"), r"--keep"),
    "prune-keep-unset": Case(
        ("registry", "prune", "{pipeline}", "--registry", "localhost:5000/o"),
        r"--keep: pass --keep N or set retention.keep in .*p.yaml$",
    ),
    "retention-undated": pipeline_case(
        "tags: ['{release}']\nretention: {keep: 3}\n" + LOCAL,
        r"retention: nothing to keep: no tag template of the pipeline or its images has \{date\}",
    ),
    "retention-keep-zero": pipeline_case(
        "tags: ['master-{date}']\nretention: {keep: 0}\n" + LOCAL,
        r"retention.keep: must be >= 1, got 0",
    ),
    "retention-no-keep": pipeline_case(
        "tags: ['master-{date}']\nretention: {}\n" + LOCAL, r"retention: missing .*keep"
    ),
    "allow-downgrades-a-string": pipeline_case(
        "allow_downgrades: oslo.config\n" + LOCAL,
        r"p.yaml: allow_downgrades: expected true, false or a list of package and "
        r"distribution names, got 'oslo.config'$",
    ),
    "allow-downgrades-a-mapping": pipeline_case(
        "allow_downgrades: {libssl3: true}\n" + LOCAL,
        r"p.yaml: allow_downgrades: expected true, false or a list",
    ),
    "allow-downgrades-twice": pipeline_case(
        "allow_downgrades: [libssl3, libssl3]\n" + LOCAL,
        r"allow_downgrades\[1\]: duplicate entry 'libssl3'",
    ),
    "allow-downgrades-not-a-name": pipeline_case(
        "allow_downgrades: [libssl3, 3]\n" + LOCAL, r"allow_downgrades\[1\]: expected a string"
    ),
    "diff-neither-image-b-nor-against": Case(
        ("diff", "keystone:nightly"), r"^orchestrate diff: error: give IMAGE_B, or --against REF$"
    ),
    "diff-image-b-and-against": Case(
        ("diff", "a", "b", "--against", "c"),
        r"^orchestrate diff: error: give IMAGE_B or --against REF, not both$",
    ),
    "diff-allow-downgrade-without-against": Case(
        ("diff", "a", "b", "--allow-downgrade", "libssl3"),
        r"--allow-downgrade goes with --against REF$",
    ),
    "diff-against-a-missing-sbom-file": Case(
        ("diff", "{dir}/nightly.cdx.json", "--against", "{dir}/published.cdx.json"),
        r"^orchestrate: error: --against: cannot read .*published.cdx.json: No such file",
    ),
    "base-updates-pulled": pipeline_case(
        "base: {from: 'debian:12', refresh: updates}\n" + LOCAL,
        r"base.refresh: 'updates' needs 'bootstrap: mmdebstrap'",
    ),
    "wheels-from-elsewhere-with-updates": pipeline_case(
        "base: {bootstrap: mmdebstrap, refresh: updates}\n"
        "requirements: {from: 'r.example/requirements@sha256:" + "a" * 64 + "'}\n" + LOCAL,
        r"requirements: 'from' with base.refresh: updates: the distro packages",
    ),
    "base-sources-not-deb": pipeline_case(
        "base: {bootstrap: mmdebstrap, sources: ['http://r/debian site main']}\n" + LOCAL,
        r"base.sources\[0\]: 'http://r/debian site main' is not a sources.list line",
    ),
    "gate-empty": pipeline_case("gate: []\n" + LOCAL, r"gate: list at least one check"),
    "gate-no-run": pipeline_case("gate: [{name: cloud}]\n" + LOCAL, r"gate\[0\].*'run'"),
    "gate-twice": pipeline_case(
        "gate: [{name: a, run: 'true'}, {name: a, run: 'false'}]\n" + LOCAL,
        r"gate\[1\].name: check 'a' is listed twice",
    ),
    "gate-bad-name": pipeline_case(
        "gate: [{name: ../up, run: 'true'}]\n" + LOCAL, r"gate\[0\].name: invalid name"
    ),
    "gate-timeout": pipeline_case(
        "gate: [{name: a, run: 'true', timeout: 0}]\n" + LOCAL, r"gate\[0\].timeout: must be >= 1"
    ),
    # -- settings from the environment -------------------------------------------------------
    "env-parallel": plan_case(env={"ORCHESTRATE_PARALLEL": "many"}, message=r"ORCHESTRATE_PAR"),
    "env-parallel-zero": plan_case(env={"ORCHESTRATE_PARALLEL": "0"}, message=r"must be >= 1"),
    "env-retries": plan_case(env={"ORCHESTRATE_RETRIES": "-1"}, message=r"must be >= 0"),
    "env-timeout": plan_case(env={"ORCHESTRATE_TIMEOUT": "1h"}, message=r"expected an integer"),
    "env-push": plan_case(env={"ORCHESTRATE_PUSH": "maybe"}, message=r"expected true or false"),
    "env-isolation": plan_case(env={"ORCHESTRATE_ISOLATION": "vm"}, message=r"'vm' is not one"),
    "env-log-format": plan_case(
        env={"ORCHESTRATE_LOG_FORMAT": "xml"}, message=r"ORCHESTRATE_LOG_FORMAT: 'xml'"
    ),
    "env-progress": plan_case(env={"ORCHESTRATE_PROGRESS": "fancy"}, message=r"'fancy' is not"),
    "env-namespace": plan_case(
        env={"ORCHESTRATE_NAMESPACE": "Local/Orch"},
        message=r"setting 'namespace' \(from env\): 'Local/Orch' is not a registry or namespace",
    ),
    "env-registry": plan_case(
        env={"ORCHESTRATE_REGISTRY": "reg istry"}, message=r"setting 'registry' \(from env\)"
    ),
    "env-ca-bundle": plan_case(
        env={"ORCHESTRATE_CA_BUNDLE": "/nonexistent.pem"},
        message=r"setting 'ca_bundle' \(from env\): /nonexistent.pem is not a file",
    ),
    "env-push-no-registry": plan_case(
        env={"ORCHESTRATE_PUSH": "1"}, message=r"pushing is on but no registry is set"
    ),
    # -- files a plan reads ------------------------------------------------------------------
    "uc-garbage": Case(
        ("plan", "{pipeline}"),
        r"garbage.txt: line 2: 'this is not a pin': Expected",
        body=HEADER.replace(str(UPPER), "garbage.txt") + LOCAL,
        raw=True,
    ),
    "uc-unpinned": Case(
        ("plan", "{pipeline}"),
        r"unpinned.txt: line 1: 'oslo.db>=1' does not pin one version",
        body=HEADER.replace(str(UPPER), "unpinned.txt") + LOCAL,
        raw=True,
    ),
    "uc-not-utf8": Case(
        ("plan", "{pipeline}"),
        r"binary.txt: not UTF-8 text",
        body=HEADER.replace(str(UPPER), "binary.txt") + LOCAL,
        raw=True,
    ),
    "local-fifo": Case(
        ("plan", "{pipeline}"),
        r"fifo-src/pipe: not a regular file \(a FIFO, socket or device\)",
        body="images:\n  keystone:\n    source: {local: fifo-src}\n",
    ),
    # -- flags -------------------------------------------------------------------------------
    "only-empty": plan_case("--only", "", message=r"--only: names no node"),
    "only-commas": plan_case("--only", ",,", message=r"--only: names no node"),
    "only-unknown": plan_case("--only", "swift", message=r"unknown node 'swift'"),
    "skip-unknown": plan_case("--skip", "swift", message=r"unknown node 'swift'"),
    "skip-empty": plan_case("--skip", " ", message=r"--skip: names no node"),
    "skip-everything": plan_case("--skip", "base", message=r"leaves no node to build"),
    "match-bad-regex": plan_case("--match", "(", message=r"invalid regular expression"),
    "match-nothing": plan_case("--match", "swift", message=r"matches no node"),
    "no-cache-for-unknown": plan_case("--no-cache-for", "swift", message=r"no such node"),
    "no-cache-for-empty": plan_case("--no-cache-for", "", message=r"--no-cache-for: names no"),
    "namespace-flag": plan_case(
        "--namespace", "UPPER", message=r"setting 'namespace' \(from cli\)"
    ),
    "namespace-long": plan_case(
        "--namespace", "localhost/" + "n" * 250, message=r"characters \(at most 255\)"
    ),
    "registry-flag": plan_case("--registry", "-r", message=r"setting 'registry' \(from cli\)"),
    "ca-bundle-flag": plan_case(
        "--ca-bundle", "{dir}", message=r"setting 'ca_bundle' \(from cli\): .* is not a file"
    ),
    "push-no-registry": plan_case("--push", message=r"no registry is set"),
    "summary-json-nowhere": Case(
        ("build", "{pipeline}", "--dry-run", "--summary-json", "/nonexistent/dir/s.json"),
        r"--summary-json: folder /nonexistent/dir does not exist",
    ),
    "junit-a-folder": Case(
        ("build", "{pipeline}", "--dry-run", "--junit", "{dir}"), r"--junit: .* is a folder"
    ),
    "profiles-dir-missing": plan_case(
        "--profiles-dir", "{dir}/none", message=r"profiles folder not found"
    ),
    "pipeline-missing-plan": Case(("plan", "{dir}/none.yaml"), r"none.yaml: file not found"),
    # -- the state directory and what reads it -----------------------------------------------
    "plan-state-dir-a-file": plan_case(
        "--state-dir", "/etc/hostname", message=r"setting 'state_dir' \(from cli\): .* not a folder"
    ),
    "local-symlink-loop": image_case("source: {local: loop-a}\n", r"cannot resolve loop-a"),
    "state-dir-a-file": Case(
        ("history", "--state-dir", "/etc/hostname"), r"state directory /etc/hostname"
    ),
    "state-dir-under-file": Case(
        ("show", "latest", "--state-dir", "/etc/hostname/state"), r"cannot create it"
    ),
    "show-unknown-run": Case(("show", "nope", "--state-dir", "{dir}/s"), r"RUN: no run 'nope'"),
    "show-latest-empty": Case(("show", "latest", "--state-dir", "{dir}/s"), r"no runs yet"),
    "logs-unknown-run": Case(("logs", "nope", "x", "--state-dir", "{dir}/s"), r"no run 'nope'"),
    "report-unknown-run": Case(("report", "nope", "--state-dir", "{dir}/s"), r"no run 'nope'"),
    "report-nowhere": Case(
        ("report", "latest", "-o", "/nonexistent/dir/x.html", "--state-dir", "{dir}/s"),
        r"--output: folder /nonexistent/dir does not exist",
    ),
    "resume-unknown": Case(("resume", "nope", "--state-dir", "{dir}/s"), r"no run 'nope'"),
    "resume-latest-empty": Case(("resume", "latest", "--state-dir", "{dir}/s"), r"no run in"),
    "resume-dry-nothing": Case(
        ("build", "--resume", "--dry-run", "--state-dir", "{dir}/s"), r"nothing to resume"
    ),
    "history-not-a-db": Case(
        ("history", "--state-dir", "{dir}/garbage"), r"cannot use the run history"
    ),
    "history-damaged-run": Case(
        ("history", "--state-dir", "{dir}/damaged"), r"run 'r1' in the history is damaged"
    ),
}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder with a local project ``src``, a Containerfile, a garbage history and a
    history holding one damaged run."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "setup.cfg").write_text("[metadata]\nname = keystone\n")
    (tmp_path / "Containerfile").write_text("FROM scratch\n")
    (tmp_path.parent / "outside.sh").write_text("true\n")
    (tmp_path / "garbage.txt").write_text("pbr===6.1.1\nthis is not a pin\n")
    (tmp_path / "unpinned.txt").write_text("oslo.db>=1\n")
    (tmp_path / "binary.txt").write_bytes(b"pbr===6.1.1\n\xff\xfe\n")
    (tmp_path / "fifo-src").mkdir()
    (tmp_path / "fifo-src" / "setup.cfg").write_text("[metadata]\nname = keystone\n")
    os.mkfifo(tmp_path / "fifo-src" / "pipe")
    (tmp_path / "loop-a").symlink_to(tmp_path / "loop-b")
    (tmp_path / "loop-b").symlink_to(tmp_path / "loop-a")
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "history.sqlite3").write_bytes(b"\x00not a database" * 100)
    (tmp_path / "damaged").mkdir()
    from orchestrator.records.history import History

    with History(tmp_path / "damaged") as history:
        history.start_run(
            run_id="r1",
            pipeline="/p.yaml",
            command="orchestrate",
            options={},
            withheld=(),
            nodes=[],
            log_dir=tmp_path,
            pid=1,
        )
    with sqlite3.connect(tmp_path / "damaged" / "history.sqlite3") as db:
        db.execute("UPDATE runs SET options = '{not json'")
    return tmp_path


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_gets_one_clear_line(
    name: str,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = CASES[name]
    path = workspace / "p.yaml"
    text = case.body if case.raw else HEADER + case.body
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    for key in [k for k in os.environ if k.startswith("ORCHESTRATE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ORCHESTRATE_STATE_DIR", str(workspace / "state"))
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    argv = [a.format(pipeline=path, dir=workspace) for a in case.argv]
    monkeypatch.setattr(sys, "argv", ["orchestrate", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    assert exited.value.code == case.code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    import re

    assert re.search(case.message, lines[0]), lines[0]


def test_there_are_at_least_120_cases() -> None:
    assert len(CASES) >= 120
