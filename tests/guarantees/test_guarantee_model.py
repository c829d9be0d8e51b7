"""Random interleavings of register / next / commit / rollback across several
sessions, checked against a model of what has been committed."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mortar_rdb.sequence.errors import SequenceMissing
from mortar_rdb.sequence.generic import sequences

#: names that differ only in case or in a trailing space must not collide
NAMES = ['a', 'A', 'a ']
#: where a trailing space is refused
NAMES_WITHOUT_TRAILING_SPACE = ['a', 'A', 'b']
NAME = st.integers(0, len(NAMES) - 1)
SESSIONS = 3


@dataclass
class Pending:
    """What one session's open transaction has done."""

    created: set[str] = field(default_factory=set)
    taken: dict[str, list[int]] = field(default_factory=dict)
    #: names whose rows this transaction may have locked
    held: set[str] = field(default_factory=set)
    #: names whose rows were committed when this transaction began
    seen: set[str] | None = None
    #: may hold InnoDB gap locks, which stop others inserting any name nearby
    gaps: bool = False

    @property
    def wrote(self) -> bool:
        return bool(self.held)


class Sequences(RuleBasedStateMachine):
    setup: Any
    engine: Any

    def __init__(self) -> None:
        super().__init__()
        implementation = self.setup.implementation
        if implementation.uses_table:
            with self.engine.begin() as connection:
                connection.execute(delete(sequences))
        self.sessions = [Session(self.engine) for _ in range(SESSIONS)]
        self.pending = [Pending() for _ in range(SESSIONS)]
        self.objects: dict[str, Any] = {}
        self.exists: set[str] = set()
        self.committed: dict[str, list[int]] = {}
        #: every value next() returned, committed or not
        self.handed_out: dict[str, list[int]] = {}
        if any(implementation.refuses_name(name, self.setup.backend) for name in NAMES):
            self.names = NAMES_WITHOUT_TRAILING_SPACE
        else:
            self.names = NAMES

    def teardown(self) -> None:
        for session in self.sessions:
            session.close()

    def blocked(self, index: int, name: str, inserting: bool = False) -> bool:
        """Whether this step might wait for another session's lock."""
        if not self.setup.implementation.blocks_others:
            return False
        others = [pending for number, pending in enumerate(self.pending) if number != index]
        if self.setup.backend == 'sqlite':  # one writer for the whole database
            return any(other.wrote for other in others)
        if inserting and any(other.gaps for other in others):
            return True
        return any(name in other.held for other in others)

    def may_lock_gaps(self, pending: Pending) -> None:
        if self.setup.backend == 'mysql':
            pending.gaps = True

    def begin(self, index: int) -> Pending:
        pending = self.pending[index]
        if pending.seen is None:
            pending.seen = set(self.exists)
        return pending

    @rule(index=st.integers(0, SESSIONS - 1), which=NAME)
    def register(self, index: int, which: int) -> None:
        name = self.names[which]
        if self.setup.implementation.changes_at_once:
            self.objects[name] = self.setup.implementation.register(name, self.sessions[index])
            self.exists.add(name)
            return
        seen = self.pending[index].seen
        if self.blocked(index, name, inserting=seen is None or name not in seen):
            return
        pending = self.begin(index)
        self.objects[name] = self.setup.implementation.register(name, self.sessions[index])
        if name not in self.exists:
            pending.created.add(name)
        if name not in pending.seen:  # type: ignore[operator]
            pending.held.add(name)
            self.may_lock_gaps(pending)

    @rule(index=st.integers(0, SESSIONS - 1), which=NAME)
    def next(self, index: int, which: int) -> None:
        name = self.names[which]
        if name not in self.objects or self.blocked(index, name):
            return
        pending = self.begin(index)
        if name not in self.exists and name not in pending.created:
            # The failed UPDATE may still lock: a gap lock (MariaDB), the
            # write lock (SQLite).
            pending.held.add(name)
            self.may_lock_gaps(pending)
            try:
                self.objects[name].next(self.sessions[index])
            except SequenceMissing:
                return
            raise AssertionError(f'{name!r} has no row, yet next() returned a value')
        value = self.objects[name].next(self.sessions[index])
        mine = pending.taken.setdefault(name, [])
        if self.setup.implementation.gapless:
            assert value == len(self.committed.get(name, [])) + len(mine) + 1
        mine.append(value)
        self.handed_out.setdefault(name, []).append(value)
        pending.held.add(name)

    @rule(index=st.integers(0, SESSIONS - 1))
    def commit(self, index: int) -> None:
        self.sessions[index].commit()
        pending = self.pending[index]
        self.exists |= pending.created
        for name, values in pending.taken.items():
            self.committed.setdefault(name, []).extend(values)
        self.pending[index] = Pending()

    @rule(index=st.integers(0, SESSIONS - 1))
    def rollback(self, index: int) -> None:
        self.sessions[index].rollback()
        self.pending[index] = Pending()

    @invariant()
    def committed_values_never_repeat(self) -> None:
        for values in self.committed.values():
            assert len(set(values)) == len(values)

    @invariant()
    def values_rolled_back_are_not_handed_out_again_unless_gapless(self) -> None:
        if self.setup.implementation.gapless:
            return
        for values in self.handed_out.values():
            assert len(set(values)) == len(values)

    @invariant()
    def the_database_holds_what_was_committed(self) -> None:
        if not self.setup.implementation.uses_table:
            return
        with Session(self.engine) as session:
            stored = {name: current for name, current in session.execute(select(sequences.c.name, sequences.c.current))}
        if self.setup.implementation.gapless:
            assert stored == {name: len(self.committed.get(name, [])) for name in self.exists}
        else:
            assert set(stored) == self.exists
            for name, values in self.committed.items():
                assert max(values) <= stored[name]


def test_random_interleavings_match_the_model(setup):
    Sequences.setup = setup
    Sequences.engine = setup.engine(short_lock_wait=True)
    run_state_machine_as_test(
        Sequences,
        settings=settings(max_examples=60, stateful_step_count=30, deadline=None, database=None),
    )
