"""Retention of dated tags: which tags a template dates, and which of them go (pure)."""

from __future__ import annotations

from orchestrator.execution.retention import (
    Action,
    date_of,
    dated_pattern,
    decide,
    undated_tags,
)

TEMPLATES = ("{release}", "master", "master-{date}", "{node}-{release}-{date}")


def test_dated_templates_match_their_tags_only() -> None:
    pattern = dated_pattern(TEMPLATES, release="2026.1", node="nova")
    assert pattern is not None
    assert date_of(pattern, "master-20261201") == "20261201"
    assert date_of(pattern, "nova-2026.1-20261130") == "20261130"
    for other in ("master", "2026.1", "master-2026120", "master-20261201-x", "2026x1-20261201",
                  "sha256-ab.sbom", "keystone-2026.1-20261130"):  # fmt: skip
        assert date_of(pattern, other) is None, other
    assert dated_pattern(("{release}", "latest"), release="2026.1", node="nova") is None
    assert undated_tags(TEMPLATES, release="2026.1", node="nova") == ["2026.1", "master"]


def test_the_newest_are_kept_and_a_needed_image_is_held() -> None:
    dated = [
        ("master-20261201", "20261201", "sha256:a"),
        ("master-20261202", "20261202", "sha256:b"),
        ("master-20261203", "20261203", "sha256:c"),
        ("master-20261204", "20261204", "sha256:d"),
        ("master-20261205", "20261205", "sha256:e"),
        ("master-20261130", "20261130", "sha256:e"),  # unchanged image, an older date
    ]
    verdicts = {v.tag: v for v in decide(dated, {"sha256:b": "master"}, keep=2)}
    assert {t for t, v in verdicts.items() if v.action is Action.KEEP} == {
        "master-20261205",
        "master-20261204",
    }
    assert {t for t, v in verdicts.items() if v.action is Action.DELETE} == {
        "master-20261203",
        "master-20261201",
    }
    assert verdicts["master-20261202"].action is Action.HOLD
    assert verdicts["master-20261202"].why == "tag 'master' points to its image"
    assert verdicts["master-20261130"].why == "kept tag 'master-20261205' shares its image"
    assert verdicts["master-20261203"].why == "older than the 2 newest"
    # Newest first, and nothing to do when there are fewer than keep.
    assert decide(dated, {}, keep=9)[0].tag == "master-20261205"
    assert all(v.action is Action.KEEP for v in decide(dated, {}, keep=9))
