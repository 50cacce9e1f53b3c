"""Scripted state transitions for long-running resources (after moto's state manager).

A backend names each lifecycle once (`define("serving-endpoint", ["NOT_READY", "READY"])`), starts a
machine per resource when it is created, and reads the state whenever a client looks at the resource.
By default a resource is in its last state at once, so tests that do not care never wait. A test that
wants to watch a client poll scripts the lifecycle instead:

    ws.states.set("serving-endpoint", ["NOT_READY", "NOT_READY", "READY"], after_reads=1)

Each machine then starts on the first state and moves one step every `after_reads` reads, staying on the
last one. `force()` jumps anywhere, also to a state outside the lifecycle (say `"FAILED"`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from dbx_native.errors import InvalidRequestError

__all__ = ["StateMachine"]


@dataclass(frozen=True)
class _Script:
    states: tuple[str, ...]
    after_reads: int  # 0: the last state at once


@dataclass
class _Machine:
    script: _Script
    index: int
    reads: int = 0
    forced: str | None = None  # a state outside the script, where the machine stays

    @property
    def state(self) -> str:
        return self.forced if self.forced is not None else self.script.states[self.index]


class StateMachine:
    """The lifecycles of the resources of one workspace (`ws.states`), keyed by `(kind, key)`. Thread-safe.

    Example:
        >>> from dbx_native.local import StateMachine
        >>> states = StateMachine()
        >>> states.set("index", ["PROVISIONING", "ONLINE"], after_reads=2)
        >>> states.start("index", "main.fraud.memory")
        'PROVISIONING'
        >>> [states.read("index", "main.fraud.memory") for _ in range(4)]
        ['PROVISIONING', 'PROVISIONING', 'ONLINE', 'ONLINE']
    """

    def __init__(self) -> None:
        self._defaults: dict[str, tuple[str, ...]] = {}
        self._scripts: dict[str, _Script] = {}
        self._machines: dict[tuple[str, str], _Machine] = {}
        self._lock = threading.Lock()

    def define(self, kind: str, states: Sequence[str]) -> None:
        """Declare the natural lifecycle of `kind` (called by backends); resources reach its last state at once.

        Args:
            kind: The resource kind, e.g. `"serving-endpoint"`.
            states: The states in order, the final (steady) one last.

        Raises:
            InvalidRequestError: `states` is empty.
        """
        with self._lock:
            self._defaults[kind] = _states(kind, states)

    def set(self, kind: str, states: Sequence[str], *, after_reads: int = 1) -> None:
        """Script the lifecycle of `kind` for resources started from now on (a test's call).

        Args:
            kind: The resource kind, e.g. `"serving-endpoint"`.
            states: The states each resource goes through, in order; it stays on the last.
            after_reads: Reads between two steps; `0` puts resources in the last state at once.

        Raises:
            InvalidRequestError: `states` is empty or `after_reads` is negative.
        """
        if after_reads < 0:
            raise InvalidRequestError(f"after_reads must be 0 or more, not {after_reads}")
        with self._lock:
            self._scripts[kind] = _Script(_states(kind, states), after_reads)

    def start(self, kind: str, key: str, *, states: Sequence[str] | None = None) -> str:
        """Start (or restart) the machine of resource `key` and return its first state.

        Args:
            kind: The resource kind.
            key: The resource's identity within the kind (a name, an id).
            states: The lifecycle to use when `kind` was neither defined nor scripted.

        Returns:
            The state the resource starts in.

        Raises:
            InvalidRequestError: No lifecycle is known for `kind`.
        """
        with self._lock:
            script = self._scripts.get(kind)
            if script is None:
                default = self._defaults.get(kind) or (_states(kind, states) if states is not None else None)
                if default is None:
                    raise InvalidRequestError(
                        f"no lifecycle for {kind!r}: call define() or set() first, or pass states="
                    )
                script = _Script(default, 0)
            index = len(script.states) - 1 if script.after_reads == 0 else 0
            machine = self._machines[(kind, key)] = _Machine(script, index)
            return machine.state

    def read(self, kind: str, key: str) -> str:
        """The state of `key` now, counting one read (the machine steps every `after_reads` reads).

        Raises:
            KeyError: The machine was never started (or was forgotten).
        """
        with self._lock:
            machine = self._machine(kind, key)
            state = machine.state
            if machine.forced is None and machine.index < len(machine.script.states) - 1:
                machine.reads += 1
                if machine.reads >= machine.script.after_reads:
                    machine.index += 1
                    machine.reads = 0
            return state

    def peek(self, kind: str, key: str) -> str:
        """The state of `key` now, without counting a read.

        Raises:
            KeyError: The machine was never started (or was forgotten).
        """
        with self._lock:
            return self._machine(kind, key).state

    def force(self, kind: str, key: str, state: str) -> None:
        """Put `key` in `state` now; a state outside its lifecycle (e.g. `"FAILED"`) is kept for good.

        Raises:
            KeyError: The machine was never started (or was forgotten).
        """
        with self._lock:
            machine = self._machine(kind, key)
            machine.reads = 0
            if state in machine.script.states:
                machine.index, machine.forced = machine.script.states.index(state), None
            else:
                machine.forced = state

    def forget(self, kind: str, key: str) -> None:
        """Drop the machine of `key` (when the resource is deleted); unknown keys are ignored."""
        with self._lock:
            self._machines.pop((kind, key), None)

    def reset(self) -> None:
        """Forget every machine and every script; lifecycles declared with `define()` stay."""
        with self._lock:
            self._machines.clear()
            self._scripts.clear()

    def _machine(self, kind: str, key: str) -> _Machine:
        try:
            return self._machines[(kind, key)]
        except KeyError:
            raise KeyError(f"no {kind} {key!r} was started in the local workspace") from None

    def __repr__(self) -> str:
        return f"StateMachine(kinds={sorted(set(self._defaults) | set(self._scripts))!r})"


def _states(kind: str, states: Sequence[str]) -> tuple[str, ...]:
    if isinstance(states, str) or not states:
        raise InvalidRequestError(f"the lifecycle of {kind!r} needs a non-empty list of states")
    return tuple(states)
