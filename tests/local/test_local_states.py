"""Scripted state transitions: a generic lifecycle per resource kind, stepped by reads."""

from __future__ import annotations

import pytest

from dbx_native.errors import InvalidRequestError
from dbx_native.local import StateMachine

LIFECYCLE = ["NOT_READY", "READY"]


def test_defined_lifecycle_jumps_to_the_last_state_at_once() -> None:
    states = StateMachine()
    states.define("endpoint", LIFECYCLE)
    assert states.start("endpoint", "e1") == "READY"
    assert states.read("endpoint", "e1") == "READY"


def test_scripted_lifecycle_steps_every_read_and_stays_on_the_last() -> None:
    states = StateMachine()
    states.define("endpoint", LIFECYCLE)
    states.set("endpoint", ["NOT_READY", "UPDATING", "READY"])
    assert states.start("endpoint", "e1") == "NOT_READY"
    assert [states.read("endpoint", "e1") for _ in range(5)] == ["NOT_READY", "UPDATING", "READY", "READY", "READY"]


@pytest.mark.parametrize("after_reads", [2, 3])
def test_after_reads_sets_how_many_reads_each_state_lasts(after_reads: int) -> None:
    states = StateMachine()
    states.set("index", ["PROVISIONING", "ONLINE"], after_reads=after_reads)
    states.start("index", "i")
    seen = [states.read("index", "i") for _ in range(after_reads + 2)]
    assert seen == ["PROVISIONING"] * after_reads + ["ONLINE"] * 2


def test_after_reads_zero_puts_resources_in_the_last_state() -> None:
    states = StateMachine()
    states.set("index", ["PROVISIONING", "ONLINE"], after_reads=0)
    assert states.start("index", "i") == "ONLINE"


def test_machines_are_independent_per_key() -> None:
    states = StateMachine()
    states.set("endpoint", LIFECYCLE)
    states.start("endpoint", "a")
    states.start("endpoint", "b")
    assert states.read("endpoint", "a") == "NOT_READY"
    assert states.read("endpoint", "a") == "READY"
    assert states.read("endpoint", "b") == "NOT_READY"


def test_peek_does_not_count_a_read() -> None:
    states = StateMachine()
    states.set("endpoint", LIFECYCLE)
    states.start("endpoint", "a")
    assert [states.peek("endpoint", "a") for _ in range(3)] == ["NOT_READY"] * 3
    assert states.read("endpoint", "a") == "NOT_READY"
    assert states.peek("endpoint", "a") == "READY"


def test_force_jumps_within_the_lifecycle_and_continues_from_there() -> None:
    states = StateMachine()
    states.set("run", ["PENDING", "RUNNING", "TERMINATED"])
    states.start("run", "r")
    states.force("run", "r", "RUNNING")
    assert [states.read("run", "r") for _ in range(3)] == ["RUNNING", "TERMINATED", "TERMINATED"]


def test_force_to_a_state_outside_the_lifecycle_stays_there() -> None:
    states = StateMachine()
    states.set("endpoint", LIFECYCLE)
    states.start("endpoint", "a")
    states.force("endpoint", "a", "UPDATE_FAILED")
    assert [states.read("endpoint", "a") for _ in range(3)] == ["UPDATE_FAILED"] * 3
    states.force("endpoint", "a", "NOT_READY")
    assert [states.read("endpoint", "a") for _ in range(2)] == ["NOT_READY", "READY"]


def test_start_restarts_a_machine() -> None:
    states = StateMachine()
    states.set("endpoint", LIFECYCLE)
    states.start("endpoint", "a")
    states.read("endpoint", "a")
    assert states.start("endpoint", "a") == "NOT_READY"


def test_script_applies_to_resources_started_afterwards() -> None:
    states = StateMachine()
    states.define("endpoint", LIFECYCLE)
    states.start("endpoint", "before")
    states.set("endpoint", LIFECYCLE)
    states.start("endpoint", "after")
    assert states.read("endpoint", "before") == "READY"
    assert states.read("endpoint", "after") == "NOT_READY"


def test_start_accepts_a_lifecycle_for_an_unknown_kind() -> None:
    states = StateMachine()
    assert states.start("pipeline", "p", states=["IDLE", "RUNNING"]) == "RUNNING"


def test_start_without_any_lifecycle_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="no lifecycle for 'pipeline'"):
        StateMachine().start("pipeline", "p")


def test_unknown_machines_raise_key_error_naming_the_resource() -> None:
    states = StateMachine()
    with pytest.raises(KeyError, match="no endpoint 'ghost'"):
        states.read("endpoint", "ghost")
    with pytest.raises(KeyError):
        states.force("endpoint", "ghost", "READY")


def test_forget_drops_a_machine() -> None:
    states = StateMachine()
    states.start("endpoint", "a", states=LIFECYCLE)
    states.forget("endpoint", "a")
    states.forget("endpoint", "never-started")
    with pytest.raises(KeyError):
        states.peek("endpoint", "a")


def test_reset_forgets_machines_and_scripts_but_keeps_definitions() -> None:
    states = StateMachine()
    states.define("endpoint", LIFECYCLE)
    states.set("endpoint", LIFECYCLE, after_reads=5)
    states.start("endpoint", "a")
    states.reset()
    with pytest.raises(KeyError):
        states.peek("endpoint", "a")
    assert states.start("endpoint", "b") == "READY"


@pytest.mark.parametrize("bad", [[], "READY"])
def test_empty_or_string_lifecycles_are_refused(bad: list[str] | str) -> None:
    with pytest.raises(InvalidRequestError, match="non-empty list"):
        StateMachine().set("endpoint", bad)


def test_negative_after_reads_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="after_reads"):
        StateMachine().set("endpoint", LIFECYCLE, after_reads=-1)
