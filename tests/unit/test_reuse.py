"""Build or reuse, and the reason a node is rebuilt: which input changed since its last build."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from orchestrator.planning.nodeplan import empty_plan
from orchestrator.planning.reuse import changed_inputs, decide
from orchestrator.records.history import History

INPUTS = {
    "dist_packages": "libldap-2.5-0\nlibsasl2-2",
    "parent:requirements": "k-req",
    "source": "pypi:keystone==29.0.0 sha256:" + "a" * 64,
    "user": "keystone:42425:42425",
}
PLAN = replace(empty_plan("keystone"), key="k2", image="localhost/os/keystone:k2", inputs=INPUTS)


def no_image(image: str) -> None:
    return None


def test_an_image_with_the_key_is_reused(tmp_path: Path) -> None:
    d = decide(PLAN, image_key=lambda image: "k2", history=None)
    assert (d.action, d.why) == ("reuse", "cache key matches")
    forced = decide(PLAN, image_key=lambda image: "k2", history=None, no_cache=True)
    assert (forced.action, forced.why) == ("build", "--no-cache")
    one = decide(
        PLAN, image_key=lambda image: "k2", history=None, no_cache_for=frozenset({"keystone"})
    )
    assert (one.action, one.why) == ("build", "--no-cache-for")


def test_a_rebuild_names_what_changed_since_the_last_build(tmp_path: Path) -> None:
    with History(tmp_path) as history:
        assert decide(PLAN, image_key=no_image, history=history).why == "no earlier build"
        old = {
            **INPUTS,
            "dist_packages": "libldap-2.5-0",
            "source": "pypi:keystone==28.0.0 sha256:" + "b" * 64,
            "parent:requirements": "k-old",
        }
        history.record_build(
            key="k1",
            node="keystone",
            image="localhost/os/keystone:k1",
            image_id="",
            inputs=old,
            run_id="run-1",
            built=1.0,
        )
        why = decide(PLAN, image_key=no_image, history=history).why
        assert why == (
            "changed since run run-1: dist_packages +libsasl2-2; parent requirements; "
            "source pypi:keystone==28.0.0 -> pypi:keystone==29.0.0"
        )
        history.record_build(
            key="k2",
            node="keystone",
            image="localhost/os/keystone:k2",
            image_id="",
            inputs=INPUTS,
            run_id="run-2",
            built=2.0,
        )
        why = decide(PLAN, image_key=no_image, history=history).why
        assert why == "the image built in run run-2 is no longer in local storage"


def test_changed_inputs_phrases() -> None:
    assert changed_inputs({"a": "1"}, {"a": "2", "b": "x"}) == ["a 1 -> 2", "b (new)"]
    assert changed_inputs({"profiles": "ldap\napache"}, {"profiles": "ldap"}) == [
        "profiles -apache"
    ]
    assert changed_inputs({"config": "x" * 100}, {"config": "y" * 100}) == ["config"]
    assert changed_inputs(INPUTS, INPUTS) == []
