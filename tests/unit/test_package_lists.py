"""The run's package lists (execution/package_lists.py): one fetch per folder, waiters that
fail with a failed fetch, stop when the run is cancelled, and fetch anew after a cancel; the
host's lists, kept between runs, of which each run reads its own copy."""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path

import pytest

from orchestrator.errors import CancelledError, StepFailedError
from orchestrator.execution.package_lists import ListsFetchError, PackageLists
from orchestrator.planning.nodeplan import ListsFetch, Step


def fetch_in(folder: Path, kept: Path | None = None) -> ListsFetch:
    return ListsFetch(
        folder=folder,
        kept=kept or folder.parent / "kept",
        container="orch-run-keystone-apt-lists",
        steps=(Step(name="apt-lists", argv=("buildah", "run")),),
        node="base",
    )


def ensure(lists: PackageLists, fetch: ListsFetch, run, node: str = "keystone", **kw) -> bool:  # type: ignore[no-untyped-def]
    return lists.ensure(
        fetch, run, lambda: None, node=node, cancel=kw.pop("cancel", threading.Event()), **kw
    )


def test_nodes_waiting_for_a_failed_fetch_fail_with_it_and_a_later_node_fetches_again(
    tmp_path: Path,
) -> None:
    lists, fetch = PackageLists(), fetch_in(tmp_path / "lists")
    started, release = threading.Event(), threading.Event()
    waiting = threading.Event()

    def failing(_steps: tuple[Step, ...]) -> None:
        started.set()
        release.wait(5)
        raise StepFailedError("apt-lists", 100, "E: Failed to fetch", "keystone.log")

    errors: dict[str, BaseException] = {}

    def first() -> None:
        try:
            ensure(lists, fetch, failing, node="keystone")
        except BaseException as exc:
            errors["keystone"] = exc

    def second() -> None:
        try:
            ensure(lists, fetch, lambda _s: None, node="glance", on_wait=waiting.set)
        except BaseException as exc:
            errors["glance"] = exc

    one = threading.Thread(target=first)
    one.start()
    assert started.wait(5)
    two = threading.Thread(target=second)
    two.start()
    assert waiting.wait(5)  # glance waits for keystone's fetch, and says so
    release.set()
    one.join(5)
    two.join(5)

    assert isinstance(errors["keystone"], StepFailedError)
    waiter = errors["glance"]
    assert isinstance(waiter, ListsFetchError) and waiter.exit_code == 1
    assert (
        str(waiter) == "the run's package lists: their fetch failed in node keystone (see its log)"
    )
    # A node that asks afterwards (a retry) fetches them again.
    calls: list[str] = []
    assert ensure(lists, fetch, lambda _s: calls.append("fetched"), node="nova")
    assert calls == ["fetched"] and not ensure(lists, fetch, lambda _s: calls.append("again"))


def test_a_node_waiting_for_the_lists_stops_when_the_run_is_cancelled(tmp_path: Path) -> None:
    lists, fetch = PackageLists(), fetch_in(tmp_path / "lists")
    started, release, cancel = threading.Event(), threading.Event(), threading.Event()

    def slow(_steps: tuple[Step, ...]) -> None:
        started.set()
        release.wait(5)

    one = threading.Thread(target=lambda: ensure(lists, fetch, slow))
    one.start()
    assert started.wait(5)
    cancel.set()
    with pytest.raises(CancelledError, match="waiting for the run's package lists"):
        ensure(lists, fetch, lambda _s: None, node="glance", cancel=cancel)
    release.set()
    one.join(5)


def test_a_fetch_stopped_by_a_cancel_fails_no_one_else(tmp_path: Path) -> None:
    lists, fetch = PackageLists(), fetch_in(tmp_path / "lists")
    removed: list[str] = []

    def cancelled(_steps: tuple[Step, ...]) -> None:
        (fetch.folder / "partial").write_text("half")
        raise CancelledError("cancelled")

    with pytest.raises(CancelledError):
        lists.ensure(
            fetch, cancelled, lambda: removed.append("rm"), node="keystone",
            cancel=threading.Event(),
        )  # fmt: skip
    assert removed == ["rm"]  # its container goes
    # The next node fetches into an emptied folder.
    seen: list[list[str]] = []
    assert ensure(
        lists, fetch, lambda _s: seen.append(sorted(p.name for p in fetch.folder.iterdir()))
    )
    assert seen == [[]]
    lists.remove_all()
    assert not fetch.folder.exists()


def test_a_folder_that_cannot_be_made_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    fetch = fetch_in(tmp_path / "file" / "lists")
    with pytest.raises(ListsFetchError, match=r"cannot make .*file/lists: Not a directory"):
        ensure(PackageLists(), fetch, lambda _s: None)


def test_the_host_lists_outlive_the_run_and_each_run_reads_its_own_copy(tmp_path: Path) -> None:
    kept = tmp_path / "state" / "apt-lists" / "bookworm@amd64"
    first = fetch_in(tmp_path / "r1" / ".apt-lists" / "base", kept)
    second = fetch_in(tmp_path / "r2" / ".apt-lists" / "base", kept)

    def update(version: str, before: str | None) -> object:
        def run(_steps: tuple[Step, ...]) -> None:
            packages = kept / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"
            # What the last run fetched is there for apt to revalidate.
            assert (packages.read_text() if packages.exists() else None) == before
            packages.write_text(version)
            (kept / "lock").write_text("")
            (kept / "partial").mkdir(exist_ok=True)

        return run

    assert ensure(PackageLists(), first, update("v1", None))
    assert ensure(PackageLists(), second, update("v2", "v1"))  # the next run: v1 kept
    for fetch, version in ((first, "v1"), (second, "v2")):
        assert sorted(p.name for p in fetch.folder.iterdir()) == [
            "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"
        ]  # no lock or partial folder in the copy
        assert next(fetch.folder.iterdir()).read_text() == version  # each its own


def test_a_failed_update_empties_the_host_lists(tmp_path: Path) -> None:
    fetch = fetch_in(tmp_path / "lists")
    fetch.kept.mkdir()
    (fetch.kept / "old").write_text("from an earlier run")

    def failing(_steps: tuple[Step, ...]) -> None:
        (fetch.kept / "half").write_text("half written")
        raise StepFailedError("apt-lists", 100, "E: Failed to fetch", "keystone.log")

    with pytest.raises(StepFailedError):
        ensure(PackageLists(), fetch, failing)
    assert not fetch.kept.exists()
    seen: list[list[str]] = []
    assert ensure(
        PackageLists(), fetch, lambda _s: seen.append(sorted(p.name for p in fetch.kept.iterdir()))
    )
    assert seen == [[]]  # the next update starts from nothing


def test_another_run_updating_the_host_lists_is_waited_for(tmp_path: Path) -> None:
    fetch = fetch_in(tmp_path / "lists")
    lock = fetch.kept.with_name(f"{fetch.kept.name}.lock")
    waiting, cancel = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def node() -> None:
        try:
            ensure(PackageLists(), fetch, lambda _s: None, on_wait=waiting.set, cancel=cancel)
        except BaseException as exc:
            errors.append(exc)

    with lock.open("a") as other_run:
        fcntl.flock(other_run, fcntl.LOCK_EX)
        thread = threading.Thread(target=node)
        thread.start()
        assert waiting.wait(5)  # it says it waits
        cancel.set()
        thread.join(5)
    assert isinstance(errors[0], CancelledError)
    assert "waiting for the host's package lists" in str(errors[0])
    # Once the other run is done, the lists are had.
    assert ensure(PackageLists(), fetch, lambda _s: None)
