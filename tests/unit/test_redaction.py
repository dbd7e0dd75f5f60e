"""Credentials are masked in every form a URL or proxy setting takes."""

from __future__ import annotations

import pytest

from orchestrator.errors import SourceError
from orchestrator.model.request import Request
from orchestrator.redaction import format_argv, has_credentials, redact


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("http://bob:S3cret/PW@proxy:3128", "http://***@proxy:3128"),
        ("https://u:p@h/x and ftp://a@b", "https://***@h/x and ftp://***@b"),
        ("alice:PW@127.0.0.1:9", "***@127.0.0.1:9"),
        ("--https-proxy=alice:P/W:x@proxy.example:3128", "--https-proxy=***@proxy.example:3128"),
        (
            "PIP_INDEX_URL=https://user:tok%40en@index/simple",
            "PIP_INDEX_URL=https://***@index/simple",
        ),
        ("user:pw@[::1]:3128", "***@[::1]:3128"),
    ],
)
def test_credentials_are_masked(text: str, masked: str) -> None:
    assert redact(text) == masked
    assert has_credentials(text)


@pytest.mark.parametrize(
    "text",
    [
        "http://proxy:3128",
        "https://pypi.org/simple/keystone/",
        "deb http://deb.debian.org/debian bookworm main",
        "git@opendev.org:openstack/nova.git",
        "git:https://opendev.org/openstack/nova@master",
        "git:file:///tmp/repo@nope",
        "git+https://opendev.org/openstack/nova@stable/2026.1#egg=nova",
        "http://[::1]:8080/x",
        "started 12:30, key=a:b",
    ],
)
def test_text_without_credentials_is_left_alone(text: str) -> None:
    assert redact(text) == text
    assert not has_credentials(text)


def test_argv_and_errors_are_shown_masked() -> None:
    assert "hunter2" not in format_argv(["pip", "--index-url", "https://u:hunter2@i/simple"])
    error = SourceError("pypi:keystone==1: cannot read https://u:hunter2/x@index/simple/x/")
    assert "hunter2" not in str(error) and "https://***@index" in str(error)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("https_proxy", "alice:PW@127.0.0.1:9"),
        ("http_proxy", "http://bob:S3cret/PW@proxy:3128"),
        ("pip_index_url", "https://u:PW@index/simple"),
        ("pip_extra_index_urls", ("https://u:PW@extra/simple",)),
    ],
)
def test_a_run_never_stores_a_credential(name: str, value: object) -> None:
    stored, withheld = Request.from_options({name: value, "parallel": 4}, environ={}).stored()
    assert withheld == (name,)
    assert "PW" not in repr(stored) and stored == {"parallel": 4}
