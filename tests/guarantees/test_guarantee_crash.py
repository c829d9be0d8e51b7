"""A process killed with SIGKILL in the middle of a transaction: the others go
on once the database releases its locks, and no committed value repeats."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from mortar_rdb.sequence.errors import SequenceInDoubt
from tests.guarantees.cases import applies


def register(setup: Any) -> None:
    with Session(setup.engine()) as session:
        setup.implementation.register('seq', session)
        session.commit()


def assert_committed_values_are_sound(setup: Any) -> list[int]:
    committed = setup.committed()
    assert len(set(committed)) == len(committed)
    if setup.implementation.gapless:
        assert committed == list(range(1, len(committed) + 1))
    return committed


def test_a_worker_killed_while_holding_the_sequence_lets_the_others_continue(setup):
    register(setup)
    holder = setup.worker('hold', 'seq')
    assert holder.wait_for('holding') == ['holding', '1']
    others = [setup.worker('loop', 'seq', '20') for _ in range(2)]
    time.sleep(0.5)  # a gapless sequence keeps them waiting for the holder's lock
    holder.kill()
    for other in others:
        other.finish()
    committed = assert_committed_values_are_sound(setup)
    assert len(committed) == 40


def test_workers_killed_at_random_moments_never_make_a_committed_value_repeat(setup):
    register(setup)
    chance = random.Random(6)
    survivors = [setup.worker('loop', 'seq', '60') for _ in range(2)]
    for _ in range(3):
        # One-phase commit: a MariaDB victim killed between XA PREPARE and
        # XA COMMIT would hold the sequence forever (the last test here).
        victim = setup.worker('loop', 'seq', '1000', '1')
        victim.wait_for('took')
        time.sleep(chance.random() / 5)
        victim.kill()
    for survivor in survivors:
        survivor.finish()
    committed = assert_committed_values_are_sound(setup)
    assert len(committed) >= 120 + 3


def in_doubt(connection: Any) -> list[str]:
    """The XIDs of the server's prepared XA transactions (every database's)."""
    return [
        row.data.decode() if isinstance(row.data, bytes) else row.data for row in connection.execute(text('XA RECOVER'))
    ]


@contextmanager
def killed_after_xa_prepare(setup: Any) -> Iterator[tuple[int, str, Any]]:
    """A worker that took a value, prepared its XA transaction and was killed.

    Yields the value, the XID and an engine with a short lock wait; ends
    by rolling the orphan back, as the recipe in docs/guarantees.rst says.
    """
    register(setup)
    victim = setup.worker('prepare', 'seq')
    _, value, xid = victim.wait_for('prepared')
    victim.kill()
    engine = setup.engine(short_lock_wait=True)
    try:
        yield int(value), xid, engine
        with engine.connect() as connection:
            assert xid in in_doubt(connection)
    finally:
        with engine.connect().execution_options(isolation_level='AUTOCOMMIT') as connection:
            connection.execute(text('XA ROLLBACK :xid'), {'xid': xid})


# Only a MariaDB XA transaction survives the death of its client.
@applies(lambda implementation, backend: backend == 'mysql' and implementation.blocks_others)
def test_a_mariadb_worker_killed_between_xa_prepare_and_xa_commit_holds_the_sequence_until_xa_rollback(setup):
    with killed_after_xa_prepare(setup) as (value, xid, engine):
        with Session(engine) as session:
            sequence = setup.implementation.create('seq', session)
            with pytest.raises(SequenceInDoubt, match='XA ROLLBACK') as raised:
                sequence.next(session)
            assert xid in [found.id for found in raised.value.transactions]
    with Session(engine) as session:
        assert sequence.next(session) == value == 1


# MariaDB only, for sequences that never make a transaction wait: see the previous test.
@applies(lambda implementation, backend: backend == 'mysql' and not implementation.blocks_others)
def test_a_mariadb_worker_killed_after_xa_prepare_holds_nothing_of_a_sequence_that_never_blocks(setup):
    with killed_after_xa_prepare(setup) as (value, _, engine):
        with Session(engine) as session:
            sequence = setup.implementation.create('seq', session)
            assert sequence.next(session) > value
            session.commit()
