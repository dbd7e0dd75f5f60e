"""Signature bookkeeping: lookaside layout, numbering, one signature per identity, and the
pullers' policy files."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from orchestrator.engine.signing import (
    Signer,
    policy,
    registries_d,
    repository_path,
    signature_dir,
)
from orchestrator.errors import ConfigError, StepFailedError

FPR = "17B12845AAC7674F1F3B531239802A937707BFFF"


@pytest.mark.parametrize(
    ("reference", "path"),
    [
        ("registry.example.com:5000/openstack/keystone:2026.1", "openstack/keystone"),
        ("127.0.0.1:5000/openstack/keystone@sha256:" + "a" * 64, "openstack/keystone"),
        ("localhost/orchestrate/base:abc", "orchestrate/base"),
        ("openstack/keystone:2026.1", "openstack/keystone"),
    ],
)
def test_the_repository_path_leaves_out_registry_and_tag(reference: str, path: str) -> None:
    assert repository_path(reference) == path


def test_signatures_live_where_containers_image_reads_them(tmp_path: Path) -> None:
    where = signature_dir(tmp_path, "reg:5000/openstack/base:2026.1", "sha256:" + "b" * 64)
    assert where == tmp_path / f"openstack/base@sha256={'b' * 64}"


class FakeSkopeo:
    """standalone-sign writes "<identity>" as the signature; standalone-verify accepts a
    signature whose text is the identity asked."""

    def __init__(self) -> None:
        self.signed: list[str] = []

    def capture(self, argv: Sequence[str], *, ok_codes: Sequence[int] = (0,)) -> str:
        if argv[:2] == ("skopeo", "standalone-sign"):
            identity, output = argv[3], argv[-1]
            Path(output).write_text(identity)
            self.signed.append(identity)
            return ""
        if argv[:2] == ("skopeo", "standalone-verify"):
            if Path(argv[-1]).read_text() != argv[3]:
                raise StepFailedError("verify", 1, "signature does not match", "")
            return ""
        if argv[:2] == ("gpg", "--batch"):
            raise StepFailedError("gpg", 2, "gpg: error reading key: No secret key", "")
        raise AssertionError(argv)


def test_each_identity_is_signed_once_and_numbered_without_gaps(tmp_path: Path) -> None:
    runner = FakeSkopeo()
    signer = Signer(runner, FPR, tmp_path)  # type: ignore[arg-type]
    manifest = b'{"schemaVersion": 2}'
    digest = hashlib.sha256(manifest).hexdigest()
    assert signer.sign(manifest, "reg:5000/openstack/base:key")
    assert signer.sign(manifest, "reg:5000/openstack/base:2026.1")
    assert not signer.sign(manifest, "reg:5000/openstack/base:key")  # there already
    folder = tmp_path / f"openstack/base@sha256={digest}"
    assert sorted(p.name for p in folder.iterdir()) == ["signature-1", "signature-2"]
    assert (folder / "signature-2").read_text() == "reg:5000/openstack/base:2026.1"
    assert runner.signed == ["reg:5000/openstack/base:key", "reg:5000/openstack/base:2026.1"]


def test_a_key_missing_from_the_keyring_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"no secret key {FPR}"):
        Signer(FakeSkopeo(), FPR, tmp_path).check_key()  # type: ignore[arg-type]


def test_the_policy_requires_the_key_under_the_prefix_only() -> None:
    doc = policy("reg:5000/openstack", b"KEY")
    assert doc["default"] == [{"type": "insecureAcceptAnything"}]
    rule = doc["transports"]["docker"]["reg:5000/openstack"]  # type: ignore[index]
    assert rule == [
        {"type": "signedBy", "keyType": "GPGKeys", "keyData": base64.b64encode(b"KEY").decode()}
    ]
    assert yaml.safe_load(registries_d("reg:5000/openstack", "https://sigs.example/")) == {
        "docker": {"reg:5000/openstack": {"lookaside": "https://sigs.example/"}}
    }
