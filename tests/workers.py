"""Code that runs in other processes during the concurrency tests."""
from __future__ import annotations

import random

import transaction
from sqlalchemy import Column, Integer, MetaData, Table

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence import get_sequence, register_sequence
from mortar_rdb.transactions import mark_written

metadata = MetaData()

#: One row per committed value: the primary key catches any duplicate.
taken = Table('taken', metadata, Column('value', Integer, primary_key=True, autoincrement=False))


def take_values(url: str, name: str, transactions: int, rollback_ratio: float, seed: int) -> int:
    """Take one value per transaction, recording it in ``taken``.

    A ``rollback_ratio`` share of the transactions are rolled back, giving
    their values back. Returns how many transactions committed.
    """
    rng = random.Random(seed)
    register_session(url)
    with transaction.manager:
        register_sequence(name, get_session())
    sequence = get_sequence(name)
    committed = 0
    for _ in range(transactions):
        session = get_session()
        value = sequence.next(session)
        session.execute(taken.insert().values(value=value))
        mark_written(session)
        if rng.random() < rollback_ratio:
            transaction.abort()
        else:
            transaction.commit()
            committed += 1
    get_session().close()
    get_session().bind.dispose()
    return committed
