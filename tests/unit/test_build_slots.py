"""Build slots: at most so many steps at once, the critical path's first, and a wait that
ends with the run (cancel) or the node's deadline."""

from __future__ import annotations

import threading
import time

import pytest

from orchestrator.errors import CancelledError, StepTimeoutError
from orchestrator.execution.slots import BuildSlots
from orchestrator.model.options import host_cores
from orchestrator.model.settings import resolve_settings


def test_no_more_steps_than_slots_run_at_once() -> None:
    slots = BuildSlots(3)
    cancel = threading.Event()
    running, most = 0, 0
    lock = threading.Lock()

    def step() -> None:
        nonlocal running, most
        with slots.held(background=False, cancel=cancel):
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.02)
            with lock:
                running -= 1

    threads = [threading.Thread(target=step) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 3 and slots.busy == 0


def served_in_order(arrivals: list[tuple[str, bool, int]]) -> list[str]:
    """Take the one slot, let steps (name, background, priority) queue for it in this
    order, free it: the order they got it."""
    slots = BuildSlots(1)
    cancel = threading.Event()
    order: list[str] = []
    slots.acquire(background=False, cancel=cancel)  # the slot is taken

    def take(name: str, background: bool, priority: int) -> None:
        with slots.held(background=background, cancel=cancel, priority=priority):
            order.append(name)

    threads = []
    for arrival in arrivals:
        threads.append(threading.Thread(target=take, args=arrival))
        threads[-1].start()
        time.sleep(0.15)  # they arrive in this order
    slots.release()
    for t in threads:
        t.join(5)
    return order


def test_a_waiting_foreground_step_goes_before_a_background_one() -> None:
    # The background step waits first.
    order = served_in_order([("background", True, 0), ("foreground", False, 0)])
    assert order == ["foreground", "background"], order


def test_waiting_ends_with_the_run_or_the_deadline() -> None:
    slots = BuildSlots(1)
    cancel = threading.Event()
    slots.acquire(background=False, cancel=cancel)
    waited: list[bool] = []
    with pytest.raises(StepTimeoutError, match="timed out waiting for a build slot"):
        slots.acquire(
            background=False,
            cancel=cancel,
            deadline=time.monotonic() + 0.2,
            on_wait=lambda: waited.append(True),
        )
    assert waited == [True]  # said once that it waits
    cancel.set()
    with pytest.raises(CancelledError, match="cancelled while waiting for a build slot"):
        slots.acquire(background=True, cancel=cancel)
    slots.release()
    assert slots.busy == 0
    with pytest.raises(ValueError, match="not a positive number"):
        BuildSlots(0)


def test_the_default_is_one_more_than_the_cores() -> None:
    settings = resolve_settings({}, {}, environ={})
    assert settings.build_slots == host_cores() + 1
    assert resolve_settings({}, {"build_slots": 1}, environ={}).build_slots == 1


def test_a_node_more_nodes_wait_for_goes_first() -> None:
    order = served_in_order(
        [("heat", False, 0), ("keystone", False, 0), ("storage-base", False, 3)]
    )
    # The shared node three services wait for, then the others as they came.
    assert order == ["storage-base", "heat", "keystone"], order
